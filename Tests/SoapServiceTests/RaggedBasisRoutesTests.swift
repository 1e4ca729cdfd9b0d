import Foundation
import SoapCore
import TestSupport
import XCTest

@testable import SoapService

/// Datasets, fits and featurizing with them over HTTP when the primitive basis is a
/// ragged Laplacian-eigenstate basis or featomic's Explicit basis of Tabulated integrals.
final class RaggedBasisRoutesTests: XCTestCase {
    let json = ["Content-Type": "application/json"]
    func body(_ object: [String: Any]) -> [UInt8] { Array(try! JSONSerialization.data(withJSONObject: object)) }
    func object(_ r: TestHTTPClient.Response) -> [String: Any] { (r.json as? [String: Any]) ?? [:] }

    func testFitFromRaggedPrimitivesAndFeaturize() throws {
        let (server, client) = TestHTTPClient.startServer()
        defer { server.http.shutdown(gracePeriod: 1) }
        let x2 = try ExplicitBasisConformanceTests.load("public_x2_laplacian_eigenstates_molecules.json")
        var tabulated = x2["hypers"] as! [String: Any]
        tabulated["species"] = nil
        let le: [String: Any] = [
            "cutoff": ["radius": 3.5, "smoothing": ["type": "ShiftedCosine", "width": 0.5]],
            "density": ["type": "Gaussian", "width": 0.4],
            "basis": ["type": "LaplacianEigenstate", "max_radial": 5, "max_angular": 3],
        ]
        // Binary answers (streamed for other bases) equal the archive of the computed matrix.
        let request = try ExplicitBasisConformanceTests.body(x2, type: "power_spectrum")
        let service = FeatureService()
        let matrix = try service.compute(try service.prepare(request))
        for format in [FeatureFormat.npz, .npy] {
            let response = try client.request(
                "POST", "/v1/features", headers: ["Content-Type": "application/json", "Accept": format.rawValue],
                body: request)
            XCTAssertEqual(response.status, 200)
            XCTAssertTrue(response.body == FeatureResponseEncoder.encode(matrix, format: format), format.rawValue)
        }
        for hypers in [le, tabulated] {
            let created = try client.request(
                "POST", "/v1/datasets", headers: json,
                body: body(["descriptor": ["species": [1, 6, 7, 8], "hypers": hypers]]))
            XCTAssertEqual(created.status, 201, created.text)
            let id = try XCTUnwrap(object(created)["id"] as? String)
            let added = try client.request(
                "POST", "/v1/datasets/\(id)/structures", headers: json,
                body: body(["structures": BasisRoutesTests.molecules + (x2["structures"] as! [Any])]))
            XCTAssertEqual(added.status, 200, added.text)
            for contraction in ["separate", "mixed"] {
                let fit = try client.request(
                    "POST", "/v1/bases", headers: json,
                    body: body(["dataset_id": id, "method": "pca", "contraction": contraction, "q_max": 3]))
                XCTAssertEqual(fit.status, 201, fit.text)
                let basisID = try XCTUnwrap(object(fit)["id"] as? String)
                let features = try client.request(
                    "POST", "/v1/features", headers: json,
                    body: body([
                        "structures": BasisRoutesTests.molecules,
                        "descriptor": ["type": "power_spectrum", "basis_id": basisID],
                    ]))
                XCTAssertEqual(features.status, 200, features.text)
                let values = (object(features)["values"] as? [[Double]]) ?? []
                XCTAssertFalse(values.isEmpty)
                XCTAssertTrue(values.allSatisfy { $0.allSatisfy(\.isFinite) })
            }
        }
    }
}
