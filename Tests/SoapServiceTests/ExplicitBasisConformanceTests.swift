import FastJSON
import Foundation
import SoapCore
import TestSupport
import XCTest

@testable import SoapService

/// featomic 0.6.7's Explicit / Tabulated / DiracDelta cases (Tests/Fixtures/conformance-ext,
/// x1, x2 and the values and position gradients of x4), with the hypers sent verbatim:
/// through the request decoder and the library, over HTTP (POST /v1/features) and
/// through `soapd featurize`. Values within 1e-6, gradients within 2e-5.
final class ExplicitBasisConformanceTests: XCTestCase {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/conformance-ext")
    static let cases = [
        "public_x1_explicit_gto_sic.json", "public_x2_laplacian_eigenstates_molecules.json",
        "public_x4_strain_nacl_le.json",
    ]

    static func load(_ file: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent(file))) as! [String: Any]
    }

    /// A POST /v1/features body holding the case's hypers as they are.
    static func body(_ case_: [String: Any], type: String, gradients: Bool = false) throws -> [UInt8] {
        var hypers = case_["hypers"] as! [String: Any]
        let species = hypers.removeValue(forKey: "species")!
        let request: [String: Any] = [
            "structures": case_["structures"]!, "gradients": gradients,
            "descriptor": ["type": type, "species": species, "hypers": hypers],
        ]
        return Array(try JSONSerialization.data(withJSONObject: request))
    }

    /// Largest deviation from the expected block, columns matched by label (both ways).
    static func deviation(
        names: [String], labels: [[Int]], values: [[Double]], expected: [String: Any]
    ) -> (Double, String?) {
        guard names == expected["names"] as! [String] else { return (.infinity, "names \(names)") }
        let theirLabels = expected["labels"] as! [[Int]]
        guard Set(labels) == Set(theirLabels), labels.count == theirLabels.count else {
            return (.infinity, "columns differ: \(labels.count) vs \(theirLabels.count)")
        }
        var column: [[Int]: Int] = [:]
        for (k, l) in labels.enumerated() { column[l] = k }
        let theirs = expected["values"] as! [[Double]]
        guard theirs.count == values.count else { return (.infinity, "rows \(values.count) vs \(theirs.count)") }
        var worst = 0.0
        for (k, label) in theirLabels.enumerated() {
            let mine = column[label]!
            for row in theirs.indices { worst = max(worst, abs(values[row][mine] - theirs[row][k])) }
        }
        return (worst, nil)
    }

    static func check(_ response: [String: Any], _ case_: [String: Any], type: String, file: String) {
        let properties = response["properties"] as! [String: Any]
        let (worst, problem) = deviation(
            names: properties["names"] as! [String], labels: properties["values"] as! [[Int]],
            values: response["values"] as! [[Double]],
            expected: (case_["expected"] as! [String: Any])[type] as! [String: Any])
        XCTAssertNil(problem, "\(file) \(type)")
        XCTAssertLessThan(worst, 1e-6, "\(file) \(type)")
        print("conformance-ext \(file) \(type): max abs deviation \(worst)")
    }

    func testValuesThroughTheDecoderAndLibrary() throws {
        for file in Self.cases {
            let case_ = try Self.load(file)
            for type in ["spherical_expansion", "power_spectrum"] {
                let bytes = try FeatureService().featurize(try Self.body(case_, type: type), format: .json)
                Self.check(try JSONSerialization.jsonObject(with: Data(bytes)) as! [String: Any], case_, type: type, file: file)
            }
        }
    }

    func testPowerSpectrumPositionGradients() throws {
        for file in Self.cases {
            let case_ = try Self.load(file)
            let entries = (case_["expected"] as! [String: Any])["power_spectrum_gradients"] as! [[String: Any]]
            let expected = (case_["expected"] as! [String: Any])["power_spectrum"] as! [String: Any]
            let service = FeatureService()
            let matrix = try service.compute(try service.prepare(try Self.body(case_, type: "power_spectrum", gradients: true)))
            let labels = try XCTUnwrap(matrix.gradientSamples)
            let grads = try XCTUnwrap(matrix.gradientValues)
            let cols = matrix.columnCount
            var ourEntry: [[Int]: Int] = [:]
            for e in 0..<labels.count { ourEntry[labels[e].map { Int($0) }] = e }
            let theirPairs = Set(entries.map { [$0["sample_row"] as! Int, $0["structure"] as! Int, $0["atom"] as! Int] })
            XCTAssertEqual(Set(ourEntry.keys), theirPairs, "\(file): gradient pairs differ")
            var ourColumn: [[Int]: Int] = [:]
            for c in 0..<cols { ourColumn[matrix.properties[c].map { Int($0) }] = c }
            let theirLabels = expected["labels"] as! [[Int]]
            var worst = 0.0
            for entry in entries {
                let key = [entry["sample_row"] as! Int, entry["structure"] as! Int, entry["atom"] as! Int]
                guard let e = ourEntry[key] else { continue }
                let values = entry["values"] as! [[Double]]
                for (k, label) in theirLabels.enumerated() {
                    let mine = try XCTUnwrap(ourColumn[label], "\(file): column \(label)")
                    for d in 0..<3 { worst = max(worst, abs(grads[(e * 3 + d) * cols + mine] - values[d][k])) }
                }
            }
            print("conformance-ext \(file) power_spectrum gradients: max abs deviation \(worst)")
            XCTAssertLessThan(worst, 2e-5, file)
        }
    }

    func testOverHTTP() throws {
        let (server, client) = TestHTTPClient.startServer()
        defer { server.http.shutdown(gracePeriod: 1) }
        for file in Self.cases {
            let case_ = try Self.load(file)
            for type in ["spherical_expansion", "power_spectrum"] {
                let response = try client.request(
                    "POST", "/v1/features", headers: ["Content-Type": "application/json"], body: try Self.body(case_, type: type))
                XCTAssertEqual(response.status, 200, "\(file): \(String(decoding: response.body, as: UTF8.self).prefix(300))")
                guard response.status == 200 else { continue }
                Self.check(
                    try JSONSerialization.jsonObject(with: Data(response.body)) as! [String: Any], case_, type: type, file: file)
            }
        }
    }

    func testThroughTheCommandLine() throws {
        guard FileManager.default.isExecutableFile(atPath: SoapdProcess.binary.path) else { throw XCTSkip("soapd not built") }
        for file in Self.cases {
            let case_ = try Self.load(file)
            for type in ["spherical_expansion", "power_spectrum"] {
                let path = NSTemporaryDirectory() + "soapd-ext-\(getpid())-\(type).json"
                try Data(try Self.body(case_, type: type)).write(to: URL(fileURLWithPath: path))
                defer { try? FileManager.default.removeItem(atPath: path) }
                let (status, output, stderr) = try SoapdProcess.run(["featurize", "--request", path, "--output", "-"])
                XCTAssertEqual(status, 0, "\(file): \(stderr)")
                guard status == 0 else { continue }
                Self.check(try JSONSerialization.jsonObject(with: output) as! [String: Any], case_, type: type, file: file)
            }
        }
    }
}
