import Glibc

/// Per-request facts that shape how a response is framed.
struct ResponseContext: Sendable {
    var isHead: Bool
    var minorVersion: Int
    var keepAlive: Bool
    var acceptsGzip: Bool
    var requestID: String
}

/// A response ready for the wire: the serialized head plus either bytes or a producer.
struct EncodedResponse: Sendable {
    var status: Int
    var head: [UInt8]
    /// Bytes to send after the head (empty for HEAD and bodiless statuses).
    var body: [UInt8]
    /// Set for streamed bodies (never for HEAD); `chunked` says how to frame the writes.
    var stream: (@Sendable (HTTPBodyWriter) throws -> Void)?
    var chunked: Bool
    /// For sized bodies, the Content-Length the producer must fill.
    var streamLength: Int? = nil
    /// Whether the connection stays open afterwards.
    var keepAlive: Bool
}

/// Turns a handler's HTTPResponse into bytes: framing headers, gzip, Date, X-Request-Id.
enum ResponseEncoder {
    /// Headers the server owns; handler values are replaced.
    private static let framingHeaders = ["Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive"]

    static func encode(_ response: HTTPResponse, context: ResponseContext, gzipMinimumBytes: Int) -> EncodedResponse {
        let status = response.status
        var headers = response.headers
        var body: [UInt8] = []
        var stream: (@Sendable (HTTPBodyWriter) throws -> Void)?
        // 1xx cannot be a final response here and codes must be three digits.
        if status < 200 || status > 999 {
            return encode(
                .problem(status: 500, detail: "The handler returned an invalid status code."),
                context: context, gzipMinimumBytes: gzipMinimumBytes)
        }
        for name in framingHeaders { headers.remove(name: name) }
        var keepAlive = context.keepAlive
        var chunked = false
        var streamLength: Int?
        let bodiless = status == 204 || status == 304

        switch response.body {
        case .bytes(let bytes):
            body = bodiless ? [] : bytes
            if !bodiless && body.count >= gzipMinimumBytes && !headers.contains("Content-Encoding") {
                addVary(&headers)
                if context.acceptsGzip, let compressed = Gzip.compressIfPossible(body) {
                    body = compressed
                    headers.set(name: "Content-Encoding", value: "gzip")
                }
            }
            if !bodiless { headers.set(name: "Content-Length", value: String(body.count)) }
        case .stream(let producer):
            if !bodiless {
                if context.minorVersion >= 1 {
                    chunked = true
                    headers.set(name: "Transfer-Encoding", value: "chunked")
                } else {
                    keepAlive = false  // HTTP/1.0 has no chunked coding: the close delimits the body
                }
                stream = producer
            }
        case .sized(let length, let producer):
            if !bodiless {
                headers.set(name: "Content-Length", value: String(max(0, length)))
                streamLength = max(0, length)
                stream = producer
            }
        }

        if !headers.contains("Date") { headers.set(name: "Date", value: httpDate()) }
        if !headers.contains("X-Request-Id") { headers.set(name: "X-Request-Id", value: context.requestID) }
        if !keepAlive {
            headers.set(name: "Connection", value: "close")
        } else if context.minorVersion == 0 {
            headers.set(name: "Connection", value: "keep-alive")
        }

        if context.isHead {
            body = []
            stream = nil
        }
        return EncodedResponse(
            status: status, head: serializeHead(status: status, headers: headers),
            body: body, stream: stream, chunked: chunked, streamLength: streamLength,
            keepAlive: keepAlive)
    }

    /// "HTTP/1.1 200 OK\r\n" + valid fields + "\r\n". Invalid fields are dropped, never sent.
    static func serializeHead(status: Int, headers: HTTPHeaders) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        out += Array("HTTP/1.1 \(status) \(reasonPhrase(for: status))\r\n".utf8)
        for (name, value) in headers {
            guard isToken(name.utf8), value.utf8.allSatisfy(isFieldValueByte) else { continue }
            out += Array(name.utf8)
            out += [UInt8(ascii: ":"), UInt8(ascii: " ")]
            out += Array(value.utf8)
            out += [0x0D, 0x0A]
        }
        out += [0x0D, 0x0A]
        return out
    }

    private static func addVary(_ headers: inout HTTPHeaders) {
        let existing = headerListTokens(headers.values(for: "Vary"))
        if existing.contains("accept-encoding") || existing.contains("*") { return }
        if let current = headers["Vary"] {
            headers.set(name: "Vary", value: current + ", Accept-Encoding")
        } else {
            headers.set(name: "Vary", value: "Accept-Encoding")
        }
    }

    /// Whether Accept-Encoding allows gzip: an explicit gzip/x-gzip q-value wins, else "*".
    /// Absent header means no compression (clients that want it say so).
    static func acceptsGzip(_ values: [String]) -> Bool {
        var gzipQuality: Double?
        var starQuality: Double?
        for value in values {
            for element in value.split(separator: ",") {
                let parts = element.split(separator: ";")
                guard let first = parts.first else { continue }
                let coding = trimOWS(first).lowercased()
                var quality = 1.0
                for parameter in parts.dropFirst() {
                    let p = trimOWS(parameter)
                    guard p.count >= 2, p.prefix(2).lowercased() == "q=" else { continue }
                    // An unparsable q-value makes the element unusable.
                    quality = Double(p.dropFirst(2)).map { min(max($0, 0), 1) } ?? 0
                }
                if coding == "gzip" || coding == "x-gzip" {
                    gzipQuality = max(gzipQuality ?? 0, quality)
                } else if coding == "*" {
                    starQuality = quality
                }
            }
        }
        if let gzipQuality { return gzipQuality > 0 }
        return (starQuality ?? 0) > 0
    }

    /// IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT", built without Foundation formatters.
    static func httpDate(_ seconds: time_t = time(nil)) -> String {
        var t = seconds
        var parts = tm()
        gmtime_r(&t, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let day = days[Int(max(0, min(6, parts.tm_wday)))]
        let month = months[Int(max(0, min(11, parts.tm_mon)))]
        return "\(day), \(two(parts.tm_mday)) \(month) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}

/// Request IDs: a client's X-Request-Id is reused only if it is 1–200 chars of [A-Za-z0-9._-]
/// (safe to log and echo); otherwise a random 128-bit hex id is generated.
enum RequestID {
    static func accept(_ value: String?) -> String? {
        guard let value, (1...200).contains(value.utf8.count) else { return nil }
        let ok = value.utf8.allSatisfy { b in
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                return true
            default:
                return false
            }
        }
        return ok ? value : nil
    }

    static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let high = generator.next() as UInt64
        let low = generator.next() as UInt64
        return hex16(high) + hex16(low)
    }

    private static func hex16(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}
