#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// Cutoff smoothing f_c(r) (docs/conventions.md §2).
public enum CutoffSmoothing: Hashable, Sendable {
    case shiftedCosine(width: Double)
    case step
}

/// Radial scaling s(r) of the neighbour density (docs/conventions.md §3).
public enum RadialScaling: Hashable, Sendable {
    case none
    case willatt2018(rate: Double, scale: Double, exponent: Double)
}

/// The featomic 0.6 hyper-parameters soapd supports: a Gaussian (or DiracDelta)
/// density on real spherical harmonics times radial functions — by default a
/// TensorProduct of GTOs (`maxRadial`), or any `RadialBasisSet` (Explicit per-l
/// bases, Tabulated radial integrals), whose sizes may depend on l.
public struct SoapHypers: Hashable, Sendable {
    public var cutoff: Double
    public var smoothing: CutoffSmoothing
    public var densityWidth: Double
    public var scaling: RadialScaling
    public var centerAtomWeight: Double
    public var maxAngular: Int
    public var maxRadial: Int
    /// nil: featomic's `spline_accuracy: null` — soapd still splines, at 1e-10.
    public var splineAccuracy: Double?
    /// The density the radial integrals are taken with.
    public var density: AtomDensity = .gaussian
    /// nil: a TensorProduct of GTOs with `maxRadial` (the original soapd basis). When set,
    /// `maxAngular` is its highest l and `maxRadial + 1` its largest n_l (`withRadialBases`).
    public private(set) var radialBases: RadialBasisSet? = nil

    public init(
        cutoff: Double, smoothing: CutoffSmoothing = .shiftedCosine(width: 0.5), densityWidth: Double,
        scaling: RadialScaling = .none, centerAtomWeight: Double = 1, maxAngular: Int, maxRadial: Int,
        splineAccuracy: Double? = 1e-8
    ) {
        self.cutoff = cutoff
        self.smoothing = smoothing
        self.densityWidth = densityWidth
        self.scaling = scaling
        self.centerAtomWeight = centerAtomWeight
        self.maxAngular = maxAngular
        self.maxRadial = maxRadial
        self.splineAccuracy = splineAccuracy
    }

    /// Number of radial functions N = max_radial + 1 (the largest n_l of a ragged basis).
    public var radialCount: Int { maxRadial + 1 }

    /// These hypers on another radial basis set (and density): `maxAngular` and
    /// `maxRadial` follow its highest l and its largest n_l.
    public func withRadialBases(_ set: RadialBasisSet, density: AtomDensity) -> SoapHypers {
        var h = self
        h.radialBases = set
        h.density = density
        h.maxAngular = max(0, set.byAngular.count - 1)
        h.maxRadial = max(0, (set.sizes.max() ?? 1) - 1)
        return h
    }

    /// n_l, the number of radial functions of each l = 0…maxAngular.
    public var radialSizes: [Int] {
        radialBases?.sizes ?? Array(repeating: radialCount, count: maxAngular + 1)
    }
    /// Whether n_l depends on l (the expansion then pads to `radialCount`, and the
    /// padding columns are dropped from every descriptor).
    public var isRagged: Bool { radialSizes.contains { $0 != radialCount } }
    /// Accuracy the spline tables are built to.
    public var effectiveSplineAccuracy: Double { splineAccuracy ?? 1e-10 }

    /// Checks the ranges featomic accepts; the message names the field.
    public func validate() throws(HypersError) {
        func fail(_ field: String, _ message: String) -> HypersError { HypersError(field: field, message: message) }
        // Ranges keep the radial integrals well conditioned: the ₁F₁ series needs
        // about (rc/σ)²/2 terms, and sub-ångström cutoffs describe no chemistry.
        guard cutoff.isFinite, cutoff >= 0.1, cutoff <= 100 else {
            throw fail("cutoff/radius", "must be between 0.1 and 100 (Å)")
        }
        if case .shiftedCosine(let w) = smoothing {
            guard w.isFinite, w >= 1e-3, w <= cutoff else {
                throw fail("cutoff/smoothing/width", "must be between 0.001 and the cutoff radius")
            }
        }
        if density == .gaussian {
            guard densityWidth.isFinite, densityWidth >= cutoff / 200, densityWidth <= cutoff else {
                throw fail("density/width", "must be between cutoff/200 and the cutoff radius")
            }
        }
        if case .willatt2018(let c, let r0, let m) = scaling {
            guard c.isFinite, c > 0, c <= 1e6 else { throw fail("density/scaling/rate", "must be in (0, 1e6]") }
            guard r0.isFinite, r0 >= 1e-3, r0 <= 1e3 else { throw fail("density/scaling/scale", "must be in [0.001, 1000]") }
            guard m.isFinite, m > 0, m <= 100 else { throw fail("density/scaling/exponent", "must be in (0, 100]") }
        }
        guard centerAtomWeight.isFinite, abs(centerAtomWeight) <= 1e6 else {
            throw fail("density/center_atom_weight", "must be a finite number")
        }
        guard maxAngular >= 0 else { throw fail("basis/max_angular", "must be a non-negative integer") }
        guard maxRadial >= 0 else { throw fail("basis/radial/max_radial", "must be a non-negative integer") }
        if let set = radialBases {
            try validate(set)
        } else if density != .gaussian {
            throw fail("density/type", "a DiracDelta density needs Tabulated radial integrals")
        }
        if let acc = splineAccuracy {
            guard acc.isFinite, acc >= 1e-12, acc <= 1e-2 else {
                throw fail("basis/spline_accuracy", "must be between 1e-12 and 0.01, or null")
            }
        }
    }

    private func validate(_ set: RadialBasisSet) throws(HypersError) {
        let explicit = set.form != .tensorProduct
        guard !set.byAngular.isEmpty, set.sizes.contains(where: { $0 > 0 }) else {
            throw HypersError(field: explicit ? "basis/by_angular" : "basis/radial", message: "must hold a radial function")
        }
        for (l, radial) in set.byAngular.enumerated() {
            let field = explicit ? "basis/by_angular/\(l)" : "basis/radial"
            switch radial {
            case .none:
                continue
            case .gto(let maxRadial)?:
                guard maxRadial >= 0 else {
                    throw HypersError(field: "\(field)/max_radial", message: "must be a non-negative integer")
                }
                guard density == .gaussian else {
                    throw HypersError(field: "density/type", message: "a DiracDelta density needs Tabulated radial integrals")
                }
            case .tabulated(let t)?:
                try t.validate(cutoff: cutoff, field: field)
            case .laplacianEigenstate(let maxRadial)?, .sphericalBessel(let maxRadial)?:
                guard maxRadial >= 0 else {
                    throw HypersError(field: "\(field)/max_radial", message: "must be a non-negative integer")
                }
                guard density == .gaussian else {
                    throw HypersError(field: "density/type", message: "a DiracDelta density needs Tabulated radial integrals")
                }
            }
        }
    }

    /// A canonical string naming everything that defines the radial spline
    /// table (the cache key). Angular channels above l_max do not matter for
    /// the table's functions but do for its size, so l_max is part of it.
    public var radialTableKey: String {
        let gto =
            "gto:rc=\(cutoff.bitPattern):sigma=\(densityWidth.bitPattern):L=\(maxAngular):N=\(radialCount):acc=\(effectiveSplineAccuracy.bitPattern)"
        guard let set = radialBases else { return gto }
        return "\(gto):\(density == .gaussian ? "gauss" : "delta"):\(set.key)"
    }

    // MARK: per-pair weight f_c(r) s(r) and its derivative

    /// f_c(r)·s(r) and d/dr of it, for 0 < r < rc.
    @inlinable @inline(__always)
    public func pairWeight(_ r: Double) -> (value: Double, derivative: Double) {
        var fc = 1.0
        var dfc = 0.0
        if case .shiftedCosine(let width) = smoothing {
            let start = cutoff - width
            if r > start {
                let t = Double.pi * (r - start) / width
                fc = 0.5 * (1 + cos(t))
                dfc = -0.5 * Double.pi / width * sin(t)
            }
        }
        switch scaling {
        case .none:
            return (fc, dfc)
        case .willatt2018(let c, let r0, let m):
            let x = r / r0
            let xm = pow(x, m)
            let s = c / (c + xm)
            let ds = -c * m / r0 * pow(x, m - 1) / ((c + xm) * (c + xm))
            return (fc * s, dfc * s + fc * ds)
        }
    }
}

/// An invalid or unsupported hyper-parameter; `field` is a path below `hypers`.
public struct HypersError: Error, Equatable, Sendable, CustomStringConvertible {
    public var field: String
    public var message: String
    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }
    public var description: String { "hypers/\(field): \(message)" }
}
