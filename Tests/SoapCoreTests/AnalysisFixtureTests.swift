import Foundation
import XCTest

@testable import SoapCore

/// FPS, CUR, GFRE and GFRD against scikit-matter 0.4.1 on the stored fixtures
/// (`Tests/Fixtures/analysis`, written by `scripts/fixtures/analysis.py`).
final class AnalysisFixtureTests: XCTestCase {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/analysis")

    static func load(_ name: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent(name))) as! [String: Any]
    }

    static func files(_ prefix: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix(prefix) }.sorted()
    }

    static func matrix(_ object: Any?) -> DenseMatrix {
        let rows = (object as! [String: Any])["values"] as! [[Double]]
        return DenseMatrix(rows: rows.count, columns: rows.first?.count ?? 0, values: rows.flatMap { $0 })
    }

    static func number(_ v: Any) -> Double {
        if let s = v as? String { return s == "inf" ? .infinity : s == "-inf" ? -.infinity : .nan }
        return v as! Double
    }

    func testLegacyPermutationsEqualNumpys() throws {
        let fixture = try Self.load("numpy_legacy_permutations.json")
        let seed = UInt32(fixture["seed"] as! Int)
        let permutations = fixture["permutations"] as! [String: [Int]]
        XCTAssertGreaterThanOrEqual(permutations.count, 64)
        for (n, expected) in permutations {
            XCTAssertEqual(LegacyPermutation.permutation(Int(n)!, seed: seed), expected, "n=\(n)")
        }
    }

    func testFPSEqualsScikitMatter() throws {
        var cases = 0
        var worst = 0.0
        for file in try Self.files("selection_") {
            let fixture = try Self.load(file)
            let x = Self.matrix(fixture["matrix"])
            for entry in fixture["fps"] as! [[String: Any]] {
                let params = entry["params"] as! [String: Any]
                let axis = entry["axis"] as! String
                let initial = (params["initialize"] as? [Int]) ?? [params["initialize"] as! Int]
                let count = params["n_to_select"] as! Int
                let (indices, hausdorff) = try FarthestPointSampling.select(
                    rows: axis == "samples" ? x : x.transposed, count: count, initial: initial)
                XCTAssertEqual(indices, entry["selected_idx"] as? [Int], "\(file) \(axis) \(params)")
                let expected = (entry["hausdorff_at_select"] as! [Any]).map(Self.number)
                for (a, b) in zip(hausdorff, expected) {
                    if b.isInfinite { XCTAssertEqual(a, b) } else { worst = max(worst, abs(a - b) / max(1, abs(b))) }
                }
                cases += 1
            }
        }
        XCTAssertGreaterThanOrEqual(cases, 20)
        XCTAssertLessThan(worst, 1e-10)
        print("FPS: \(cases) scikit-matter selections equal; Hausdorff distances within \(worst) (relative)")
    }

    func testCUREqualsScikitMatter() throws {
        var cases = 0
        var worst = 0.0
        for file in try Self.files("selection_") {
            let fixture = try Self.load(file)
            let x = Self.matrix(fixture["matrix"])
            for entry in fixture["cur"] as! [[String: Any]] {
                let params = entry["params"] as! [String: Any]
                let axis = entry["axis"] as! String
                let count = params["n_to_select"] as! Int
                let (indices, scores) = try CURSelection.select(
                    x, axis: axis == "samples" ? .rows : .columns, count: count)
                XCTAssertEqual(indices, entry["selected_idx"] as? [Int], "\(file) \(axis) \(count)")
                for (a, b) in zip(scores, entry["score_at_select"] as! [Double]) { worst = max(worst, abs(a - b)) }
                cases += 1
            }
        }
        XCTAssertGreaterThanOrEqual(cases, 8)
        XCTAssertLessThan(worst, 1e-8)
        print("CUR: \(cases) scikit-matter selections equal; scores within \(worst)")
    }

    func testGFREAndGFRDEqualScikitMatter() throws {
        var cases = 0
        var worst = 0.0
        var worstThin = 0.0
        for file in try Self.files("reconstruction_") {
            let fixture = try Self.load(file)
            let x = Self.matrix(fixture["X"])
            let y = Self.matrix(fixture["Y"])
            let results = fixture["results"] as! [String: [String: Any]]
            for (direction, source, target) in [("X_to_Y", x, y), ("Y_to_X", y, x)] {
                let expected = results[direction]!
                let got = try GlobalReconstruction.measure(source: source, target: target)
                XCTAssertEqual(got.trainIndices, expected["train_idx"] as? [Int], "\(file) \(direction)")
                XCTAssertEqual(got.testIndices, expected["test_idx"] as? [Int], "\(file) \(direction)")
                XCTAssertEqual(got.bestAlphaIndex, expected["best_alpha_index"] as? Int, "\(file) \(direction)")
                XCTAssertEqual(got.singularValuesKept, expected["n_singular_kept"] as? Int, "\(file) \(direction)")
                let gfre = expected["gfre"] as! Double
                let gfrd = (expected["gfrd"] as? Double) ?? (expected["gfrd_target_zero_padded"] as! Double)
                XCTAssertEqual(got.gfre, gfre, accuracy: 1e-6, "\(file) \(direction)")
                XCTAssertEqual(got.gfrd, gfrd, accuracy: 1e-6, "\(file) \(direction)")
                worst = max(worst, abs(got.gfre - gfre), abs(got.gfrd - gfrd))
                // The thin Procrustes of wide inputs gives the same numbers here.
                let thin = try GlobalReconstruction.measure(source: source, target: target, procrustesFullLimit: 0)
                XCTAssertEqual(thin.gfre, gfre, accuracy: 1e-6, "\(file) \(direction) thin")
                XCTAssertEqual(thin.gfrd, gfrd, accuracy: 1e-6, "\(file) \(direction) thin")
                worstThin = max(worstThin, abs(thin.gfrd - gfrd))
                cases += 1
            }
        }
        XCTAssertEqual(cases, 8)
        print("GFRE/GFRD: \(cases) scikit-matter cases; largest difference \(worst) (thin Procrustes: \(worstThin))")
    }

    func testAlphasAreNumpysGeomspace() throws {
        let fixture = try Self.load("reconstruction_p1_gauss40x12_tanh8.json")
        let alphas = (fixture["results"] as! [String: [String: Any]])["X_to_Y"]!["alphas"] as! [Double]
        for (a, b) in zip(GlobalReconstruction.alphas, alphas) { XCTAssertEqual(a, b, accuracy: 1e-15 * b) }
    }

    /// GFRE/GFRD stop between their steps when asked (the service's time limit).
    func testReconstructionStopsWhenAsked() {
        let x = DenseMatrix(rows: 8, columns: 3, values: (0..<24).map { Double(($0 * 5) % 7) })
        let y = DenseMatrix(rows: 8, columns: 2, values: (0..<16).map { Double(($0 * 3) % 5) })
        XCTAssertThrowsError(try GlobalReconstruction.measure(source: x, target: y, shouldStop: { true })) { error in
            XCTAssertEqual(error as? GlobalReconstruction.Failure, .stopped)
        }
        XCTAssertNoThrow(try GlobalReconstruction.measure(source: x, target: y))
    }
}
