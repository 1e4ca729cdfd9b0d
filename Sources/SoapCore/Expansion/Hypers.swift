#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// Cutoff smoothing f_c(r) (CONVENTIONS.md §2).
public enum CutoffSmoothing: Hashable, Sendable {
    case shiftedCosine(width: Double)
    case step
}

/// Radial scaling s(r) of the neighbour density (CONVENTIONS.md §3).
public enum RadialScaling: Hashable, Sendable {
    case none
    case willatt2018(rate: Double, scale: Double, exponent: Double)
}

/// The featomic 0.6 hyper-parameters soapd supports: Gaussian density on a
/// TensorProduct basis of GTO radial functions and real spherical harmonics.
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

    /// Number of radial functions N = max_radial + 1.
    public var radialCount: Int { maxRadial + 1 }
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
        guard densityWidth.isFinite, densityWidth >= cutoff / 200, densityWidth <= cutoff else {
            throw fail("density/width", "must be between cutoff/200 and the cutoff radius")
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
        if let acc = splineAccuracy {
            guard acc.isFinite, acc >= 1e-12, acc <= 1e-2 else {
                throw fail("basis/spline_accuracy", "must be between 1e-12 and 0.01, or null")
            }
        }
    }

    /// A canonical string naming everything that defines the radial spline
    /// table (the cache key). Angular channels above l_max do not matter for
    /// the table's functions but do for its size, so l_max is part of it.
    public var radialTableKey: String {
        "gto:rc=\(cutoff.bitPattern):sigma=\(densityWidth.bitPattern):L=\(maxAngular):N=\(radialCount):acc=\(effectiveSplineAccuracy.bitPattern)"
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
