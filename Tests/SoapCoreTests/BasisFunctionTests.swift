import SoapCore
import TestSupport
import XCTest

/// Spherical harmonics, the GTO basis and the radial integrals against
/// independent evaluations.
final class BasisFunctionTests: XCTestCase {
    func harmonics(_ L: Int, _ x: Double, _ y: Double, _ z: Double) -> (values: [Double], gradients: [Double]) {
        let sh = SphericalHarmonics(maxAngular: L)
        var scratch = SphericalHarmonics.Scratch(maxAngular: L)
        var values = [Double](repeating: 0, count: sh.count)
        var gradients = [Double](repeating: 0, count: 3 * sh.count)
        values.withUnsafeMutableBufferPointer { v in
            gradients.withUnsafeMutableBufferPointer { g in
                sh.evaluate(x: x, y: y, z: z, values: v.baseAddress!, gradients: g.baseAddress!, scratch: &scratch)
            }
        }
        return (values, gradients)
    }

    func testExplicitLowOrders() {
        // docs/conventions.md §6: Y_1 = √(3/4π) (y, z, x); Y_2 explicit.
        let (x, y, z) = (0.36, -0.48, 0.8)
        let (v, _) = harmonics(2, x, y, z)
        let c1 = (3 / (4 * Double.pi)).squareRoot()
        XCTAssertEqual(v[1], c1 * y, accuracy: 1e-15)
        XCTAssertEqual(v[2], c1 * z, accuracy: 1e-15)
        XCTAssertEqual(v[3], c1 * x, accuracy: 1e-15)
        let a = 0.5 * (15 / Double.pi).squareRoot()
        XCTAssertEqual(v[4], a * x * y, accuracy: 1e-15)
        XCTAssertEqual(v[5], a * y * z, accuracy: 1e-15)
        XCTAssertEqual(v[6], 0.25 * (5 / Double.pi).squareRoot() * (3 * z * z - 1), accuracy: 1e-15)
        XCTAssertEqual(v[7], a * x * z, accuracy: 1e-15)
        XCTAssertEqual(v[8], 0.25 * (15 / Double.pi).squareRoot() * (x * x - y * y), accuracy: 1e-15)
    }

    func testAdditionTheoremAndOrthonormality() {
        // Σ_m Y_lm(u)² = (2l+1)/4π for every direction; and a Monte Carlo-free
        // orthonormality check with a product Gauss–Legendre × uniform-φ grid.
        var rng = SplitMix64(seed: 7, skipping: 1)
        let L = 10
        for _ in 0..<20 {
            var u = (rng.gaussian(), rng.gaussian(), rng.gaussian())
            let n = (u.0 * u.0 + u.1 * u.1 + u.2 * u.2).squareRoot()
            u = (u.0 / n, u.1 / n, u.2 / n)
            let (v, _) = harmonics(L, u.0, u.1, u.2)
            for l in 0...L {
                let sum = (0..<(2 * l + 1)).reduce(0.0) { $0 + v[l * l + $1] * v[l * l + $1] }
                XCTAssertEqual(sum, Double(2 * l + 1) / (4 * Double.pi), accuracy: 1e-12)
            }
        }
        let L2 = 6
        let nTheta = 40
        let nPhi = 40
        let count = (L2 + 1) * (L2 + 1)
        var gram = [Double](repeating: 0, count: count * count)
        // Gauss–Legendre nodes by Newton on P_n.
        for i in 0..<nTheta {
            var t = cos(Double.pi * (Double(i) + 0.75) / (Double(nTheta) + 0.5))
            var dp = 0.0
            for _ in 0..<100 {
                var p0 = 1.0
                var p1 = t
                for k in 2...nTheta {
                    let p2 = (Double(2 * k - 1) * t * p1 - Double(k - 1) * p0) / Double(k)
                    p0 = p1
                    p1 = p2
                }
                dp = Double(nTheta) * (t * p1 - p0) / (t * t - 1)
                t -= p1 / dp
            }
            let w = 2 / ((1 - t * t) * dp * dp)
            for j in 0..<nPhi {
                let phi = 2 * Double.pi * Double(j) / Double(nPhi)
                let s = (1 - t * t).squareRoot()
                let (v, _) = harmonics(L2, s * cos(phi), s * sin(phi), t)
                for a in 0..<count {
                    for b in 0..<count { gram[a * count + b] += w * 2 * Double.pi / Double(nPhi) * v[a] * v[b] }
                }
            }
        }
        for a in 0..<count { for b in 0..<count { XCTAssertEqual(gram[a * count + b], a == b ? 1 : 0, accuracy: 1e-12) } }
    }

    func testGradientsByFiniteDifferences() {
        // ∂Y(r/|r|)/∂r = G/|r|: check at |r| = 1 with central differences of the normalised direction.
        let L = 8
        var rng = SplitMix64(seed: 3, skipping: 1)
        for _ in 0..<10 {
            var r = [rng.gaussian(), rng.gaussian(), rng.gaussian()]
            let n = (r[0] * r[0] + r[1] * r[1] + r[2] * r[2]).squareRoot()
            r = r.map { $0 / n }
            let (_, g) = harmonics(L, r[0], r[1], r[2])
            let count = (L + 1) * (L + 1)
            let h = 1e-6
            for d in 0..<3 {
                var p = r
                var m = r
                p[d] += h
                m[d] -= h
                let np = (p[0] * p[0] + p[1] * p[1] + p[2] * p[2]).squareRoot()
                let nm = (m[0] * m[0] + m[1] * m[1] + m[2] * m[2]).squareRoot()
                let vp = harmonics(L, p[0] / np, p[1] / np, p[2] / np).values
                let vm = harmonics(L, m[0] / nm, m[1] / nm, m[2] / nm).values
                for k in 0..<count { XCTAssertEqual((vp[k] - vm[k]) / (2 * h), g[d * count + k], accuracy: 1e-6) }
            }
        }
    }

    func testGtoBasisIsOrthonormalOnHalfLine() throws {
        let gto = try GtoRadialBasis(cutoff: 5, densityWidth: 0.5, count: 8, maxAngular: 0)
        let steps = 40000
        let top = 30.0
        for n in 0..<8 {
            for m in n..<8 {
                var s = 0.0
                for i in 1...steps {
                    let x = top * Double(i) / Double(steps)
                    s += x * x * gto.function(n, at: x) * gto.function(m, at: x)
                }
                XCTAssertEqual(s * top / Double(steps), n == m ? 1 : 0, accuracy: 1e-8)
            }
        }
    }

    func testRadialIntegralAgainstQuadrature() throws {
        // I_nl(r) = (πσ²)^(-3/4) 4π ∫ x² R_n(x) e^{-(x²+r²)/2σ²} i_l(x r/σ²) dx,
        // with i_l by its power series; independent of the ₁F₁ closed form.
        let sigma = 0.5
        let L = 4
        let N = 6
        let gto = try GtoRadialBasis(cutoff: 4, densityWidth: sigma, count: N, maxAngular: L)
        func besselI(_ l: Int, _ x: Double) -> Double {
            var term = pow(x, Double(l)) / (1...max(1, 2 * l + 1)).filter { $0 % 2 == 1 }.reduce(1.0) { $0 * Double($1) }
            var sum = term
            var k = 0
            while term > 1e-18 * sum {
                k += 1
                term *= (x * x / 2) / (Double(k) * Double(2 * l + 2 * k + 1))
                sum += term
            }
            return sum
        }
        var values = [Double](repeating: 0, count: (L + 1) * N)
        var derivs = values
        for r in [0.3, 1.1, 2.0, 2.9] {
            values.withUnsafeMutableBufferPointer { v in
                derivs.withUnsafeMutableBufferPointer { d in
                    gto.radialIntegrals(at: r, values: v.baseAddress!, derivatives: d.baseAddress!)
                }
            }
            for l in 0...L {
                for n in 0..<N {
                    var s = 0.0
                    let steps = 6000
                    let top = 12.0
                    for i in 1...steps {
                        let x = top * Double(i) / Double(steps)
                        s +=
                            x * x * gto.function(n, at: x) * exp(-(x * x + r * r) / (2 * sigma * sigma))
                            * besselI(l, x * r / (sigma * sigma))
                    }
                    let expected = pow(Double.pi * sigma * sigma, -0.75) * 4 * Double.pi * s * top / Double(steps)
                    XCTAssertEqual(values[l * N + n], expected, accuracy: 1e-9, "l=\(l) n=\(n) r=\(r)")
                }
            }
        }
    }

    func testRadialIntegralDerivativeAndSplineAccuracy() throws {
        let hypers = SoapHypers(cutoff: 5, densityWidth: 0.4, maxAngular: 6, maxRadial: 7)
        let table = try ExpansionBasis.gtoTable(for: hypers)
        XCTAssertLessThanOrEqual(table.maxValueError, 1e-6)
        let gto = try GtoRadialBasis(cutoff: 5, densityWidth: 0.4, count: 8, maxAngular: 6)
        let K = table.count
        var exact = [Double](repeating: 0, count: K)
        var dExact = exact
        var plus = exact
        var minus = exact
        var dummy = exact
        var splined = exact
        var dSplined = exact
        var rng = SplitMix64(seed: 2, skipping: 1)
        for _ in 0..<50 {
            let r = rng.uniform(0.01, 4.99)
            let h = 1e-5
            exact.withUnsafeMutableBufferPointer { e in
                dExact.withUnsafeMutableBufferPointer { de in
                    gto.radialIntegrals(at: r, values: e.baseAddress!, derivatives: de.baseAddress!)
                }
            }
            plus.withUnsafeMutableBufferPointer { p in
                dummy.withUnsafeMutableBufferPointer { d in
                    gto.radialIntegrals(at: r + h, values: p.baseAddress!, derivatives: d.baseAddress!)
                }
            }
            minus.withUnsafeMutableBufferPointer { m in
                dummy.withUnsafeMutableBufferPointer { d in
                    gto.radialIntegrals(at: r - h, values: m.baseAddress!, derivatives: d.baseAddress!)
                }
            }
            splined.withUnsafeMutableBufferPointer { s in
                dSplined.withUnsafeMutableBufferPointer { ds in
                    table.evaluate(r, values: s.baseAddress!, derivatives: ds.baseAddress!)
                }
            }
            for k in 0..<K {
                XCTAssertEqual((plus[k] - minus[k]) / (2 * h), dExact[k], accuracy: 1e-7)
                XCTAssertEqual(splined[k], exact[k], accuracy: 1e-6)
                XCTAssertEqual(dSplined[k], dExact[k], accuracy: 1e-4)
            }
        }
    }
}
