import Foundation
import TestSupport
import XCTest

@testable import SoapService

/// POST /v1/analysis/select and /v1/analysis/gfre over HTTP: scikit-matter's answers on the
/// stored fixtures, features computed by the service, and bad input.
final class AnalysisRoutesTests: XCTestCase {
    static var server: SoapdServer!
    static var client: TestHTTPClient!

    override class func setUp() { (server, client) = TestHTTPClient.startServer { $0.analysisMaxValues = 100_000 } }
    override class func tearDown() { server.http.shutdown(gracePeriod: 1) }

    var client: TestHTTPClient { Self.client }
    let json = ["Content-Type": "application/json"]

    func body(_ object: [String: Any]) -> [UInt8] { Array(try! JSONSerialization.data(withJSONObject: object)) }
    func object(_ r: TestHTTPClient.Response) -> [String: Any] { (r.json as? [String: Any]) ?? [:] }

    static func fixture(_ name: String) throws -> [String: Any] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/analysis/" + name)
        return try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }

    func post(_ path: String, _ payload: [String: Any]) throws -> TestHTTPClient.Response {
        try client.request("POST", path, headers: json, body: body(payload))
    }

    func testSelectionEqualsScikitMatterOverHTTP() throws {
        let fixture = try Self.fixture("selection_m2_anisotropic_25x30.json")
        let values = (fixture["matrix"] as! [String: Any])["values"] as! [[Double]]
        for (method, key) in [("fps", "fps"), ("cur", "cur")] {
            for entry in fixture[key] as! [[String: Any]] {
                let params = entry["params"] as! [String: Any]
                var payload: [String: Any] = [
                    "method": method, "axis": entry["axis"]!, "n": params["n_to_select"]!, "values": values,
                ]
                if method == "fps" { payload["initial"] = params["initialize"]! }
                let r = try post("/v1/analysis/select", payload)
                XCTAssertEqual(r.status, 200, r.text)
                XCTAssertEqual(object(r)["indices"] as? [Int], entry["selected_idx"] as? [Int], "\(method) \(params)")
                if method == "fps" {
                    let h = try XCTUnwrap(object(r)["hausdorff"] as? [Any])
                    XCTAssertTrue(h[0] is NSNull)
                    let expected = entry["hausdorff_at_select"] as! [Any]
                    for k in 1..<h.count where !(h[k] is NSNull) {
                        XCTAssertEqual(h[k] as! Double, expected[k] as! Double, accuracy: 1e-9)
                    }
                } else {
                    let s = try XCTUnwrap(object(r)["score"] as? [Double])
                    for (a, b) in zip(s, entry["score_at_select"] as! [Double]) { XCTAssertEqual(a, b, accuracy: 1e-9) }
                }
            }
        }
    }

    func testSelectionOnComputedFeaturesAndBadInput() throws {
        let features: [String: Any] = [
            "structures": BasisRoutesTests.molecules,
            "descriptor": ["type": "power_spectrum", "species": [1, 6, 7, 8], "hypers": BasisRoutesTests.hypers],
            "per": "atom",
        ]
        let fps = try post("/v1/analysis/select", ["method": "fps", "axis": "samples", "n": 5, "features": features])
        XCTAssertEqual(fps.status, 200, fps.text)
        let picked = try XCTUnwrap(object(fps)["indices"] as? [Int])
        XCTAssertEqual(picked.count, 5)
        XCTAssertEqual(picked[0], 0)
        XCTAssertEqual(Set(picked).count, 5)
        let cur = try post("/v1/analysis/select", ["method": "cur", "axis": "features", "n": 10, "features": features])
        XCTAssertEqual(cur.status, 200, cur.text)
        XCTAssertEqual((object(cur)["indices"] as? [Int])?.count, 10)
        // Bad input: 422s naming the field.
        let cases: [([String: Any], String)] = [
            (["method": "fps", "n": 34, "features": features], "/n"),  // 33 atoms
            (["method": "fps", "n": 3, "values": [[1.0, 2.0]]], "/n"),
            (["method": "cur", "axis": "features", "n": 3, "values": [[1.0, 2.0], [3.0, 4.0]]], "/n"),
            (["method": "fps", "n": 1, "values": [] as [Any]], "/values"),
            (["method": "fps", "n": 1, "values": [[] as [Any]]], "/values/0"),
            (["method": "fps", "n": 1, "values": [[1.0, 2.0], [3.0]]], "/values/1"),
            (["method": "fps", "n": 1, "values": [[1.0, "x"]]], "/values/0/1"),
            (["method": "fps", "n": 1, "values": [[1.0]], "initial": 4], "/initial"),
            (["method": "cur", "n": 1, "values": [[1.0]], "initial": 0], "/initial"),
            (["method": "pca", "n": 1, "values": [[1.0]]], "/method"),
            (["method": "fps", "axis": "atoms", "n": 1, "values": [[1.0]]], "/axis"),
            (["method": "fps", "n": 0, "values": [[1.0]]], "/n"),
            (
                ["method": "fps", "n": 1, "features": ["descriptor": ["type": "nope"], "structures": [] as [Any]]],
                "/features/descriptor/type"
            ),
        ]
        for (payload, pointer) in cases {
            let r = try post("/v1/analysis/select", payload)
            XCTAssertEqual(r.status, 422, "\(payload): \(r.text)")
            XCTAssertEqual(object(r)["pointer"] as? String, pointer, "\(payload): \(r.text)")
        }
        // Non-finite numbers cannot be written in JSON; an overflowing literal is refused.
        let overflow = try client.request(
            "POST", "/v1/analysis/select", headers: json,
            body: Array(#"{"method":"fps","n":1,"values":[[1e999]]}"#.utf8))
        XCTAssertTrue([400, 422].contains(overflow.status), overflow.text)
        // Beyond analysis_max_values (1e5 here): 413.
        let wide = try client.request(
            "POST", "/v1/analysis/select", headers: json,
            body: Array(
                ("{\"method\":\"fps\",\"n\":1,\"values\":[" + Array(repeating: "[0]", count: 100_001).joined(separator: ",")
                    + "]}").utf8))
        XCTAssertEqual(wide.status, 413, wide.text)
    }

    /// Rattled copies of the conformance molecules: more environments for the measures.
    static func rattled(_ copies: Int, amplitude: Double) -> [[String: Any]] {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func uniform() -> Double {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(state >> 11) / Double(1 << 53) * 2 - 1
        }
        var out: [[String: Any]] = []
        for _ in 0..<copies {
            for case let s as [String: Any] in BasisRoutesTests.molecules {
                var copy = s
                copy["positions"] = (s["positions"] as! [[Double]]).map { p in p.map { $0 + amplitude * uniform() } }
                out.append(copy)
            }
        }
        return out
    }

    static func hypers(maxRadial: Int) -> [String: Any] {
        [
            "cutoff": ["radius": 3.5, "smoothing": ["type": "ShiftedCosine", "width": 0.5]],
            "density": ["type": "Gaussian", "width": 0.4],
            "basis": ["type": "TensorProduct", "max_angular": 3, "radial": ["type": "Gto", "max_radial": maxRadial]],
        ]
    }

    /// The thesis' claim on our molecules, at equal numbers of channels: a mixed basis of
    /// q = 8 fitted on a dataset of 16 channels (4 species × 4 GTOs) reconstructs that
    /// 16-channel GTO power spectrum better than the 8-channel one (4 species × 2 GTOs).
    func testFittedMixedBasisReconstructsTheLargeSpectrumBetterThanFewerGTOs() throws {
        // Its own server: the spectra are above this suite's analysis_max_values.
        let (server, client) = TestHTTPClient.startServer()
        defer { server.http.shutdown(gracePeriod: 1) }
        func post(_ path: String, _ payload: [String: Any]) throws -> TestHTTPClient.Response {
            try client.request("POST", path, headers: json, body: body(payload))
        }
        let structures = Self.rattled(8, amplitude: 0.15)
        let species = [1, 6, 7, 8]
        let dataset = try post(
            "/v1/datasets", ["descriptor": ["species": species, "hypers": Self.hypers(maxRadial: 3)], "keep_structures": true])
        XCTAssertEqual(dataset.status, 201, dataset.text)
        let datasetID = try XCTUnwrap(object(dataset)["id"] as? String)
        XCTAssertEqual(try post("/v1/datasets/\(datasetID)/structures", ["structures": structures]).status, 200)
        let fit = try post("/v1/bases", ["dataset_id": datasetID, "method": "pca", "contraction": "mixed", "q_max": 8])
        XCTAssertEqual(fit.status, 201, fit.text)
        let basisID = try XCTUnwrap(object(fit)["id"] as? String)
        let target: [String: Any] = ["type": "power_spectrum", "species": species, "hypers": Self.hypers(maxRadial: 3)]
        let optimal = try post(
            "/v1/analysis/gfre",
            ["a": ["type": "power_spectrum", "basis_id": basisID], "b": target, "dataset_id": datasetID, "per": "atom"])
        XCTAssertEqual(optimal.status, 200, optimal.text)
        let primitive = try post(
            "/v1/analysis/gfre",
            [
                "a": ["type": "power_spectrum", "species": species, "hypers": Self.hypers(maxRadial: 1)], "b": target,
                "dataset_id": datasetID, "per": "atom",
            ])
        XCTAssertEqual(primitive.status, 200, primitive.text)
        let mixed = try XCTUnwrap(object(optimal)["gfre"] as? Double)
        let gto = try XCTUnwrap(object(primitive)["gfre"] as? Double)
        print("GFRE of the 16-channel GTO power spectrum: from the mixed q = 8 basis \(mixed), from the 8-channel GTO one \(gto)")
        XCTAssertLessThan(mixed, gto)
        XCTAssertEqual(object(optimal)["samples"] as? Int, 8 * 33)
        for key in ["gfrd", "gfre_reverse", "gfrd_reverse"] {
            let v = try XCTUnwrap(object(optimal)[key] as? Double)
            XCTAssertTrue(v.isFinite && v >= 0, key)
        }
    }

    /// The analysis's working copies count against memory_budget_bytes like a feature output.
    func testWorkingMemoryIsHeldInTheMemoryBudget() throws {
        let (server, small) = TestHTTPClient.startServer { $0.memoryBudgetBytes = 4096 }
        defer { server.http.shutdown(gracePeriod: 1) }
        let values = (0..<20).map { i in (0..<20).map { j in Double((i * 7 + j * 3) % 11) } }
        let payload = body(["method": "fps", "axis": "samples", "n": 3, "values": values])
        let refused = try small.request("POST", "/v1/analysis/select", headers: json, body: payload)
        XCTAssertEqual(refused.status, 413, refused.text)
        XCTAssertTrue(refused.text.contains("working memory"), refused.text)
        let fits = try client.request("POST", "/v1/analysis/select", headers: json, body: payload)
        XCTAssertEqual(fits.status, 200, fits.text)
    }

    func testGFREBadInput() throws {
        let species = [1, 6, 7, 8]
        let d: [String: Any] = ["type": "power_spectrum", "species": species, "hypers": Self.hypers(maxRadial: 3)]
        // A dataset that keeps only statistics.
        let plain = try post("/v1/datasets", ["descriptor": ["species": species, "hypers": Self.hypers(maxRadial: 3)]])
        let plainID = try XCTUnwrap(object(plain)["id"] as? String)
        let cases: [([String: Any], String)] = [
            (["a": d, "b": d, "dataset_id": plainID], "/dataset_id"),
            (["a": d, "b": d, "dataset_id": "nope"], "/dataset_id"),
            (["a": d, "b": d, "structures": Array(BasisRoutesTests.molecules.prefix(3))], "/structures"),  // 3 rows
            (["a": d, "b": ["type": "nope"], "structures": BasisRoutesTests.molecules], "/b/type"),
            (["a": d, "structures": BasisRoutesTests.molecules], "/b"),
            (["a": d, "b": d, "structures": BasisRoutesTests.molecules, "per": "bond"], "/per"),
        ]
        for (payload, pointer) in cases {
            let r = try post("/v1/analysis/gfre", payload)
            XCTAssertEqual(r.status, 422, "\(pointer): \(r.text)")
            XCTAssertEqual(object(r)["pointer"] as? String, pointer, r.text)
        }
    }
}
