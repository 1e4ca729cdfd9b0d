import Foundation
import Glibc
import TestSupport
import XCTest

@testable import SoapHTTP

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
}
