import Foundation
import SoapCore
import TestSupport
import XCTest

@testable import SoapService

/// Datasets, fitted bases and featurizing with them, over HTTP, plus
/// persistence across a restart of the real binary.
final class BasisRoutesTests: XCTestCase, JSONExchange {
    static var server: SoapdServer!
    static var client: TestHTTPClient!

    override class func setUp() { (server, client) = TestHTTPClient.startServer() }
    override class func tearDown() { server.http.shutdown(gracePeriod: 1) }

    var client: TestHTTPClient { Self.client }
    let json = ["Content-Type": "application/json"]

    static var molecules: [Any] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/conformance/public_c_molecules.json")
        let fixture = try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        return fixture["structures"] as! [Any]
    }

    static let hypers: [String: Any] = [
        "cutoff": ["radius": 3.5, "smoothing": ["type": "ShiftedCosine", "width": 0.5]],
        "density": ["type": "Gaussian", "width": 0.4],
        "basis": ["type": "TensorProduct", "max_angular": 3, "radial": ["type": "Gto", "max_radial": 7]],
    ]

    func createDataset() throws -> String {
        let r = try client.request(
            "POST", "/v1/datasets", headers: json,
            body: body(["descriptor": ["species": [1, 6, 7, 8], "hypers": Self.hypers]]))
        XCTAssertEqual(r.status, 201, r.text)
        let id = try XCTUnwrap(object(r)["id"] as? String)
        XCTAssertEqual(r.headers["location"], "/v1/datasets/" + id)
        return id
    }

    func testDatasetBatchesCountOncePerIdempotencyKey() throws {
        let id = try createDataset()
        let batch = body(["structures": Self.molecules])
        let first = try client.request(
            "POST", "/v1/datasets/\(id)/structures", headers: json.merging(["Idempotency-Key": "batch-1"]) { $1 }, body: batch)
        XCTAssertEqual(first.status, 200, first.text)
        XCTAssertEqual(object(first)["structures"] as? Int, 5)
        let retry = try client.request(
            "POST", "/v1/datasets/\(id)/structures", headers: json.merging(["Idempotency-Key": "batch-1"]) { $1 }, body: batch)
        XCTAssertEqual(object(retry)["structures"] as? Int, 5)
        XCTAssertEqual(object(retry)["duplicate"] as? Bool, true)
        let second = try client.request("POST", "/v1/datasets/\(id)/structures", headers: json, body: batch)
        XCTAssertEqual(object(second)["structures"] as? Int, 10)
        let got = object(try client.request("GET", "/v1/datasets/\(id)?matrices=true"))
        XCTAssertEqual(got["structures"] as? Int, 10)
        // C atoms of CH4, H2O, NH3, ethanol, benzene, twice
        XCTAssertEqual((got["centers"] as? [String: Int])?["6"], 2 * (1 + 0 + 0 + 2 + 6))
        let matrices = try XCTUnwrap(got["matrices"] as? [String: Any])
        XCTAssertEqual(matrices["shape"] as? [Int], [4, 4, 32, 32])
        XCTAssertEqual((matrices["values"] as? [Double])?.count, 4 * 4 * 32 * 32)
    }

    func testFitGetFeaturizeListDelete() throws {
        let id = try createDataset()
        XCTAssertEqual(
            try client.request(
                "POST", "/v1/datasets/\(id)/structures", headers: json,
                body: body(["structures": Self.molecules])
            ).status, 200)
        let fit = try client.request(
            "POST", "/v1/bases", headers: json,
            body: body(["dataset_id": id, "method": "pca", "contraction": "mixed", "q_max": 4]))
        XCTAssertEqual(fit.status, 201, fit.text)
        let basis = object(fit)
        let basisID = try XCTUnwrap(basis["id"] as? String)
        XCTAssertEqual(basisID.count, 64)
        XCTAssertEqual((basis["eigenvalues"] as? [[Double]])?.count, 4)
        // The same fit again: same content hash, 200.
        let again = try client.request(
            "POST", "/v1/bases", headers: json,
            body: body(["dataset_id": id, "method": "pca", "contraction": "mixed", "q_max": 4]))
        XCTAssertEqual(again.status, 200)
        XCTAssertEqual(object(again)["id"] as? String, basisID)

        let full = object(try client.request("GET", "/v1/bases/\(basisID)?radial_functions=25"))
        XCTAssertEqual((full["projections"] as? [[Double]])?.first?.count, 4 * 32)
        let radial = try XCTUnwrap(full["radial_functions"] as? [String: Any])
        XCTAssertEqual((radial["r"] as? [Double])?.count, 25)
        XCTAssertEqual((radial["values"] as? [Double])?.count, 4 * 4 * 4 * 25)

        let request: [String: Any] = [
            "structures": Self.molecules, "descriptor": ["type": "power_spectrum", "basis_id": basisID],
        ]
        let features = try client.request("POST", "/v1/features", headers: json, body: body(request))
        XCTAssertEqual(features.status, 200, features.text)
        let response = object(features)
        XCTAssertEqual(response["basis_id"] as? String, basisID)
        let properties = try XCTUnwrap(response["properties"] as? [String: Any])
        XCTAssertEqual(properties["names"] as? [String], ["l", "n_1", "n_2"])
        XCTAssertEqual((properties["values"] as? [[Int]])?.count, 4 * 4 * 4)

        let list = object(try client.request("GET", "/v1/bases?limit=10"))
        XCTAssertTrue((list["bases"] as? [[String: Any]] ?? []).contains { $0["id"] as? String == basisID })
        XCTAssertEqual(try client.request("DELETE", "/v1/bases/\(basisID)").status, 204)
        XCTAssertEqual(try client.request("GET", "/v1/bases/\(basisID)").status, 404)
        XCTAssertEqual(try client.request("POST", "/v1/features", headers: json, body: body(request)).status, 404)
    }

    func testSeparateBasisKeepsNeighbourTypes() throws {
        let id = try createDataset()
        _ = try client.request("POST", "/v1/datasets/\(id)/structures", headers: json, body: body(["structures": Self.molecules]))
        let fit = object(
            try client.request(
                "POST", "/v1/bases", headers: json,
                body: body(["dataset_id": id, "contraction": "separate", "residual_variance": 0.01])))
        let basisID = try XCTUnwrap(fit["id"] as? String)
        let q = try XCTUnwrap(fit["q_max"] as? Int)
        let request: [String: Any] = [
            "structures": Self.molecules, "descriptor": ["type": "spherical_expansion", "basis_id": basisID],
        ]
        let response = object(try client.request("POST", "/v1/features", headers: json, body: body(request)))
        let properties = try XCTUnwrap(response["properties"] as? [String: Any])
        XCTAssertEqual(properties["names"] as? [String], ["neighbor_type", "l", "m", "n"])
        XCTAssertEqual((properties["values"] as? [[Int]])?.count, 4 * 16 * q)
    }

    /// PCovR from a dataset with targets, centre-specific, over HTTP: stored options, and
    /// featurizing with the basis.
    func testSupervisedCenterSpecificFit() throws {
        let id = try createDataset()
        let added = try client.request(
            "POST", "/v1/datasets/\(id)/structures", headers: json,
            body: body(["structures": Self.molecules, "targets": [-40.5, -76.4, -56.6, -155.0, -232.2]]))
        XCTAssertEqual(added.status, 200, added.text)
        XCTAssertEqual(object(try client.request("GET", "/v1/datasets/\(id)"))["targets"] as? Int, 5)
        let fit = try client.request(
            "POST", "/v1/bases", headers: json,
            body: body([
                "dataset_id": id, "method": "pcovr", "gamma": 0.1, "center_specific": true,
                "contraction": "mixed", "q_max": 3,
            ]))
        XCTAssertEqual(fit.status, 201, fit.text)
        let basisID = try XCTUnwrap(object(fit)["id"] as? String)
        let got = object(try client.request("GET", "/v1/bases/\(basisID)?radial_functions=11"))
        let options = try XCTUnwrap(got["options"] as? [String: Any])
        XCTAssertEqual(options["method"] as? String, "pcovr")
        XCTAssertEqual(options["gamma"] as? Double, 0.1)
        XCTAssertEqual(options["center_specific"] as? Bool, true)
        let radial = try XCTUnwrap(got["radial_functions"] as? [String: Any])
        XCTAssertEqual(radial["layout"] as? String, "[center_type][species][l][q][r]")
        XCTAssertEqual((radial["values"] as? [Double])?.count, 4 * 4 * 4 * 3 * 11)
        // Another γ is another basis; the same request is the same one.
        let other = try client.request(
            "POST", "/v1/bases", headers: json,
            body: body([
                "dataset_id": id, "method": "pcovr", "gamma": 0.9, "center_specific": true,
                "contraction": "mixed", "q_max": 3,
            ]))
        XCTAssertNotEqual(object(other)["id"] as? String, basisID)
        let again = try client.request(
            "POST", "/v1/bases", headers: json,
            body: body([
                "dataset_id": id, "method": "pcovr", "gamma": 0.1, "center_specific": true,
                "contraction": "mixed", "q_max": 3,
            ]))
        XCTAssertEqual(again.status, 200, again.text)
        XCTAssertEqual(object(again)["id"] as? String, basisID)
        let request: [String: Any] = [
            "structures": Self.molecules, "descriptor": ["type": "power_spectrum", "basis_id": basisID],
        ]
        let response = try client.request("POST", "/v1/features", headers: json, body: body(request))
        XCTAssertEqual(response.status, 200, response.text)
        let properties = try XCTUnwrap(object(response)["properties"] as? [String: Any])
        XCTAssertEqual(properties["names"] as? [String], ["l", "n_1", "n_2"])
    }

    func testBadRequestsAreClear4xx() throws {
        func check(
            _ r: TestHTTPClient.Response, _ status: Int, pointer: String?, file: StaticString = #filePath, line: UInt = #line
        ) {
            XCTAssertEqual(r.status, status, r.text, file: file, line: line)
            if let pointer { XCTAssertEqual(object(r)["pointer"] as? String, pointer, r.text, file: file, line: line) }
        }
        check(
            try client.request("POST", "/v1/datasets/nope/structures", headers: json, body: body(["structures": []])), 404,
            pointer: nil)
        check(
            try client.request("POST", "/v1/bases", headers: json, body: body(["dataset_id": "nope", "q_max": 2])), 422,
            pointer: "/dataset_id")
        let id = try createDataset()
        check(
            try client.request("POST", "/v1/bases", headers: json, body: body(["dataset_id": id, "q_max": 2])), 422,
            pointer: "/dataset_id")
        _ = try client.request("POST", "/v1/datasets/\(id)/structures", headers: json, body: body(["structures": Self.molecules]))
        check(
            try client.request("POST", "/v1/bases", headers: json, body: body(["dataset_id": id, "q_max": 9])), 422,
            pointer: "/q_max")
        check(
            try client.request(
                "POST", "/v1/bases", headers: json, body: body(["dataset_id": id, "method": "pcovr", "q_max": 2])), 422,
            pointer: "/method")
        check(
            try client.request(
                "POST", "/v1/bases", headers: json, body: body(["dataset_id": id, "contraction": "both", "q_max": 2])), 422,
            pointer: "/contraction")
        check(
            try client.request(
                "POST", "/v1/datasets/\(id)/structures", headers: json,
                body: body(["structures": Self.molecules, "targets": [1, 2, 3]])), 422, pointer: "/targets")
        check(
            try client.request(
                "POST", "/v1/datasets/\(id)/structures", headers: json,
                body: body(["structures": Self.molecules, "targets": [1, "x", 3, 4, 5]])), 422, pointer: "/targets/1")
        check(
            try client.request(
                "POST", "/v1/bases", headers: json,
                body: body(["dataset_id": id, "method": "pca", "gamma": 0.5, "q_max": 2])), 422, pointer: "/gamma")
        check(
            try client.request(
                "POST", "/v1/bases", headers: json,
                body: body(["dataset_id": id, "method": "pcovr", "gamma": 1.5, "q_max": 2])), 422, pointer: "/gamma")
        check(
            try client.request(
                "POST", "/v1/bases", headers: json,
                body: body(["dataset_id": id, "center_specific": "yes", "q_max": 2])), 422, pointer: "/center_specific")
        check(
            try client.request("POST", "/v1/datasets", headers: json, body: body(["descriptor": ["species": [1]]])), 422,
            pointer: "/descriptor/hypers")
        check(try client.request("GET", "/v1/bases/none"), 404, pointer: nil)
        check(
            try client.request(
                "POST", "/v1/features", headers: json,
                body: body(["structures": [], "descriptor": ["type": "power_spectrum", "basis_id": "none"]])), 404,
            pointer: "/descriptor/basis_id")
    }
}

/// The stored form of a fitted basis reads back to the same basis and tables, for every
/// kind of fit (what a restarted service serves).
final class BasisCodecTests: XCTestCase {
    func testRoundTripOfSupervisedCenterSpecificBasis() throws {
        let service = FeatureService()
        let body = try JSONSerialization.data(withJSONObject: [
            "descriptor": ["type": "power_spectrum", "species": [1, 6, 7, 8], "hypers": BasisRoutesTests.hypers],
            "structures": BasisRoutesTests.molecules,
        ])
        let request = try service.prepare(Array(body) + [])
        let basis = try service.primitiveBasis(hypers: request.request.hypers!, species: [1, 6, 7, 8])
        let stats = try service.featurizer().statistics(request.request.structures, basis: basis, targets: [1, 2, 3, 4, 5])
        for contraction in Contraction.allCases {
            let fit = try OptimalBasis.fit(
                stats, hypers: request.request.hypers!, contraction: contraction, centerSpecific: true,
                method: .pcovr(gamma: 0.25), q: 2)
            let tables = try fit.splineTables()
            let payload = BasisCodec.encode(fit, tables: tables, hypersJSON: HypersEncoder.json(request.request.hypers!))
            let (decoded, decodedTables, multispectrum) = try XCTUnwrap(BasisCodec.decode(payload))
            XCTAssertNil(multispectrum, "no multispectrum section")
            XCTAssertEqual(decoded.method, .pcovr(gamma: 0.25))
            XCTAssertTrue(decoded.centerSpecific)
            XCTAssertEqual(decoded.projections, fit.projections)
            XCTAssertEqual(decodedTables.map(\.points), tables.map(\.points))
            let a = try service.featurizer().compute(
                request.request.structures, type: .powerSpectrum, basis: fit.expansionBasis(tables: tables))
            let b = try service.featurizer().compute(
                request.request.structures, type: .powerSpectrum,
                basis: decoded.expansionBasis(tables: decodedTables))
            XCTAssertEqual(a.values, b.values)
        }
    }
}
