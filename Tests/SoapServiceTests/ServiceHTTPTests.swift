import Foundation
import SoapHTTP
import TestSupport
import XCTest

@testable import SoapService

/// The real server on an ephemeral port, spoken to over real sockets.
final class ServiceHTTPTests: XCTestCase {
    static var server: SoapdServer!
    static var client: TestHTTPClient!

    override class func setUp() { (server, client) = TestHTTPClient.startServer() }
    override class func tearDown() { server.http.shutdown(gracePeriod: 1) }

    var client: TestHTTPClient { Self.client }
    let json = ["Content-Type": "application/json"]
    var body: [UInt8] { Array(RequestDecodingTests.validRequest.utf8) }

    /// Binary answers are sent while they are computed; the bytes equal those of the
    /// archive built after the computation (per atom, .npz and .npy).
    func testStreamedBinaryEqualsBufferedArchive() throws {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/conformance/public_a_si64_rattled.json")
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: fixture)) as! [String: Any]
        var hypers = object["hypers"] as! [String: Any]
        let species = hypers.removeValue(forKey: "species")!
        let request: [String: Any] = [
            "structures": Array(repeating: (object["structures"] as! [Any])[0], count: 6),
            "descriptor": ["type": "power_spectrum", "species": species, "hypers": hypers],
        ]
        let body = Array(try JSONSerialization.data(withJSONObject: request))
        let service = FeatureService()
        let matrix = try service.compute(try service.prepare(body))
        for format in [FeatureFormat.npz, .npy] {
            let response = try client.request(
                "POST", "/v1/features", headers: ["Content-Type": "application/json", "Accept": format.rawValue],
                body: body)
            XCTAssertEqual(response.status, 200)
            XCTAssertEqual(response.headers["content-length"], String(response.body.count))
            XCTAssertTrue(response.body == FeatureResponseEncoder.encode(matrix, format: format), format.rawValue)
        }
        // A refusal found while preparing is still a problem document.
        var bad = request
        bad["descriptor"] = ["type": "power_spectrum", "species": [8], "hypers": hypers]
        let refused = try client.request(
            "POST", "/v1/features", headers: ["Content-Type": "application/json", "Accept": "application/x-npz"],
            body: Array(try JSONSerialization.data(withJSONObject: bad)))
        XCTAssertEqual(refused.status, 422, refused.text)
    }

    func testHealth() throws {
        let r = try client.request("GET", "/health")
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual((r.json as? [String: Any])?["status"] as? String, "ok")
        XCTAssertNotNil(r.headers["x-request-id"])
        XCTAssertEqual(try client.request("HEAD", "/health").body.count, 0)
    }

    func testFeaturesJSONAndNpz() throws {
        let r = try client.request("POST", "/v1/features", headers: json, body: body)
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.headers["content-type"], "application/json")
        let response = try XCTUnwrap(r.json as? [String: Any])
        XCTAssertEqual((response["values"] as? [[Double]])?.count, 2)
        let npz = try client.request(
            "POST", "/v1/features", headers: json.merging(["Accept": "application/x-npz"]) { $1 }, body: body)
        XCTAssertEqual(npz.status, 200)
        XCTAssertEqual(npz.headers["content-type"], "application/x-npz")
        let files = try ZipReader.storedEntries(npz.body)
        XCTAssertNotNil(files["values.npy"])
        let npy = try client.request(
            "POST", "/v1/features", headers: json.merging(["Accept": "application/x-npy;q=0.9, text/html;q=0.1"]) { $1 },
            body: body)
        XCTAssertEqual(npy.headers["content-type"], "application/x-npy")
    }

    func testGzipBothWays() throws {
        let r = try client.request(
            "POST", "/v1/features",
            headers: json.merging(["Content-Encoding": "gzip", "Accept-Encoding": "gzip"]) { $1 },
            body: Gzip.compress(body))
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.headers["content-encoding"], "gzip")
        let plain = try Gzip.decompress(r.body, limit: 1 << 26)
        XCTAssertNotNil(try JSONSerialization.jsonObject(with: Data(plain)))
    }

    func testErrorsAreProblemDocuments() throws {
        func check(
            _ r: TestHTTPClient.Response, _ status: Int, pointer: String? = nil, file: StaticString = #filePath,
            line: UInt = #line
        ) {
            XCTAssertEqual(r.status, status, r.text, file: file, line: line)
            XCTAssertEqual(r.headers["content-type"], "application/problem+json", file: file, line: line)
            let problem = r.json as? [String: Any]
            XCTAssertEqual(problem?["status"] as? Int, status, file: file, line: line)
            if let pointer { XCTAssertEqual(problem?["pointer"] as? String, pointer, file: file, line: line) }
        }
        check(try client.request("POST", "/v1/features", headers: json, body: Array("{oops".utf8)), 400, pointer: "")
        check(
            try client.request(
                "POST", "/v1/features", headers: json,
                body: Array(RequestDecodingTests.validRequest.replacingOccurrences(of: "\"Gto\"", with: "\"Spline\"").utf8)),
            422, pointer: "/descriptor/hypers/basis/radial/type")
        check(try client.request("POST", "/v1/features", headers: ["Content-Type": "text/plain"], body: body), 415)
        check(try client.request("POST", "/v1/features", headers: json.merging(["Accept": "text/html"]) { $1 }, body: body), 406)
        let notAllowed = try client.request("GET", "/v1/features")
        check(notAllowed, 405)
        XCTAssertEqual(notAllowed.headers["allow"], "POST")
        check(try client.request("GET", "/v2/nothing"), 404)
    }

    func testMetricsCountRequestsAndCache() throws {
        _ = try client.request("POST", "/v1/features", headers: json, body: body)
        let text = try client.request("GET", "/metrics").text
        XCTAssertTrue(text.contains("soapd_http_requests_total{route=\"/v1/features\",status=\"200\"}"), text)
        XCTAssertTrue(text.contains("soapd_spline_cache_hits_total"))
        XCTAssertTrue(text.contains("soapd_queue_depth"))
        XCTAssertTrue(text.contains("soapd_http_request_duration_seconds_bucket{route=\"/v1/features\",le=\"+Inf\"}"))
        XCTAssertTrue(text.contains("soapd_atoms_featurized_total"))
    }

    func testRequestIdEchoed() throws {
        let r = try client.request("GET", "/health", headers: ["X-Request-Id": "trace-42"])
        XCTAssertEqual(r.headers["x-request-id"], "trace-42")
    }

    /// openapi.yaml lists exactly the routes and methods the service answers.
    func testOpenAPIAgreesWithRoutes() throws {
        let spec = try String(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("openapi.yaml"), encoding: .utf8)
        var documented: [String: Set<String>] = [:]
        var inPaths = false
        var current: String? = nil
        for line in spec.components(separatedBy: "\n") {
            if line.hasPrefix("paths:") {
                inPaths = true
                continue
            }
            if inPaths, !line.hasPrefix(" "), !line.isEmpty { inPaths = false }
            guard inPaths else { continue }
            if line.hasPrefix("  /"), line.hasSuffix(":") {
                current = String(line.dropFirst(2).dropLast())
                documented[current!] = []
            }
            for method in ["get", "post", "put", "delete", "patch"] where line == "    \(method):" {
                documented[current!, default: []].insert(method.uppercased())
            }
        }
        var served: [String: Set<String>] = [:]
        for route in Application.routes { served[route.path] = Set(route.methods) }
        XCTAssertEqual(documented, served)
        for (path, methods) in served where !path.contains("{") {
            for method in methods {
                let r = try client.request(
                    method, path, headers: method == "POST" ? json : [:], body: method == "POST" ? body : [])
                XCTAssertNotEqual(r.status, 404, "\(method) \(path)")
                XCTAssertNotEqual(r.status, 405, "\(method) \(path)")
            }
        }
    }

    /// The defaults compiled into ServiceConfiguration are Config/soapd.json.
    func testConfigFileMatchesDefaults() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Config/soapd.json").path
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        XCTAssertEqual(Set(object.keys), Set(ServiceConfiguration.keyNames))
        var fromFile = ServiceConfiguration()
        try fromFile.apply(file: Array(try Data(contentsOf: URL(fileURLWithPath: path))), path: path)
        let defaults = ServiceConfiguration()
        XCTAssertEqual(String(describing: fromFile), String(describing: defaults))
        var bad = ServiceConfiguration()
        XCTAssertThrowsError(try bad.apply(environment: ["SOAPD_PORT": "eighty"]))
        try bad.apply(environment: ["SOAPD_MAX_BODY_BYTES": "2048"])
        XCTAssertEqual(bad.maxBodyBytes, 2048)
    }

    /// Two servers given different databases (and nothing else) never share a job directory.
    func testDefaultPathsFollowTheDatabase() {
        var one = ServiceConfiguration()
        one.dataDirectory = "/srv/soapd"
        XCTAssertEqual(one.resolvedDatabasePath, "/srv/soapd/soapd.sqlite")
        XCTAssertEqual(one.jobSettings.directory, "/srv/soapd/jobs")
        one.database = "/srv/replica-1/soapd.sqlite"
        var two = one
        two.database = "/srv/replica-2/soapd.sqlite"
        XCTAssertEqual(one.jobSettings.directory, "/srv/replica-1/soapd.sqlite.jobs")
        XCTAssertEqual(two.jobSettings.directory, "/srv/replica-2/soapd.sqlite.jobs")
        var three = two
        three.database = "/srv/replica-2/other.sqlite"
        XCTAssertNotEqual(three.jobSettings.directory, two.jobSettings.directory)
        three.jobDirectory = "/scratch/jobs"
        XCTAssertEqual(three.jobSettings.directory, "/scratch/jobs")
    }
}
