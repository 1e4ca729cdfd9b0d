import Foundation
import Glibc
import TestSupport
import XCTest

@testable import SoapHTTP

final class ServerProtocolTests: XCTestCase {
    func testKeepAliveServesTwoRequestsOnOneConnection() throws {
        try withServer { server in
            let client = try RawClient(port: server.boundPort)
            try client.send(request("GET", "/a"))
            let first = try client.readResponse()
            XCTAssertEqual(first.status, 200)
            XCTAssertEqual(first.text, "hello /a")
            XCTAssertEqual(first.header("Content-Length"), "8")
            XCTAssertNotNil(first.header("Date"))
            XCTAssertNil(first.header("Connection"))
            try client.send(request("GET", "/b"))
            let second = try client.readResponse()
            XCTAssertEqual(second.text, "hello /b")
            XCTAssertEqual(server.stats.openConnections, 1)
        }
    }

    func testPipelinedRequestsAreAnsweredInOrder() throws {
        try withServer { server in
            let client = try RawClient(port: server.boundPort)
            // The slow one first: a server answering out of order would put it last.
            try client.send(request("GET", "/sleep?ms=200") + request("GET", "/one") + request("POST", "/echo", body: "three"))
            XCTAssertEqual(try client.readResponse().text, "slept")
            XCTAssertEqual(try client.readResponse().text, "hello /one")
            let third = try client.readResponse()
            XCTAssertEqual(third.text, "three")
            XCTAssertEqual(third.header("X-Method"), "POST")
        }
    }

    func testChunkedRequestBodyWithExtensionsAndTrailers() throws {
        try withServer { server in
            let client = try RawClient(port: server.boundPort)
            try client.send(
                "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + "5;name=value\r\nhello\r\n6 ; quoted=\"a b\"\r\n world\r\n0\r\nX-Checksum: abc\r\n\r\n")
            let response = try client.readResponse()
            XCTAssertEqual(response.status, 200)
            XCTAssertEqual(response.text, "hello world")
            // The connection is still usable afterwards.
            try client.send(request("GET", "/after"))
            XCTAssertEqual(try client.readResponse().text, "hello /after")
        }
    }

    func testGzipRequestBodyIsInflated() throws {
        try withServer { server in
            let payload = Array(String(repeating: "{\"x\": 1.0}", count: 500).utf8)
            let compressed = Gzip.compress(payload)
            let client = try RawClient(port: server.boundPort)
            try client.send(
                Array(
                    "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: \(compressed.count)\r\n\r\n".utf8
                ) + compressed)
            let response = try client.readResponse()
            XCTAssertEqual(response.status, 200)
            XCTAssertEqual(response.body, payload)
        }
    }

    func testLargeBodiesInBothDirections() throws {
        try withServer { server in
            let payload = (0..<(6 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) }
            let client = try RawClient(port: server.boundPort)
            try client.send(Array("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: \(payload.count)\r\n\r\n".utf8) + payload)
            let response = try client.readResponse()
            XCTAssertEqual(response.status, 200)
            XCTAssertEqual(response.body.count, payload.count)
            XCTAssertTrue(response.body == payload)
            // And gzipped on the way back when asked.
            try client.send(
                Array("POST /echo HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nContent-Length: \(payload.count)\r\n\r\n".utf8)
                    + payload)
            let gzipped = try client.readResponse()
            XCTAssertEqual(gzipped.header("Content-Encoding"), "gzip")
            XCTAssertTrue(try Gzip.decompress(gzipped.body, limit: 8 << 20) == payload)
        }
    }

    func testCorruptGzipRequestBodyIs400() throws {
        try withServer { server in
            let client = try RawClient(port: server.boundPort)
            try client.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: 5\r\n\r\nhello")
            let response = try client.readResponse()
            XCTAssertEqual(response.status, 400)
            XCTAssertEqual(response.header("Connection"), "close")
            XCTAssertTrue(client.isClosedByServer())
        }
    }

    func testResponsesAreGzippedOnlyWhenAccepted() throws {
        try withServer { server in
            let client = try RawClient(port: server.boundPort)
            try client.send(request("GET", "/big"))
            let plain = try client.readResponse()
            XCTAssertNil(plain.header("Content-Encoding"))
            XCTAssertEqual(plain.header("Vary"), "Accept-Encoding")
            XCTAssertGreaterThan(plain.body.count, 1024)

            try client.send(request("GET", "/big", headers: ["Accept-Encoding: br;q=1.0, gzip;q=0.5"]))
            let gzipped = try client.readResponse()
            XCTAssertEqual(gzipped.header("Content-Encoding"), "gzip")
            XCTAssertEqual(gzipped.header("Vary"), "Accept-Encoding")
            XCTAssertEqual(gzipped.header("Content-Length"), String(gzipped.body.count))
            XCTAssertLessThan(gzipped.body.count, plain.body.count)
            XCTAssertEqual(try Gzip.decompress(gzipped.body, limit: 1 << 20), plain.body)

            try client.send(request("GET", "/big", headers: ["Accept-Encoding: gzip;q=0, *"]))
            XCTAssertNil(try client.readResponse().header("Content-Encoding"))

            // Small bodies are not worth compressing.
            try client.send(request("GET", "/small", headers: ["Accept-Encoding: gzip"]))
            let small = try client.readResponse()
            XCTAssertNil(small.header("Content-Encoding"))
            XCTAssertEqual(small.text, "hello /small")
        }
    }

    func testHandlerSetContentEncodingIsNotRecompressed() throws {
        let handler: @Sendable (HTTPRequest) -> HTTPResponse = { _ in
            var response = HTTPResponse(contentType: "application/octet-stream", body: [UInt8](repeating: 7, count: 4096))
            response.headers.set(name: "Content-Encoding", value: "identity")
            return response
        }
        try withServer(handler: handler) { server in
            let client = try RawClient(port: server.boundPort)
            try client.send(request("GET", "/", headers: ["Accept-Encoding: gzip"]))
            let response = try client.readResponse()
            XCTAssertEqual(response.header("Content-Encoding"), "identity")
            XCTAssertEqual(response.body.count, 4096)
        }
    }

    func testHeadHasGetHeadersButNoBody() throws {
        try withServer { server in
            let client = try RawClient(port: server.boundPort)
            try client.send(request("GET", "/big", headers: ["Accept-Encoding: gzip"]))
            let get = try client.readResponse()
            try client.send(request("HEAD", "/big", headers: ["Accept-Encoding: gzip"]))
            let head = try client.readResponse(head: true)
            XCTAssertEqual(head.status, 200)
            XCTAssertEqual(head.header("Content-Length"), get.header("Content-Length"))
            XCTAssertEqual(head.header("Content-Encoding"), "gzip")
            XCTAssertTrue(head.body.isEmpty)
            // If a body had been sent, this response would be parsed from it.
            try client.send(request("GET", "/next"))
            XCTAssertEqual(try client.readResponse().text, "hello /next")
        }
    }

    func testExpect100Continue() throws {
        try withServer { server in
            let client = try RawClient(port: server.boundPort)
            try client.send("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
            let interim = try client.readResponse()
            XCTAssertEqual(interim.status, 100)
            try client.send("hello")
            let final = try client.readResponse()
            XCTAssertEqual(final.status, 200)
            XCTAssertEqual(final.text, "hello")
        }
    }

    func testExpect100ContinueRefusedWithoutReadingBody() throws {
        try withServer({ $0.maxBodyBytes = 100 }) { server in
            let tooBig = try RawClient(port: server.boundPort)
            try tooBig.send("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 1000\r\n\r\n")
            let response = try tooBig.readResponse()
            XCTAssertEqual(response.status, 413)  // not 100 first
            XCTAssertTrue(tooBig.isClosedByServer())

            let unknown = try RawClient(port: server.boundPort)
            try unknown.send("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nContent-Length: 5\r\n\r\n")
            XCTAssertEqual(try unknown.readResponse().status, 417)
        }
    }

    func testStreamingResponseIsChunked() throws {
        try withServer { server in
            let client = try RawClient(port: server.boundPort)
            try client.send(request("GET", "/stream?n=50", headers: ["Accept-Encoding: gzip"]))
            let response = try client.readResponse()
            XCTAssertEqual(response.status, 200)
            XCTAssertTrue(response.wasChunked)
            XCTAssertNil(response.header("Content-Length"))
            XCTAssertNil(response.header("Content-Encoding"))  // streams are sent plain
            XCTAssertEqual(response.text, (0..<50).map { "line \($0)\n" }.joined())
            // Keep-alive survives a streamed response.
            try client.send(request("HEAD", "/stream"))
            let head = try client.readResponse(head: true)
            XCTAssertEqual(head.header("Transfer-Encoding"), "chunked")
            try client.send(request("GET", "/after"))
            XCTAssertEqual(try client.readResponse().text, "hello /after")
        }
    }

    func testSizedBodyHasContentLengthAndKeepsTheConnection() throws {
        try withServer { server in
            let client = try RawClient(port: server.boundPort)
            try client.send(request("GET", "/sized?n=100000", headers: ["Accept-Encoding: gzip"]))
            let response = try client.readResponse()
            XCTAssertEqual(response.status, 200)
            XCTAssertFalse(response.wasChunked)
            XCTAssertEqual(response.header("Content-Length"), "100000")
            XCTAssertNil(response.header("Content-Encoding"))  // sent as produced, never gzipped
            XCTAssertEqual(response.body, (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
            try client.send(request("HEAD", "/sized?n=5"))
            let head = try client.readResponse(head: true)
            XCTAssertEqual(head.header("Content-Length"), "5")
            XCTAssertTrue(head.body.isEmpty)
            try client.send(request("GET", "/after"))
            XCTAssertEqual(try client.readResponse().text, "hello /after")
        }
    }

    func testSizedBodyKeepsHTTP10ConnectionsOpenWhenAsked() throws {
        try withServer { server in
            let client = try RawClient(port: server.boundPort)
            try client.send("GET /sized?n=10 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            let response = try client.readResponse()
            XCTAssertEqual(response.header("Content-Length"), "10")
            XCTAssertEqual(response.header("Connection"), "keep-alive")
            try client.send("GET /after HTTP/1.0\r\n\r\n")
            XCTAssertEqual(try client.readResponse().text, "hello /after")
        }
    }

    func testShortSizedBodyClosesTheConnection() throws {
        try withServer { server in
            let client = try RawClient(port: server.boundPort)
            try client.send(request("GET", "/sized?n=20000&short=1"))
            // The head promised 20,000 bytes; the client sees fewer, then the close (a read
            // timeout instead would throw).
            let raw = try client.readUntilClose()
            let headEnd = try XCTUnwrap(String(decoding: raw, as: UTF8.self).range(of: "\r\n\r\n"))
            let headBytes = String(decoding: raw, as: UTF8.self)[..<headEnd.upperBound].utf8.count
            XCTAssertTrue(String(decoding: raw.prefix(headBytes), as: UTF8.self).contains("Content-Length: 20000"))
            XCTAssertEqual(raw.count - headBytes, 19_999)
        }
    }

    func testStreamingToHTTP10IsCloseDelimited() throws {
        try withServer { server in
            let client = try RawClient(port: server.boundPort)
            try client.send("GET /stream?n=3 HTTP/1.0\r\n\r\n")
            let response = try client.readResponse()
            XCTAssertFalse(response.wasChunked)
            XCTAssertEqual(response.header("Connection"), "close")
            XCTAssertEqual(response.text, "line 0\nline 1\nline 2\n")
        }
    }

    func testStreamWriterThrowsWhenClientGoesAway() throws {
        let failed = expectation(description: "write throws")
        let handler: @Sendable (HTTPRequest) -> HTTPResponse = { _ in
            HTTPResponse(
                body: .stream { writer in
                    let chunk = [UInt8](repeating: 65, count: 64 * 1024)
                    do {
                        for _ in 0..<100_000 { try writer.write(chunk) }  // ~6 GB: must be cut short
                    } catch {
                        failed.fulfill()
                        throw error
                    }
                })
        }
        try withServer(handler: handler) { server in
            var client: RawClient? = try RawClient(port: server.boundPort)
            try client?.send(request())
            var buffer = [UInt8](repeating: 0, count: 4096)
            XCTAssertGreaterThan(recv(client?.fd ?? -1, &buffer, buffer.count, 0), 0)
            client = nil  // close with unread data: the server's next writes fail
            wait(for: [failed], timeout: 5)
        }
    }

    func testRequestIDIsEchoedOrGenerated() throws {
        try withServer { server in
            let client = try RawClient(port: server.boundPort)
            try client.send(request("GET", "/echo", headers: ["X-Request-Id: abc-123_x.y"]))
            let echoed = try client.readResponse()
            XCTAssertEqual(echoed.header("X-Request-Id"), "abc-123_x.y")
            XCTAssertEqual(echoed.header("X-Seen-Request-Id"), "abc-123_x.y")

            for bad in ["has space", "semi;colon", String(repeating: "a", count: 201)] {
                try client.send(request("GET", "/echo", headers: ["X-Request-Id: \(bad)"]))
                let generated = try client.readResponse()
                let id = try XCTUnwrap(generated.header("X-Request-Id"))
                XCTAssertEqual(id.count, 32)
                XCTAssertTrue(id.allSatisfy { $0.isHexDigit })
                XCTAssertEqual(generated.header("X-Seen-Request-Id"), id)
            }
            try client.send(request("GET", "/"))
            let a = try client.readResponse().header("X-Request-Id")
            try client.send(request("GET", "/"))
            let b = try client.readResponse().header("X-Request-Id")
            XCTAssertNotEqual(a, b)
        }
    }

    func testPathAndQueryAreDecoded() throws {
        try withServer { server in
            let client = try RawClient(port: server.boundPort)
            try client.send(request("GET", "/echo?b=x+y&a=%41%42&a=last&flag"))
            let response = try client.readResponse()
            XCTAssertEqual(response.header("X-Query"), "a=last&b=x y&flag=")
            try client.send(request("GET", "http://example.com/echo?q=1"))
            let absolute = try client.readResponse()
            XCTAssertEqual(absolute.header("X-Path"), "/echo")
            XCTAssertEqual(absolute.header("X-Query"), "q=1")
            try client.send(request("GET", "/%68ello%20world"))
            XCTAssertEqual(try client.readResponse().text, "hello /hello world")
        }
    }

    func testHTTP10ClosesUnlessKeepAliveRequested() throws {
        try withServer { server in
            let closing = try RawClient(port: server.boundPort)
            try closing.send("GET /x HTTP/1.0\r\n\r\n")
            let response = try closing.readResponse()
            XCTAssertEqual(response.status, 200)
            XCTAssertEqual(response.header("Connection"), "close")
            XCTAssertTrue(closing.isClosedByServer())

            let keeping = try RawClient(port: server.boundPort)
            try keeping.send("GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            XCTAssertEqual(try keeping.readResponse().header("Connection"), "keep-alive")
            try keeping.send("GET /y HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            XCTAssertEqual(try keeping.readResponse().text, "hello /y")
        }
    }

    func testConnectionCloseIsHonoured() throws {
        try withServer { server in
            let client = try RawClient(port: server.boundPort)
            try client.send(request("GET", "/", headers: ["Connection: close"]))
            let response = try client.readResponse()
            XCTAssertEqual(response.status, 200)
            XCTAssertEqual(response.header("Connection"), "close")
            XCTAssertTrue(client.isClosedByServer())
        }
    }

    func testIPv6Loopback() throws {
        var config = HTTPServerConfiguration(host: "::1", port: 0)
        config.idleTimeout = 2
        let seen = LockedBox<String>("")
        let server = HTTPServer(configuration: config) { req in
            seen.set(req.remoteAddress)
            return HTTPResponse(text: "v6")
        }
        do {
            try server.start()
        } catch HTTPServerError.bindFailed {
            throw XCTSkip("IPv6 loopback is not available here")
        }
        defer { server.shutdown(gracePeriod: 1) }
        let client = try RawClient(host: "::1", port: server.boundPort)
        try client.send(request())
        XCTAssertEqual(try client.readResponse().text, "v6")
        XCTAssertTrue(seen.get().hasPrefix("[::1]:"), seen.get())
    }

    func testLocalhostAndRequestLog() throws {
        var config = HTTPServerConfiguration(host: "localhost", port: 0)
        config.idleTimeout = 2
        let server = HTTPServer(configuration: config, handler: testHandler)
        let logs = LockedBox<[HTTPRequestLog]>([])
        server.onRequestLog = { entry in logs.update { $0.append(entry) } }
        try server.start()
        defer { server.shutdown(gracePeriod: 1) }
        // localhost may resolve to either family first.
        let client = (try? RawClient(host: "127.0.0.1", port: server.boundPort))
        let connected = try client ?? RawClient(host: "::1", port: server.boundPort)
        try connected.send(request("GET", "/logged", headers: ["X-Request-Id: log-1"]))
        let response = try connected.readResponse()
        XCTAssertTrue(waitUntil { logs.get().count == 1 })
        let entry = try XCTUnwrap(logs.get().first)
        XCTAssertEqual(entry.method, "GET")
        XCTAssertEqual(entry.path, "/logged")
        XCTAssertEqual(entry.status, 200)
        XCTAssertEqual(entry.requestID, "log-1")
        XCTAssertGreaterThan(entry.bytesSent, response.body.count)
        XCTAssertGreaterThanOrEqual(entry.durationSeconds, 0)
    }

    func testBindFailureIsTypedError() throws {
        try withServer { server in
            let second = HTTPServer(
                configuration: HTTPServerConfiguration(host: "127.0.0.1", port: server.boundPort),
                handler: testHandler)
            XCTAssertThrowsError(try second.start()) { error in
                guard case HTTPServerError.bindFailed(_, let port, let code) = error else {
                    return XCTFail("unexpected \(error)")
                }
                XCTAssertEqual(port, server.boundPort)
                XCTAssertEqual(code, EADDRINUSE)
            }
            XCTAssertThrowsError(
                try HTTPServer(
                    configuration: HTTPServerConfiguration(host: "127.0.0.1", port: 70000),
                    handler: testHandler
                ).start())
            XCTAssertThrowsError(try server.start()) { XCTAssertEqual($0 as? HTTPServerError, .alreadyStarted) }
        }
    }
}

/// A tiny thread-safe box for test bookkeeping.
final class LockedBox<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func get() -> Value { lock.withLock { value } }
    func set(_ newValue: Value) { lock.withLock { value = newValue } }
    func update(_ body: (inout Value) -> Void) { lock.withLock { body(&value) } }
}
