import SoapCore
import TestSupport
import XCTest

/// Symmetries the descriptors must respect: rotation, permutation,
/// translation, and the choice of periodic cell.
final class InvarianceTests: XCTestCase {
    let hypers = SoapHypers(
        cutoff: 5.0, smoothing: .shiftedCosine(width: 0.5), densityWidth: 0.5,
        maxAngular: 5, maxRadial: 5)

    func compute(
        _ s: [Structure], _ type: DescriptorType = .powerSpectrum, species: [Int] = [14],
        level: SampleLevel = .atom
    ) throws -> FeatureMatrix {
        try Featurizer(threads: 2).compute(s, type: type, basis: try primitiveBasis(hypers, species: species), level: level)
    }

    func testRotation() throws {
        for structure in [TestStructures.silicon(rattle: 0.15), TestStructures.molecule(), TestStructures.triclinic()] {
            let species = Array(Set(structure.numbers)).sorted()
            for type in [DescriptorType.powerSpectrum, .radialSpectrum] {
                let reference = try compute([structure], type, species: species).values
                for seed in 1...3 {
                    let rotated = TestStructures.rotated(structure, by: TestStructures.rotation(seed: UInt64(seed)))
                    let values = try compute([rotated], type, species: species).values
                    XCTAssertLessThan(maxAbsDifference(reference, values), 1e-10 * max(1, maxAbs(reference)), "\(type)")
                }
            }
        }
    }

    func testSphericalExpansionRotatesAsWignerD() throws {
        // The expansion itself is equivariant: its l-blocks keep their norm Σ_m c².
        let molecule = TestStructures.molecule()
        let species = [1, 6, 7, 8]
        let a = try compute([molecule], .sphericalExpansion, species: species)
        let b = try compute(
            [TestStructures.rotated(molecule, by: TestStructures.rotation(seed: 9))], .sphericalExpansion,
            species: species)
        XCTAssertGreaterThan(maxAbsDifference(a.values, b.values), 1e-3, "a rotation should change the expansion")
        let names = a.properties.names
        let lIndex = names.firstIndex(of: "l")!
        let nIndex = names.firstIndex(of: "n")!
        let tIndex = names.firstIndex(of: "neighbor_type")!
        for row in 0..<a.rowCount {
            var normsA: [[Int32]: Double] = [:]
            var normsB: [[Int32]: Double] = [:]
            for c in 0..<a.columnCount {
                let label = a.properties[c]
                let key = [label[label.startIndex + tIndex], label[label.startIndex + lIndex], label[label.startIndex + nIndex]]
                normsA[key, default: 0] += pow(a.values[row * a.columnCount + c], 2)
                normsB[key, default: 0] += pow(b.values[row * b.columnCount + c], 2)
            }
            for (k, v) in normsA { XCTAssertEqual(v, normsB[k]!, accuracy: 1e-10) }
        }
    }

    func testPermutation() throws {
        let structure = TestStructures.triclinic(n: 10)
        var rng = SplitMix64(seed: 11, skipping: 1)
        let permutation = Array(0..<structure.count).shuffled(using: &rng)
        var permuted = structure
        permuted.numbers = permutation.map { structure.numbers[$0] }
        permuted.positions = permutation.flatMap { structure.positions[(3 * $0)..<(3 * $0 + 3)] }
        let a = try compute([structure], species: [11, 17])
        let b = try compute([permuted], species: [11, 17])
        let cols = a.columnCount
        for (newIndex, old) in permutation.enumerated() {
            let rowA = Array(a.values[(old * cols)..<((old + 1) * cols)])
            let rowB = Array(b.values[(newIndex * cols)..<((newIndex + 1) * cols)])
            XCTAssertLessThan(maxAbsDifference(rowA, rowB), 1e-12)
        }
        let sa = try compute([structure], species: [11, 17], level: .structure)
        let sb = try compute([permuted], species: [11, 17], level: .structure)
        XCTAssertLessThan(maxAbsDifference(sa.values, sb.values), 1e-10)
    }

    func testTranslation() throws {
        for structure in [TestStructures.silicon(rattle: 0.1), TestStructures.molecule()] {
            let species = Array(Set(structure.numbers)).sorted()
            var moved = structure
            for i in 0..<structure.count {
                moved.positions[3 * i] += 13.7
                moved.positions[3 * i + 1] -= 4.1
                moved.positions[3 * i + 2] += 0.33
            }
            let a = try compute([structure], species: species)
            let b = try compute([moved], species: species)
            XCTAssertLessThan(maxAbsDifference(a.values, b.values), 1e-10)
        }
    }

    func testPrimitiveCellEqualsSupercell() throws {
        // Unrattled diamond: the 2-atom primitive cell, the 8-atom cubic cell and
        // a 2×2×2 cubic supercell describe one crystal; every atom's environment is the same.
        let primitive = try compute([TestStructures.siliconPrimitive])
        let cubic = try compute([TestStructures.silicon(reps: 1, rattle: 0)])
        let supercell = try compute([TestStructures.silicon(reps: 2, rattle: 0)])
        let cols = primitive.columnCount
        let reference = Array(primitive.values[0..<cols])
        XCTAssertLessThan(maxAbsDifference(reference, Array(primitive.values[cols..<(2 * cols)])), 1e-10)
        for m in [cubic, supercell] {
            for row in 0..<m.rowCount {
                XCTAssertLessThan(maxAbsDifference(reference, Array(m.values[(row * cols)..<((row + 1) * cols)])), 1e-10)
            }
        }
    }

    func testEquivalentCellsAndWrapping() throws {
        // The same lattice with other cell vectors (A, B, A+B+C), positions unwrapped.
        let structure = TestStructures.triclinic(n: 10)
        let c = structure.cell!
        var other = structure
        other.cell = Array(c[0..<6]) + [c[0] + c[3] + c[6], c[1] + c[4] + c[7], c[2] + c[5] + c[8]]
        for i in 0..<structure.count where i % 3 == 0 {
            for k in 0..<3 { other.positions[3 * i + k] += 2 * c[3 + k] - c[6 + k] }
        }
        let a = try compute([structure], species: [11, 17])
        let b = try compute([other], species: [11, 17])
        XCTAssertLessThan(maxAbsDifference(a.values, b.values), 1e-10)
    }

    func testIsolatedAtomHasOnlyTheCentralTerm() throws {
        // One atom: c_{n00} = w_c I_n0(0) / √(4π); I_n0(0) by quadrature of the
        // orthonormal radial functions, independent of the ₁F₁ closed form.
        let weight = 0.8
        var h = hypers
        h.centerAtomWeight = weight
        let atom = Structure(numbers: [14], positions: [1, 2, 3])
        let se = try Featurizer(threads: 1).compute(
            [atom], type: .sphericalExpansion,
            basis: try primitiveBasis(h, species: [14]))
        let gto = try GtoRadialBasis(cutoff: h.cutoff, densityWidth: h.densityWidth, count: h.radialCount, maxAngular: 0)
        let sigma2 = h.densityWidth * h.densityWidth
        for c in 0..<se.columnCount {
            let label = se.properties[c].map { Int($0) }  // neighbor_type, l, m, n
            let value = se.values[c]
            if label[1] != 0 {
                XCTAssertEqual(value, 0, "l > 0 must vanish")
                continue
            }
            let n = label[3]
            // I_n0(0) = (πσ²)^(-3/4) 4π ∫ x² R_n(x) e^{-x²/2σ²} dx  (i_0(0) = 1)
            var integral = 0.0
            let steps = 20000
            let top = 12.0
            for s in 0...steps {
                let x = top * Double(s) / Double(steps)
                let w = (s == 0 || s == steps) ? 0.5 : 1.0
                integral += w * x * x * gto.function(n, at: x) * exp(-x * x / (2 * sigma2))
            }
            integral *= top / Double(steps)
            let expected = weight * pow(Double.pi * sigma2, -0.75) * 4 * Double.pi * integral / (4 * Double.pi).squareRoot()
            XCTAssertEqual(value, expected, accuracy: 1e-7)
        }
        let ps = try Featurizer(threads: 1).compute([atom], type: .powerSpectrum, basis: try primitiveBasis(h, species: [14]))
        for c in 0..<ps.columnCount where ps.properties[c][ps.properties[c].startIndex + 2] != 0 {
            XCTAssertEqual(ps.values[c], 0)
        }
    }
}
