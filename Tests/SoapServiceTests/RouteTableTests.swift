import FastJSON
import Foundation
import SoapHTTP
import Synchronization
import XCTest

@testable import SoapService

/// The route table: dispatch reaches the handler of the matched row and no other, the
/// table refuses rows that would make a route ambiguous, and GET /v1/info answers the
/// configured limits.
final class RouteTableTests: XCTestCase {
    /// The handlers a test table's rows called, in order ("METHOD template id").
    final class Calls: Sendable {
        let log = Mutex<[String]>([])
        func append(_ call: String) { log.withLock { $0.append(call) } }
        var all: [String] { log.withLock { $0 } }
    }

    /// A row whose handler records that it, and only it, was called.
    static func recording(
        _ method: String, _ template: String, _ permission: Authorization.Access = .open, into calls: Calls
    ) -> Route {
        Route(method, template, permission) { _, _, id in
            calls.append("\(method) \(template) \(id)")
            return HTTPResponse(status: 299)
        }
    }

    static func request(_ method: String, _ path: String, headers: HTTPHeaders = HTTPHeaders()) -> HTTPRequest {
        HTTPRequest(method: method, target: path, path: path, headers: headers)
    }

    func testEveryRowReachesItsOwnHandlerAndNoOther() {
        let calls = Calls()
        let rows = [
            ("GET", "/a"), ("POST", "/a"), ("GET", "/a/{id}"), ("DELETE", "/a/{id}"), ("GET", "/a/{id}/b"),
            ("POST", "/c"),
        ]
        let table = RouteTable(rows.map { Self.recording($0.0, $0.1, into: calls) })
        let app = Application(configuration: ServiceConfiguration(), database: nil, routes: table)
        for (method, template) in rows {
            let path = template.replacingOccurrences(of: "{id}", with: "x7")
            let before = calls.all.count
            let (label, response) = app.route(Self.request(method, path))
            XCTAssertEqual(response.status, 299, "\(method) \(path)")
            XCTAssertEqual(label, template)
            let id = template.contains("{id}") ? "x7" : ""
            XCTAssertEqual(Array(calls.all[before...]), ["\(method) \(template) \(id)"], "\(method) \(path)")
        }
        // HEAD is answered by the GET row.
        XCTAssertEqual(app.route(Self.request("HEAD", "/a/q")).1.status, 299)
        XCTAssertEqual(calls.all.last, "GET /a/{id} q")
    }

    func testUnlistedPathOrMethodReachesNoHandler() {
        let calls = Calls()
        let table = RouteTable([
            Self.recording("GET", "/a", into: calls), Self.recording("POST", "/a", into: calls),
            Self.recording("POST", "/c", into: calls), Self.recording("GET", "/a/{id}", into: calls),
        ])
        let app = Application(configuration: ServiceConfiguration(), database: nil, routes: table)
        for path in ["/", "/b", "/a/x/y", "/a/", "/c/x", "/v1/bases", "/health", "/a/" + String(repeating: "x", count: 129)] {
            let (label, response) = app.route(Self.request("GET", path))
            XCTAssertEqual(response.status, 404, path)
            XCTAssertEqual(label, "other", path)
        }
        let (label, response) = app.route(Self.request("DELETE", "/a"))
        XCTAssertEqual(response.status, 405)
        XCTAssertEqual(label, "/a")
        XCTAssertEqual(response.headers["Allow"], "GET, POST, HEAD")
        XCTAssertEqual(app.route(Self.request("GET", "/c")).1.headers["Allow"], "POST")
        XCTAssertEqual(calls.all, [], "no handler may answer a route the table does not list")
    }

    func testPermissionColumnDecidesAuthorization() {
        let calls = Calls()
        let table = RouteTable([
            Self.recording("GET", "/open", .open, into: calls), Self.recording("GET", "/read", .read, into: calls),
            Self.recording("POST", "/write", .write, into: calls),
        ])
        var configuration = ServiceConfiguration()
        configuration.writeTokens = "w"
        configuration.readTokens = "r"
        let app = Application(configuration: configuration, database: nil, routes: table)
        func status(_ method: String, _ path: String, _ token: String?) -> Int {
            var headers = HTTPHeaders()
            if let token { headers.set(name: "Authorization", value: "Bearer " + token) }
            return app.route(Self.request(method, path, headers: headers)).1.status
        }
        XCTAssertEqual(status("GET", "/open", nil), 299)
        XCTAssertEqual(status("GET", "/read", nil), 401)
        XCTAssertEqual(status("GET", "/read", "r"), 299)
        XCTAssertEqual(status("POST", "/write", "r"), 403)
        XCTAssertEqual(status("POST", "/write", "w"), 299)
        XCTAssertEqual(calls.all, ["GET /open ", "GET /read ", "POST /write "])
    }

    func testTableRefusesDuplicateAmbiguousAndMalformedRows() {
        let calls = Calls()
        func row(_ method: String, _ template: String) -> Route { Self.recording(method, template, into: calls) }
        XCTAssertEqual(RouteTable.problems([row("GET", "/a"), row("POST", "/a"), row("GET", "/a/{id}")]), [])
        // Two handlers for one route.
        XCTAssertEqual(RouteTable.problems([row("GET", "/a"), row("GET", "/a")]), ["GET /a: listed twice"])
        // Two templates that match the same path: the second could never be reached.
        XCTAssertEqual(
            RouteTable.problems([row("GET", "/a/{id}"), row("DELETE", "/a/latest")]),
            ["/a/{id} and /a/latest match the same paths"])
        XCTAssertEqual(RouteTable.problems([row("HEAD", "/a")]).count, 1)
        XCTAssertEqual(RouteTable.problems([row("GET", "a")]).count, 1)
        XCTAssertEqual(RouteTable.problems([row("GET", "/a/{name}")]).count, 1)
        XCTAssertEqual(RouteTable.problems([row("GET", "/a//b")]).count, 1)
    }

    /// The service's own table passes the same checks, and every route's permission is the
    /// one Authorization reports for it.
    func testServiceTableIsValid() {
        XCTAssertEqual(RouteTable.problems(Application.routeTable.routes), [])
        let writes = Authorization(writeTokens: ["w"], readTokens: ["r"])
        for route in Application.routeTable.routes {
            XCTAssertEqual(
                writes.access(method: route.method, template: route.template),
                route.permission, "\(route.method) \(route.template)")
        }
    }

    func testInfoAnswersVersionAndConfiguredLimits() throws {
        var configuration = ServiceConfiguration()
        configuration.maxStructures = 11
        configuration.maxAtomsPerStructure = 12
        configuration.maxAtomsTotal = 13
        configuration.maxPairsPerStructure = 14
        configuration.maxBodyBytes = 15000
        configuration.maxOutputValues = 16
        configuration.maxGradientValues = 17
        configuration.maxAngular = 5
        configuration.maxRadial = 6
        configuration.jobMaxStructures = 18
        configuration.computeTimeoutSeconds = 2.5
        let app = Application(configuration: configuration)
        let response = app.handle(Self.request("GET", "/v1/info"))
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.headers["Content-Type"], "application/json")
        guard case .bytes(let body) = response.body else { return XCTFail("expected a sized body") }
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
        XCTAssertEqual(Set(object.keys), ["version", "limits"])
        XCTAssertEqual(object["version"] as? String, Application.version)
        let limits = try XCTUnwrap(object["limits"] as? [String: Any])
        let expected: [String: Double] = [
            "max_structures": 11, "max_atoms_per_structure": 12, "max_atoms_total": 13, "max_pairs_per_structure": 14,
            "max_body_bytes": 15000, "max_output_values": 16, "max_gradient_values": 17, "max_angular": 5,
            "max_radial": 6, "job_max_structures": 18, "compute_timeout_seconds": 2.5,
        ]
        XCTAssertEqual(Set(limits.keys), Set(expected.keys))
        for (key, value) in expected { XCTAssertEqual((limits[key] as? NSNumber)?.doubleValue, value, key) }
        // Read permission, like the other GET /v1 routes; open without tokens, and with write tokens only.
        var guarded = configuration
        guarded.readTokens = "r"
        let closed = Application(configuration: guarded)
        XCTAssertEqual(closed.handle(Self.request("GET", "/v1/info")).status, 401)
        XCTAssertEqual(closed.handle(Self.request("GET", "/v1/info", headers: ["Authorization": "Bearer r"])).status, 200)
        XCTAssertEqual(closed.handle(Self.request("POST", "/v1/info")).headers["Allow"], "GET, HEAD")
    }
}
