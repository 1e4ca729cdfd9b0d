import Foundation
import XCTest

@testable import SoapCore

/// The bispectrum against an independent evaluation, and its symmetries.
final class BispectrumTests: XCTestCase {
    let hypers = SoapHypers(
        cutoff: 3.5, smoothing: .shiftedCosine(width: 0.3), densityWidth: 0.35,
        centerAtomWeight: 0.8, maxAngular: 3, maxRadial: 2)
    let species = [1, 6, 7, 8]

    /// Wigner 3j by the textbook Racah formula (factorial form), written
    /// independently of SoapCore's Clebsch–Gordan tables.
    static func wigner3j(_ j1: Int, _ j2: Int, _ j3: Int, _ m1: Int, _ m2: Int, _ m3: Int) -> Double {
        guard m1 + m2 + m3 == 0, abs(m1) <= j1, abs(m2) <= j2, abs(m3) <= j3,
            j3 >= abs(j1 - j2), j3 <= j1 + j2
        else { return 0 }
        func f(_ n: Int) -> Double { n <= 1 ? 1 : (2...n).reduce(1.0) { $0 * Double($1) } }
        let triangle = f(j1 + j2 - j3) * f(j1 - j2 + j3) * f(-j1 + j2 + j3) / f(j1 + j2 + j3 + 1)
        let norm = (triangle * f(j1 + m1) * f(j1 - m1) * f(j2 + m2) * f(j2 - m2) * f(j3 + m3) * f(j3 - m3)).squareRoot()
        var sum = 0.0
        for k in 0...(j1 + j2 + j3) {
            let d = [k, j3 - j2 + k + m1, j3 - j1 + k - m2, j1 + j2 - j3 - k, j1 - k - m1, j2 - k + m2]
            if d.contains(where: { $0 < 0 }) { continue }
            sum += (k % 2 == 0 ? 1.0 : -1.0) / d.reduce(1.0) { $0 * f($1) }
        }
        return ((j1 - j2 - m3) % 2 == 0 ? 1.0 : -1.0) * norm * sum
    }

    /// B from the real spherical expansion, brute force: back to complex
    /// coefficients (Condon–Shortley), then Σ (l1 l2 l3; m1 m2 m3) c1 c2 c3 —
    /// what featomic's two real CG couplings reduce to for λ = 0 and even l1+l2+l3.
    func bruteForce(expansion se: FeatureMatrix, bispectrum: FeatureMatrix) -> (deviation: Double, imaginary: Double) {
        let typed = se.properties.names.contains("neighbor_type")
        // (type index, n) → channel; the expansion's own labels say where each c is.
        var typeIndex: [Int32: Int] = [:]
        var K = 0
        for c in 0..<se.columnCount {
            let label = Array(se.properties[c])
            if typed && typeIndex[label[0]] == nil { typeIndex[label[0]] = typeIndex.count }
            K = max(K, Int(label[label.count - 1]) + 1)
        }
        func channel(_ type: Int32?, _ n: Int32) -> Int { (type.map { typeIndex[$0]! } ?? 0) * K + Int(n) }
        // Per column: its three channels and the non-zero 3j symbols of its (l1, l2, l3).
        var threeJ: [[Int]: [(Int, Int, Int, Double)]] = [:]
        var columns: [(q: [Int], terms: [(Int, Int, Int, Double)])] = []
        for c in 0..<bispectrum.columnCount {
            let label = Array(bispectrum.properties[c]).map { Int($0) }
            let (l1, l2, l3) = (label[0], label[1], label[3])
            XCTAssertEqual(label[2], l3, "k_2 = l_3")
            let q =
                typed
                ? [
                    channel(Int32(label[4]), Int32(label[5])), channel(Int32(label[6]), Int32(label[7])),
                    channel(Int32(label[8]), Int32(label[9])),
                ]
                : [label[4], label[5], label[6]]
            if threeJ[[l1, l2, l3]] == nil {
                var terms: [(Int, Int, Int, Double)] = []
                for m1 in -l1...l1 {
                    for m2 in -l2...l2 where abs(m1 + m2) <= l3 {
                        let w = Self.wigner3j(l1, l2, l3, m1, m2, -m1 - m2)
                        if w != 0 { terms.append((l1 * l1 + l1 + m1, l2 * l2 + l2 + m2, l3 * l3 + l3 - m1 - m2, w)) }
                    }
                }
                threeJ[[l1, l2, l3]] = terms
            }
            columns.append((q, threeJ[[l1, l2, l3]]!))
        }
        let channels = (typed ? typeIndex.count : 1) * K
        let lm = (hypers.maxAngular + 1) * (hypers.maxAngular + 1)
        var worst = 0.0
        var imaginary = 0.0
        for row in 0..<se.rowCount {
            // Real coefficients [channel][l² + l + m], then complex (re, im).
            var real = [Double](repeating: 0, count: channels * lm)
            for c in 0..<se.columnCount {
                let label = Array(se.properties[c])
                let (l, m, n) = (Int(label[label.count - 3]), Int(label[label.count - 2]), label[label.count - 1])
                real[channel(typed ? label[0] : nil, n) * lm + l * l + l + m] = se.values[row * se.columnCount + c]
            }
            var re = [Double](repeating: 0, count: channels * lm)
            var im = re
            for q in 0..<channels {
                let r = q * lm
                for l in 0...hypers.maxAngular {
                    let c = r + l * l + l
                    re[c] = real[c]
                    if l == 0 { continue }
                    for m in 1...l {
                        // Y^m = (−1)^m (Y_m + i Y_−m)/√2, Y^−m = (Y_m − i Y_−m)/√2 (real Y_±m of docs/conventions.md §6).
                        let s = (m % 2 == 0 ? 1.0 : -1.0) / 2.0.squareRoot()
                        re[c + m] = s * real[c + m]
                        im[c + m] = s * real[c - m]
                        re[c - m] = real[c + m] / 2.0.squareRoot()
                        im[c - m] = -real[c - m] / 2.0.squareRoot()
                    }
                }
            }
            for (c, column) in columns.enumerated() {
                let (o1, o2, o3) = (column.q[0] * lm, column.q[1] * lm, column.q[2] * lm)
                var sumRe = 0.0
                var sumIm = 0.0
                for (i1, i2, i3, w) in column.terms {
                    let (ar, ai) = (re[o1 + i1], im[o1 + i1])
                    let (br, bi) = (re[o2 + i2], im[o2 + i2])
                    let (cr, ci) = (re[o3 + i3], im[o3 + i3])
                    let (pr, pi) = (ar * br - ai * bi, ar * bi + ai * br)
                    sumRe += w * (pr * cr - pi * ci)
                    sumIm += w * (pr * ci + pi * cr)
                }
                worst = max(worst, abs(sumRe - bispectrum.values[row * bispectrum.columnCount + c]))
                imaginary = max(imaginary, abs(sumIm))
            }
        }
        return (worst, imaginary)
    }

    func testAgreesWithComplexWigner3jBruteForce() throws {
        let basis = try primitiveBasis(hypers, species: species)
        let molecule = TestStructures.molecule()
        let featurizer = Featurizer(threads: 2)
        let se = try featurizer.compute([molecule], type: .sphericalExpansion, basis: basis)
        let b = try featurizer.compute([molecule], type: .bispectrum, basis: basis)
        XCTAssertEqual(b.columnCount, 8 * 12 * 12 * 12, "8 (l1, l2, l3) for L = 3, 4 types × 3 n")
        let (deviation, imaginary) = bruteForce(expansion: se, bispectrum: b)
        let scale = maxAbs(b.values)
        XCTAssertGreaterThan(scale, 1e-3)
        XCTAssertLessThan(deviation, 1e-12 * scale)
        XCTAssertLessThan(imaginary, 1e-12 * scale, "the λ = 0 even invariants are real")
    }

    func testMixedBasisColumnsAndValues() throws {
        // A fitted "mixed" basis has one channel group: columns without neighbour types.
        let molecules = (0..<6).map { TestStructures.molecule(seed: UInt64(30 + $0)) }
        let h = SoapHypers(
            cutoff: 3.5, smoothing: .shiftedCosine(width: 0.3), densityWidth: 0.35,
            maxAngular: 2, maxRadial: 4, splineAccuracy: 1e-9)
        let featurizer = Featurizer(threads: 2)
        let stats = try featurizer.statistics(molecules, basis: try primitiveBasis(h, species: species))
        let fit = try OptimalBasis.fit(stats, hypers: h, contraction: .mixed, q: 3)
        let basis = fit.expansionBasis(tables: try fit.splineTables())
        let se = try featurizer.compute(molecules, type: .sphericalExpansion, basis: basis)
        let b = try featurizer.compute(molecules, type: .bispectrum, basis: basis)
        XCTAssertEqual(b.properties.names, ["l_1", "l_2", "k_2", "l_3", "n_1", "n_2", "n_3"])
        XCTAssertEqual(b.columnCount, 5 * 27)
        let (deviation, imaginary) = bruteForce(expansion: se, bispectrum: b)
        XCTAssertLessThan(deviation, 1e-12 * maxAbs(b.values))
        XCTAssertLessThan(imaginary, 1e-12 * maxAbs(b.values))
    }

    /// Every structure of the bispectrum conformance cases, three random rotations.
    func testRotationInvarianceOnConformanceStructures() throws {
        for name in ["public_f1_bispectrum_molecules.json", "public_f2_bispectrum_si8.json"] {
            let fixture = try ConformanceFixture(name)
            let basis = try primitiveBasis(fixture.hypers, species: fixture.species)
            for (s, structure) in fixture.structures.enumerated() {
                let reference = try Featurizer(threads: 2).compute([structure], type: .bispectrum, basis: basis).values
                let scale = maxAbs(reference)
                for seed in 1...3 {
                    let rotated = TestStructures.rotated(structure, by: TestStructures.rotation(seed: UInt64(40 + seed)))
                    let values = try Featurizer(threads: 2).compute([rotated], type: .bispectrum, basis: basis).values
                    let relative = maxAbsDifference(reference, values) / scale
                    XCTAssertLessThan(relative, 1e-10, "\(name) structure \(s) rotation \(seed)")
                }
            }
        }
        // The expansion itself is not invariant: the test would see a wrong contraction.
        let fixture = try ConformanceFixture("public_f1_bispectrum_molecules.json")
        let basis = try primitiveBasis(fixture.hypers, species: fixture.species)
        let se = try Featurizer(threads: 1).compute([fixture.structures[2]], type: .sphericalExpansion, basis: basis).values
        let seRotated = try Featurizer(threads: 1).compute(
            [TestStructures.rotated(fixture.structures[2], by: TestStructures.rotation(seed: 41))],
            type: .sphericalExpansion, basis: basis
        ).values
        XCTAssertGreaterThan(maxAbsDifference(se, seRotated), 1e-3)
    }

    func testPerStructureIsTheSumOfAtoms() throws {
        let structures = [TestStructures.molecule(), TestStructures.molecule(seed: 8)]
        let basis = try primitiveBasis(hypers, species: species)
        let atoms = try Featurizer(threads: 2).compute(structures, type: .bispectrum, basis: basis)
        let sums = try Featurizer(threads: 2).compute(structures, type: .bispectrum, basis: basis, level: .structure)
        XCTAssertEqual(sums.samples.names, ["structure"])
        XCTAssertNil(sums.centerTypes)
        let cols = atoms.columnCount
        var expected = [Double](repeating: 0, count: 2 * cols)
        for row in 0..<atoms.rowCount {
            let s = Int(atoms.samples[row].first!)
            for c in 0..<cols { expected[s * cols + c] += atoms.values[row * cols + c] }
        }
        XCTAssertLessThan(maxAbsDifference(expected, sums.values), 1e-12 * maxAbs(expected))
    }

    func testColumnCountWithoutLabels() throws {
        let basis = try primitiveBasis(hypers, species: [1, 8])
        for type in DescriptorType.allCases {
            XCTAssertEqual(ColumnLayout.count(type, basis: basis), ColumnLayout.properties(type, basis: basis).count, "\(type)")
        }
    }

    func testAbsentSpeciesShortcutMatchesFullContraction() throws {
        // Without gradients only the non-zero channels are contracted (Si is never
        // present, N only near some centres); with gradients every channel is.
        let basis = try primitiveBasis(hypers, species: [1, 6, 7, 8, 14])
        let molecule = TestStructures.molecule()
        let compact = try Featurizer(threads: 1).compute([molecule], type: .bispectrum, basis: basis)
        let full = try Featurizer(threads: 1).compute([molecule], type: .bispectrum, basis: basis, gradients: true)
        XCTAssertGreaterThan(maxAbs(compact.values), 1e-3)
        XCTAssertLessThan(maxAbsDifference(compact.values, full.values), 1e-14 * maxAbs(full.values))
    }

    func testThreadCountDoesNotChangeValues() throws {
        let si = TestStructures.silicon(rattle: 0.1)
        let h = SoapHypers(cutoff: 4.0, densityWidth: 0.5, maxAngular: 4, maxRadial: 3)
        let basis = try primitiveBasis(h, species: [14])
        let one = try Featurizer(threads: 1).compute([si], type: .bispectrum, basis: basis, gradients: true)
        let two = try Featurizer(threads: 2).compute([si], type: .bispectrum, basis: basis, gradients: true)
        XCTAssertEqual(one.values, two.values)
        XCTAssertEqual(one.gradientValues, two.gradientValues)
        XCTAssertEqual(one.gradientSamples, two.gradientSamples)
    }
}
