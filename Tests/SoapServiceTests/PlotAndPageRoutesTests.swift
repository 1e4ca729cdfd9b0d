import Foundation
import TestSupport
import XCTest

@testable import SoapService

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// The SVG plots and the web page over HTTP: well-formed XML with the expected panels,
/// series and legend entries at finite coordinates; the page's content and its token rules.
final class PlotAndPageRoutesTests: XCTestCase {
    static var server: SoapdServer!
    static var client: TestHTTPClient!

    override class func setUp() { (server, client) = TestHTTPClient.startServer() }
    override class func tearDown() { server.http.shutdown(gracePeriod: 1) }

    var client: TestHTTPClient { Self.client }
    let json = ["Content-Type": "application/json"]

    func body(_ object: [String: Any]) -> [UInt8] { Array(try! JSONSerialization.data(withJSONObject: object)) }
    func object(_ r: TestHTTPClient.Response) -> [String: Any] { (r.json as? [String: Any]) ?? [:] }

    /// Counts of the SVG's elements by class, and every number of its coordinates.
    final class SVGSummary: NSObject, XMLParserDelegate {
        var classes: [String: Int] = [:]
        var numbers: [Double] = []
        var root = ""
        func parser(
            _ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
            attributes: [String: String]
        ) {
            if root.isEmpty { root = name }
            if let c = attributes["class"] { classes[c, default: 0] += 1 }
            for key in ["x", "y", "x1", "y1", "x2", "y2", "width", "height"] {
                if let v = attributes[key] { numbers.append(Double(v) ?? .nan) }
            }
            if let d = attributes["d"] {
                for token in d.split(whereSeparator: { $0 == " " || $0 == "M" || $0 == "L" || $0 == "h" }) {
                    numbers.append(Double(token) ?? .nan)
                }
            }
        }
    }

    func parseSVG(_ r: TestHTTPClient.Response, file: StaticString = #filePath, line: UInt = #line) -> SVGSummary {
        XCTAssertEqual(r.status, 200, r.text, file: file, line: line)
        XCTAssertEqual(r.headers["content-type"], "image/svg+xml; charset=utf-8", file: file, line: line)
        let summary = SVGSummary()
        let parser = XMLParser(data: Data(r.body))
        parser.delegate = summary
        XCTAssertTrue(parser.parse(), "not well-formed: \(parser.parserError.map { "\($0)" } ?? "")", file: file, line: line)
        XCTAssertEqual(summary.root, "svg", file: file, line: line)
        XCTAssertFalse(summary.numbers.isEmpty, file: file, line: line)
        XCTAssertTrue(summary.numbers.allSatisfy(\.isFinite), "non-finite coordinates", file: file, line: line)
        return summary
    }

    func setUpDatasetAndBasis(centerSpecific: Bool = false) throws -> (String, String) {
        let r = try client.request(
            "POST", "/v1/datasets", headers: json,
            body: body(["descriptor": ["species": [1, 6, 7, 8], "hypers": BasisRoutesTests.hypers], "keep_structures": true]))
        let id = try XCTUnwrap(object(r)["id"] as? String)
        XCTAssertEqual(
            try client.request(
                "POST", "/v1/datasets/\(id)/structures", headers: json, body: body(["structures": BasisRoutesTests.molecules])
            ).status, 200)
        let fit = try client.request(
            "POST", "/v1/bases", headers: json,
            body: body(["dataset_id": id, "contraction": "mixed", "q_max": 3, "center_specific": centerSpecific]))
        XCTAssertTrue([200, 201].contains(fit.status), fit.text)
        return (id, try XCTUnwrap(object(fit)["id"] as? String))
    }

    func testBasisPlotHasOnePanelPerLAndCentre() throws {
        let (_, basisID) = try setUpDatasetAndBasis()
        let plain = parseSVG(try client.request("GET", "/v1/bases/\(basisID)/plot.svg"))
        XCTAssertEqual(plain.classes["panel"], 4)  // l = 0…3
        XCTAssertEqual(plain.classes["series"], 4 * 4 * 3)  // l × neighbour species × q
        XCTAssertEqual(plain.classes["legend-entry"], 3 + 4)  // q = 1…3, then the species' dashes
        let (_, specificID) = try setUpDatasetAndBasis(centerSpecific: true)
        let specific = parseSVG(try client.request("GET", "/v1/bases/\(specificID)/plot.svg"))
        XCTAssertEqual(specific.classes["panel"], 4 * 4)  // centre species × l
        XCTAssertEqual(try client.request("GET", "/v1/bases/nope/plot.svg").status, 404)
    }

    func testResidualVariancePlotHasThreeCurves() throws {
        let (datasetID, _) = try setUpDatasetAndBasis()
        let plot = parseSVG(try client.request("GET", "/v1/datasets/\(datasetID)/residual-variance.svg"))
        XCTAssertEqual(plot.classes["panel"], 1)
        XCTAssertEqual(plot.classes["series"], 3)
        XCTAssertEqual(plot.classes["legend-entry"], 3)
        XCTAssertGreaterThanOrEqual(plot.classes["tick"] ?? 0, 4)
        let specific = parseSVG(try client.request("GET", "/v1/datasets/\(datasetID)/residual-variance.svg?center_specific=true"))
        XCTAssertEqual(specific.classes["series"], 3)
        XCTAssertEqual(try client.request("GET", "/v1/datasets/nope/residual-variance.svg").status, 404)
    }

    func testPageShowsDatasetsBasesAndJobs() throws {
        let (datasetID, basisID) = try setUpDatasetAndBasis()
        let job = try client.request(
            "POST", "/v1/jobs", headers: json,
            body: body([
                "structures": BasisRoutesTests.molecules,
                "descriptor": ["type": "power_spectrum", "species": [1, 6, 7, 8], "hypers": BasisRoutesTests.hypers],
            ]))
        XCTAssertEqual(job.status, 202, job.text)
        let jobID = try XCTUnwrap(object(job)["id"] as? String)
        let page = try client.request("GET", "/")
        XCTAssertEqual(page.status, 200)
        XCTAssertEqual(page.headers["content-type"], "text/html; charset=utf-8")
        let html = page.text
        XCTAssertTrue(html.hasPrefix("<!DOCTYPE html>"))
        for needle in [
            datasetID, basisID, jobID, "/v1/datasets/\(datasetID)/residual-variance.svg", "/v1/bases/\(basisID)/plot.svg",
            "class=\"job-progress\"", "analysis_max_values", Application.version,
        ] {
            XCTAssertTrue(html.contains(needle), needle)
        }
        // Stored JSON is escaped: the centres' quotes never reach the page raw.
        XCTAssertTrue(html.contains("{&quot;1&quot;:"))
        XCTAssertFalse(html.contains("{\"1\":"))
        XCTAssertEqual(html.components(separatedBy: "<script>").count, 2)
    }

    func testPageTokenRules() throws {
        let (server, tokenClient) = TestHTTPClient.startServer {
            $0.readTokens = "reader-1"
            $0.writeTokens = "writer-1"
        }
        defer { server.http.shutdown(gracePeriod: 1) }
        XCTAssertEqual(try tokenClient.request("GET", "/").status, 401)
        XCTAssertEqual(try tokenClient.request("GET", "/?token=wrong").status, 401)
        let login = try tokenClient.request("GET", "/?token=reader-1")
        XCTAssertEqual(login.status, 303)
        XCTAssertEqual(login.headers["location"], "/")
        let cookie = try XCTUnwrap(login.headers["set-cookie"])
        XCTAssertTrue(cookie.hasPrefix("soapd_token=reader-1;"))
        XCTAssertTrue(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"))
        let withCookie = ["Cookie": "other=1; soapd_token=reader-1"]
        XCTAssertEqual(try tokenClient.request("GET", "/", headers: withCookie).status, 200)
        XCTAssertEqual(try tokenClient.request("GET", "/v1/datasets", headers: withCookie).status, 200)
        XCTAssertEqual(try tokenClient.request("GET", "/", headers: ["Authorization": "Bearer reader-1"]).status, 200)
        // A cookie never authorises a change of state, even holding a write token.
        let write = try tokenClient.request(
            "POST", "/v1/datasets", headers: json.merging(["Cookie": "soapd_token=writer-1"]) { $1 },
            body: body(["descriptor": ["species": [1], "hypers": BasisRoutesTests.hypers]]))
        XCTAssertEqual(write.status, 401)
        // Nor does it stand for the analysis POSTs (read routes, but not GET).
        let select = try tokenClient.request(
            "POST", "/v1/analysis/select", headers: json.merging(["Cookie": "soapd_token=reader-1"]) { $1 },
            body: body(["method": "fps", "n": 1, "values": [[1.0]]]))
        XCTAssertEqual(select.status, 401)
    }
}
