import Foundation
import XCTest

@testable import SoapService

#if canImport(Glibc)
    import Glibc
#endif

/// A minimal HTTP/1.1 client over a real socket (one request per connection),
/// enough to test the service end to end without extra dependencies.
struct TestHTTPClient {
    struct Response {
        var status: Int
        var headers: [String: String]  // lower-cased names
        var body: [UInt8]
        var json: Any? { try? JSONSerialization.jsonObject(with: Data(body)) }
        var text: String { String(decoding: body, as: UTF8.self) }
    }
    struct Failure: Error, CustomStringConvertible { var description: String }

    let port: Int

    /// The real service in-process on an ephemeral port, with its own fresh data directory.
    static func startServer(_ configure: (inout ServiceConfiguration) -> Void = { _ in }) -> (SoapdServer, TestHTTPClient) {
        var configuration = ServiceConfiguration()
        configuration.port = 0
        configuration.logLevel = "error"
        configuration.dataDirectory = NSTemporaryDirectory() + "soapd-tests-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        configure(&configuration)
        let server = try! SoapdServer(configuration: configuration)
        try! server.start()
        return (server, TestHTTPClient(port: server.http.boundPort))
    }

    func request(_ method: String, _ path: String, headers: [String: String] = [:], body: [UInt8] = []) throws -> Response {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 60, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw Failure(description: "connect failed") }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: \(body.count)\r\n"
        for (k, v) in headers { head += "\(k): \(v)\r\n" }
        head += "\r\n"
        let bytes = Array(head.utf8) + body
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw Failure(description: "send failed") }
            sent += n
        }
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            received += chunk[0..<n]
        }
        return try Self.parse(received)
    }

    static func parse(_ data: [UInt8]) throws -> Response {
        guard
            let end = data.indices.first(where: {
                $0 + 3 < data.count && data[$0] == 13 && data[$0 + 1] == 10 && data[$0 + 2] == 13 && data[$0 + 3] == 10
            })
        else {
            throw Failure(description: "no header end in \(data.count) bytes")
        }
        let lines = String(decoding: data[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let status = Int(lines[0].split(separator: " ")[1]) ?? 0
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Array(data[(end + 4)...])
        if headers["transfer-encoding"]?.lowercased() == "chunked" {
            var out: [UInt8] = []
            var i = 0
            while i < body.count {
                guard let lineEnd = body[i...].firstIndex(of: 10) else { break }
                let sizeText = String(decoding: body[i..<lineEnd], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                guard let size = Int(sizeText.split(separator: ";")[0], radix: 16), size > 0 else { break }
                out += body[(lineEnd + 1)..<(lineEnd + 1 + size)]
                i = lineEnd + 1 + size + 2
            }
            body = out
        }
        return Response(status: status, headers: headers, body: body)
    }
}

extension XCTestCase {
    /// Asserts that preparing and computing `body` fails with this status and JSON pointer.
    func assertServiceError(
        _ service: FeatureService, _ body: [UInt8], status: Int, pointer: String, contains text: String? = nil,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        do {
            _ = try service.compute(try service.prepare(body))
            XCTFail("expected an error at \(pointer)", file: file, line: line)
        } catch {
            XCTAssertEqual(error.status, status, "\(error)", file: file, line: line)
            XCTAssertEqual(error.pointer, pointer, "\(error)", file: file, line: line)
            if let text { XCTAssertTrue(error.message.contains(text), "\(error.message)", file: file, line: line) }
        }
    }
}
