import Foundation
import SoapCore
import XCTest

@testable import SoapService

/// Native LaplacianEigenstate (TensorProduct and ragged) and SphericalBessel bases with a
/// Gaussian density (Tests/Fixtures/native-bases: featomic 0.6.7 fed with SoapSpliner's
/// tables): soapd's own quadrature and spline, values within 1e-6, gradients within 2e-5.
final class NativeBasesTests: XCTestCase {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/native-bases")

    static var names: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
            .filter { $0.hasPrefix("native_") && $0.hasSuffix(".json") }.sorted()
    }

    static func load(_ file: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent(file))) as! [String: Any]
    }

    /// The fixture in the conformance-ext layout (hypers = soapd's), for the shared helpers.
    static func asCase(_ fixture: [String: Any]) -> [String: Any] {
        var case_ = fixture
        var hypers = fixture["hypers_soapd"] as! [String: Any]
        hypers["species"] = fixture["species"]
        case_["hypers"] = hypers
        return case_
    }

    func testValuesAndGradients() throws {
        XCTAssertEqual(Self.names.count, 5, "fixtures missing")
        for file in Self.names {
            let case_ = Self.asCase(try Self.load(file))
            let service = FeatureService()
            for type in ["spherical_expansion", "power_spectrum"] {
                let bytes = try service.featurize(try ExplicitBasisConformanceTests.body(case_, type: type), format: .json)
                ExplicitBasisConformanceTests.check(
                    try JSONSerialization.jsonObject(with: Data(bytes)) as! [String: Any], case_, type: type, file: file)
            }
            guard let entries = (case_["expected"] as! [String: Any])["power_spectrum_gradients"] as? [[String: Any]]
            else { continue }
            let expected = (case_["expected"] as! [String: Any])["power_spectrum"] as! [String: Any]
            let matrix = try service.compute(
                try service.prepare(try ExplicitBasisConformanceTests.body(case_, type: "power_spectrum", gradients: true)))
            let labels = try XCTUnwrap(matrix.gradientSamples)
            let grads = try XCTUnwrap(matrix.gradientValues)
            let cols = matrix.columnCount
            var ourEntry: [[Int]: Int] = [:]
            for e in 0..<labels.count { ourEntry[labels[e].map { Int($0) }] = e }
            var ourColumn: [[Int]: Int] = [:]
            for c in 0..<cols { ourColumn[matrix.properties[c].map { Int($0) }] = c }
            var worst = 0.0
            for entry in entries {
                let key = [entry["sample_row"] as! Int, entry["structure"] as! Int, entry["atom"] as! Int]
                let e = try XCTUnwrap(ourEntry[key], "\(file): entry \(key)")
                let values = entry["values"] as! [[Double]]
                for (k, label) in (expected["labels"] as! [[Int]]).enumerated() {
                    let mine = try XCTUnwrap(ourColumn[label])
                    for d in 0..<3 { worst = max(worst, abs(grads[(e * 3 + d) * cols + mine] - values[d][k])) }
                }
            }
            print("native \(file) power_spectrum gradients: max abs deviation \(worst)")
            XCTAssertLessThan(worst, 2e-5, file)
        }
    }

    /// The exact radial integrals at the stored distances, without any spline.
    func testRadialIntegralsDirectly() throws {
        for file in Self.names {
            let fixture = try Self.load(file)
            let hypers = fixture["hypers_soapd"] as! [String: Any]
            let cutoff = ((hypers["cutoff"] as! [String: Any])["radius"] as! Double)
            let width = ((hypers["density"] as! [String: Any])["width"] as! Double)
            let basis = hypers["basis"] as! [String: Any]
            let radialType = (basis["radial"] as? [String: Any])?["type"] as? String ?? "LaplacianEigenstate"
            let stored = fixture["radial_integrals"] as! [String: Any]
            let distances = stored["distances"] as! [Double]
            var worst = (0.0, 0.0)
            for (key, block) in stored["by_angular"] as! [String: Any] {
                let l = Int(key)!
                let values = (block as! [String: Any])["values"] as! [[Double]]
                let derivatives = (block as! [String: Any])["derivatives"] as! [[Double]]
                let integral = BesselRadialIntegral(
                    cutoff: cutoff, densityWidth: width, order: radialType == "SphericalBessel" ? 0 : l, channel: l,
                    count: values[0].count)
                var v = [Double](repeating: 0, count: integral.count)
                var d = v
                for (k, r) in distances.enumerated() {
                    integral.radialIntegrals(at: r, values: &v, derivatives: &d)
                    for n in 0..<integral.count {
                        worst.0 = max(worst.0, abs(v[n] - values[k][n]))
                        worst.1 = max(worst.1, abs(d[n] - derivatives[k][n]))
                    }
                }
            }
            print("native \(file) radial integrals: max abs deviation \(worst.0), derivatives \(worst.1)")
            XCTAssertLessThan(worst.0, 1e-9, file)
            XCTAssertLessThan(worst.1, 1e-8, file)
        }
    }
}
