import Foundation
import TestSupport
import XCTest

@testable import SoapHTTP

final class ServerLimitTests: XCTestCase {
    /// Sends `raw` on a fresh connection and expects `status` as problem+json, then a close.
    private func expectRejection(
        _ raw: [UInt8], status: Int, port: Int,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let client = try RawClient(port: port)
        try client.send(raw)
        let response = try client.readResponse()
        XCTAssertEqual(response.status, status, String(decoding: raw.prefix(80), as: UTF8.self), file: file, line: line)
        XCTAssertEqual(response.header("Content-Type"), "application/problem+json", file: file, line: line)
        XCTAssertEqual(response.header("Connection"), "close", file: file, line: line)
        XCTAssertTrue(response.text.hasPrefix("{\"type\":\"about:blank\",\"title\":"), response.text, file: file, line: line)
        XCTAssertTrue(response.text.contains("\"status\":\(status)"), response.text, file: file, line: line)
        XCTAssertNotNil(response.header("X-Request-Id"), file: file, line: line)
        XCTAssertTrue(client.isClosedByServer(), "connection left open", file: file, line: line)
    }

    private func expectRejection(
        _ raw: String, status: Int, port: Int,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        try expectRejection(Array(raw.utf8), status: status, port: port, file: file, line: line)
    }

    func testRequestLineTooLongIs414() throws {
        try withServer({ $0.maxRequestLineBytes = 100 }) { server in
            try expectRejection(request("GET", "/" + String(repeating: "a", count: 200)), status: 414, port: server.boundPort)
            // Exactly at the limit is fine.
            let target = "/" + String(repeating: "b", count: 100 - "GET  HTTP/1.1".count - 1)
            let client = try RawClient(port: server.boundPort)
            try client.send(request("GET", target))
            XCTAssertEqual(try client.readResponse().status, 200)
        }
    }

    func testTooManyHeadersIs431() throws {
        try withServer({ $0.maxHeaderCount = 10 }) { server in
            let headers = (0..<20).map { "X-H\($0): v" }
            try expectRejection(request("GET", "/", headers: headers), status: 431, port: server.boundPort)
        }
    }

    func testHeaderSectionTooLargeIs431() throws {
        try withServer({ $0.maxHeaderBytes = 1024 }) { server in
            let headers = ["X-Big: " + String(repeating: "x", count: 2000)]
            try expectRejection(request("GET", "/", headers: headers), status: 431, port: server.boundPort)
            // Many small ones adding up count too.
            let many = (0..<40).map { "X-H\($0): " + String(repeating: "y", count: 40) }
            try expectRejection(request("GET", "/", headers: many), status: 431, port: server.boundPort)
        }
    }

    func testBodyTooLargeByContentLengthIs413WithoutReadingIt() throws {
        try withServer({ $0.maxBodyBytes = 1000 }) { server in
            try expectRejection(
                "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n",
                status: 413, port: server.boundPort)
            try expectRejection(
                "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999999\r\n\r\n",
                status: 413, port: server.boundPort)
        }
    }

    func testBodyTooLargeByChunksIs413() throws {
        try withServer({ $0.maxBodyBytes = 1000 }) { server in
            let chunk = "200\r\n" + String(repeating: "z", count: 512) + "\r\n"
            try expectRejection(
                "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk + chunk + chunk,
                status: 413, port: server.boundPort)
            try expectRejection(
                "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n",
                status: 413, port: server.boundPort)
        }
    }

    func testGzipBombIs413() throws {
        try withServer({ $0.maxBodyBytes = 64 * 1024 }) { server in
            let bomb = Gzip.compress([UInt8](repeating: 0, count: 8 << 20), level: 9)
            XCTAssertLessThan(bomb.count, 64 * 1024)
            let head = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: \(bomb.count)\r\n\r\n"
            try expectRejection(Array(head.utf8) + bomb, status: 413, port: server.boundPort)
        }
    }

    func testMalformedRequestsAre400AndClosed() throws {
        let cases: [String] = [
            "GARBAGE\r\n\r\n",
            "GET /\r\nHost: x\r\n\r\n",
            "GET  / HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n",
            "G(T / HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /\u{7F} HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET relative HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET / HTTP/1.1\r\n\r\n",  // no Host
            "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n\r\n",  // obs-fold
            "GET / HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nName : v\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\n: empty\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\u{01}b\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n\r\nhello!",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n0\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3 x\r\nabc\r\n0\r\n\r\n",
            "GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /a%00b HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc",  // EOF inside body (see below)
        ]
        try withServer { server in
            for raw in cases.dropLast() {
                try expectRejection(raw, status: 400, port: server.boundPort)
            }
            // A body cut short by the client's EOF.
            let client = try RawClient(port: server.boundPort)
            try client.send(cases[cases.count - 1])
            client.shutdownWrite()
            XCTAssertEqual(try client.readResponse().status, 400)
        }
    }

    func testValidDuplicateContentLengthIsAccepted() throws {
        try withServer { server in
            let client = try RawClient(port: server.boundPort)
            try client.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello")
            XCTAssertEqual(try client.readResponse().text, "hello")
        }
    }

    func testUnsupportedVersionIs505() throws {
        try withServer { server in
            try expectRejection("GET / HTTP/2.0\r\nHost: x\r\n\r\n", status: 505, port: server.boundPort)
            try expectRejection("GET / HTTP/1.2\r\nHost: x\r\n\r\n", status: 505, port: server.boundPort)
            try expectRejection("GET / HTTP/1.x\r\nHost: x\r\n\r\n", status: 400, port: server.boundPort)
            try expectRejection("GET / http/1.1\r\nHost: x\r\n\r\n", status: 400, port: server.boundPort)
        }
    }

    func testUnsupportedCodingsAre501And415() throws {
        try withServer { server in
            try expectRejection(
                "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                status: 501, port: server.boundPort)
            try expectRejection(
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Encoding: br\r\nContent-Length: 3\r\n\r\nabc",
                status: 415, port: server.boundPort)
        }
    }
}
