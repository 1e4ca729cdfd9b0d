import SoapCore
import TestSupport
import XCTest

/// The vector–Jacobian product equals contracting the full Jacobian (positions and strain)
/// with the same G, for every descriptor, per atom and per structure, a fitted basis
/// included; and a toy model's energy E = Σ w·X matches its forces and virial by finite
/// differences.
final class VectorJacobianProductTests: XCTestCase {
    let hypers = SoapHypers(
        cutoff: 3.5, smoothing: .shiftedCosine(width: 0.5), densityWidth: 0.5, maxAngular: 3, maxRadial: 3)

    func randomG(_ count: Int, seed: UInt64) -> [Double] {
        var rng = SplitMix64(seed: seed, skipping: 1)
        return (0..<count).map { _ in rng.gaussian() }
    }

    /// Σ G·∂X from the full Jacobian: (positions atoms × 3, strain structures × 9).
    static func contracted(_ m: FeatureMatrix, _ G: [Double], structures: [Structure], level: SampleLevel)
        -> ([Double], [Double])
    {
        let cols = m.columnCount
        var atomStart = [0]
        for s in structures { atomStart.append(atomStart.last! + s.count) }
        var positions = [Double](repeating: 0, count: 3 * atomStart.last!)
        let labels = m.gradientSamples!
        let grads = m.gradientValues!
        for e in 0..<labels.count {
            let label = Array(labels[e])
            let (row, s, atom) = (Int(label[0]), Int(label[1]), Int(label[2]))
            for d in 0..<3 {
                var dot = 0.0
                for c in 0..<cols { dot += G[row * cols + c] * grads[(e * 3 + d) * cols + c] }
                positions[3 * (atomStart[s] + atom) + d] += dot
            }
        }
        var strain = [Double](repeating: 0, count: 9 * structures.count)
        let sv = m.strainValues!
        for row in 0..<m.rowCount {
            let s: Int
            if level == .structure {
                s = row
            } else {
                s = atomStart.lastIndex(where: { $0 <= row })!
            }
            for ab in 0..<9 {
                var dot = 0.0
                for c in 0..<cols { dot += G[row * cols + c] * sv[(row * 9 + ab) * cols + c] }
                strain[9 * s + ab] += dot
            }
        }
        return (positions, strain)
    }

    func relative(_ a: [Double], _ b: [Double]) -> Double {
        maxAbsDifference(a, b) / max(maxAbs(b), 1e-300)
    }

    func check(
        _ structures: [Structure], basis: ExpansionBasis, type: DescriptorType, options: DescriptorOptions = .init(),
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let featurizer = Featurizer(threads: 2)
        for level in [SampleLevel.atom, .structure] {
            let m = try featurizer.compute(
                structures, type: type, basis: basis, level: level, gradients: true, options: options, strain: true)
            let G = randomG(m.values.count, seed: 11)
            let (positions, strain) = Self.contracted(m, G, structures: structures, level: level)
            let vjp = try featurizer.vectorJacobianProduct(
                structures, type: type, basis: basis, level: level, options: options, outputGradient: G,
                positions: true, strain: true)
            let p = relative(try XCTUnwrap(vjp.positions), positions)
            let s = relative(try XCTUnwrap(vjp.strain), strain)
            XCTAssertLessThan(p, 1e-10, "\(type) \(level) positions", file: file, line: line)
            XCTAssertLessThan(s, 1e-10, "\(type) \(level) strain", file: file, line: line)
            XCTAssertEqual(vjp.positionSamples?.count, positions.count / 3, file: file, line: line)
        }
    }

    func testEqualsContractedJacobian() throws {
        let structures = [TestStructures.triclinic(n: 6, seed: 7), TestStructures.triclinic(n: 4, seed: 9)]
        let basis = try primitiveBasis(hypers, species: [11, 17])
        for type in [DescriptorType.sphericalExpansion, .radialSpectrum, .powerSpectrum, .bispectrum] {
            try check(structures, basis: basis, type: type)
        }
        try check(structures, basis: basis, type: .multispectrum, options: .init(correlationOrder: 3))
        try check(structures, basis: basis, type: .powerSpectrum, options: .init(lambda: 2))
        let molecules = [TestStructures.molecule(), TestStructures.molecule(seed: 4)]
        try check(molecules, basis: try primitiveBasis(hypers, species: [1, 6, 7, 8]), type: .powerSpectrum)
    }

    /// Ragged bases (sizes by l) are computed on a padded layout: the caller's G has the kept
    /// columns only, and positions and strain still equal the contracted Jacobian.
    func testRaggedBases() throws {
        let structures = [TestStructures.triclinic(n: 6, seed: 7)]
        for hypers in [RaggedBasisTests.le, RaggedBasisTests.explicit] {
            let basis = try primitiveBasis(hypers, species: [11, 17])
            XCTAssertTrue(basis.isRagged)
            for type in [DescriptorType.sphericalExpansion, .powerSpectrum, .bispectrum] {
                try check(structures, basis: basis, type: type)
            }
        }
    }

    func testFittedBasis() throws {
        let h = SoapHypers(
            cutoff: 3.5, smoothing: .shiftedCosine(width: 0.3), densityWidth: 0.35, maxAngular: 2, maxRadial: 4,
            splineAccuracy: 1e-9)
        let molecules = [TestStructures.molecule(), TestStructures.molecule(seed: 4)]
        let stats = try Featurizer(threads: 2).statistics(molecules, basis: try primitiveBasis(h, species: [1, 6, 7, 8]))
        for contraction in [Contraction.separate, .mixed] {
            let fit = try OptimalBasis.fit(stats, hypers: h, contraction: contraction, q: 3)
            let basis = fit.expansionBasis(tables: try fit.splineTables())
            try check(molecules, basis: basis, type: .powerSpectrum)
            try check(molecules, basis: basis, type: .bispectrum)
        }
    }

    /// E = Σ_structures w·X: forces = −∂E/∂r and virial = −∂E/∂ε against central differences.
    func testToyModelFiniteDifferences() throws {
        let structure = TestStructures.triclinic(n: 6, seed: 7)
        let basis = try primitiveBasis(hypers, species: [11, 17])
        let featurizer = Featurizer(threads: 2)
        let columns = try featurizer.compute([structure], type: .powerSpectrum, basis: basis, level: .structure)
            .columnCount
        let w = randomG(columns, seed: 5)
        func energy(_ s: Structure) throws -> Double {
            let x = try featurizer.compute([s], type: .powerSpectrum, basis: basis, level: .structure).values
            return zip(w, x).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let vjp = try featurizer.vectorJacobianProduct(
            [structure], type: .powerSpectrum, basis: basis, level: .structure, outputGradient: w,
            positions: true, strain: true)
        let h = 1e-5
        var worst = 0.0
        for k in 0..<(3 * structure.count) {
            var plus = structure
            var minus = structure
            plus.positions[k] += h
            minus.positions[k] -= h
            let fd = (try energy(plus) - energy(minus)) / (2 * h)
            worst = max(worst, abs(fd - vjp.positions![k]))
        }
        for a in 0..<3 {
            for b in 0..<3 {
                let fd =
                    (try energy(StrainGradientTests.deformed(structure, a, b, h))
                        - energy(StrainGradientTests.deformed(structure, a, b, -h))) / (2 * h)
                worst = max(worst, abs(fd - vjp.strain![3 * a + b]))
            }
        }
        XCTAssertLessThan(worst / maxAbs(vjp.positions! + vjp.strain!), 1e-6)
    }

    func testBadOutputGradient() throws {
        let structure = TestStructures.triclinic(n: 4, seed: 7)
        let basis = try primitiveBasis(hypers, species: [11, 17])
        XCTAssertThrowsError(
            try Featurizer().vectorJacobianProduct(
                [structure], type: .powerSpectrum, basis: basis, outputGradient: [1, 2, 3], positions: true,
                strain: false)
        ) {
            guard case FeaturizationError.outputGradientShape = $0 else { return XCTFail("\($0)") }
        }
        let columns = try Featurizer().compute([structure], type: .powerSpectrum, basis: basis).columnCount
        var G = [Double](repeating: 1, count: structure.count * columns)
        G[columns + 2] = .infinity
        XCTAssertThrowsError(
            try Featurizer().vectorJacobianProduct(
                [structure], type: .powerSpectrum, basis: basis, outputGradient: G, positions: true, strain: false)
        ) {
            XCTAssertEqual($0 as? FeaturizationError, .outputGradientNotFinite(row: 1, column: 2))
        }
    }
}
