#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Special functions needed to tabulate radial integrals. Accuracy matters more
/// than speed here: they run only while a spline table is built.
public enum SpecialFunctions {
    /// ln Γ(x) for x > 0.
    @inline(__always) public static func logGamma(_ x: Double) -> Double { lgamma(x) }

    /// ln ₁F₁(a; b; z) for a, b > 0 and z ≥ 0, by the power series. Every term
    /// is positive, so the sum has no cancellation; a running scale keeps it
    /// finite for the large z (≫ 700) that narrow densities at long range give.
    public static func logHyp1F1(a: Double, b: Double, z: Double) -> Double {
        precondition(a > 0 && b > 0 && z >= 0)
        if z == 0 { return 0 }
        var term = 1.0, sum = 1.0, logScale = 0.0
        var s = 0.0
        while true {
            term *= (a + s) / (b + s) * z / (s + 1)
            sum += term
            s += 1
            if sum > 1e280 {
                sum *= 1e-280; term *= 1e-280; logScale += 280 * M_LN10
            }
            if term <= sum * 1e-17 && (a + s) * z < (b + s) * (s + 1) { break }
            if s > 1_000_000 { break }
        }
        return log(sum) + logScale
    }
}
