import Foundation
import TestSupport
import XCTest

@testable import SoapHTTP

final class RequestParserTests: XCTestCase {
    private func parseAll(
        _ bytes: [UInt8], limits: ParserLimits = ParserLimits(),
        feed: Int = .max
    ) -> [String] {
        var parser = RequestParser(limits: limits)
        var buffer = ByteBuffer()
        var events: [String] = []
        var offset = 0
        while true {
            switch parser.parse(&buffer) {
            case .needMore:
                guard offset < bytes.count else { return events }
                let end = min(bytes.count, offset + feed)
                buffer.append(contentsOf: bytes[offset..<end])
                offset = end
            case .head(let head):
                events.append("head \(head.method) \(head.path) \(head.framing)")
            case .complete(let body):
                events.append("body \(String(decoding: body, as: UTF8.self))")
            case .failure(let error):
                events.append("error \(error.status)")
                return events
            }
        }
    }

    func testByteByByteEqualsWholeBuffer() {
        let input = Array(
            ("\r\nPOST /a?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
                + "PUT /b HTTP/1.1\nHost: h\nTransfer-Encoding: chunked\n\n2;e=1\r\nhi\r\n1\r\n!\r\n0\r\nT: v\r\n\r\n"
                + "GET /c HTTP/1.0\r\n\r\n").utf8)
        let expected = [
            "head POST /a length(3)", "body abc", "head PUT /b chunked", "body hi!",
            "head GET /c none", "body ",
        ]
        XCTAssertEqual(parseAll(input), expected)
        XCTAssertEqual(parseAll(input, feed: 1), expected)
        XCTAssertEqual(parseAll(input, feed: 7), expected)
    }

    func testLimitsAtTheBoundary() {
        var limits = ParserLimits()
        limits.maxHeaderCount = 2
        XCTAssertEqual(
            parseAll(Array("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\n\r\n".utf8), limits: limits),
            ["head GET / none", "body "])
        XCTAssertEqual(
            parseAll(Array("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n".utf8), limits: limits),
            ["error 431"])
        limits = ParserLimits()
        limits.maxBodyBytes = 4
        XCTAssertEqual(
            parseAll(Array("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nabcd".utf8), limits: limits),
            ["head POST / length(4)", "body abcd"])
        XCTAssertEqual(
            parseAll(
                Array("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n".utf8),
                limits: limits),
            ["head POST / chunked", "error 413"])
    }

    func testFailureIsSticky() {
        var parser = RequestParser()
        var buffer = ByteBuffer(Array("BAD\r\n".utf8))
        guard case .failure = parser.parse(&buffer) else { return XCTFail("expected failure") }
        buffer.append(contentsOf: Array("GET / HTTP/1.1\r\nHost: h\r\n\r\n".utf8))
        guard case .failure = parser.parse(&buffer) else { return XCTFail("failure must be sticky") }
    }

    func testRandomInputNeverTraps() {
        var rng = SplitMix64(seed: 42)
        let alphabet = Array("GET /HTTP1.\r\n:; \t0aF%chunkedContent-Length".utf8)
        for _ in 0..<3000 {
            var bytes = Array("POST / HTTP/1.1\r\nHost: x\r\n".utf8)
            for _ in 0..<Int(rng.next() % 200) {
                bytes.append(alphabet[Int(rng.next() % UInt64(alphabet.count))])
            }
            _ = parseAll(bytes, feed: Int(rng.next() % 16) + 1)
        }
    }
}

final class GzipTests: XCTestCase {
    func testRoundTrip() throws {
        for size in [0, 1, 1000, 300_000] {
            let input = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 / 7) }
            let compressed = Gzip.compress(input)
            XCTAssertEqual(Array(compressed.prefix(2)), [0x1F, 0x8B])
            XCTAssertEqual(try Gzip.decompress(compressed, limit: size), input)
        }
    }

    func testConcatenatedMembers() throws {
        let joined = Gzip.compress(Array("abc".utf8)) + Gzip.compress(Array("def".utf8))
        XCTAssertEqual(try Gzip.decompress(joined, limit: 100), Array("abcdef".utf8))
    }

    func testLimitAndCorruption() {
        let compressed = Gzip.compress([UInt8](repeating: 1, count: 10_000))
        XCTAssertThrowsError(try Gzip.decompress(compressed, limit: 9_999)) {
            XCTAssertEqual($0 as? GzipError, .limitExceeded)
        }
        XCTAssertThrowsError(try Gzip.decompress(Array(compressed.dropLast(4)), limit: 1 << 20)) {
            XCTAssertEqual($0 as? GzipError, .corruptData)
        }
        XCTAssertThrowsError(try Gzip.decompress(Array("not gzip at all".utf8), limit: 100))
        XCTAssertThrowsError(try Gzip.decompress([], limit: 100))
        XCTAssertThrowsError(try Gzip.decompress(compressed + [0, 0, 0], limit: 1 << 20))
    }
}

final class ResponseTests: XCTestCase {
    func testProblemJSONEscaping() {
        let response = HTTPResponse.problem(
            status: 422, detail: "bad \"x\"\\\n\u{01}é",
            extra: ["instance": "/a", "status": "ignored", "type": "urn:x"])
        guard case .bytes(let body) = response.body else { return XCTFail("expected bytes") }
        XCTAssertEqual(
            String(decoding: body, as: UTF8.self),
            "{\"type\":\"urn:x\",\"title\":\"Unprocessable Content\",\"status\":422,"
                + "\"detail\":\"bad \\\"x\\\"\\\\\\n\\u0001é\",\"instance\":\"/a\"}")
        XCTAssertEqual(response.headers["content-type"], "application/problem+json")
        let decoded = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
        XCTAssertEqual(decoded?["detail"] as? String, "bad \"x\"\\\n\u{01}é")
    }

    func testHeadersAreCaseInsensitiveAndOrdered() {
        var headers: HTTPHeaders = ["Content-Type": "a", "X-A": "1"]
        headers.add(name: "x-a", value: "2")
        XCTAssertEqual(headers["CONTENT-TYPE"], "a")
        XCTAssertEqual(headers.values(for: "X-a"), ["1", "2"])
        headers.set(name: "X-A", value: "3")
        XCTAssertEqual(headers.map { $0.name }, ["Content-Type", "X-A"])
        headers["content-type"] = nil
        XCTAssertEqual(headers.count, 1)
        XCTAssertFalse(headers.contains("Content-Type"))
    }

    func testAcceptEncoding() {
        XCTAssertTrue(ResponseEncoder.acceptsGzip(["gzip"]))
        XCTAssertTrue(ResponseEncoder.acceptsGzip(["deflate, GZIP;q=0.1"]))
        XCTAssertTrue(ResponseEncoder.acceptsGzip(["*"]))
        XCTAssertFalse(ResponseEncoder.acceptsGzip([]))
        XCTAssertFalse(ResponseEncoder.acceptsGzip(["gzip;q=0"]))
        XCTAssertFalse(ResponseEncoder.acceptsGzip(["gzip;q=0.000, *;q=1"]))
        XCTAssertFalse(ResponseEncoder.acceptsGzip(["br, identity"]))
        XCTAssertFalse(ResponseEncoder.acceptsGzip(["gzip;q=oops"]))
    }

    func testHeaderInjectionIsDropped() {
        var response = HTTPResponse(text: "x")
        response.headers.add(name: "X-Evil", value: "a\r\nSet-Cookie: b")
        response.headers.add(name: "Bad Name", value: "v")
        response.headers.add(name: "X-Good", value: "ok")
        let encoded = ResponseEncoder.encode(
            response,
            context: ResponseContext(
                isHead: false, minorVersion: 1,
                keepAlive: true, acceptsGzip: false, requestID: "r"),
            gzipMinimumBytes: 1024)
        let head = String(decoding: encoded.head, as: UTF8.self)
        XCTAssertFalse(head.contains("Set-Cookie"))
        XCTAssertFalse(head.contains("Bad Name"))
        XCTAssertTrue(head.contains("X-Good: ok\r\n"))
        XCTAssertTrue(head.hasPrefix("HTTP/1.1 200 OK\r\n"))
    }

    func testHTTPDate() {
        XCTAssertEqual(ResponseEncoder.httpDate(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT")
    }
}
