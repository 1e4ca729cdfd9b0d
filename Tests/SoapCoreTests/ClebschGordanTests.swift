import Dispatch
import Foundation
import TestSupport
import XCTest

@testable import SoapCore

/// Real Clebsch–Gordan tables: textbook complex values, both orthogonality
/// relations, and the product rule of the project's own real harmonics.
final class ClebschGordanTests: XCTestCase {
    func testComplexTextbookValues() {
        // Condon–Shortley values from the closed forms for j2 = 1 and J = 0 (e.g. the PDG table).
        let cases: [(Int, Int, Int, Int, Int, Int, Double)] = [
            (1, 1, 1, -1, 0, 0, 1 / 3.0.squareRoot()),
            (1, 0, 1, 0, 0, 0, -1 / 3.0.squareRoot()),
            (1, 0, 1, 0, 2, 0, (2.0 / 3).squareRoot()),
            (1, 1, 1, 0, 1, 1, 1 / 2.0.squareRoot()),
            (1, 0, 1, 1, 1, 1, -1 / 2.0.squareRoot()),
            (1, 1, 1, 1, 2, 2, 1),
            (2, 0, 2, 0, 0, 0, 1 / 5.0.squareRoot()),
            (2, 1, 1, -1, 2, 0, 1 / 2.0.squareRoot()),
            (3, -1, 1, 1, 2, 0, (2.0 / 7).squareRoot()),
            (2, 2, 1, -1, 3, 1, (1.0 / 15).squareRoot()),
            (2, 0, 1, 0, 1, 0, -(2.0 / 5).squareRoot()),
        ]
        for (l1, m1, l2, m2, L, M, expected) in cases {
            XCTAssertEqual(
                ClebschGordan.complex(l1, m1, l2, m2, L, M), expected, accuracy: 1e-15,
                "<\(l1) \(m1) \(l2) \(m2)|\(L) \(M)>")
        }
        XCTAssertEqual(ClebschGordan.complex(1, 1, 1, 1, 1, 1), 0, "M ≠ m1 + m2")
        XCTAssertEqual(ClebschGordan.complex(1, 0, 1, 0, 3, 0), 0, "outside the triangle")
    }

    /// Σ_{m1 m2} C^{LM}_{m1m2} C^{L'M'}_{m1m2} = δ_LL' δ_MM' and
    /// Σ_{L M} C^{LM}_{m1m2} C^{LM}_{m1'm2'} = δ_m1m1' δ_m2m2', for the real tables.
    func testRealOrthogonality() {
        let lMax = 6
        let cg = ClebschGordan(maxAngular: lMax)
        var worst = 0.0
        for l1 in 0...lMax {
            for l2 in 0...lMax {
                let d1 = 2 * l1 + 1
                let d2 = 2 * l2 + 1
                // Dense U[(L, M)][(m1, m2)]: a square matrix, orthogonal.
                var rows: [[Double]] = []
                for L in abs(l1 - l2)...(l1 + l2) {
                    var block = [[Double]](repeating: [Double](repeating: 0, count: d1 * d2), count: 2 * L + 1)
                    for e in cg.range(l1, l2, L) {
                        block[Int(cg.mL[e]) + L][(Int(cg.m1[e]) + l1) * d2 + Int(cg.m2[e]) + l2] = cg.values[e]
                    }
                    rows += block
                }
                XCTAssertEqual(rows.count, d1 * d2)
                for a in rows.indices {
                    for b in rows.indices {
                        var dotRows = 0.0
                        var dotColumns = 0.0
                        for k in rows.indices {
                            dotRows += rows[a][k] * rows[b][k]
                            dotColumns += rows[k][a] * rows[k][b]
                        }
                        let delta = a == b ? 1.0 : 0.0
                        worst = max(worst, abs(dotRows - delta), abs(dotColumns - delta))
                    }
                }
            }
        }
        XCTAssertLessThan(worst, 1e-14)
    }

    /// Exact integer sums keep the complex coefficients accurate at the largest l.
    func testComplexOrthogonalityAtLargeL() {
        var worst = 0.0
        for (l1, l2) in [(12, 12), (12, 7), (20, 20)] {
            for L in [abs(l1 - l2), (l1 + l2) / 2, l1 + l2 - 1, l1 + l2] {
                for M in [0, 1, L / 2] where M <= L {
                    for L2 in [L, max(abs(l1 - l2), L - 2)] where M <= L2 {
                        var dot = 0.0
                        for m1 in -l1...l1 {
                            let m2 = M - m1
                            guard abs(m2) <= l2 else { continue }
                            dot += ClebschGordan.complex(l1, m1, l2, m2, L, M) * ClebschGordan.complex(l1, m1, l2, m2, L2, M)
                        }
                        worst = max(worst, abs(dot - (L == L2 ? 1 : 0)))
                    }
                }
            }
        }
        XCTAssertLessThan(worst, 1e-13)
    }

    func testCouplingToZero() {
        // C^{00}_{lμ,lm} = (−1)^l / √(2l+1) δ_μm (docs/conventions.md §11), and only then.
        let cg = ClebschGordan(maxAngular: 6)
        for l in 0...6 {
            XCTAssertEqual(cg.range(l, l, 0).count, 2 * l + 1)
            for mu in -l...l {
                for m in -l...l {
                    let expected = mu == m ? (l % 2 == 0 ? 1.0 : -1.0) / Double(2 * l + 1).squareRoot() : 0
                    XCTAssertEqual(cg.coefficient(l, mu, l, m, 0, 0), expected, accuracy: 1e-15)
                }
            }
        }
    }

    /// Y_l1m1(r̂) Y_l2m2(r̂) = Σ_{L M} k(l1,l2,L) C^{LM}_{l1m1,l2m2} Y_LM(r̂),
    /// k = sqrt((2l1+1)(2l2+1) / (4π(2L+1))) ⟨l1 0 l2 0|L 0⟩, with soapd's own harmonics.
    func testProductOfRealHarmonics() {
        let lMax = 5
        let cg = ClebschGordan(maxAngular: lMax)
        let harmonics = SphericalHarmonics(maxAngular: 2 * lMax)
        var scratch = SphericalHarmonics.Scratch(maxAngular: 2 * lMax)
        let y = UnsafeMutablePointer<Double>.allocate(capacity: harmonics.count)
        defer { y.deallocate() }
        var rng = SplitMix64(seed: 21, skipping: 1)
        var worst = 0.0
        for _ in 0..<20 {
            var v = (rng.gaussian(), rng.gaussian(), rng.gaussian())
            let n = (v.0 * v.0 + v.1 * v.1 + v.2 * v.2).squareRoot()
            v = (v.0 / n, v.1 / n, v.2 / n)
            harmonics.evaluate(x: v.0, y: v.1, z: v.2, values: y, gradients: nil, scratch: &scratch)
            for l1 in 0...lMax {
                for l2 in 0...lMax {
                    var sum = [Double](repeating: 0, count: (2 * l1 + 1) * (2 * l2 + 1))
                    for L in abs(l1 - l2)...(l1 + l2) {
                        let k =
                            (Double((2 * l1 + 1) * (2 * l2 + 1)) / (4 * Double.pi * Double(2 * L + 1))).squareRoot()
                            * ClebschGordan.complex(l1, 0, l2, 0, L, 0)
                        for e in cg.range(l1, l2, L) {
                            let i = (Int(cg.m1[e]) + l1) * (2 * l2 + 1) + Int(cg.m2[e]) + l2
                            sum[i] += k * cg.values[e] * y[L * L + L + Int(cg.mL[e])]
                        }
                    }
                    for m1 in -l1...l1 {
                        for m2 in -l2...l2 {
                            let product = y[l1 * l1 + l1 + m1] * y[l2 * l2 + l2 + m2]
                            worst = max(worst, abs(product - sum[(m1 + l1) * (2 * l2 + 1) + m2 + l2]))
                        }
                    }
                }
            }
        }
        XCTAssertLessThan(worst, 1e-13)
    }

    func testOnlyNonZeroEntriesAreStored() {
        // Real harmonics couple |M| = |m1| ± |m2| only; everything stored is non-zero.
        let cg = ClebschGordan(maxAngular: 6)
        var stored = 0
        for l1 in 0...6 {
            for l2 in 0...6 {
                for L in abs(l1 - l2)...(l1 + l2) {
                    let r = cg.range(l1, l2, L)
                    stored += r.count
                    XCTAssertGreaterThan(r.count, 0)
                    for e in r {
                        let a = abs(Int(cg.m1[e]))
                        let b = abs(Int(cg.m2[e]))
                        let c = abs(Int(cg.mL[e]))
                        XCTAssertTrue(c == a + b || c == abs(a - b), "(\(l1) \(l2) \(L)) entry \(e)")
                        XCTAssertGreaterThan(abs(cg.values[e]), 1e-10)
                    }
                }
                XCTAssertTrue(cg.range(l1, l2, l1 + l2 + 1).isEmpty)
            }
        }
        XCTAssertEqual(stored, cg.values.count)
        // Far fewer than the dense (2l1+1)(2l2+1)(2L+1) entries.
        var dense = 0
        for l1 in 0...6 {
            for l2 in 0...6 { for L in abs(l1 - l2)...(l1 + l2) { dense += (2 * l1 + 1) * (2 * l2 + 1) * (2 * L + 1) } }
        }
        XCTAssertLessThan(stored * 4, dense)
    }

    func testSharedTablesAreBuiltOnce() {
        var tables = [ClebschGordan?](repeating: nil, count: 16)
        tables.withUnsafeMutableBufferPointer { out in
            let out = out
            DispatchQueue.concurrentPerform(iterations: 16) { i in out[i] = ClebschGordan.shared(maxAngular: 3 + i % 2) }
        }
        let first = ClebschGordan.shared(maxAngular: 4)
        for t in tables { XCTAssertTrue(t! === first || t!.maxAngular >= 3) }
        // A smaller request is served by an existing larger table.
        XCTAssertTrue(ClebschGordan.shared(maxAngular: 2).maxAngular >= 2)
        XCTAssertTrue(ClebschGordan.shared(maxAngular: 4) === first)
    }
}
