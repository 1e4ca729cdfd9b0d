import SoapCore
import XCTest

/// Analytic position gradients against central finite differences of
/// soapd's own values, for every descriptor, per atom and per structure.
final class GradientTests: XCTestCase {
    let siHypers = SoapHypers(
        cutoff: 4.0, smoothing: .shiftedCosine(width: 0.5), densityWidth: 0.5,
        maxAngular: 4, maxRadial: 4)
    let moleculeHypers = SoapHypers(
        cutoff: 3.5, smoothing: .shiftedCosine(width: 0.3), densityWidth: 0.3,
        scaling: .willatt2018(rate: 1, scale: 2, exponent: 4), centerAtomWeight: 0.7,
        maxAngular: 3, maxRadial: 3)

    func check(
        _ structure: Structure, hypers: SoapHypers, species: [Int], type: DescriptorType,
        level: SampleLevel, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let basis = try primitiveBasis(hypers, species: species)
        let featurizer = Featurizer(threads: 2)
        let result = try featurizer.compute([structure], type: type, basis: basis, level: level, gradients: true)
        let cols = result.columnCount
        let labels = try XCTUnwrap(result.gradientSamples)
        let grads = try XCTUnwrap(result.gradientValues)
        var entry: [[Int32]: Int] = [:]
        for e in 0..<labels.count { entry[[labels[e].first!, labels[e].last!]] = e }  // (sample, atom)
        let h = 1e-5
        var worst = 0.0
        let scale = max(maxAbs(grads), 1e-12)
        for atom in 0..<structure.count {
            for d in 0..<3 {
                var plus = structure
                var minus = structure
                plus.positions[3 * atom + d] += h
                minus.positions[3 * atom + d] -= h
                let vp = try featurizer.compute([plus], type: type, basis: basis, level: level).values
                let vm = try featurizer.compute([minus], type: type, basis: basis, level: level).values
                for row in 0..<result.rowCount {
                    let e = entry[[Int32(row), Int32(atom)]]
                    for c in 0..<cols {
                        let fd = (vp[row * cols + c] - vm[row * cols + c]) / (2 * h)
                        let analytic = e.map { grads[($0 * 3 + d) * cols + c] } ?? 0
                        if e == nil && abs(fd) > 1e-9 * scale {
                            XCTFail(
                                "row \(row) atom \(atom): non-zero derivative \(fd) but no gradient entry", file: file, line: line
                            )
                            return
                        }
                        worst = max(worst, abs(fd - analytic))
                    }
                }
            }
        }
        print("gradients \(type) \(level): max |FD − analytic| / max |gradient| = \(worst / scale)")
        XCTAssertLessThan(
            worst / scale, 1e-5, "\(type) \(level): worst |FD − analytic| = \(worst), max gradient \(scale)",
            file: file, line: line)
    }

    func testSiliconAllDescriptors() throws {
        // Cutoff 4 Å in a 5.43 Å cell: several images of some neighbours.
        let si = TestStructures.silicon(rattle: 0.1)
        // The multispectrum has its own finite-difference tests on smaller bases (MultispectrumTests).
        for type in DescriptorType.allCases where type != .multispectrum {
            try check(si, hypers: siHypers, species: [14], type: type, level: .atom)
        }
        try check(si, hypers: siHypers, species: [14], type: .powerSpectrum, level: .structure)
        try check(si, hypers: siHypers, species: [14], type: .bispectrum, level: .structure)
    }

    func testMoleculeWithScalingAndCenterWeight() throws {
        let molecule = TestStructures.molecule()
        // The multispectrum has its own finite-difference tests on smaller bases (MultispectrumTests).
        for type in DescriptorType.allCases where type != .multispectrum {
            try check(molecule, hypers: moleculeHypers, species: [1, 6, 7, 8], type: type, level: .atom)
        }
        try check(molecule, hypers: moleculeHypers, species: [1, 6, 7, 8], type: .sphericalExpansion, level: .structure)
        try check(molecule, hypers: moleculeHypers, species: [1, 6, 7, 8], type: .bispectrum, level: .structure)
    }

    func testPrimitiveCellWithSelfImages() throws {
        // Cutoff far larger than the 2-atom cell: every atom sees its own images.
        // Displaced from the ideal sites, where symmetry makes every gradient vanish.
        var primitive = TestStructures.siliconPrimitive
        primitive.positions[3] += 0.1
        primitive.positions[4] -= 0.05
        primitive.positions[5] += 0.07
        try check(primitive, hypers: siHypers, species: [14], type: .powerSpectrum, level: .atom)
        try check(primitive, hypers: siHypers, species: [14], type: .sphericalExpansion, level: .structure)
        try check(primitive, hypers: siHypers, species: [14], type: .bispectrum, level: .atom)
    }

    func testTriclinicTwoSpecies() throws {
        let hypers = SoapHypers(cutoff: 4.5, densityWidth: 0.4, maxAngular: 3, maxRadial: 3)
        try check(TestStructures.triclinic(n: 8), hypers: hypers, species: [11, 17], type: .powerSpectrum, level: .atom)
        try check(TestStructures.triclinic(n: 8), hypers: hypers, species: [11, 17], type: .bispectrum, level: .atom)
    }
}
