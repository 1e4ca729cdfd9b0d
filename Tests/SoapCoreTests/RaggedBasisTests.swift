import SoapCore
import XCTest

/// Radial bases whose size depends on l (Explicit GTOs, Laplacian eigenstates) through
/// every descriptor, the dataset statistics and the optimal-basis fits: columns follow
/// n_l, invariants are invariant, analytic gradients equal finite differences.
final class RaggedBasisTests: XCTestCase {
    static let base = SoapHypers(
        cutoff: 3.5, smoothing: .shiftedCosine(width: 0.5), densityWidth: 0.4, maxAngular: 0, maxRadial: 0)
    /// Laplacian eigenstates, max_radial 3, max_angular 3: sizes 4, 3, 3, 2.
    static let le = base.withRadialBases(
        .laplacianEigenstate(cutoff: 3.5, maxRadial: 3, maxAngular: 3), density: .gaussian)
    /// Explicit GTOs of sizes 3, 2, 1 (and no l = 3 functions at all: 0).
    static let explicit = base.withRadialBases(
        RadialBasisSet(form: .explicit, byAngular: [.gto(maxRadial: 2), .gto(maxRadial: 1), .gto(maxRadial: 0), nil]),
        density: .gaussian)
    let species = [1, 6, 7, 8]

    func testSizes() {
        XCTAssertEqual(Self.le.radialSizes, [4, 3, 3, 2])
        XCTAssertEqual(Self.explicit.radialSizes, [3, 2, 1, 0])
        XCTAssertEqual(
            RadialBasisSet.laplacianEigenstate(cutoff: 4, maxRadial: 3, maxAngular: nil).sizes, [4, 3, 3, 2, 2, 1, 1, 1])
        XCTAssertThrowsError(
            try TabulatedRadial(positions: [0, 1], values: [[1], [.nan]], derivatives: [[0], [0]], field: "basis/radial"))
    }

    /// Every descriptor's columns carry only n < n_l (for each of their l), and as many as featomic's.
    func testColumnsFollowTheSizes() throws {
        let molecule = TestStructures.molecule()
        for hypers in [Self.le, Self.explicit] {
            let sizes = hypers.radialSizes
            let basis = try primitiveBasis(hypers, species: species)
            let S = species.count
            let ps = try Featurizer(threads: 2).compute([molecule], type: .powerSpectrum, basis: basis)
            XCTAssertEqual(ps.columnCount, S * (S + 1) / 2 * sizes.reduce(0) { $0 + $1 * $1 })
            let se = try Featurizer(threads: 2).compute([molecule], type: .sphericalExpansion, basis: basis)
            XCTAssertEqual(se.columnCount, S * sizes.enumerated().reduce(0) { $0 + (2 * $1.0 + 1) * $1.1 })
            let rs = try Featurizer(threads: 2).compute([molecule], type: .radialSpectrum, basis: basis)
            XCTAssertEqual(rs.columnCount, S * sizes[0])
            for (type, options) in [
                (DescriptorType.bispectrum, DescriptorOptions()), (.multispectrum, DescriptorOptions(correlationOrder: 3)),
                (.powerSpectrum, DescriptorOptions(lambda: 1)),
            ] {
                let m = try Featurizer(threads: 2).compute([molecule], type: type, basis: basis, options: options)
                let names = m.properties.names
                XCTAssertGreaterThan(m.columnCount, 0)
                for c in 0..<m.columnCount {
                    let label = Array(m.properties[c])
                    for (i, name) in names.enumerated() where name.hasPrefix("n_") {
                        let l = label[names.firstIndex(of: "l_" + name.dropFirst(2))!]
                        XCTAssertLessThan(Int(label[i]), sizes[Int(l)], "\(type) \(names) \(label)")
                    }
                }
                XCTAssertTrue(m.values.allSatisfy(\.isFinite))
            }
        }
    }

    func testInvariants() throws {
        let molecule = TestStructures.molecule()
        let rotated = TestStructures.rotated(molecule, by: TestStructures.rotation(seed: 7))
        for hypers in [Self.le, Self.explicit] {
            let basis = try primitiveBasis(hypers, species: species)
            for type in [DescriptorType.powerSpectrum, .radialSpectrum, .bispectrum, .multispectrum] {
                let a = try Featurizer(threads: 2).compute([molecule], type: type, basis: basis).values
                let b = try Featurizer(threads: 2).compute([rotated], type: type, basis: basis).values
                XCTAssertLessThan(maxAbsDifference(a, b), 1e-10 * max(1, maxAbs(a)), "\(type)")
            }
        }
    }

    func testGradientsEqualFiniteDifferences() throws {
        let molecule = TestStructures.molecule()
        for hypers in [Self.le, Self.explicit] {
            let basis = try primitiveBasis(hypers, species: species)
            for (type, options) in [
                (DescriptorType.sphericalExpansion, DescriptorOptions()), (.radialSpectrum, DescriptorOptions()),
                (.powerSpectrum, DescriptorOptions()), (.bispectrum, DescriptorOptions()),
                (.multispectrum, DescriptorOptions(correlationOrder: 3)), (.powerSpectrum, DescriptorOptions(lambda: 2)),
            ] {
                let featurizer = Featurizer(threads: 2)
                let result = try featurizer.compute([molecule], type: type, basis: basis, gradients: true, options: options)
                let cols = result.columnCount
                let labels = try XCTUnwrap(result.gradientSamples)
                let grads = try XCTUnwrap(result.gradientValues)
                var entry: [[Int32]: Int] = [:]
                for e in 0..<labels.count { entry[[labels[e].first!, labels[e].last!]] = e }
                let h = 1e-5
                var worst = 0.0
                let scale = max(maxAbs(grads), 1e-12)
                for atom in [2, 9] {
                    for d in 0..<3 {
                        var plus = molecule
                        var minus = molecule
                        plus.positions[3 * atom + d] += h
                        minus.positions[3 * atom + d] -= h
                        let vp = try featurizer.compute([plus], type: type, basis: basis, options: options).values
                        let vm = try featurizer.compute([minus], type: type, basis: basis, options: options).values
                        for row in 0..<result.rowCount {
                            let e = entry[[Int32(row), Int32(atom)]]
                            for c in 0..<cols {
                                let fd = (vp[row * cols + c] - vm[row * cols + c]) / (2 * h)
                                worst = max(worst, abs(fd - (e.map { grads[($0 * 3 + d) * cols + c] } ?? 0)))
                            }
                        }
                    }
                }
                XCTAssertLessThan(worst / scale, 1e-5, "\(type) \(options.lambda.map { "λ \($0)" } ?? "")")
            }
        }
    }

    /// A basis fitted from a Laplacian-eigenstate (or Explicit) dataset featurizes: separate,
    /// mixed, centre-specific and PCovR; its features are rotation invariant.
    func testOptimalBasesFromRaggedPrimitives() throws {
        let molecules = (0..<12).map { TestStructures.molecule(seed: UInt64(20 + $0)) }
        let targets = molecules.indices.map { Double($0 % 5) - 2 }
        let rotated = TestStructures.rotated(molecules[0], by: TestStructures.rotation(seed: 3))
        for hypers in [Self.le, Self.explicit] {
            let stats = try Featurizer(threads: 2).statistics(
                molecules, basis: try primitiveBasis(hypers, species: species), targets: targets)
            for (contraction, centerSpecific, method) in [
                (Contraction.separate, false, FitMethod.pca), (.mixed, false, .pca), (.separate, true, .pca),
                (.mixed, false, .pcovr(gamma: 0.5)),
            ] {
                let fit = try OptimalBasis.fit(
                    stats, hypers: hypers, contraction: contraction, centerSpecific: centerSpecific, method: method, q: 2)
                let basis = fit.expansionBasis(tables: try fit.splineTables())
                let a = try Featurizer(threads: 2).compute([molecules[0]], type: .powerSpectrum, basis: basis).values
                let b = try Featurizer(threads: 2).compute([rotated], type: .powerSpectrum, basis: basis).values
                XCTAssertTrue(a.allSatisfy(\.isFinite))
                XCTAssertGreaterThan(maxAbs(a), 0)
                XCTAssertLessThan(maxAbsDifference(a, b), 1e-9 * max(1, maxAbs(a)), "\(contraction) \(method)")
            }
        }
        // LE functions can be drawn; their fitted combinations too.
        let stats = try Featurizer(threads: 2).statistics(molecules, basis: try primitiveBasis(Self.le, species: species))
        let fit = try OptimalBasis.fit(stats, hypers: Self.le, contraction: .separate, q: 2)
        let (r, values) = try fit.radialFunctions(points: 11)
        XCTAssertEqual(r.count, 11)
        XCTAssertTrue(values.allSatisfy(\.isFinite))
    }
}
