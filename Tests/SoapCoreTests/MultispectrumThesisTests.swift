import SoapCore
import TestSupport
import XCTest

/// The thesis's observations on body-ordered features built from a truncated density
/// basis (§2.2.1–2.2.2, Fig. 2.4), on multi-species molecules the test builds.
///
/// Residual variance of order ν, eq. 2.12 carried to the ν-order features:
///
///   RV_ν = 1 − Σ_i ‖x_ν^trunc(i)‖² / Σ_i ‖x_ν^ref(i)‖²,
///
/// with x_1 the expansion coefficients and x_ν (ν ≥ 2) the untruncated multispectrum: an
/// isometric image of the invariant part of ρ^⊗ν (the CG couplings are orthogonal), so
/// ‖x_ν‖² is the variance of the ν-body features. For the optimal basis, whose functions
/// are orthonormal combinations of the reference ones, x_ν^trunc = U^⊗ν x_ν^ref exactly and
/// RV_ν is the variance its projection leaves out.
///
/// Also the feature-space reconstruction error (§2.2.2): the fraction of the centred
/// variance of the reference invariants that a linear map from the truncated invariants
/// cannot recover.
final class MultispectrumThesisTests: XCTestCase {
    let species = [1, 6, 7, 8]
    /// Reference: 3 GTOs per species (12 channels); l ≤ 1 keeps the ν = 3 reference's width
    /// (4 coupling paths × 12³) within what a debug-build test projects in seconds.
    let reference = SoapHypers(
        cutoff: 4.0, smoothing: .shiftedCosine(width: 0.5), densityWidth: 0.4, maxAngular: 1,
        maxRadial: 2, splineAccuracy: 1e-9)

    /// Ethanol-shaped molecules, elements shuffled and geometry rattled.
    lazy var molecules: [Structure] = (0..<80).map { k in
        var rng = SplitMix64(seed: UInt64(3000 + k), skipping: 1)
        let base = TestStructures.molecule(seed: UInt64(4000 + k))
        let numbers = base.numbers.map { _ in species[Int(rng.next() % 4)] }
        return Structure(numbers: numbers, positions: base.positions.map { $0 + 0.15 * rng.gaussian() })
    }

    /// Order-ν features: the expansion for ν = 1, the untruncated multispectrum above.
    func features(_ basis: ExpansionBasis, order: Int) throws -> FeatureMatrix {
        let featurizer = Featurizer(threads: 2)
        if order == 1 { return try featurizer.compute(molecules, type: .sphericalExpansion, basis: basis) }
        return try featurizer.compute(
            molecules, type: .multispectrum, basis: basis,
            options: DescriptorOptions(correlationOrder: order))
    }

    /// The ν-order invariants through the established descriptors (the radial spectrum, the
    /// power spectrum, the bispectrum): the same spans as the multispectrum, fewer columns.
    func invariants(_ basis: ExpansionBasis, order: Int) throws -> FeatureMatrix {
        let type: DescriptorType = [1: .radialSpectrum, 2: .powerSpectrum, 3: .bispectrum][order]!
        return try Featurizer(threads: 2).compute(molecules, type: type, basis: basis)
    }

    func squaredNorm(_ m: FeatureMatrix) -> Double { m.values.reduce(0) { $0 + $1 * $1 } }

    func reconstructionError(_ full: FeatureMatrix, from truncated: FeatureMatrix) throws -> Double {
        try FeatureReconstruction.residualVariance(
            target: full.values, targetColumns: full.columnCount,
            basis: truncated.values, basisColumns: truncated.columnCount,
            rows: full.rowCount)
    }

    func testResidualVarianceGrowsWithOrderAndTheMixedBasisLosesLess() throws {
        let referenceBasis = try primitiveBasis(reference, species: species)
        // Truncated bases of 4 channels: 1 GTO per species, or 4 functions mixing species.
        var small = reference
        small.maxRadial = 0
        let gto = try primitiveBasis(small, species: species)
        let statistics = try Featurizer(threads: 2).statistics(molecules, basis: referenceBasis)
        let fit = try OptimalBasis.fit(statistics, hypers: reference, contraction: .mixed, q: 4)
        let mixed = fit.expansionBasis(tables: try fit.splineTables())
        XCTAssertEqual(gto.channelCount, mixed.channelCount)

        var rv: [String: [Double]] = ["gto": [], "mixed": []]
        var gfre: [String: [Double]] = ["gto": [], "mixed": []]
        for order in 1...3 {
            let full = try features(referenceBasis, order: order)
            let fullInvariants = try invariants(referenceBasis, order: order)
            for (name, basis) in [("gto", gto), ("mixed", mixed)] {
                let truncated = try features(basis, order: order)
                rv[name]!.append(1 - squaredNorm(truncated) / squaredNorm(full))
                let truncatedInvariants = order == 1 ? try invariants(basis, order: 1) : truncated
                // Far more centres than truncated features: the projection cannot fit everything.
                XCTAssertGreaterThan(truncatedInvariants.rowCount, truncatedInvariants.columnCount + 400)
                gfre[name]!.append(try reconstructionError(fullInvariants, from: truncatedInvariants))
            }
        }
        print(
            "residual variance RV_ν for ν = 1, 2, 3 (4 channels; reference 12): GTO \(rv["gto"]!), mixed optimal \(rv["mixed"]!)")
        print("feature-space reconstruction error for ν = 1, 2, 3: GTO \(gfre["gto"]!), mixed optimal \(gfre["mixed"]!)")
        // The optimal basis' RV_1 is eq. 2.12 summed over l: what its fit reports.
        let expected =
            (0...reference.maxAngular).reduce(0.0) { sum, l in
                let joint = statistics.joint(l: l)
                let total = (0..<statistics.channels).reduce(0.0) { $0 + joint[$1 * statistics.channels + $1] }
                return sum + total * fit.residualVariance[l][3]
            }
            / (0...reference.maxAngular).reduce(0.0) { sum, l in
                let joint = statistics.joint(l: l)
                return sum + (0..<statistics.channels).reduce(0.0) { $0 + joint[$1 * statistics.channels + $1] }
            }
        XCTAssertEqual(rv["mixed"]![0], expected, accuracy: 1e-6)
        for name in ["gto", "mixed"] {
            let curve = rv[name]!
            XCTAssertGreaterThan(curve[0], 1e-3, "\(name): the truncation loses something")
            XCTAssertLessThan(curve[2], 1, "\(name)")
            // (a) the loss compounds with the body order.
            XCTAssertGreaterThan(curve[1], curve[0], "\(name): ν = 2 loses more than ν = 1")
            XCTAssertGreaterThan(curve[2], curve[1], "\(name): ν = 3 loses more than ν = 2")
        }
        // (b) the mixed optimal basis loses less than the GTO basis of the same size, at every ν,
        // by either measure.
        for order in 0..<3 {
            XCTAssertLessThan(rv["mixed"]![order], rv["gto"]![order], "ν = \(order + 1): RV, mixed optimal vs GTO")
            XCTAssertLessThan(gfre["mixed"]![order], gfre["gto"]![order], "ν = \(order + 1): GFRE, mixed optimal vs GTO")
        }
        // The measure can see nothing lost: the reference reconstructs itself.
        for order in 1...2 {
            let full = try invariants(referenceBasis, order: order)
            XCTAssertLessThan(try reconstructionError(full, from: full), 1e-8)
        }
    }
}
