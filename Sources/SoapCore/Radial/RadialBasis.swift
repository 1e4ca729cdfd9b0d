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

    /// Number of radial functions n_l.
    public var count: Int {
        switch self {
        case .gto(let maxRadial): return maxRadial + 1
        case .tabulated(let t): return t.functionCount
        }
    }

    /// A canonical text naming the functions (part of the spline-cache key).
    var key: String {
        switch self {
        case .gto(let maxRadial): return "gto\(maxRadial + 1)"
        case .tabulated(let t): return "tab\(t.functionCount)x\(t.positions.count)#\(t.fingerprint)"
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

    /// n_l for l = 0…L.
    public var sizes: [Int] { byAngular.map { $0?.count ?? 0 } }

    var key: String { byAngular.map { $0?.key ?? "-" }.joined(separator: ",") }
}
