#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// Real spherical harmonics in featomic's convention (docs/conventions.md §6: no
/// Condon–Shortley phase, m = −l…l), by recursion in Cartesian components:
///
///   Y_l^0 = K_l0 Q_l^0(z),  Y_l^{±m} = √2 K_lm Q_l^m(z) · {Re, Im}(x + iy)^m
///
/// with Q_l^m = d^m P_l / dz^m. No trigonometric call per neighbour.
/// Index of (l, m) in the flat arrays: l² + l + m.
public struct SphericalHarmonics: Sendable {
    public let maxAngular: Int
    /// √2 K_lm for m > 0 and K_l0 for m = 0, at [l * (L+1) + m].
    @usableFromInline let prefactors: [Double]

    public init(maxAngular: Int) {
        self.maxAngular = maxAngular
        let L = maxAngular
        var f = [Double](repeating: 0, count: (L + 1) * (L + 1))
        for l in 0...L {
            for m in 0...l {
                // K_lm = sqrt((2l+1)/4π (l−m)!/(l+m)!), the factorial ratio in logs.
                let logRatio = lgamma(Double(l - m + 1)) - lgamma(Double(l + m + 1))
                var k = (Double(2 * l + 1) / (4 * Double.pi) * exp(logRatio)).squareRoot()
                if m > 0 { k *= 2.0.squareRoot() }
                f[l * (L + 1) + m] = k
            }
        }
        prefactors = f
    }

    public var count: Int { (maxAngular + 1) * (maxAngular + 1) }

    /// Scratch a caller owns, so nothing is allocated per evaluation.
    public struct Scratch {
        @usableFromInline var q: [Double]  // Q_l^m(z), [l * (L+2) + m], with one spare m column
        @usableFromInline var c: [Double]  // Re (x+iy)^m
        @usableFromInline var s: [Double]  // Im (x+iy)^m
        public init(maxAngular L: Int) {
            q = [Double](repeating: 0, count: (L + 1) * (L + 2))
            c = [Double](repeating: 0, count: L + 1)
            s = [Double](repeating: 0, count: L + 1)
        }
    }

    /// Y_lm at the unit vector (x, y, z). With `gradients`, also the tangential
    /// gradient G (three blocks of `count`: x, y, z): ∂Y(r̂)/∂r = G / |r|.
    @inlinable
    public func evaluate(
        x: Double, y: Double, z: Double, values: UnsafeMutablePointer<Double>,
        gradients: UnsafeMutablePointer<Double>?, scratch: inout Scratch
    ) {
        let L = maxAngular
        let w = L + 2
        scratch.q.withUnsafeMutableBufferPointer { qb in
            scratch.c.withUnsafeMutableBufferPointer { cb in
                scratch.s.withUnsafeMutableBufferPointer { sb in
                    prefactors.withUnsafeBufferPointer { fb in
                        let q = qb.baseAddress!
                        let c = cb.baseAddress!
                        let s = sb.baseAddress!
                        let f = fb.baseAddress!
                        // Q_l^m(z): Q_m^m = (2m−1)!!, Q_{m+1}^m = (2m+1) z Q_m^m,
                        // (l−m) Q_l^m = (2l−1) z Q_{l−1}^m − (l+m−1) Q_{l−2}^m.
                        var dfact = 1.0
                        for m in 0...L {
                            q[m * w + m] = dfact
                            q[m * w + m + 1] = 0
                            if m + 1 <= L { q[(m + 1) * w + m] = Double(2 * m + 1) * z * dfact }
                            if m + 2 <= L {
                                for l in (m + 2)...L {
                                    q[l * w + m] =
                                        (Double(2 * l - 1) * z * q[(l - 1) * w + m]
                                            - Double(l + m - 1) * q[(l - 2) * w + m]) / Double(l - m)
                                }
                            }
                            dfact *= Double(2 * m + 1)
                        }
                        c[0] = 1
                        s[0] = 0
                        if L >= 1 {
                            for m in 1...L {
                                c[m] = x * c[m - 1] - y * s[m - 1]
                                s[m] = x * s[m - 1] + y * c[m - 1]
                            }
                        }
                        for l in 0...L {
                            let center = l * l + l
                            values[center] = f[l * (L + 1)] * q[l * w]
                            if l > 0 {
                                for m in 1...l {
                                    let fq = f[l * (L + 1) + m] * q[l * w + m]
                                    values[center + m] = fq * c[m]
                                    values[center - m] = fq * s[m]
                                }
                            }
                        }
                        guard let g = gradients else { return }
                        let n = (L + 1) * (L + 1)
                        let gx = g
                        let gy = g + n
                        let gz = g + 2 * n
                        for l in 0...L {
                            let center = l * l + l
                            let dl = Double(l)
                            for m in 0...l {
                                let fm = f[l * (L + 1) + m]
                                let dm = Double(m)
                                // Solid-harmonic derivatives at the unit vector:
                                // ∂x Q̃_l^m = −x Q̃_{l−1}^{m+1}, ∂z Q̃_l^m = (l+m) Q̃_{l−1}^m,
                                // ∂x C_m = m C_{m−1}, ∂y C_m = −m S_{m−1}, ∂x S_m = m S_{m−1}, ∂y S_m = m C_{m−1}.
                                let qlm = q[l * w + m]
                                let qUp = l >= 1 && m + 1 <= l - 1 ? q[(l - 1) * w + m + 1] : 0
                                let qDown = l >= 1 && m <= l - 1 ? q[(l - 1) * w + m] : 0
                                let cm1 = m >= 1 ? c[m - 1] : 0
                                let sm1 = m >= 1 ? s[m - 1] : 0
                                // cos part (m ≥ 0)
                                let yc = values[center + m]
                                var dx = fm * (-x * qUp * c[m] + qlm * dm * cm1)
                                var dy = fm * (-y * qUp * c[m] - qlm * dm * sm1)
                                var dz = fm * (Double(l + m) * qDown * c[m])
                                // Tangential part: remove the radial component l·Y·r̂.
                                gx[center + m] = dx - dl * yc * x
                                gy[center + m] = dy - dl * yc * y
                                gz[center + m] = dz - dl * yc * z
                                if m > 0 {
                                    let ys = values[center - m]
                                    dx = fm * (-x * qUp * s[m] + qlm * dm * sm1)
                                    dy = fm * (-y * qUp * s[m] + qlm * dm * cm1)
                                    dz = fm * (Double(l + m) * qDown * s[m])
                                    gx[center - m] = dx - dl * ys * x
                                    gy[center - m] = dy - dl * ys * y
                                    gz[center - m] = dz - dl * ys * z
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
