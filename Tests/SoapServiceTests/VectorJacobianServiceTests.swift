import FastJSON
import Foundation
import SoapCore
import TestSupport
import XCTest

@testable import SoapService

/// POST /v1/features/vjp: equal to contracting /v1/features' Jacobian with the same G,
/// and 422s naming the field.
final class VectorJacobianServiceTests: XCTestCase {
    static var server: SoapdServer!
    static var client: TestHTTPClient!
    override class func setUp() { (server, client) = TestHTTPClient.startServer() }
    override class func tearDown() { server.http.shutdown(gracePeriod: 1) }

    func body(_ edit: (inout [String: Any]) -> Void) -> [String: Any] {
        var object =
            try! JSONSerialization.jsonObject(with: Data(RequestDecodingTests.validRequest.utf8)) as! [String: Any]
        var structures = object["structures"] as! [[String: Any]]
        structures.append([
            "numbers": [14, 14, 14], "positions": [[0, 0, 0], [1.2, 1.4, 0.9], [2.5, 0.3, 1.1]],
            "cell": [[5, 0.2, 0], [0.1, 5.2, 0], [0, 0.4, 4.9]], "pbc": [true, true, true],
        ])
        object["structures"] = structures
        object["gradients"] = nil
        edit(&object)
        return object
    }

    func post(_ path: String, _ object: [String: Any]) throws -> (Int, Any?) {
        let response = try Self.client.request(
            "POST", path, headers: ["Content-Type": "application/json"],
            body: Array(try JSONSerialization.data(withJSONObject: object)))
        return (response.status, try? JSONSerialization.jsonObject(with: Data(response.body)))
    }

    func dot(_ a: [Double], _ b: [Double]) -> Double {
        var sum = 0.0
        for k in a.indices { sum += a[k] * b[k] }
        return sum
    }

    func testEqualsContractedJacobianOverHTTP() throws {
        for per in ["atom", "structure"] {
            let (status, features) = try post(
                "/v1/features",
                body {
                    $0["per"] = per
                    $0["gradients"] = ["positions", "strain"]
                })
            XCTAssertEqual(status, 200)
            let f = features as! [String: Any]
            let values = f["values"] as! [[Double]]
            var k = 0
            let G: [[Double]] = values.map { row in
                row.map { _ in
                    k += 1
                    return sin(Double(k) * 0.7) + 0.1
                }
            }
            // Σ G·∂X by hand from the Jacobian.
            var positions: [[Double]] = [[Double]](repeating: [0, 0, 0], count: 5)
            let atomStart = [0, 2]
            let grads = f["gradients"] as! [String: Any]
            let labels = (grads["samples"] as! [String: Any])["values"] as! [[Int]]
            let gv = grads["values"] as! [[[Double]]]
            for (e, label) in labels.enumerated() {
                for d in 0..<3 {
                    positions[atomStart[label[1]] + label[2]][d] += dot(G[label[0]], gv[e][d])
                }
            }
            var strain = [[[Double]]](repeating: [[0, 0, 0], [0, 0, 0], [0, 0, 0]], count: 2)
            let sv = (f["strain_gradients"] as! [String: Any])["values"] as! [[[[Double]]]]
            for row in 0..<values.count {
                let s = per == "structure" ? row : (row < 2 ? 0 : 1)
                for a in 0..<3 {
                    for b in 0..<3 { strain[s][a][b] += dot(G[row], sv[row][a][b]) }
                }
            }
            let (vjpStatus, answer) = try post(
                "/v1/features/vjp",
                body {
                    $0["per"] = per
                    $0["gradients"] = ["positions", "strain"]
                    $0["output_gradient"] = G
                })
            XCTAssertEqual(vjpStatus, 200, "\(String(describing: answer))")
            let a = answer as! [String: Any]
            let p = a["positions"] as! [String: Any]
            XCTAssertEqual((p["samples"] as! [String: Any])["names"] as! [String], ["structure", "atom"])
            XCTAssertEqual((p["samples"] as! [String: Any])["values"] as! [[Int]], [[0, 0], [0, 1], [1, 0], [1, 1], [1, 2]])
            let pv = p["values"] as! [[Double]]
            let scale = positions.flatMap { $0 }.map(abs).max()!
            for k in 0..<5 { for d in 0..<3 { XCTAssertEqual(pv[k][d], positions[k][d], accuracy: 1e-10 * scale) } }
            let st = (a["strain"] as! [String: Any])["values"] as! [[[Double]]]
            let strainScale = strain.flatMap { $0.flatMap { $0 } }.map(abs).max()!
            for s in 0..<2 {
                for i in 0..<3 { for j in 0..<3 { XCTAssertEqual(st[s][i][j], strain[s][i][j], accuracy: 1e-10 * strainScale) } }
            }
        }
    }

    func testBadOutputGradient() throws {
        let features = try post("/v1/features", body { _ in }).1 as! [String: Any]
        let rows = (features["values"] as! [[Double]]).count
        let columns = (features["values"] as! [[Double]])[0].count
        let good = [[Double]](repeating: [Double](repeating: 0.5, count: columns), count: rows)
        XCTAssertEqual(try post("/v1/features/vjp", body { $0["output_gradient"] = good }).0, 200)
        func problem(_ edit: @escaping (inout [String: Any]) -> Void) throws -> (Int, String?) {
            let (status, answer) = try post("/v1/features/vjp", body(edit))
            return (status, (answer as? [String: Any])?["pointer"] as? String)
        }
        var r = try problem { $0["output_gradient"] = Array(good.dropLast()) }
        XCTAssertEqual(r.0, 422)
        XCTAssertEqual(r.1, "/output_gradient")
        var ragged = good
        ragged[1].removeLast()
        r = try problem { $0["output_gradient"] = ragged }
        XCTAssertEqual(r.0, 422)
        XCTAssertEqual(r.1, "/output_gradient/1")
        // Same count, other shape.
        r = try problem { $0["output_gradient"] = [good.flatMap { $0 }] }
        XCTAssertEqual(r.0, 422)
        XCTAssertEqual(r.1, "/output_gradient")
        let raw = String(
            decoding: try JSONSerialization.data(withJSONObject: body { $0["output_gradient"] = good }), as: UTF8.self)
        // JSON has no NaN or infinity; a literal beyond a double is malformed JSON (400); the
        // core refuses non-finite entries too (VectorJacobianProductTests).
        let overflow = raw.replacingOccurrences(of: "\"output_gradient\":[[0.5", with: "\"output_gradient\":[[1e999")
        let response = try Self.client.request(
            "POST", "/v1/features/vjp", headers: ["Content-Type": "application/json"], body: Array(overflow.utf8))
        XCTAssertEqual(response.status, 400, String(decoding: response.body, as: UTF8.self))
        r = try problem {
            $0["output_gradient"] = good
            $0["gradients"] = ["strain"]
            var s = $0["structures"] as! [[String: Any]]
            s[1]["pbc"] = [true, false, true]
            $0["structures"] = s
        }
        XCTAssertEqual(r.0, 422)
        XCTAssertEqual(r.1, "/structures/1/pbc")
        r = try problem {
            $0["output_gradient"] = good
            $0["gradients"] = []
        }
        XCTAssertEqual(r.0, 422)
        XCTAssertEqual(r.1, "/gradients")
        r = try problem { $0["gradients"] = ["positions"] }
        XCTAssertEqual(r.0, 422)
        XCTAssertEqual(r.1, "/output_gradient")
    }

    /// The npz upload: output_gradient.npy read as float64 rows × columns; a broken or
    /// incomplete archive is a 422.
    func testNpzUpload() throws {
        let features = try post("/v1/features", body { _ in }).1 as! [String: Any]
        let values = features["values"] as! [[Double]]
        let G = (0..<(values.count * values[0].count)).map { sin(Double($0)) }
        var archive = NumpyArchive()
        archive.add("output_gradient", shape: [values.count, values[0].count], .float64(G))
        let onlyGradient = archive.npz()
        var response = try Self.client.request(
            "POST", "/v1/features/vjp", headers: ["Content-Type": "application/x-npz"], body: onlyGradient)
        XCTAssertEqual(response.status, 422)
        XCTAssertTrue(String(decoding: response.body, as: UTF8.self).contains("request.json"))
        response = try Self.client.request(
            "POST", "/v1/features/vjp", headers: ["Content-Type": "application/x-npz"], body: Array("PK nonsense".utf8))
        XCTAssertEqual(response.status, 422)
        // Parsing the .npy alone: the same numbers as the JSON rows.
        let npy = try ZipReader.storedEntries(onlyGradient)["output_gradient.npy"]!
        let decoded = try NumpyArrayDecoding.matrix(npy, name: "output_gradient")
        XCTAssertEqual(decoded.columns, values[0].count)
        XCTAssertEqual(decoded.values, G)
        let service = FeatureService()
        let request = try service.parse(Array(try JSONSerialization.data(withJSONObject: body { _ in })))
        let viaNpy = try service.vectorJacobianProduct(request: request, outputGradient: decoded)
        let rows = (0..<values.count).map { r in Array(G[(r * values[0].count)..<((r + 1) * values[0].count)]) }
        let viaJSON = try service.vectorJacobianProduct(
            Array(try JSONSerialization.data(withJSONObject: body { $0["output_gradient"] = rows })))
        // The same numbers up to the order of the per-thread sums (the last bits may differ).
        let a = try JSONSerialization.jsonObject(with: Data(viaNpy)) as! [String: Any]
        let b = try JSONSerialization.jsonObject(with: Data(viaJSON)) as! [String: Any]
        let pa = ((a["positions"] as! [String: Any])["values"] as! [[Double]]).flatMap { $0 }
        let pb = ((b["positions"] as! [String: Any])["values"] as! [[Double]]).flatMap { $0 }
        let scale = pb.map(abs).max()!
        for k in pa.indices { XCTAssertEqual(pa[k], pb[k], accuracy: 1e-12 * scale) }
    }
}
