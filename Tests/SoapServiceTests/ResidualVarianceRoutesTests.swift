import Foundation
import TestSupport
import XCTest

@testable import SoapService

/// GET /v1/datasets (list) and GET /v1/datasets/{id}/residual-variance over HTTP: the
/// curves equal the residual variance a basis fitted with the same options reports.
final class ResidualVarianceRoutesTests: XCTestCase {
    static var server: SoapdServer!
    static var client: TestHTTPClient!

    override class func setUp() { (server, client) = TestHTTPClient.startServer() }
    override class func tearDown() { server.http.shutdown(gracePeriod: 1) }

    var client: TestHTTPClient { Self.client }
    let json = ["Content-Type": "application/json"]

    func body(_ object: [String: Any]) -> [UInt8] { Array(try! JSONSerialization.data(withJSONObject: object)) }
    func object(_ r: TestHTTPClient.Response) -> [String: Any] { (r.json as? [String: Any]) ?? [:] }

    /// A dataset of the conformance molecules (H, C, N, O; l ≤ 3, 8 GTOs).
    func filledDataset() throws -> String {
        let r = try client.request(
            "POST", "/v1/datasets", headers: json,
            body: body(["descriptor": ["species": [1, 6, 7, 8], "hypers": BasisRoutesTests.hypers]]))
        XCTAssertEqual(r.status, 201, r.text)
        let id = try XCTUnwrap(object(r)["id"] as? String)
        let add = try client.request(
            "POST", "/v1/datasets/\(id)/structures", headers: json, body: body(["structures": BasisRoutesTests.molecules]))
        XCTAssertEqual(add.status, 200, add.text)
        return id
    }

    func curves(_ id: String, _ query: String) throws -> [String: Any] {
        let r = try client.request("GET", "/v1/datasets/\(id)/residual-variance?\(query)")
        XCTAssertEqual(r.status, 200, r.text)
        return object(r)
    }

    func testCurvesEqualTheFittedBasesResidualVariance() throws {
        let id = try filledDataset()
        for contraction in ["separate", "mixed"] {
            let got = try curves(id, "contraction=\(contraction)")
            XCTAssertEqual(got["contraction"] as? String, contraction)
            let list = try XCTUnwrap(got["curves"] as? [[String: Any]])
            XCTAssertEqual(list.count, 4)  // l = 0…3, one shared centre block
            let n = contraction == "mixed" ? 32 : 8
            for q in [2, 5] {
                let fit = try client.request(
                    "POST", "/v1/bases", headers: json,
                    body: body(["dataset_id": id, "method": "pca", "contraction": contraction, "q_max": q]))
                XCTAssertTrue([200, 201].contains(fit.status), fit.text)
                let fitted = try XCTUnwrap(object(fit)["residual_variance"] as? [[Double]])
                for (l, curve) in list.enumerated() {
                    XCTAssertTrue(curve["center_type"] is NSNull)
                    XCTAssertEqual(curve["l"] as? Int, l)
                    XCTAssertEqual(curve["q"] as? [Int], Array(1...n))
                    let values = try XCTUnwrap(curve["residual_variance"] as? [Double])
                    XCTAssertEqual(values, fitted[l], "\(contraction) l=\(l)")
                    XCTAssertEqual(values[q - 1], fitted[l][q - 1])
                }
            }
            let total = try XCTUnwrap(got["total"] as? [String: Any])
            XCTAssertEqual(total["q"] as? [Int], Array(1...n))
            let totalValues = try XCTUnwrap(total["residual_variance"] as? [Double])
            XCTAssertEqual(totalValues.count, n)
            XCTAssertLessThan(totalValues.last!, 1e-9)
            for k in 1..<n { XCTAssertLessThanOrEqual(totalValues[k], totalValues[k - 1] + 1e-12) }
        }
    }

    func testPrimitiveIsAboveTheContractionsAndCenterSpecificCurves() throws {
        let id = try filledDataset()
        let primitive = try XCTUnwrap(try curves(id, "contraction=primitive")["total"] as? [String: Any])
        let separate = try XCTUnwrap(try curves(id, "contraction=separate")["total"] as? [String: Any])
        let p = try XCTUnwrap(primitive["residual_variance"] as? [Double])
        let s = try XCTUnwrap(separate["residual_variance"] as? [Double])
        XCTAssertEqual(p.count, 8)
        for q in 0..<8 { XCTAssertGreaterThanOrEqual(p[q], s[q] - 1e-12, "q=\(q + 1)") }
        XCTAssertLessThan(p.last!, 1e-12)
        // Centre-specific: one curve per (centre species, l), then per l pooled over centres.
        let specific = try curves(id, "contraction=mixed&center_specific=true")
        let list = try XCTUnwrap(specific["curves"] as? [[String: Any]])
        XCTAssertEqual(list.count, 4 * 4 + 4)
        XCTAssertEqual(Set(list.compactMap { $0["center_type"] as? Int }), [1, 6, 7, 8])
        XCTAssertEqual(list.filter { $0["center_type"] is NSNull }.count, 4)
        XCTAssertEqual(specific["center_specific"] as? Bool, true)
    }

    /// The pooled per-l curves of `center_specific=true` are what a centre-specific basis
    /// fitted with the same options reports, for separate and mixed contractions.
    func testCenterSpecificCurvesEqualTheFittedBases() throws {
        let id = try filledDataset()
        for contraction in ["separate", "mixed"] {
            let got = try curves(id, "contraction=\(contraction)&center_specific=true")
            let pooled = try XCTUnwrap(got["curves"] as? [[String: Any]]).filter { $0["center_type"] is NSNull }
            XCTAssertEqual(pooled.map { $0["l"] as? Int }, [0, 1, 2, 3])
            let fit = try client.request(
                "POST", "/v1/bases", headers: json,
                body: body([
                    "dataset_id": id, "method": "pca", "contraction": contraction, "q_max": 2, "center_specific": true,
                ]))
            XCTAssertTrue([200, 201].contains(fit.status), fit.text)
            let fitted = try XCTUnwrap(object(fit)["residual_variance"] as? [[Double]])
            for (l, curve) in pooled.enumerated() {
                // The same sums, added per centre block first: equal to rounding.
                let values = try XCTUnwrap(curve["residual_variance"] as? [Double])
                XCTAssertEqual(values.count, fitted[l].count)
                for (a, b) in zip(values, fitted[l]) { XCTAssertEqual(a, b, accuracy: 1e-13, "\(contraction) l=\(l)") }
            }
        }
    }

    func testListAndBadInput() throws {
        let id = try filledDataset()
        let list = try client.request("GET", "/v1/datasets?limit=1000")
        XCTAssertEqual(list.status, 200, list.text)
        let rows = try XCTUnwrap(object(list)["datasets"] as? [[String: Any]])
        XCTAssertTrue(rows.contains { $0["id"] as? String == id && $0["structures"] as? Int == 5 })
        let bad = try client.request("GET", "/v1/datasets/\(id)/residual-variance?contraction=diagonal")
        XCTAssertEqual(bad.status, 422)
        XCTAssertEqual(object(bad)["pointer"] as? String, "/contraction")
        let flag = try client.request("GET", "/v1/datasets/\(id)/residual-variance?center_specific=yes")
        XCTAssertEqual(object(flag)["pointer"] as? String, "/center_specific")
        XCTAssertEqual(try client.request("GET", "/v1/datasets/nope/residual-variance").status, 404)
        let empty = try client.request(
            "POST", "/v1/datasets", headers: json,
            body: body(["descriptor": ["species": [1, 6, 7, 8], "hypers": BasisRoutesTests.hypers]]))
        let emptyID = try XCTUnwrap(object(empty)["id"] as? String)
        let none = try client.request("GET", "/v1/datasets/\(emptyID)/residual-variance")
        XCTAssertEqual(none.status, 422, none.text)
    }
}
