#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// Gauss–Legendre quadrature nodes and weights on [a, b] (Newton on P_n, from
/// Chebyshev guesses): exact for polynomials of degree < 2n.
struct GaussLegendre: Sendable {
    let nodes: [Double]
    let weights: [Double]

    init(points n: Int, from a: Double, to b: Double) {
        var x = [Double](repeating: 0, count: n)
        var w = [Double](repeating: 0, count: n)
        for i in 0..<((n + 1) / 2) {
            var t = cos(Double.pi * (Double(i) + 0.75) / (Double(n) + 0.5))
            var derivative = 0.0
            for _ in 0..<100 {
                var p0 = 1.0
                var p1 = t
                for k in 2...max(2, n) where n >= 2 {
                    let p2 = (Double(2 * k - 1) * t * p1 - Double(k - 1) * p0) / Double(k)
                    p0 = p1
                    p1 = p2
                }
                if n == 1 {
                    p1 = t
                    p0 = 1
                }
                derivative = Double(n) * (t * p1 - p0) / (t * t - 1)
                let dt = p1 / derivative
                t -= dt
                if abs(dt) < 1e-16 { break }
            }
            let weight = 2 / ((1 - t * t) * derivative * derivative)
            x[i] = -t
            x[n - 1 - i] = t
            w[i] = weight
            w[n - 1 - i] = weight
        }
        let half = 0.5 * (b - a)
        nodes = x.map { a + half * ($0 + 1) }
        weights = w.map { $0 * half }
    }
}
