import Foundation
import TestSupport
import XCTest

@testable import SoapService

/// Bearer tokens: writes need a write token (401 without, 403 with a read token), reads a
/// read or write token when read tokens are set; /health and /metrics stay open.
final class AuthorizationTests: XCTestCase {
    func testRoutesOverHTTP() throws {
        let (server, client) = TestHTTPClient.startServer {
            $0.writeTokens = "w-one, w-two"
            $0.readTokens = "r-one"
        }
        defer { server.http.shutdown(gracePeriod: 1) }
        func status(
            _ method: String, _ path: String, token: String?, body: [String: Any]? = nil,
            file: StaticString = #filePath, line: UInt = #line
        ) throws -> TestHTTPClient.Response {
            var headers = ["Content-Type": "application/json"]
            if let token { headers["Authorization"] = "Bearer " + token }
            return try client.request(
                method, path, headers: headers,
                body: body.map { Array(try! JSONSerialization.data(withJSONObject: $0)) } ?? [])
        }
        XCTAssertEqual(try status("GET", "/health", token: nil).status, 200)
        XCTAssertEqual(try status("GET", "/metrics", token: nil).status, 200)

        let features: [String: Any] = ["structures": BasisRoutesTests.molecules, "descriptor": JobRoutesTests.descriptor]
        let anonymous = try status("POST", "/v1/features", token: nil, body: features)
        XCTAssertEqual(anonymous.status, 401)
        XCTAssertEqual(anonymous.headers["www-authenticate"], "Bearer realm=\"soapd\"")
        XCTAssertEqual(anonymous.headers["content-type"], "application/problem+json")
        XCTAssertEqual(try status("POST", "/v1/features", token: "wrong", body: features).status, 401)
        XCTAssertEqual(try status("POST", "/v1/features", token: "r-one", body: features).status, 200)
        XCTAssertEqual(try status("POST", "/v1/features", token: "w-two", body: features).status, 200)
        XCTAssertEqual(try status("GET", "/v1/bases", token: "r-one").status, 200)
        XCTAssertEqual(try status("GET", "/v1/jobs", token: nil).status, 401)

        let dataset: [String: Any] = ["descriptor": ["species": [1, 6, 7, 8], "hypers": BasisRoutesTests.hypers]]
        XCTAssertEqual(try status("POST", "/v1/datasets", token: nil, body: dataset).status, 401)
        let readOnly = try status("POST", "/v1/datasets", token: "r-one", body: dataset)
        XCTAssertEqual(readOnly.status, 403)
        XCTAssertEqual(readOnly.headers["www-authenticate"], "Bearer realm=\"soapd\", error=\"insufficient_scope\"")
        XCTAssertEqual(try status("POST", "/v1/datasets", token: "w-one", body: dataset).status, 201)
        XCTAssertEqual(try status("DELETE", "/v1/jobs/none", token: "r-one").status, 403)
        XCTAssertEqual(try status("DELETE", "/v1/jobs/none", token: "w-two").status, 404)
        XCTAssertEqual(try status("POST", "/v1/jobs", token: "r-one", body: features).status, 403)
        // The scheme is case-insensitive; other schemes are not tokens.
        XCTAssertEqual(try client.request("GET", "/v1/bases", headers: ["Authorization": "bearer r-one"]).status, 200)
        XCTAssertEqual(try client.request("GET", "/v1/bases", headers: ["Authorization": "Basic r-one"]).status, 401)
    }

    func testPolicyWithOneKindOfToken() {
        let writesOnly = Authorization(writeTokens: ["w"], readTokens: [])
        XCTAssertEqual(writesOnly.access(method: "GET", template: "/v1/bases"), .open)
        XCTAssertEqual(writesOnly.access(method: "POST", template: "/v1/features"), .open)
        XCTAssertEqual(writesOnly.access(method: "POST", template: "/v1/bases"), .write)
        XCTAssertEqual(writesOnly.access(method: "DELETE", template: "/v1/bases/{id}"), .write)
        XCTAssertEqual(writesOnly.decide(.write, authorization: "Bearer w"), .allowed)
        XCTAssertEqual(writesOnly.decide(.write, authorization: "Bearer ww"), .unauthenticated)
        let readsOnly = Authorization(writeTokens: [], readTokens: ["r"])
        XCTAssertEqual(readsOnly.access(method: "POST", template: "/v1/datasets"), .read)
        XCTAssertEqual(readsOnly.access(method: "GET", template: "/health"), .open)
        let none = Authorization(writeTokens: [], readTokens: [])
        XCTAssertEqual(none.access(method: "DELETE", template: "/v1/jobs/{id}"), .open)
        XCTAssertEqual(Authorization.tokens(" a, ,b ,"), ["a", "b"])
    }
}
