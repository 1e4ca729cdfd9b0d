import Foundation
import TestSupport
import XCTest

@testable import SoapService

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 16 on in-process replicas (loopback): bases travel by content id (GET/PUT of the
/// basis document, fetched from peers when missing), statistics of shards merge into one
/// dataset, /ready.
final class ScaleOutTests: XCTestCase {
    let json = ["Content-Type": "application/json"]
    let basisType = ["Accept": "application/x-soapd-basis"]

    func body(_ object: [String: Any]) -> [UInt8] { Array(try! JSONSerialization.data(withJSONObject: object)) }
    func object(_ r: TestHTTPClient.Response) -> [String: Any] { (r.json as? [String: Any]) ?? [:] }

    static let hypers: [String: Any] = [
        "cutoff": ["radius": 3.5, "smoothing": ["type": "ShiftedCosine", "width": 0.5]],
        "density": ["type": "Gaussian", "width": 0.4],
        "basis": ["type": "TensorProduct", "max_angular": 3, "radial": ["type": "Gto", "max_radial": 5]],
    ]
    static let species = [1, 6, 7, 8]

    func createDataset(_ client: TestHTTPClient, hypers: [String: Any] = ScaleOutTests.hypers) throws -> String {
        let r = try client.request(
            "POST", "/v1/datasets", headers: json,
            body: body(["descriptor": ["species": Self.species, "hypers": hypers]]))
        XCTAssertEqual(r.status, 201, r.text)
        return try XCTUnwrap(object(r)["id"] as? String)
    }

    func add(_ client: TestHTTPClient, _ dataset: String, _ structures: [Any], targets: [Double]) throws {
        let r = try client.request(
            "POST", "/v1/datasets/\(dataset)/structures", headers: json,
            body: body(["structures": structures, "targets": targets]))
        XCTAssertEqual(r.status, 200, r.text)
    }

    func fit(_ client: TestHTTPClient, _ dataset: String, method: String = "pca") throws -> String {
        let r = try client.request(
            "POST", "/v1/bases", headers: json,
            body: body(["dataset_id": dataset, "method": method, "contraction": "mixed", "q_max": 4]))
        XCTAssertTrue([200, 201].contains(r.status), r.text)
        return try XCTUnwrap(object(r)["id"] as? String)
    }

    func features(_ client: TestHTTPClient, basis: String) throws -> (Int, [[Double]]) {
        let r = try client.request(
            "POST", "/v1/features", headers: json,
            body: body([
                "structures": BasisRoutesTests.molecules, "descriptor": ["type": "power_spectrum", "basis_id": basis],
            ]))
        return (r.status, (object(r)["values"] as? [[Double]]) ?? [])
    }

    static let targets = [-40.5, -76.4, -56.6, -155.0, -232.2]

    func testBasisTravelsByIDAndPeersFetchIt() throws {
        let (s1, r1) = TestHTTPClient.startServer()
        let (s2, r2) = TestHTTPClient.startServer()
        // Replica 3 asks replica 2 (which lacks the basis) first, then replica 1.
        let (s3, r3) = TestHTTPClient.startServer {
            $0.peers = "http://127.0.0.1:\(s2.http.boundPort), http://127.0.0.1:\(s1.http.boundPort)"
            $0.peerTimeoutSeconds = 10
        }
        defer { for s in [s1, s2, s3] { s.http.shutdown(gracePeriod: 1) } }

        let dataset = try createDataset(r1)
        try add(r1, dataset, BasisRoutesTests.molecules, targets: Self.targets)
        let basis = try fit(r1, dataset, method: "pcovr")
        let (status1, values1) = try features(r1, basis: basis)
        XCTAssertEqual(status1, 200)

        // The document: GET with Accept; PUT elsewhere (201, then 200: idempotent).
        let doc = try r1.request("GET", "/v1/bases/\(basis)", headers: basisType)
        XCTAssertEqual(doc.status, 200, doc.text)
        XCTAssertEqual(doc.headers["content-type"], "application/x-soapd-basis")
        let put = ["Content-Type": "application/x-soapd-basis"]
        let bad = { (bytes: [UInt8], id: String) throws -> TestHTTPClient.Response in
            try r2.request("PUT", "/v1/bases/\(id)", headers: put, body: bytes)
        }
        // Bad documents: nothing stored.
        var flipped = doc.body
        flipped[flipped.count - 3] ^= 0x40
        XCTAssertEqual(try bad(Array(doc.body.dropLast(100)), basis).status, 422)
        var version2 = doc.body
        version2[8] = 2
        let refused = try bad(version2, basis)
        XCTAssertEqual(refused.status, 422)
        XCTAssertTrue(refused.text.contains("format version 2"), refused.text)
        var identityFlip = doc.body
        // The identity starts after the header: its first byte is the hypers' "{".
        let headerLength = Int(doc.body[12]) | Int(doc.body[13]) << 8 | Int(doc.body[14]) << 16
        identityFlip[16 + headerLength + 1] ^= 0x01
        let mismatch = try bad(identityFlip, basis)
        XCTAssertEqual(mismatch.status, 422)
        XCTAssertTrue(mismatch.text.contains("hash"), mismatch.text)
        let otherID = String(repeating: "ab", count: 32)
        XCTAssertEqual(try bad(doc.body, otherID).status, 422)
        XCTAssertEqual(try r2.request("PUT", "/v1/bases/\(basis)", headers: json, body: doc.body).status, 415)
        XCTAssertEqual(try r2.request("GET", "/v1/bases/\(basis)").status, 404)

        // Replica 3 has never seen it: features fetch it from the peers (2 says 404, 1 sends it).
        let (status3, values3) = try features(r3, basis: basis)
        XCTAssertEqual(status3, 200)
        XCTAssertEqual(values3, values1)
        // Replica 3 stored it: the same identity and payload (its copy names no local dataset).
        let copy = try r3.request("GET", "/v1/bases/\(basis)", headers: basisType)
        let tail = doc.body.count - 16 - headerLength
        XCTAssertTrue(copy.body.suffix(tail).elementsEqual(doc.body.suffix(tail)))

        XCTAssertEqual(try bad(doc.body, basis).status, 201)
        XCTAssertEqual(try bad(doc.body, basis).status, 200)
        XCTAssertEqual(try features(r2, basis: basis).1, values1)

        // Found nowhere: 404 (and a peer's request does not make the peer ask in turn).
        XCTAssertEqual(try features(r3, basis: otherID).0, 404)
        XCTAssertEqual(try r3.request("GET", "/v1/bases/\(otherID)").status, 404)
        XCTAssertEqual(
            try r3.request("GET", "/v1/bases/\(otherID)", headers: basisType.merging(["Soapd-Peer-Request": "1"]) { $1 })
                .status, 404)
    }

    /// A listener that answers every connection with `reply` (nil: reads and never answers).
    final class FakePeer: @unchecked Sendable {
        let fd: Int32
        let port: Int
        init(reply: [UInt8]?) {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            self.fd = fd
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            listen(fd, 16)
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            self.port = Int(UInt16(bigEndian: address.sin_port))
            let listener = fd
            Thread.detachNewThread {
                while true {
                    let c = accept(listener, nil, nil)
                    if c < 0 { return }
                    var buffer = [UInt8](repeating: 0, count: 4096)
                    _ = buffer.withUnsafeMutableBytes { recv(c, $0.baseAddress, $0.count, 0) }
                    if let reply {
                        _ = reply.withUnsafeBytes { send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                        close(c)
                    }
                }
            }
        }
        func stop() {
            shutdown(fd, Int32(SHUT_RDWR))
            close(fd)
        }
    }

    func testGarbageOrHangingPeerIsAClearErrorAndStoresNothing() throws {
        let id = String(repeating: "cd", count: 32)
        let garbage = FakePeer(reply: Array("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nnot a basis".utf8))
        let notHTTP = FakePeer(reply: Array("\u{1}\u{2}garbage garbage\r\n\r\n".utf8))
        let hanging = FakePeer(reply: nil)
        defer { for p in [garbage, notHTTP, hanging] { p.stop() } }
        let (server, client) = TestHTTPClient.startServer {
            $0.peers = [garbage, notHTTP, hanging].map { "http://127.0.0.1:\($0.port)" }.joined(separator: ",")
            $0.peerTimeoutSeconds = 0.5
            $0.peerRetries = 1
        }
        defer { server.http.shutdown(gracePeriod: 1) }
        let start = Date()
        let (status, _) = try features(client, basis: id)
        XCTAssertEqual(status, 502)
        // Two attempts at the hanging peer, 0.5 s each; the garbage document is not retried.
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
        let r = try client.request("GET", "/v1/bases/\(id)")
        XCTAssertEqual(r.status, 502)
        XCTAssertTrue(r.text.contains("not a soapd basis document"), r.text)
        XCTAssertTrue(r.text.contains("no complete answer within the peer timeout"), r.text)
        XCTAssertEqual(
            try client.request("GET", "/v1/bases/\(id)", headers: ["Soapd-Peer-Request": "1"]).status, 404,
            "nothing stored")
    }

    func statistics(_ client: TestHTTPClient, _ dataset: String) throws -> [String: Any] {
        let r = try client.request("GET", "/v1/datasets/\(dataset)/statistics")
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(r.headers["content-type"], "application/x-soapd-statistics")
        return object(r)
    }

    func assertClose(_ a: [Double], _ b: [Double], relative: Double, _ what: String) {
        XCTAssertEqual(a.count, b.count, what)
        let scale = max(a.map(abs).max() ?? 0, 1e-300)
        for (x, y) in zip(a, b) where abs(x - y) > relative * max(abs(x), abs(y), scale * 1e-6) {
            XCTFail("\(what): \(x) vs \(y)")
            return
        }
    }

    func testShardedStatisticsMergeEqualOneReplica() throws {
        let servers = (0..<3).map { _ in TestHTTPClient.startServer() }
        let (single, one) = TestHTTPClient.startServer()
        defer { for s in servers.map(\.0) + [single] { s.http.shutdown(gracePeriod: 1) } }
        let molecules = BasisRoutesTests.molecules
        let all = try createDataset(one)
        try add(one, all, molecules, targets: Self.targets)
        // Shards: molecules {0, 1}, {2, 3}, {4} on three replicas.
        let shards = [[0, 1], [2, 3], [4]]
        var documents: [[UInt8]] = []
        for (k, (_, client)) in servers.enumerated() {
            let d = try createDataset(client)
            try add(client, d, shards[k].map { molecules[$0] }, targets: shards[k].map { Self.targets[$0] })
            documents.append(try client.request("GET", "/v1/datasets/\(d)/statistics").body)
        }
        // Merged into a fresh dataset on replica 1; a retried merge (same key) counts once.
        let (_, first) = servers[0]
        let merged = try createDataset(first)
        let type = ["Content-Type": "application/x-soapd-statistics"]
        for (k, document) in documents.enumerated() {
            let r = try first.request(
                "POST", "/v1/datasets/\(merged)/statistics", headers: type.merging(["Idempotency-Key": "shard-\(k)"]) { $1 },
                body: document)
            XCTAssertEqual(r.status, 200, r.text)
        }
        let retry = try first.request(
            "POST", "/v1/datasets/\(merged)/statistics", headers: type.merging(["Idempotency-Key": "shard-1"]) { $1 },
            body: documents[1])
        XCTAssertEqual(object(retry)["duplicate"] as? Bool, true)
        XCTAssertEqual(object(retry)["structures"] as? Int, 5)

        let a = try statistics(first, merged)
        let b = try statistics(one, all)
        for key in ["structures", "neighbors", "centers"] {
            XCTAssertEqual("\(a[key]!)", "\(b[key]!)", key)
        }
        assertClose(a["gram"] as! [Double], b["gram"] as! [Double], relative: 1e-12, "gram")
        let ta = a["targets"] as! [String: Any]
        let tb = b["targets"] as! [String: Any]
        XCTAssertEqual(ta["structures"] as? Int, 5)
        assertClose([ta["squares"] as! Double], [tb["squares"] as! Double], relative: 1e-12, "yᵀy")
        assertClose(ta["cross"] as! [Double], tb["cross"] as! [Double], relative: 1e-12, "Xᵀy")
        assertClose(ta["gram"] as! [Double], tb["gram"] as! [Double], relative: 1e-12, "PCovR XᵀX")

        // Bases fitted from either featurize alike (PCA and PCovR).
        for method in ["pca", "pcovr"] {
            let (_, va) = try features(first, basis: try fit(first, merged, method: method))
            let (_, vb) = try features(one, basis: try fit(one, all, method: method))
            assertClose(va.flatMap { $0 }, vb.flatMap { $0 }, relative: 1e-10, "\(method) features")
        }

        // Another descriptor: 422, nothing merged.
        var hypers = Self.hypers
        hypers["density"] = ["type": "Gaussian", "width": 0.5]
        let other = try createDataset(first, hypers: hypers)
        let refused = try first.request("POST", "/v1/datasets/\(other)/statistics", headers: type, body: documents[0])
        XCTAssertEqual(refused.status, 422, refused.text)
        XCTAssertEqual(object(refused)["pointer"] as? String, "/descriptor/hypers")
        XCTAssertEqual(object(try first.request("GET", "/v1/datasets/\(other)"))["structures"] as? Int, 0)
        XCTAssertEqual(
            try first.request("POST", "/v1/datasets/\(merged)/statistics", headers: type, body: Array("{}".utf8)).status, 422)
    }

    func testReadyAnswers503WhileDraining() throws {
        let (server, client) = TestHTTPClient.startServer()
        defer { server.http.shutdown(gracePeriod: 1) }
        XCTAssertEqual(try client.request("GET", "/ready").status, 200)
        server.application.draining.store(true, ordering: .relaxed)
        let r = try client.request("GET", "/ready")
        XCTAssertEqual(r.status, 503)
        XCTAssertEqual(r.headers["retry-after"], "1")
        XCTAssertEqual(try client.request("GET", "/health").status, 200)
    }

    func testPeerURLs() throws {
        XCTAssertEqual(
            PeerSettings.urls(" http://a:8080, ,http://b.soapd.svc:9000/"), ["http://a:8080", "http://b.soapd.svc:9000/"])
        XCTAssertEqual(try PeerClient.parse("http://b.soapd.svc:9000/").1, 9000)
        XCTAssertThrowsError(try PeerClient.parse("https://a"))
        XCTAssertThrowsError(try PeerClient.parse("http://a:0"))
        var settings = PeerSettings()
        settings.urls = PeerSettings.urls("http://soapd-0.soapd-peers:8080,http://soapd-1.soapd-peers:8080,http://127.0.0.1:1")
        XCTAssertEqual(
            PeerDirectory(settings: settings, hostName: "soapd-1").settings.urls,
            ["http://soapd-0.soapd-peers:8080", "http://127.0.0.1:1"])
    }
}
