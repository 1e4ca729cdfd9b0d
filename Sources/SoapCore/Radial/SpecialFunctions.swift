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

    /// ln ₁F₁(a; b; z) and z·F'(z)/F(z), from one pass of the power series
    /// (z F' = Σ s·t_s when F = Σ t_s). For a, b > 0 and z ≥ 0.
    public static func logHyp1F1WithDerivative(a: Double, b: Double, z: Double) -> (log: Double, zDerivativeRatio: Double) {
        precondition(a > 0 && b > 0 && z >= 0)
        if z == 0 { return (0, 0) }
        var term = 1.0
        var sum = 1.0
        var weighted = 0.0
        var logScale = 0.0
        var s = 0.0
        while true {
            term *= (a + s) / (b + s) * z / (s + 1)
            s += 1
            sum += term
            weighted += s * term
            if sum > 1e280 {
                sum *= 1e-280
                term *= 1e-280
                weighted *= 1e-280
                logScale += 280 * M_LN10
            }
            if term <= sum * 1e-17 && (a + s) * z < (b + s) * (s + 1) { break }
            if s > 1_000_000 { break }
        }
        return (log(sum) + logScale, weighted / sum)
    }
}
