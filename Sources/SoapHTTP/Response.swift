/// A response body: fully built bytes, or a producer that writes it piece by piece.
public enum HTTPBody: Sendable {
    case bytes([UInt8])
    /// Sent with `Transfer-Encoding: chunked` (close-delimited to HTTP/1.0 clients) without
    /// buffering the whole body. The closure runs on the compute worker that ran the handler,
    /// after the handler returned; each `write` goes to the socket. Streamed bodies are never
    /// gzipped by the server. If the closure throws, the response is cut short (no final chunk)
    /// and the connection closed, so the client can tell it is incomplete.
    case stream(@Sendable (HTTPBodyWriter) throws -> Void)
    /// A body of known length, produced while it is sent: framed by Content-Length (so
    /// keep-alive works for HTTP/1.0 clients too) and written straight from the caller's
    /// buffers, never joined into one. Like streams, never gzipped by the server. The producer
    /// must write exactly `length` bytes; otherwise the response is cut short and the
    /// connection closed.
    case sized(length: Int, producer: @Sendable (HTTPBodyWriter) throws -> Void)
}

/// Errors from writing to a client.
public enum HTTPWriteError: Error, Sendable, Equatable {
    /// The client closed the connection or reset it, or the server is shutting it down.
    case connectionClosed
    /// The client did not accept data for `writeTimeout`.
    case timedOut
    /// `write` was called after the body was finished.
    case bodyFinished
    /// A sized body's producer wrote more or fewer bytes than it announced.
    case lengthMismatch
}

/// Writes a streamed body. Each `write` sends one chunk immediately.
public final class HTTPBodyWriter: @unchecked Sendable {
    private let socket: Socket
    private let chunked: Bool
    private let timeout: Double
    /// Set for sized bodies: the Content-Length announced.
    private let expectedLength: Int?
    private var finished = false
    /// Bytes put on the wire so far, framing included.
    private(set) var bytesSent = 0
    /// Body bytes written so far, framing excluded.
    private var bodyBytes = 0

    init(socket: Socket, chunked: Bool, timeout: Double, expectedLength: Int? = nil) {
        self.socket = socket
        self.chunked = chunked
        self.timeout = timeout
        self.expectedLength = expectedLength
    }

    /// Sends the bytes now, straight from the caller's memory (no copy when not chunked).
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard !finished else { throw HTTPWriteError.bodyFinished }
        guard !bytes.isEmpty else { return }
        if let expectedLength, bodyBytes + bytes.count > expectedLength { throw HTTPWriteError.lengthMismatch }
        if chunked {
            try send(Array((String(bytes.count, radix: 16) + "\r\n").utf8))
            try send(bytes)
            try send([0x0D, 0x0A])
        } else {
            try send(bytes)
        }
        bodyBytes += bytes.count
    }

    /// Sends `bytes` now. Throws `HTTPWriteError` if the client went away or stalled.
    public func write(_ bytes: [UInt8]) throws {
        guard !finished else { throw HTTPWriteError.bodyFinished }
        guard !bytes.isEmpty else { return }  // an empty chunk would end the body
        if let expectedLength, bodyBytes + bytes.count > expectedLength { throw HTTPWriteError.lengthMismatch }
        bodyBytes += bytes.count
        if chunked {
            var frame = Array(String(bytes.count, radix: 16).utf8)
            frame.reserveCapacity(frame.count + bytes.count + 4)
            frame.append(contentsOf: [0x0D, 0x0A])
            frame.append(contentsOf: bytes)
            frame.append(contentsOf: [0x0D, 0x0A])
            try send(frame)
        } else {
            try send(bytes)
        }
    }

    /// Convenience for UTF-8 text.
    public func write(_ text: String) throws {
        try write(Array(text.utf8))
    }

    /// Ends the body (the last chunk). Called by the server after the producer returns.
    func finish() throws {
        guard !finished else { return }
        finished = true
        if let expectedLength, bodyBytes != expectedLength { throw HTTPWriteError.lengthMismatch }
        if chunked { try send(Array("0\r\n\r\n".utf8)) }
    }

    private func send(_ bytes: [UInt8]) throws {
        try socket.writeAll(bytes, timeout: timeout)
        bytesSent += bytes.count
    }

    private func send(_ bytes: UnsafeRawBufferPointer) throws {
        try socket.writeAll(bytes, timeout: timeout)
        bytesSent += bytes.count
    }
}

/// What a handler returns.
public struct HTTPResponse: Sendable {
    public var status: Int
    /// Handler headers. The server sets Content-Length / Transfer-Encoding / Connection itself
    /// and adds Date and X-Request-Id when absent; fields with invalid names or values
    /// (e.g. containing CR/LF) are dropped rather than sent.
    public var headers: HTTPHeaders
    public var body: HTTPBody

    public init(status: Int = 200, headers: HTTPHeaders = HTTPHeaders(), body: HTTPBody = .bytes([])) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A sized or streamed body with its Content-Type.
    public init(status: Int = 200, contentType: String, body: HTTPBody) {
        self.init(status: status, headers: ["Content-Type": contentType], body: body)
    }

    public init(status: Int = 200, contentType: String, body: [UInt8]) {
        self.init(status: status, contentType: contentType, body: .bytes(body))
    }

    /// A `text/plain; charset=utf-8` response.
    public init(status: Int = 200, text: String) {
        self.init(status: status, contentType: "text/plain; charset=utf-8", body: Array(text.utf8))
    }

    /// An RFC 9457 `application/problem+json` response:
    /// `{"type":"about:blank","title":…,"status":…,"detail":…}` plus `extra` string members
    /// (sorted by key). `title` defaults to the status reason phrase; an `extra` "type"
    /// replaces "about:blank"; other extras cannot override the standard members.
    public static func problem(
        status: Int, title: String? = nil, detail: String? = nil,
        extra: [String: String]? = nil
    ) -> HTTPResponse {
        var typeValue = "about:blank"
        if let customType = extra?["type"] { typeValue = customType }
        var json = "{\"type\":" + jsonString(typeValue)
        json += ",\"title\":" + jsonString(title ?? reasonPhrase(for: status))
        json += ",\"status\":" + String(status)
        if let detail { json += ",\"detail\":" + jsonString(detail) }
        let reserved: Set<String> = ["type", "title", "status", "detail"]
        for key in (extra ?? [:]).keys.sorted() where !reserved.contains(key) {
            if let value = extra?[key] { json += "," + jsonString(key) + ":" + jsonString(value) }
        }
        json += "}"
        return HTTPResponse(status: status, contentType: "application/problem+json", body: Array(json.utf8))
    }
}

/// A JSON string literal with RFC 8259 escaping (quotes, backslash, all control characters).
func jsonString(_ s: String) -> String {
    var out: [UInt8] = [UInt8(ascii: "\"")]
    out.reserveCapacity(s.utf8.count + 2)
    let hex = Array("0123456789abcdef".utf8)
    for b in s.utf8 {
        switch b {
        case UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
        case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
        case 0x0A: out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
        case 0x0D: out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
        case 0x09: out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
        case 0x00..<0x20:
            out += Array("\\u00".utf8)
            out += [hex[Int(b >> 4)], hex[Int(b & 0x0F)]]
        default: out.append(b)
        }
    }
    out.append(UInt8(ascii: "\""))
    return String(decoding: out, as: UTF8.self)
}

/// Standard reason phrases (RFC 9110 §15); unknown codes get a generic one.
func reasonPhrase(for status: Int) -> String {
    switch status {
    case 100: return "Continue"
    case 200: return "OK"
    case 201: return "Created"
    case 202: return "Accepted"
    case 204: return "No Content"
    case 206: return "Partial Content"
    case 301: return "Moved Permanently"
    case 302: return "Found"
    case 303: return "See Other"
    case 304: return "Not Modified"
    case 307: return "Temporary Redirect"
    case 308: return "Permanent Redirect"
    case 400: return "Bad Request"
    case 401: return "Unauthorized"
    case 403: return "Forbidden"
    case 404: return "Not Found"
    case 405: return "Method Not Allowed"
    case 406: return "Not Acceptable"
    case 408: return "Request Timeout"
    case 409: return "Conflict"
    case 410: return "Gone"
    case 411: return "Length Required"
    case 412: return "Precondition Failed"
    case 413: return "Content Too Large"
    case 414: return "URI Too Long"
    case 415: return "Unsupported Media Type"
    case 417: return "Expectation Failed"
    case 422: return "Unprocessable Content"
    case 429: return "Too Many Requests"
    case 431: return "Request Header Fields Too Large"
    case 500: return "Internal Server Error"
    case 501: return "Not Implemented"
    case 502: return "Bad Gateway"
    case 503: return "Service Unavailable"
    case 504: return "Gateway Timeout"
    case 505: return "HTTP Version Not Supported"
    default:
        switch status {
        case 200..<300: return "Success"
        case 300..<400: return "Redirection"
        case 400..<500: return "Client Error"
        default: return "Server Error"
        }
    }
}
