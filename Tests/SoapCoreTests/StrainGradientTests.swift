import SoapCore
import XCTest

/// Strain gradients against central finite differences of soapd's own values under
/// r → (1 + ε) r of positions and cell, for every descriptor, per atom and per structure;
/// the invariants' strain gradients are symmetric.
final class StrainGradientTests: XCTestCase {
    let hypers = SoapHypers(
        cutoff: 3.5, smoothing: .shiftedCosine(width: 0.5), densityWidth: 0.5, maxAngular: 3, maxRadial: 3)

    static func deformed(_ s: Structure, _ a: Int, _ b: Int, _ h: Double) -> Structure {
        var out = s
        for i in 0..<s.count { out.positions[3 * i + a] += h * s.positions[3 * i + b] }
        if let cell = s.cell {
            var c = cell
            for row in 0..<3 { c[3 * row + a] += h * cell[3 * row + b] }
            out.cell = c
        }
        return out
    }

    func check(
        _ structure: Structure, species: [Int], type: DescriptorType, level: SampleLevel,
        options: DescriptorOptions = .init(), symmetric: Bool, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        try check(
            structure, basis: try primitiveBasis(hypers, species: species), type: type, level: level,
            options: options, symmetric: symmetric, file: file, line: line)
    }

    func check(
        _ structure: Structure, basis: ExpansionBasis, type: DescriptorType, level: SampleLevel,
        options: DescriptorOptions = .init(), symmetric: Bool, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let featurizer = Featurizer(threads: 2)
        let result = try featurizer.compute(
            [structure], type: type, basis: basis, level: level, options: options, strain: true)
        let strain = try XCTUnwrap(result.strainValues, file: file, line: line)
        let cols = result.columnCount
        XCTAssertEqual(strain.count, result.rowCount * 9 * cols, file: file, line: line)
        let h = 1e-5
        var worst = 0.0
        var asymmetry = 0.0
        for a in 0..<3 {
            for b in 0..<3 {
                let vp = try featurizer.compute(
                    [Self.deformed(structure, a, b, h)], type: type, basis: basis, level: level, options: options
                ).values
                let vm = try featurizer.compute(
                    [Self.deformed(structure, a, b, -h)], type: type, basis: basis, level: level, options: options
                ).values
                for row in 0..<result.rowCount {
                    for c in 0..<cols {
                        let fd = (vp[row * cols + c] - vm[row * cols + c]) / (2 * h)
                        let ours = strain[((row * 3 + a) * 3 + b) * cols + c]
                        worst = max(worst, abs(fd - ours))
                        asymmetry = max(asymmetry, abs(ours - strain[((row * 3 + b) * 3 + a) * cols + c]))
                    }
                }
            }
        }
        let scale = max(maxAbs(strain), 1e-12)
        XCTAssertGreaterThan(maxAbs(strain), 1e-6, "strain gradients vanish", file: file, line: line)
        XCTAssertLessThan(worst / scale, 1e-6, "\(type) \(level): FD deviation \(worst)", file: file, line: line)
        if symmetric {
            XCTAssertLessThan(asymmetry / scale, 1e-10, "\(type) \(level): asymmetry \(asymmetry)", file: file, line: line)
        }
    }

    func testEveryDescriptorPeriodicAndMolecule() throws {
        let crystal = TestStructures.triclinic(n: 6, seed: 7)
        let molecule = TestStructures.molecule()
        for level in [SampleLevel.atom, .structure] {
            for (s, species) in [(crystal, [11, 17]), (molecule, [1, 6, 7, 8])] {
                try check(s, species: species, type: .sphericalExpansion, level: level, symmetric: false)
                try check(s, species: species, type: .radialSpectrum, level: level, symmetric: true)
                try check(s, species: species, type: .powerSpectrum, level: level, symmetric: true)
                try check(s, species: species, type: .bispectrum, level: level, symmetric: true)
                try check(
                    s, species: species, type: .multispectrum, level: level,
                    options: .init(correlationOrder: 3), symmetric: true)
                try check(
                    s, species: species, type: .powerSpectrum, level: level, options: .init(lambda: 1),
                    symmetric: false)
            }
        }
    }

    func testSiliconWithSelfImages() throws {
        // The primitive cell: every atom sees its own images, whose vectors the strain stretches.
        try check(TestStructures.siliconPrimitive, species: [14], type: .powerSpectrum, level: .atom, symmetric: true)
        try check(TestStructures.siliconPrimitive, species: [14], type: .bispectrum, level: .structure, symmetric: true)
    }

    /// A fitted mixed basis: every species shares the channels (one channel group).
    func testFittedMixedBasis() throws {
        let h = SoapHypers(
            cutoff: 3.5, smoothing: .shiftedCosine(width: 0.3), densityWidth: 0.35, maxAngular: 2, maxRadial: 4,
            splineAccuracy: 1e-9)
        let molecules = [TestStructures.molecule(), TestStructures.molecule(seed: 4)]
        let stats = try Featurizer(threads: 2).statistics(molecules, basis: try primitiveBasis(h, species: [1, 6, 7, 8]))
        let fit = try OptimalBasis.fit(stats, hypers: h, contraction: .mixed, q: 3)
        let basis = fit.expansionBasis(tables: try fit.splineTables())
        for type in [DescriptorType.powerSpectrum, .bispectrum, .sphericalExpansion] {
            try check(molecules[0], basis: basis, type: type, level: .atom, symmetric: type != .sphericalExpansion)
        }
        try check(
            molecules[0], basis: basis, type: .multispectrum, level: .structure, options: .init(correlationOrder: 3),
            symmetric: true)
    }

    func testPositionsAndStrainTogetherLeavePositionsUnchanged() throws {
        let s = TestStructures.triclinic(n: 6, seed: 7)
        let basis = try primitiveBasis(hypers, species: [11, 17])
        for type in [DescriptorType.powerSpectrum, .bispectrum, .sphericalExpansion] {
            let alone = try Featurizer(threads: 2).compute([s], type: type, basis: basis, gradients: true)
            let both = try Featurizer(threads: 2).compute([s], type: type, basis: basis, gradients: true, strain: true)
            let strainOnly = try Featurizer(threads: 2).compute([s], type: type, basis: basis, strain: true)
            XCTAssertEqual(alone.values, both.values)
            XCTAssertEqual(alone.gradientValues, both.gradientValues)
            XCTAssertEqual(both.strainValues, strainOnly.strainValues)
            XCTAssertNil(strainOnly.gradientValues)
        }
    }

    func testMixedPeriodicityIsRefused() throws {
        var slab = TestStructures.triclinic(n: 6, seed: 7)
        slab.pbc = (true, true, false)
        let basis = try primitiveBasis(hypers, species: [11, 17])
        XCTAssertThrowsError(try Featurizer().compute([slab], type: .powerSpectrum, basis: basis, strain: true)) {
            guard case FeaturizationError.structure(let e) = $0 else { return XCTFail("\($0)") }
            XCTAssertEqual(e.field, "pbc")
        }
        XCTAssertNoThrow(try Featurizer().compute([slab], type: .powerSpectrum, basis: basis, gradients: true))
    }
}
