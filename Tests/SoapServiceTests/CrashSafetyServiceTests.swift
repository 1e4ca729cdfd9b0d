import Foundation
import SoapStorage
import TestSupport
import XCTest

@testable import SoapService

/// A full disk gives a clear 507, the service stays up, and it recovers once space returns.
/// Needs root to mount a small tmpfs (CI runs as root); skipped otherwise.
final class DiskFullTests: XCTestCase, JSONExchange {
    func testFullDiskIs507AndRecovers() throws {
        let directory = try TemporaryDirectory.make("soapd-full")
        defer { TemporaryDirectory.remove(directory) }
        guard getuid() == 0, Self.shell("mount -t tmpfs -o size=4m tmpfs \(directory)") == 0 else {
            throw XCTSkip("mounting a small tmpfs needs root")
        }
        defer { _ = Self.shell("umount -l \(directory)") }
        let (server, client) = TestHTTPClient.startServer { $0.dataDirectory = directory }
        defer { server.http.shutdown(gracePeriod: 1) }
        let json = ["Content-Type": "application/json"]
        let created = try client.request(
            "POST", "/v1/datasets", headers: json,
            body: body(["descriptor": ["species": [1, 6, 7, 8], "hypers": BasisRoutesTests.hypers]]))
        XCTAssertEqual(created.status, 201, created.text)
        let id = try XCTUnwrap((created.json as? [String: Any])?["id"] as? String)

        // Fill the file system.
        let filler = directory + "/filler"
        let fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let block = [UInt8](repeating: 7, count: 64 << 10)
        while block.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) > 0 {}
        close(fd)

        let batch = body(["structures": BasisRoutesTests.molecules])
        let full = try client.request("POST", "/v1/datasets/\(id)/structures", headers: json, body: batch)
        XCTAssertEqual(full.status, 507, full.text)
        XCTAssertEqual(full.headers["content-type"], "application/problem+json")
        let job = try client.request(
            "POST", "/v1/jobs", headers: json,
            body: body(["structures": BasisRoutesTests.molecules, "descriptor": JobRoutesTests.descriptor]))
        XCTAssertEqual(job.status, 507, job.text)
        XCTAssertEqual(try client.request("GET", "/health").status, 200, "still serving")
        XCTAssertEqual(
            try client.request(
                "POST", "/v1/features", headers: json,
                body: body(["structures": BasisRoutesTests.molecules, "descriptor": JobRoutesTests.descriptor])
            ).status,
            200, "featurizing needs no disk")

        // Space returns: the same batch is accepted, once.
        unlink(filler)
        let retried = try client.request("POST", "/v1/datasets/\(id)/structures", headers: json, body: batch)
        XCTAssertEqual(retried.status, 200, retried.text)
        XCTAssertEqual((try client.request("GET", "/v1/datasets/\(id)").json as? [String: Any])?["structures"] as? Int, 5)
        XCTAssertEqual(try server.database.query("PRAGMA integrity_check").first?.string("integrity_check"), "ok")
    }

    static func shell(_ command: String) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", command + " 2>/dev/null"]
        do { try p.run() } catch { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }
}
