/// The radial basis of one angular channel l, as featomic 0.6 names it: the
/// one interface every radial basis goes through is its radial integral
/// I_nl(r) (values and derivatives), tabulated once into a RadialSplineTable
/// (RadialIntegralTable.swift) and then evaluated by the expansion kernel.
public enum RadialBasis: Hashable, Sendable {
    /// featomic's GTOs (docs/conventions, §5), max_radial + 1 functions,
    /// Löwdin-orthonormalised over this l's own size.
    case gto(maxRadial: Int)
    /// The radial integral itself, given as cubic Hermite points.
    case tabulated(TabulatedRadial)
    /// Laplacian eigenstates of channel l: j_l(z_ln r/rc), n ≤ max_radial, on [0, rc].
    case laplacianEigenstate(maxRadial: Int)
    /// featomic's SphericalBessel (angular channel 0): j_0(z_0n r/rc) for every l.
    case sphericalBessel(maxRadial: Int)

    /// Number of radial functions n_l.
    public var count: Int {
        switch self {
        case .gto(let maxRadial), .laplacianEigenstate(let maxRadial), .sphericalBessel(let maxRadial):
            return maxRadial + 1
        case .tabulated(let t): return t.functionCount
        }
    }

    /// A canonical text naming the functions (part of the spline-cache key).
    var key: String {
        switch self {
        case .gto(let maxRadial): return "gto\(maxRadial + 1)"
        case .tabulated(let t): return "tab\(t.functionCount)x\(t.positions.count)#\(t.fingerprint)"
        case .laplacianEigenstate(let maxRadial): return "le\(maxRadial + 1)"
        case .sphericalBessel(let maxRadial): return "sb\(maxRadial + 1)"
        }
    }
}

/// The atom density the radial integrals are taken with (featomic's `density`).
public enum AtomDensity: Hashable, Sendable {
    /// A Gaussian of width `SoapHypers.densityWidth` on each atom.
    case gaussian
    /// A point on each atom: the radial integral is the (tabulated) basis itself.
    case diracDelta
}

/// How the radial bases are attached to the angular channels: featomic's
/// `TensorProduct` (one radial basis for every l ≤ max_angular) or `Explicit`
/// (`by_angular`, one per listed l, so n_l may depend on l; an l that is not
/// listed has no functions).
public struct RadialBasisSet: Hashable, Sendable {
    public enum Form: Hashable, Sendable {
        case tensorProduct
        case explicit
        /// soapd's ragged `{"type": "LaplacianEigenstate", "max_radial", "max_angular"?}`.
        case laplacianEigenstate(maxRadial: Int, maxAngular: Int?)
    }
    public var form: Form
    /// The radial basis of each l = 0…L (nil: l not listed in an Explicit basis).
    public var byAngular: [RadialBasis?]

    public init(form: Form, byAngular: [RadialBasis?]) {
        self.form = form
        self.byAngular = byAngular
    }

    /// A TensorProduct of one radial basis up to `maxAngular`.
    public static func tensorProduct(_ radial: RadialBasis, maxAngular: Int) -> RadialBasisSet {
        RadialBasisSet(form: .tensorProduct, byAngular: Array(repeating: radial, count: maxAngular + 1))
    }

    /// featomic's `LaplacianEigenstate(radius, max_radial, max_angular)`: channel l keeps the
    /// j_l(z_ln r/rc) whose eigenvalue z_ln²/rc² is at most that of (l = 0, n = max_radial);
    /// without `maxAngular`, l runs while its first function is kept (capped at `limit`).
    public static func laplacianEigenstate(cutoff: Double, maxRadial: Int, maxAngular: Int?, limit: Int = 64)
        -> RadialBasisSet
    {
        let top = (Double(maxRadial + 1) * Double.pi / cutoff) * (Double(maxRadial + 1) * Double.pi / cutoff)
        var entries: [RadialBasis?] = []
        var l = 0
        while l <= (maxAngular ?? limit) {
            let zeros = SphericalBesselFunctions.zeros(l, count: maxRadial + 1)
            let kept = zeros.filter { ($0 / cutoff) * ($0 / cutoff) <= top }.count
            if maxAngular == nil && kept == 0 { break }
            entries.append(kept > 0 ? .laplacianEigenstate(maxRadial: kept - 1) : nil)
            l += 1
        }
        return RadialBasisSet(form: .laplacianEigenstate(maxRadial: maxRadial, maxAngular: maxAngular), byAngular: entries)
    }

    /// n_l for l = 0…L.
    public var sizes: [Int] { byAngular.map { $0?.count ?? 0 } }

    var key: String { byAngular.map { $0?.key ?? "-" }.joined(separator: ",") }
}
