#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// Spherical Bessel functions for the Laplacian-eigenstate bases (docs: native_bases):
/// j_l(x) and the scaled modified function e^{−z} i_l(z). Used to build spline
/// tables only, so accuracy (≲ 1e-13 relative) matters more than speed.
enum SphericalBesselFunctions {
    /// j_l(x) for x ≥ 0.
    static func j(_ l: Int, _ x: Double) -> Double {
        if x == 0 { return l == 0 ? 1 : 0 }
        if x > Double(l) {
            // Upward recurrence is stable while l < x.
            var a = sin(x) / x
            if l == 0 { return a }
            var b = sin(x) / (x * x) - cos(x) / x
            if l > 1 {
                for k in 1..<l {
                    let c = Double(2 * k + 1) / x * b - a
                    a = b
                    b = c
                }
            }
            return b
        }
        // x ≤ l: the power series, whose terms shrink after at most ~l/4 (few digits lost).
        var prefactor = 1.0
        for k in 1...max(1, l) where l > 0 { prefactor *= x / Double(2 * k + 1) }
        let y = -0.5 * x * x
        var term = 1.0
        var sum = 1.0
        var k = 1
        while k < 500 {
            term *= y / (Double(k) * Double(2 * l + 2 * k + 1))
            sum += term
            if abs(term) < 1e-17 * abs(sum) { break }
            k += 1
        }
        return prefactor * sum
    }

    /// e^{−z} i_l(z) for z ≥ 0, i_l the modified spherical Bessel function of the first kind.
    static func scaledI(_ l: Int, _ z: Double) -> Double {
        if z == 0 { return l == 0 ? 1 : 0 }
        let threshold = Double(l * (l + 1)) / 2 + 12
        if z > threshold {
            // Closed form: (1/2z)[Σ_k (−1)^k c_k/(2z)^k + (−1)^{l+1} e^{−2z} Σ_k c_k/(2z)^k],
            // c_k = (l+k)!/(k!(l−k)!); its terms decrease once 2z > l(l+1).
            var c = 1.0
            var alternating = 0.0
            var plain = 0.0
            var power = 1.0
            for k in 0...l {
                if k > 0 { c *= Double((l + k) * (l - k + 1)) / Double(k) }
                let t = c * power
                alternating += k % 2 == 0 ? t : -t
                plain += t
                power /= 2 * z
            }
            let tail = exp(-2 * z) * plain
            return (alternating + (l % 2 == 0 ? -tail : tail)) / (2 * z)
        }
        // Power series of i_l (positive terms), then the scale; z < ~600, so no overflow.
        var prefactor = 1.0
        if l > 0 { for k in 1...l { prefactor *= z / Double(2 * k + 1) } }
        let y = 0.5 * z * z
        var term = 1.0
        var sum = 1.0
        var k = 1
        while k < 5000 {
            term *= y / (Double(k) * Double(2 * l + 2 * k + 1))
            sum += term
            if term < 1e-17 * sum { break }
            k += 1
        }
        return prefactor * sum * exp(-z)
    }

    /// The first `count` positive zeros of j_l: (n+1)π for l = 0, then bisection between
    /// consecutive zeros of j_{l−1} (they interlace) to full precision.
    static func zeros(_ l: Int, count: Int) -> [Double] {
        var current = (0..<(count + l)).map { Double($0 + 1) * Double.pi }
        if l == 0 { return Array(current.prefix(count)) }
        for order in 1...l {
            var next: [Double] = []
            for n in 0..<(current.count - 1) {
                var lo = current[n]
                var hi = current[n + 1]
                var flo = j(order, lo)
                for _ in 0..<200 {
                    let mid = 0.5 * (lo + hi)
                    if mid <= lo || mid >= hi { break }
                    let fm = j(order, mid)
                    if fm == 0 {
                        lo = mid
                        hi = mid
                        break
                    }
                    if (fm < 0) == (flo < 0) {
                        lo = mid
                        flo = fm
                    } else {
                        hi = mid
                    }
                }
                next.append(0.5 * (lo + hi))
            }
            current = next
        }
        return Array(current.prefix(count))
    }
}
