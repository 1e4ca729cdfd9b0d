import Foundation
import Glibc
import XCTest

@testable import SoapHTTP

struct ClientError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A parsed response as seen by the raw test client.
struct TestResponse {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]
    /// True when the body arrived with Transfer-Encoding: chunked.
    var wasChunked = false

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    var text: String { String(decoding: body, as: UTF8.self) }
}

/// A deliberately dumb blocking HTTP client on raw sockets, so tests can send any bytes.
final class RawClient {
    let fd: Int32
    private var buffer: [UInt8] = []
    private(set) var sawEOF = false

    /// Connects to host:port (IPv4 or IPv6 literal); reads time out after `timeout` seconds.
    init(host: String = "127.0.0.1", port: Int, timeout: Double = 5) throws {
        let isV6 = host.contains(":")
        fd = socket(isV6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ClientError("socket failed") }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var rc: Int32
        if isV6 {
            var addr = sockaddr_in6()
            addr.sin6_family = sa_family_t(AF_INET6)
            addr.sin6_port = UInt16(port).bigEndian
            inet_pton(AF_INET6, host, &addr.sin6_addr)
            rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        } else {
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = UInt16(port).bigEndian
            inet_pton(AF_INET, host, &addr.sin_addr)
            rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        if rc != 0 {
            let code = errno
            close(fd)
            throw ClientError("connect failed: \(String(cString: strerror(code)))")
        }
    }

    deinit { close(fd) }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { throw ClientError("send failed: \(String(cString: strerror(errno)))") }
            offset += n
        }
    }

    func shutdownWrite() { Glibc.shutdown(fd, Int32(SHUT_WR)) }

    /// Reads more bytes into the buffer. Returns false on EOF; throws on timeout / error.
    @discardableResult
    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n > 0 {
            buffer.append(contentsOf: chunk[0..<n])
            return true
        }
        if n == 0 {
            sawEOF = true
            return false
        }
        if errno == ECONNRESET {
            sawEOF = true
            return false
        }
        throw ClientError("recv failed: \(String(cString: strerror(errno)))")
    }

    private func need(_ count: Int) throws {
        while buffer.count < count {
            guard try fill() else { throw ClientError("EOF after \(buffer.count) of \(count) bytes") }
        }
    }

    private func readLine() throws -> String {
        while true {
            if let lf = buffer.firstIndex(of: 0x0A) {
                var line = Array(buffer[0..<lf])
                buffer.removeFirst(lf + 1)
                if line.last == 0x0D { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            guard try fill() else { throw ClientError("EOF inside a line") }
        }
    }

    /// Reads one response (a 100 Continue counts as one). `head` = response to a HEAD request.
    func readResponse(head: Bool = false) throws -> TestResponse {
        let statusLine = try readLine()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw ClientError("bad status line: \(statusLine)")
        }
        var headers: [(String, String)] = []
        while true {
            let line = try readLine()
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { throw ClientError("bad header: \(line)") }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        var response = TestResponse(status: status, headers: headers, body: [])
        if head || status < 200 || status == 204 || status == 304 { return response }
        if response.header("Transfer-Encoding")?.lowercased() == "chunked" {
            response.wasChunked = true
            while true {
                let sizeLine = try readLine()
                guard let size = Int(sizeLine.split(separator: ";")[0], radix: 16) else {
                    throw ClientError("bad chunk size \(sizeLine)")
                }
                if size == 0 {
                    while try !readLine().isEmpty {}
                    break
                }
                try need(size + 2)
                response.body += buffer[0..<size]
                buffer.removeFirst(size + 2)
            }
        } else if let lengthText = response.header("Content-Length"), let length = Int(lengthText) {
            try need(length)
            response.body = Array(buffer[0..<length])
            buffer.removeFirst(length)
        } else {
            while try fill() {}
            response.body = buffer
            buffer.removeAll()
        }
        return response
    }

    /// Reads until the server closes; returns everything not yet consumed.
    func readUntilClose() throws -> [UInt8] {
        while try fill() {}
        defer { buffer.removeAll() }
        return buffer
    }

    /// True if the server closes the connection (EOF, with no further data) within the timeout.
    func isClosedByServer() -> Bool {
        do {
            while try fill() {}
            return buffer.isEmpty
        } catch {
            return false
        }
    }
}

/// Builds a simple request.
func request(
    _ method: String = "GET", _ target: String = "/", headers: [String] = [], body: String? = nil,
    version: String = "HTTP/1.1"
) -> String {
    var text = "\(method) \(target) \(version)\r\nHost: test\r\n"
    for header in headers { text += header + "\r\n" }
    if let body { text += "Content-Length: \(body.utf8.count)\r\n" }
    text += "\r\n"
    if let body { text += body }
    return text
}

/// The handler used by most tests.
let testHandler: @Sendable (HTTPRequest) -> HTTPResponse = { req in
    switch req.path {
    case "/echo":
        var response = HTTPResponse(status: 200, contentType: "application/octet-stream", body: req.body)
        response.headers.add(name: "X-Method", value: req.method)
        response.headers.add(name: "X-Path", value: req.path)
        response.headers.add(
            name: "X-Query", value: req.query.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "&"))
        response.headers.add(name: "X-Seen-Request-Id", value: req.requestID)
        return response
    case "/big":
        return HTTPResponse(text: String(repeating: "soap featurization ", count: 400))
    case "/sleep":
        let ms = Int(req.query["ms"] ?? "") ?? 500
        usleep(useconds_t(ms * 1000))
        return HTTPResponse(text: "slept")
    case "/stream":
        let count = Int(req.query["n"] ?? "") ?? 5
        return HTTPResponse(
            status: 200, headers: ["Content-Type": "text/plain"],
            body: .stream { writer in
                for i in 0..<count { try writer.write("line \(i)\n") }
            })
    case "/sized":
        // `n` bytes announced; `short` writes one fewer (a producer bug the server must not hide).
        let count = Int(req.query["n"] ?? "") ?? 100_000
        let written = req.query["short"] == nil ? count : count - 1
        let bytes = (0..<written).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        return HTTPResponse(
            status: 200, headers: ["Content-Type": "application/octet-stream"],
            body: .sized(length: count) { writer in
                try bytes.withUnsafeBytes { all in
                    var offset = 0
                    while offset < all.count {  // uneven pieces, raw and copied
                        let n = min(7_777, all.count - offset)
                        if offset % 2 == 0 {
                            try writer.write(UnsafeRawBufferPointer(rebasing: all[offset..<(offset + n)]))
                        } else {
                            try writer.write(Array(all[offset..<(offset + n)]))
                        }
                        offset += n
                    }
                }
            })
    default:
        return HTTPResponse(text: "hello \(req.path)")
    }
}

extension XCTestCase {
    /// Starts a server on an ephemeral port, runs `body`, and always shuts it down.
    func withServer(
        _ configure: (inout HTTPServerConfiguration) -> Void = { _ in },
        handler: @escaping @Sendable (HTTPRequest) -> HTTPResponse = testHandler,
        _ body: (HTTPServer) throws -> Void
    ) throws {
        var config = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
        config.headerTimeout = 2
        config.bodyTimeout = 2
        config.idleTimeout = 2
        config.writeTimeout = 2
        config.gracePeriod = 2
        configure(&config)
        let server = HTTPServer(configuration: config, handler: handler)
        try server.start()
        defer { server.shutdown(gracePeriod: 1) }
        try body(server)
    }

    /// Polls `condition` until it holds or `timeout` passes.
    func waitUntil(timeout: Double = 3, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            usleep(5_000)
        }
        return condition()
    }
}
