import Foundation
import TestSupport
import XCTest

@testable import SoapCore

/// The NICE multispectrum and λ-SOAP: consistency with the power spectrum and the
/// bispectrum, symmetries, equivariance, gradients and fitted contractions.
final class MultispectrumTests: XCTestCase {
    let species = [1, 6, 7, 8]
    let hypers = SoapHypers(
        cutoff: 3.5, smoothing: .shiftedCosine(width: 0.3), densityWidth: 0.35,
        centerAtomWeight: 0.8, maxAngular: 3, maxRadial: 2)

    lazy var molecules: [Structure] = (0..<30).map { k in
        // Ethanol-shaped, elements shuffled and geometry rattled (as in SupervisedBasisTests).
        var rng = SplitMix64(seed: UInt64(700 + k), skipping: 1)
        let base = TestStructures.molecule(seed: UInt64(800 + k))
        let numbers = base.numbers.map { _ in species[Int(rng.next() % 4)] }
        return Structure(numbers: numbers, positions: base.positions.map { $0 + 0.12 * rng.gaussian() })
    }

    /// A fitted "mixed" basis of q channels: one channel group, so high orders stay small.
    func mixedBasis(q: Int, maxAngular: Int = 2, maxRadial: Int = 4) throws -> ExpansionBasis {
        let h = SoapHypers(
            cutoff: 3.5, smoothing: .shiftedCosine(width: 0.3), densityWidth: 0.35,
            maxAngular: maxAngular, maxRadial: maxRadial, splineAccuracy: 1e-9)
        let stats = try Featurizer(threads: 2).statistics(molecules, basis: try primitiveBasis(h, species: species))
        let fit = try OptimalBasis.fit(stats, hypers: h, contraction: .mixed, q: q)
        return fit.expansionBasis(tables: try fit.splineTables())
    }

    func multispectrum(
        _ structures: [Structure], basis: ExpansionBasis, order: Int, level: SampleLevel = .atom,
        gradients: Bool = false, contraction: MultispectrumContraction? = nil
    ) throws -> FeatureMatrix {
        try Featurizer(threads: 2).compute(
            structures, type: .multispectrum, basis: basis, level: level, gradients: gradients,
            options: DescriptorOptions(correlationOrder: order, contraction: contraction))
    }

    func columnIndex(_ m: FeatureMatrix) -> [[Int32]: Int] {
        var index: [[Int32]: Int] = [:]
        for c in 0..<m.columnCount { index[Array(m.properties[c])] = c }
        return index
    }

    // MARK: consistency

    /// ν = 2: Σ_m C^{00}_{lm,lm} c c = (−1)^l/√(2l+1) Σ_m c c, which is featomic's power
    /// spectrum without its √2 for mixed-species pairs.
    func testOrderTwoIsThePowerSpectrum() throws {
        let basis = try primitiveBasis(hypers, species: species)
        let structures = Array(molecules.prefix(3))
        let m = try multispectrum(structures, basis: basis, order: 2)
        let p = try Featurizer(threads: 2).compute(structures, type: .powerSpectrum, basis: basis)
        XCTAssertEqual(m.properties.names, ["l_1", "l_2", "neighbor_1_type", "n_1", "neighbor_2_type", "n_2"])
        XCTAssertEqual(m.columnCount, (hypers.maxAngular + 1) * 144)
        let index = columnIndex(m)
        var worst = 0.0
        for c in 0..<p.columnCount {
            let label = Array(p.properties[c])  // neighbor_1_type, neighbor_2_type, l, n_1, n_2
            let (t1, t2, l, n1, n2) = (label[0], label[1], label[2], label[3], label[4])
            let kappa = t1 == t2 ? 1.0 : 2.0.squareRoot()
            let forward = try XCTUnwrap(index[[l, l, t1, n1, t2, n2]])
            let backward = try XCTUnwrap(index[[l, l, t2, n2, t1, n1]])
            for row in 0..<p.rowCount {
                let expected = p.values[row * p.columnCount + c]
                worst = max(
                    worst, abs(kappa * m.values[row * m.columnCount + forward] - expected),
                    abs(kappa * m.values[row * m.columnCount + backward] - expected))
            }
        }
        let scale = maxAbs(p.values)
        XCTAssertGreaterThan(scale, 1e-3)
        XCTAssertLessThan(worst, 1e-12 * scale)
    }

    /// ν = 3 without truncation holds every bispectrum column (same labels, same number)
    /// and nothing the bispectrum does not span.
    func testOrderThreeContainsAndSpansTheBispectrum() throws {
        let basis = try primitiveBasis(hypers, species: species)
        let structures = Array(molecules.prefix(2))
        let m = try multispectrum(structures, basis: basis, order: 3)
        let b = try Featurizer(threads: 2).compute(structures, type: .bispectrum, basis: basis)
        XCTAssertEqual(m.properties.names, b.properties.names, "featomic's names")
        let index = columnIndex(m)
        var worst = 0.0
        for c in 0..<b.columnCount {
            let label = Array(b.properties[c])  // l_1, l_2, k_2, l_3, then the channels
            XCTAssertEqual(label[2], label[3])
            let mc = try XCTUnwrap(index[Array(label[0...2]) + [label[3]] + Array(label[4...])])
            for row in 0..<b.rowCount {
                worst = max(worst, abs(m.values[row * m.columnCount + mc] - b.values[row * b.columnCount + c]))
            }
        }
        XCTAssertGreaterThan(m.columnCount, b.columnCount, "every (l_1, l_2, k_2), not only l_1 ≤ l_2 ≤ l_3")
        XCTAssertLessThan(worst, 1e-12 * maxAbs(b.values))

        // Span: on many environments and a small basis (rows well above the rank), each
        // side is a linear function of the other.
        let small = try mixedBasis(q: 2)
        let ms = try multispectrum(molecules, basis: small, order: 3)
        let bs = try Featurizer(threads: 2).compute(molecules, type: .bispectrum, basis: small)
        XCTAssertGreaterThan(ms.rowCount, 3 * bs.columnCount)
        let forward = try FeatureReconstruction.residualVariance(
            target: ms.values, targetColumns: ms.columnCount,
            basis: bs.values, basisColumns: bs.columnCount,
            rows: ms.rowCount, centered: false)
        let backward = try FeatureReconstruction.residualVariance(
            target: bs.values, targetColumns: bs.columnCount,
            basis: ms.values, basisColumns: ms.columnCount,
            rows: ms.rowCount, centered: false)
        print("multispectrum ν=3 from bispectrum: residual \(forward); bispectrum from multispectrum: \(backward)")
        XCTAssertLessThan(forward, 1e-12)
        XCTAssertLessThan(backward, 1e-12)
        // The ν = 2 features do not span them: the check can fail.
        let ps = try multispectrum(molecules, basis: small, order: 2)
        let fromPower = try FeatureReconstruction.residualVariance(
            target: ms.values, targetColumns: ms.columnCount,
            basis: ps.values, basisColumns: ps.columnCount,
            rows: ms.rowCount, centered: false)
        XCTAssertGreaterThan(fromPower, 1e-4)
    }

    // MARK: symmetries

    func relativeDifference(_ a: [Double], _ b: [Double]) -> Double { maxAbsDifference(a, b) / max(maxAbs(a), 1e-300) }

    func testRotationAndPermutationInvariance() throws {
        let primitive = try primitiveBasis(
            SoapHypers(
                cutoff: 3.5, smoothing: .shiftedCosine(width: 0.3), densityWidth: 0.35,
                maxAngular: 2, maxRadial: 1), species: species)
        let mixed = try mixedBasis(q: 3)
        let molecule = molecules[4]
        let permutation = [3, 0, 9, 1, 7, 2, 8, 5, 4, 6]
        var permuted = molecule
        permuted.numbers = permutation.map { molecule.numbers[$0] }
        permuted.positions = permutation.flatMap { molecule.positions[(3 * $0)..<(3 * $0 + 3)] }
        for (name, basis, order) in [
            ("primitive", primitive, 2), ("primitive", primitive, 3), ("mixed", mixed, 3),
            ("mixed", mixed, 4),
        ] {
            let reference = try multispectrum([molecule], basis: basis, order: order)
            XCTAssertGreaterThan(maxAbs(reference.values), 1e-4)
            var worst = 0.0
            for seed in 1...3 {
                let rotated = TestStructures.rotated(molecule, by: TestStructures.rotation(seed: UInt64(60 + seed)))
                worst = max(
                    worst,
                    relativeDifference(
                        reference.values,
                        try multispectrum([rotated], basis: basis, order: order).values))
            }
            let p = try multispectrum([permuted], basis: basis, order: order)
            let cols = p.columnCount
            var reordered = [Double](repeating: 0, count: p.values.count)
            for (newRow, oldRow) in permutation.enumerated() {
                for c in 0..<cols { reordered[oldRow * cols + c] = p.values[newRow * cols + c] }
            }
            let permutationError = relativeDifference(reference.values, reordered)
            print(
                "multispectrum ν=\(order) \(name) (\(reference.columnCount) columns): rotation \(worst), permutation \(permutationError)"
            )
            XCTAssertLessThan(worst, 1e-10, "\(name) ν = \(order)")
            XCTAssertLessThan(permutationError, 1e-10, "\(name) ν = \(order)")
        }
        // The per-centre expansion is not invariant: a wrong coupling would be seen.
        let rotated = TestStructures.rotated(molecule, by: TestStructures.rotation(seed: 61))
        let se = try Featurizer(threads: 1).compute([molecule], type: .sphericalExpansion, basis: mixed).values
        let seRotated = try Featurizer(threads: 1).compute([rotated], type: .sphericalExpansion, basis: mixed).values
        XCTAssertGreaterThan(relativeDifference(se, seRotated), 1e-3)
    }

    /// The real Wigner D-matrix of R for one λ, from soapd's real harmonics at rotated
    /// points: Y_λ(R r̂) = D Y_λ(r̂), solved by least squares on random directions.
    static func wignerD(_ r: [Double], lambda: Int) -> [Double] {
        let d = 2 * lambda + 1
        let sh = SphericalHarmonics(maxAngular: lambda)
        var scratch = SphericalHarmonics.Scratch(maxAngular: lambda)
        var rng = SplitMix64(seed: 99, skipping: 1)
        let points = 4 * d
        var a = [Double](repeating: 0, count: points * d)
        var b = a
        var y = [Double](repeating: 0, count: sh.count)
        for p in 0..<points {
            var v = [rng.gaussian(), rng.gaussian(), rng.gaussian()]
            let n = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).squareRoot()
            v = v.map { $0 / n }
            let w = (0..<3).map { i in r[3 * i] * v[0] + r[3 * i + 1] * v[1] + r[3 * i + 2] * v[2] }
            y.withUnsafeMutableBufferPointer {
                sh.evaluate(x: v[0], y: v[1], z: v[2], values: $0.baseAddress!, gradients: nil, scratch: &scratch)
            }
            for k in 0..<d { a[p * d + k] = y[lambda * lambda + k] }
            y.withUnsafeMutableBufferPointer {
                sh.evaluate(x: w[0], y: w[1], z: w[2], values: $0.baseAddress!, gradients: nil, scratch: &scratch)
            }
            for k in 0..<d { b[p * d + k] = y[lambda * lambda + k] }
        }
        // Dᵀ = (AᵀA)⁻¹ AᵀB
        var ata = [Double](repeating: 0, count: d * d)
        var atb = ata
        for p in 0..<points {
            for i in 0..<d {
                for j in 0..<d {
                    ata[i * d + j] += a[p * d + i] * a[p * d + j]
                    atb[i * d + j] += a[p * d + i] * b[p * d + j]
                }
            }
        }
        let inverse = try! SymmetricEigen.power(ata, n: d, exponent: -1)
        var dt = [Double](repeating: 0, count: d * d)
        for i in 0..<d { for j in 0..<d { for k in 0..<d { dt[i * d + j] += inverse[i * d + k] * atb[k * d + j] } } }
        var D = dt
        for i in 0..<d { for j in 0..<d { D[i * d + j] = dt[j * d + i] } }
        return D
    }

    /// λ-SOAP: each feature's 2λ+1 components rotate with the real Wigner D-matrix.
    func testLambdaSOAPIsEquivariant() throws {
        let basis = try primitiveBasis(
            SoapHypers(
                cutoff: 3.5, smoothing: .shiftedCosine(width: 0.3), densityWidth: 0.35,
                maxAngular: 2, maxRadial: 1), species: species)
        let molecule = molecules[7]
        for lambda in [0, 1, 2, 3] {
            let options = DescriptorOptions(lambda: lambda)
            let x = try Featurizer(threads: 2).compute([molecule], type: .powerSpectrum, basis: basis, options: options)
            XCTAssertEqual(
                x.properties.names,
                [
                    "o3_lambda", "o3_sigma", "l_1", "l_2", "neighbor_1_type", "n_1",
                    "neighbor_2_type", "n_2", "m",
                ])
            let sigmas = Set((0..<x.columnCount).map { x.properties[$0][x.properties[$0].startIndex + 1] })
            XCTAssertEqual(sigmas, lambda == 0 ? [1] : [1, -1], "λ = \(lambda)")
            let d = 2 * lambda + 1
            XCTAssertEqual(x.columnCount % d, 0)
            var worst = 0.0
            var moved = 0.0
            for seed in 1...2 {
                let r = TestStructures.rotation(seed: UInt64(70 + seed))
                let D = Self.wignerD(r, lambda: lambda)
                // D is orthogonal (checks the reference itself).
                for i in 0..<d {
                    for j in 0..<d {
                        let dot = (0..<d).reduce(0.0) { $0 + D[i * d + $1] * D[j * d + $1] }
                        XCTAssertEqual(dot, i == j ? 1 : 0, accuracy: 1e-10)
                    }
                }
                let y = try Featurizer(threads: 2).compute(
                    [TestStructures.rotated(molecule, by: r)], type: .powerSpectrum,
                    basis: basis, options: options)
                for row in 0..<x.rowCount {
                    for f in stride(from: 0, to: x.columnCount, by: d) {
                        let base = row * x.columnCount + f
                        for mu in 0..<d {
                            let expected = (0..<d).reduce(0.0) { $0 + D[mu * d + $1] * x.values[base + $1] }
                            worst = max(worst, abs(y.values[base + mu] - expected))
                            moved = max(moved, abs(y.values[base + mu] - x.values[base + mu]))
                        }
                    }
                }
            }
            let scale = maxAbs(x.values)
            print("λ-SOAP λ=\(lambda): max |x(Rr) − D x(r)| / max |x| = \(worst / scale)")
            XCTAssertGreaterThan(scale, 1e-4)
            XCTAssertLessThan(worst, 1e-10 * scale, "λ = \(lambda)")
            if lambda > 0 { XCTAssertGreaterThan(moved, 1e-3 * scale, "the components do move") }
        }
        // λ = 0, σ = +1 is the ν = 2 multispectrum, column for column.
        let zero = try Featurizer(threads: 1).compute(
            [molecule], type: .powerSpectrum, basis: basis,
            options: DescriptorOptions(lambda: 0))
        let invariant = try multispectrum([molecule], basis: basis, order: 2)
        XCTAssertEqual(zero.values, invariant.values)
    }

    // MARK: gradients

    func checkGradients(
        _ structure: Structure, level: SampleLevel,
        compute: (Structure, Bool) throws -> FeatureMatrix, name: String
    ) throws {
        let result = try compute(structure, true)
        let cols = result.columnCount
        let labels = try XCTUnwrap(result.gradientSamples)
        let grads = try XCTUnwrap(result.gradientValues)
        var entry: [[Int32]: Int] = [:]
        for e in 0..<labels.count { entry[[labels[e].first!, labels[e].last!]] = e }
        let h = 1e-5
        var worst = 0.0
        let scale = max(maxAbs(grads), 1e-12)
        XCTAssertEqual(try compute(structure, false).values, result.values)
        for atom in 0..<structure.count {
            for d in 0..<3 {
                var plus = structure
                var minus = structure
                plus.positions[3 * atom + d] += h
                minus.positions[3 * atom + d] -= h
                let vp = try compute(plus, false).values
                let vm = try compute(minus, false).values
                for row in 0..<result.rowCount {
                    let e = entry[[Int32(row), Int32(atom)]]
                    for c in 0..<cols {
                        let fd = (vp[row * cols + c] - vm[row * cols + c]) / (2 * h)
                        let analytic = e.map { grads[($0 * 3 + d) * cols + c] } ?? 0
                        if e == nil && abs(fd) > 1e-9 * scale {
                            XCTFail("\(name): derivative without an entry")
                            return
                        }
                        worst = max(worst, abs(fd - analytic))
                    }
                }
            }
        }
        print("gradients \(name) \(level) (\(cols) columns): max |FD − analytic| / max |gradient| = \(worst / scale)")
        XCTAssertGreaterThan(scale, 1e-6)
        XCTAssertLessThan(worst / scale, 1e-5, name)
    }

    func testGradientsAgainstFiniteDifferences() throws {
        let primitive = try primitiveBasis(
            SoapHypers(
                cutoff: 3.5, smoothing: .shiftedCosine(width: 0.3), densityWidth: 0.35,
                scaling: .willatt2018(rate: 1, scale: 2, exponent: 4),
                centerAtomWeight: 0.7, maxAngular: 2, maxRadial: 1), species: species)
        let mixed = try mixedBasis(q: 2)
        let molecule = molecules[2]
        for level in [SampleLevel.atom, .structure] {
            try checkGradients(
                molecule, level: level,
                compute: { s, g in
                    try self.multispectrum([s], basis: primitive, order: 3, level: level, gradients: g)
                }, name: "ν=3 primitive")
            try checkGradients(
                molecule, level: level,
                compute: { s, g in
                    try self.multispectrum([s], basis: mixed, order: 4, level: level, gradients: g)
                }, name: "ν=4 mixed")
        }
        // λ-SOAP, and a periodic crystal with images of the neighbours.
        try checkGradients(
            molecule, level: .atom,
            compute: { s, g in
                try Featurizer(threads: 2).compute(
                    [s], type: .powerSpectrum, basis: primitive, gradients: g,
                    options: DescriptorOptions(lambda: 1))
            }, name: "λ-SOAP λ=1")
        let si = try primitiveBasis(SoapHypers(cutoff: 4.0, densityWidth: 0.5, maxAngular: 2, maxRadial: 1), species: [14])
        try checkGradients(
            TestStructures.silicon(rattle: 0.1), level: .atom,
            compute: { s, g in
                try self.multispectrum([s], basis: si, order: 4, gradients: g)
            }, name: "ν=4 silicon")
    }

    // MARK: fitted contractions

    /// The covariances are sums: a fit fed in batches (each order's pass over them) sums the
    /// same covariances as one fed everything at once, whatever the split. (Eigenvectors are
    /// compared through what is unique about them: some blocks have exactly degenerate
    /// eigenvalues, whose eigenvectors any rounding may rotate.)
    func testBatchedFitEqualsFitOnAllStructures() throws {
        let basis = try mixedBasis(q: 2)
        let fitSet = Array(molecules.prefix(20))
        let batches = [Array(fitSet[0..<3]), Array(fitSet[3..<11]), [], Array(fitSet[11...])]
        var whole = try MultispectrumFitter(featurizer: Featurizer(threads: 2), basis: basis, correlationOrder: 4, maxFeatures: 6)
        var batched = try MultispectrumFitter(
            featurizer: Featurizer(threads: 1), basis: basis, correlationOrder: 4,
            maxFeatures: 6)
        var passes = 0
        while !batched.isComplete {
            try whole.add(fitSet)
            for batch in batches { try batched.add(batch) }
            XCTAssertEqual(batched.centers, fitSet.reduce(0) { $0 + $1.count })
            if batched.order == 2 {
                // Order 2 depends on nothing fitted: the sums themselves agree to rounding.
                XCTAssertEqual(batched.grams.count, whole.grams.count)
                for (a, b) in zip(batched.grams, whole.grams) { XCTAssertLessThan(relativeDifference(a, b), 1e-13) }
            }
            try whole.finishOrder()
            try batched.finishOrder()
            passes += 1
        }
        XCTAssertEqual(passes, 3, "one pass per order 2, 3, 4")
        XCTAssertTrue(whole.isComplete)
        let (a, b) = (batched.contraction, whole.contraction)
        XCTAssertEqual(a.blocks.count, b.blocks.count)
        XCTAssertTrue(a.blocks.contains { $0.inputCount > $0.count }, "something is truncated")
        for (x, y) in zip(a.blocks, b.blocks) {
            XCTAssertEqual(
                [x.order, x.lambda, x.sigma, x.inputCount, x.count], [y.order, y.lambda, y.sigma, y.inputCount, y.count])
            XCTAssertLessThan(relativeDifference(x.eigenvalues, y.eigenvalues), 1e-10)
            XCTAssertEqual(x.residualVariance, y.residualVariance, accuracy: 1e-10)
        }
        // The array entry point is this loop.
        let direct = try Featurizer(threads: 2).multispectrumContraction(
            fitSet, basis: basis, correlationOrder: 4, maxFeatures: 6)
        XCTAssertEqual(direct.blocks.count, b.blocks.count)
        for (x, y) in zip(direct.blocks, b.blocks) { XCTAssertLessThan(relativeDifference(x.eigenvalues, y.eigenvalues), 1e-10) }
        // Passing no centres at all is an error, not an empty contraction.
        var empty = try MultispectrumFitter(featurizer: Featurizer(threads: 1), basis: basis, correlationOrder: 3, maxFeatures: 6)
        try empty.add([])
        XCTAssertThrowsError(try empty.finishOrder()) { XCTAssertEqual($0 as? MultispectrumFitError, .noCenters) }
    }

    func testContractionBoundsEveryOrderAndKeepsTheSpan() throws {
        let basis = try mixedBasis(q: 2)
        let fitSet = Array(molecules.prefix(20))
        let budget = 6
        let contraction = try Featurizer(threads: 2).multispectrumContraction(
            fitSet, basis: basis, correlationOrder: 4,
            maxFeatures: budget)
        XCTAssertEqual(Set(contraction.blocks.map(\.order)), [2, 3, 4])
        for block in contraction.blocks {
            XCTAssertLessThanOrEqual(block.count, budget)
            XCTAssertEqual(block.eigenvalues, block.eigenvalues.sorted(by: >))
            // Orthonormal rows.
            let n = block.inputCount
            for i in 0..<block.count {
                for j in 0...i {
                    let dot = (0..<n).reduce(0.0) { $0 + block.components[i * n + $1] * block.components[j * n + $1] }
                    XCTAssertEqual(dot, i == j ? 1 : 0, accuracy: 1e-10)
                }
            }
        }
        XCTAssertTrue(
            contraction.blocks.contains { $0.order == 3 && $0.inputCount > budget && $0.residualVariance > 0 },
            "order 3 is truncated")
        for order in 2...4 {
            let m = try multispectrum(molecules, basis: basis, order: order, contraction: contraction)
            XCTAssertEqual(m.properties.names, ["component"])
            XCTAssertLessThanOrEqual(m.columnCount, budget)
            XCTAssertGreaterThan(maxAbs(m.values), 1e-4)
            let rotated = try multispectrum(
                molecules.prefix(3).map {
                    TestStructures.rotated($0, by: TestStructures.rotation(seed: 5))
                }, basis: basis, order: order,
                contraction: contraction)
            let reference = try multispectrum(Array(molecules.prefix(3)), basis: basis, order: order, contraction: contraction)
            XCTAssertLessThan(relativeDifference(reference.values, rotated.values), 1e-10, "ν = \(order)")
        }
        // ν = 2 with the final projection only: the projected columns are exactly U·x.
        let full = try multispectrum(molecules, basis: basis, order: 2)
        let projected = try multispectrum(molecules, basis: basis, order: 2, contraction: contraction)
        let u = try XCTUnwrap(contraction.block(order: 2, lambda: 0, sigma: 1))
        XCTAssertEqual(u.inputCount, full.columnCount)
        var worst = 0.0
        for row in 0..<full.rowCount {
            for r in 0..<u.count {
                let expected = (0..<u.inputCount).reduce(0.0) {
                    $0 + u.components[r * u.inputCount + $1] * full.values[row * full.columnCount + $1]
                }
                worst = max(worst, abs(expected - projected.values[row * projected.columnCount + r]))
            }
        }
        XCTAssertLessThan(worst, 1e-12 * maxAbs(full.values))

        // A budget above every block's size loses nothing: the contracted ν = 3 spans the full one.
        let generous = try Featurizer(threads: 2).multispectrumContraction(
            fitSet, basis: basis, correlationOrder: 3,
            maxFeatures: 10_000)
        let full3 = try multispectrum(molecules, basis: basis, order: 3)
        let kept3 = try multispectrum(molecules, basis: basis, order: 3, contraction: generous)
        XCTAssertLessThan(kept3.columnCount, full3.columnCount, "null directions are dropped")
        let lost = try FeatureReconstruction.residualVariance(
            target: full3.values, targetColumns: full3.columnCount,
            basis: kept3.values, basisColumns: kept3.columnCount,
            rows: full3.rowCount, centered: false)
        print("ν=3 contracted with an unbounded budget: \(kept3.columnCount) of \(full3.columnCount) columns, residual \(lost)")
        XCTAssertLessThan(lost, 1e-10)
        // A request above the fitted order is refused, naming the order.
        XCTAssertThrowsError(try multispectrum(molecules, basis: basis, order: 4, contraction: generous)) { error in
            guard case FeaturizationError.multispectrum(.contractionMismatch) = error else { return XCTFail("\(error)") }
        }
        // Gradients through the projections.
        try checkGradients(
            molecules[1], level: .atom,
            compute: { s, g in
                try self.multispectrum([s], basis: basis, order: 4, gradients: g, contraction: contraction)
            },
            name: "ν=4 contracted")
    }

    func testOptionsAreChecked() throws {
        let basis = try primitiveBasis(hypers, species: species)
        for order in [1, 7] {
            XCTAssertThrowsError(try multispectrum([molecules[0]], basis: basis, order: order)) { error in
                XCTAssertEqual(error as? FeaturizationError, .multispectrum(.correlationOrder(order)))
            }
        }
        XCTAssertThrowsError(
            try Featurizer().compute(
                [molecules[0]], type: .powerSpectrum, basis: basis,
                options: DescriptorOptions(lambda: 7))
        ) { error in
            XCTAssertEqual(error as? FeaturizationError, .multispectrum(.lambda(7)))
        }
        // Untruncated ν = 4 on a primitive basis is far too wide: refused before any allocation.
        var limits = FeaturizationLimits()
        limits.maxValues = 10_000_000
        XCTAssertThrowsError(
            try Featurizer(threads: 1, limits: limits).compute(
                [molecules[0]], type: .multispectrum, basis: basis, options: DescriptorOptions(correlationOrder: 4))
        ) { error in
            guard case FeaturizationError.outputTooLarge = error else { return XCTFail("\(error)") }
        }
    }
}
