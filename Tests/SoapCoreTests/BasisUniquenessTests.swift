import Foundation
import SoapCore
import TestSupport
import XCTest

/// The thesis claim (chapter 2, Fig. 2.1; issue 13 item 4): the optimal radial basis does
/// not depend on the primitive basis it is fitted from. On the same H, C, N, O molecules
/// (cutoff 4 Å, Gaussian width 0.4 Å), fitted from 16 GTOs and from 16 Laplacian
/// eigenstates (LE) per l, separate contraction.
///
/// Definitions (those of `SupervisedBasisTests.testLeadingFunctionsDoNotDependOnThePrimitiveBasis`,
/// 16 vs 20 GTOs): the centre's own Gaussian is left out (`centerAtomWeight` 0: a constant
/// added to every environment, no information about it; two bases represent the point r = 0
/// differently), and functions are compared by the r²-weighted L2 distance on [0, rc],
/// sign fixed by their overlap, relative to the GTO-fitted function's norm on [0, rc].
///
/// What holds and what does not (measured when written, 80 rattled molecules + featomic's):
/// - (a) leading eigenvalues, l ≤ 2, first three, relative to the block's largest: ≤ 9.5e-4
///   (asserted < 1.5e-3, the bound). With the centre term: also ≤ 9.5e-4.
/// - (b) first optimal function of each l: the 1e-3 is NOT met and cannot be with
///   16 LE functions. The GTO-fitted function g is normalised on [0, ∞), has an r²-weighted
///   norm of 4e-3 – 2e-2 beyond rc and does not vanish at rc (g(rc) ≈ 0.01 at l ≤ 2); e
///   (LE-fitted) lies in the LE span, which vanishes at rc. With P the r²-weighted projection on the
///   16-LE span over [0, rc], the distance splits exactly as d² = |g − Pg|² + |Pg − e|²:
///   the first term (the floor: no LE-fitted function whatever the data can come closer) is
///   d to two digits, the second (where the data could make the fits differ) is small.
///   d of the first three functions | |Pg − e| of the first (the floor is d to two digits):
///       l=0: Z=1 8.1e-3 8.3e-3 2.5e-2 | 2.6e-4,  Z=6 7.9e-3 8.0e-3 2.7e-2 | 2.5e-4,
///            Z=7 6.8e-3 9.8e-3 2.4e-2 | 1.8e-4,  Z=8 8.1e-3 1.2e-2 2.4e-2 | 2.5e-4
///       l=1: Z=1 9.1e-3 1.2e-2 2.9e-2 | 4.2e-4,  Z=6 1.05e-2 7.0e-3 3.1e-2 | 3.9e-4,
///            Z=7 9.3e-3 7.2e-3 2.5e-2 | 2.9e-4,  Z=8 1.2e-2 8.2e-3 2.6e-2 | 4.7e-4
///       l=2: Z=1 6.6e-3 1.2e-2 3.1e-2 | 4.3e-4,  Z=6 7.7e-3 1.3e-2 3.3e-2 | 4.9e-4,
///            Z=7 7.1e-3 1.2e-2 2.6e-2 | 3.9e-4,  Z=8 1.0e-2 1.2e-2 2.8e-2 | 7.0e-4
///       l=3: Z=1 2.8e-3 1.4e-2 3.8e-2 | 1.9e-4,  Z=6 3.8e-3 1.7e-2 4.0e-2 | 2.8e-4,
///            Z=7 2.7e-3 1.4e-2 3.2e-2 | 1.8e-4,  Z=8 3.8e-3 1.4e-2 3.5e-2 | 2.7e-4
///   |Pg − e| of the second and third functions: 6.4e-4 – 2.5e-3 and 3.1e-3 – 7.5e-3.
///   The reverse floor (e's distance from the 16-GTO span on [0, rc]) is 1.6e-3 – 3e-3 for
///   the first function at l ≤ 2 (0.7e-3 – 1e-3 at l = 3): neither span holds the other's
///   optimal function to 1e-3. Asserted: d < 1.5e-2 (measured ≤ 1.2e-2), and the part both
///   bases can represent, |Pg − e|, < 1e-3 for the first function (measured ≤ 7e-4) — the
///   issue's number, on the common span, not on the functions themselves. With the centre
///   term included, d at l = 0 is 4.8e-3 – 5.7e-3 but |Pg − e| rises to 2.3e-3 (the r = 0
///   point again). Neither more data (320 molecules: d 3.4e-3 – 1.1e-2) nor a larger rattle
///   (0.3 Å: 2.6e-3 – 1.2e-2), nor the normalisation (the GTO function's norm on [0, rc] is
///   1 − O(1e-4); d absolute, relative, or with both unit-normalised on [0, rc] agree to two
///   digits), nor q (eigenvalues, curves and functions come from one eigendecomposition;
///   both fits use q = 3) changes this: it is the spans', not the data's.
/// - (c) residual-variance curves (eq. 2.12, each relative to its own span's total
///   variance): largest difference per l 7.4e-4, 1.15e-3, 1.66e-3, 2.16e-3 (l = 0…3, all at
///   q = 2; mixed contraction: 7.1e-4 … 2.14e-3). The 2e-3 holds for l ≤ 2, not at
///   l = 3: the LE span holds 0.1–0.3 % less of the total variance (LE/GTO trace 0.99893,
///   0.99828, 0.99760, 0.99706 — the density near and beyond rc), and that denominator is
///   most of the difference at small q: the LE curve rescaled to the GTO span's total,
///   1 − (1 − ρ)·T_LE/T_GTO, is within 8.2e-4 of the GTO curve for q ≤ 3 (at q = 16 the
///   rescaled LE curve ends at 1 − T_LE/T_GTO ≤ 2.9e-3, the variance outside the LE span).
///   Asserted: < 2e-3 for l ≤ 2 (the bound), < 2.5e-3 for l = 3 (measured 2.16e-3).
final class BasisUniquenessTests: XCTestCase {
    static let species = [1, 6, 7, 8]
    static let maxAngular = 3
    static let cutoff = 4.0

    /// Ethanol-shaped molecules with shuffled elements and rattled geometry (as in
    /// MultispectrumThesisTests), and featomic's reference molecules.
    static let molecules: [Structure] = {
        var structures = (0..<80).map { k in
            var rng = SplitMix64(seed: UInt64(5000 + k), skipping: 1)
            let base = TestStructures.molecule(seed: UInt64(6000 + k))
            let numbers = base.numbers.map { _ in species[Int(rng.next() % 4)] }
            return Structure(numbers: numbers, positions: base.positions.map { $0 + 0.15 * rng.gaussian() })
        }
        if let fixture = try? ConformanceFixture("public_c_molecules.json") { structures += fixture.structures }
        return structures
    }()

    /// The fit and the total variance per l (the trace of the l block, every species).
    static func fit(_ hypers: SoapHypers) throws -> (OptimalBasis, [Double]) {
        let stats = try Featurizer(threads: 2).statistics(molecules, basis: try primitiveBasis(hypers, species: species))
        let traces = (0...maxAngular).map { l in
            let joint = stats.joint(l: l)
            return (0..<stats.channels).reduce(0.0) { $0 + joint[$1 * stats.channels + $1] }
        }
        return (try OptimalBasis.fit(stats, hypers: hypers, contraction: .separate, q: 3), traces)
    }

    func testOptimalBasisDoesNotDependOnThePrimitiveBasis() throws {
        let gtoHypers = SoapHypers(
            cutoff: Self.cutoff, smoothing: .shiftedCosine(width: 0.5), densityWidth: 0.4, centerAtomWeight: 0,
            maxAngular: Self.maxAngular, maxRadial: 15)
        let leHypers = gtoHypers.withRadialBases(
            .tensorProduct(.laplacianEigenstate(maxRadial: 15), maxAngular: Self.maxAngular), density: .gaussian)
        let (gto, gtoTraces) = try Self.fit(gtoHypers)
        let (le, leTraces) = try Self.fit(leHypers)
        let N = 16
        let S = Self.species.count

        // (a) Leading eigenvalues per (species, l), relative to the largest of the block.
        var worstEigen = 0.0
        for l in 0...2 {
            for a in 0..<S {
                let g = Array(gto.eigenvalues[l][(a * N)..<((a + 1) * N)])
                let e = Array(le.eigenvalues[l][(a * N)..<((a + 1) * N)])
                for k in 0..<3 { worstEigen = max(worstEigen, abs(g[k] - e[k]) / g[0]) }
            }
        }
        print("uniqueness: leading eigenvalues (l ≤ 2, first three): max relative difference \(worstEigen)")
        XCTAssertLessThan(worstEigen, 1.5e-3)

        // (b) Optimal functions on [0, rc] (trapezoid, h = 1e-3 Å).
        let points = 4001
        let (r, gv) = try gto.radialFunctions(points: points)
        let (_, ev) = try le.radialFunctions(points: points)
        let h = r[1] - r[0]
        let weights = (0..<points).map { p in (p == 0 || p == points - 1 ? 0.5 : 1) * h * r[p] * r[p] }
        func inner(_ f: ArraySlice<Double>, _ g: [Double]) -> Double {
            zip(zip(f, g), weights).reduce(0.0) { $0 + $1.0.0 * $1.0.1 * $1.1 }
        }
        var worstFirst = 0.0
        var worstCommon = 0.0
        for l in 0...Self.maxAngular {
            let leBasis = BesselRadialIntegral(cutoff: Self.cutoff, densityWidth: 0.4, order: l, channel: l, count: N)
            let leFunctions = (0..<N).map { n in r.map { leBasis.function(n, at: $0) } }
            for a in 0..<S {
                var direct: [Double] = []
                var floors: [Double] = []
                var commons: [Double] = []
                for q in 0..<3 {
                    // Layout [species][l][q][point] (one centre block).
                    let start = ((a * (Self.maxAngular + 1) + l) * 3 + q) * points
                    let g = Array(gv[start..<(start + points)])
                    let e = ev[start..<(start + points)]
                    let norm = inner(g[...], g).squareRoot()
                    let sign = inner(e, g) < 0 ? -1.0 : 1.0
                    let d = zip(zip(g, e), weights).reduce(0.0) { $0 + pow($1.0.0 - sign * $1.0.1, 2) * $1.1 }.squareRoot()
                    // Pg in LE coordinates against e's own (the LE functions are orthonormal on [0, rc]).
                    let pg = leFunctions.map { inner($0[...], g) }
                    let ue = Array(le.coefficients(l: l, species: a, q: q))
                    let common = zip(pg, ue).reduce(0.0) { $0 + pow($1.0 - sign * $1.1, 2) }.squareRoot()
                    let floor = max(0, norm * norm - pg.reduce(0.0) { $0 + $1 * $1 }).squareRoot()
                    direct.append(d / norm)
                    floors.append(floor / norm)
                    commons.append(common / norm)
                }
                func text(_ x: [Double]) -> String { x.map { String(format: "%.2e", $0) }.joined(separator: ", ") }
                print(
                    "uniqueness: Z=\(Self.species[a]) l=\(l): distances of the first three functions \(text(direct));"
                        + " floor (outside the LE span) \(text(floors)); common span |Pg − e| \(text(commons))")
                worstFirst = max(worstFirst, direct[0])
                worstCommon = max(worstCommon, commons[0])
            }
        }
        // The 1e-3 on the functions is below the floor the spans set (doc comment).
        XCTAssertLessThan(worstFirst, 1.5e-2, "first optimal function")
        XCTAssertLessThan(worstCommon, 1e-3, "first optimal function, on the LE span")

        // (c) Residual-variance curves, each relative to its own span's total variance.
        var worstRescaled = 0.0
        for l in 0...Self.maxAngular {
            let ratio = leTraces[l] / gtoTraces[l]
            var worst = 0.0
            for (k, (x, y)) in zip(gto.residualVariance[l], le.residualVariance[l]).enumerated() {
                worst = max(worst, abs(x - y))
                if k < 3 { worstRescaled = max(worstRescaled, abs(x - (1 - (1 - y) * ratio))) }
            }
            print("uniqueness: residual-variance curves l=\(l): max difference \(worst); LE/GTO total variance \(ratio)")
            XCTAssertLessThan(worst, l <= 2 ? 2e-3 : 2.5e-3, "l = \(l)")
        }
        // Diagnostic only (doc comment): the curves' difference at small q is their denominators'.
        print("uniqueness: LE curves rescaled to the GTO span's total, q ≤ 3: max difference \(worstRescaled)")
    }
}
