/// A fully received request, as handed to the handler.
public struct HTTPRequest: Sendable {
    /// The method token exactly as sent (methods are case-sensitive).
    public var method: String
    /// The raw request-target from the request line.
    public var target: String
    /// The percent-decoded path, without the query ("*" for `OPTIONS *`).
    public var path: String
    /// Decoded query parameters (`+` is a space); for repeated keys the last wins.
    public var query: [String: String]
    /// "HTTP/1.0" or "HTTP/1.1".
    public var version: String
    public var headers: HTTPHeaders
    /// The body, de-chunked and gunzipped when `Content-Encoding: gzip` was sent.
    public var body: [UInt8]
    /// The `X-Request-Id` sent by the client when well-formed, else a generated one.
    public var requestID: String
    /// "ip:port" or "[ipv6]:port" of the peer.
    public var remoteAddress: String

    public init(
        method: String, target: String, path: String, query: [String: String] = [:],
        version: String = "HTTP/1.1", headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = [],
        requestID: String = "", remoteAddress: String = ""
    ) {
        self.method = method
        self.target = target
        self.path = path
        self.query = query
        self.version = version
        self.headers = headers
        self.body = body
        self.requestID = requestID
        self.remoteAddress = remoteAddress
    }
}

/// Splitting and decoding of the request-target. Pure functions over bytes.
enum TargetDecoder {
    /// Returns (path, query) for origin-form ("/a?b"), absolute-form ("http://h/a?b")
    /// and asterisk-form ("*"), or nil when the target is not acceptable.
    static func decode(_ target: ArraySlice<UInt8>) -> (path: String, query: [String: String])? {
        if target.count == 1, target.first == UInt8(ascii: "*") { return ("*", [:]) }
        var rest = target
        if rest.first != UInt8(ascii: "/") {
            // absolute-form: skip "scheme://authority"; proxies are not supported otherwise.
            guard let afterScheme = absoluteFormPathStart(rest) else { return nil }
            rest = target[afterScheme...]
        }
        let questionMark = rest.firstIndex(of: UInt8(ascii: "?"))
        let pathBytes = rest[rest.startIndex..<(questionMark ?? rest.endIndex)]
        guard let decodedPath = percentDecode(pathBytes, plusIsSpace: false, strict: true) else { return nil }
        var path = String(decoding: decodedPath, as: UTF8.self)
        if path.isEmpty { path = "/" }
        var query: [String: String] = [:]
        if let questionMark {
            var queryBytes = target[(questionMark + 1)...]
            if let hash = queryBytes.firstIndex(of: UInt8(ascii: "#")) { queryBytes = queryBytes[..<hash] }
            query = parseQuery(queryBytes)
        }
        return (path, query)
    }

    /// Index where the path of an absolute-form target begins (may be endIndex).
    private static func absoluteFormPathStart(_ t: ArraySlice<UInt8>) -> Int? {
        let lower = t.prefix(8).map(asciiLower)
        let schemeLength: Int
        if lower.starts(with: Array("http://".utf8)) {
            schemeLength = 7
        } else if lower.starts(with: Array("https://".utf8)) {
            schemeLength = 8
        } else {
            return nil
        }
        let authorityStart = t.startIndex + schemeLength
        guard authorityStart < t.endIndex else { return nil }
        let authority = t[authorityStart...]
        let end = authority.firstIndex { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") } ?? t.endIndex
        guard end > authorityStart else { return nil }  // empty authority
        return end
    }

    static func parseQuery(_ bytes: ArraySlice<UInt8>) -> [String: String] {
        var result: [String: String] = [:]
        for pair in bytes.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let eq = pair.firstIndex(of: UInt8(ascii: "="))
            let keyBytes = pair[pair.startIndex..<(eq ?? pair.endIndex)]
            let valueBytes = eq.map { pair[($0 + 1)...] } ?? []
            let key = String(
                decoding: percentDecode(keyBytes, plusIsSpace: true, strict: false) ?? Array(keyBytes),
                as: UTF8.self)
            guard !key.isEmpty else { continue }
            let value = String(
                decoding: percentDecode(valueBytes, plusIsSpace: true, strict: false) ?? Array(valueBytes),
                as: UTF8.self)
            result[key] = value
        }
        return result
    }

    /// Decodes %XX escapes. Strict mode rejects malformed escapes and %00 (returns nil);
    /// lenient mode keeps malformed escapes literally.
    static func percentDecode(_ bytes: ArraySlice<UInt8>, plusIsSpace: Bool, strict: Bool) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let b = bytes[i]
            if b == UInt8(ascii: "%") {
                if bytes.endIndex - i >= 3, let hi = hexValue(bytes[i + 1]), let lo = hexValue(bytes[i + 2]) {
                    let decoded = hi << 4 | lo
                    if strict && decoded == 0 { return nil }
                    out.append(decoded)
                    i += 3
                    continue
                }
                if strict { return nil }
                out.append(b)
            } else if plusIsSpace && b == UInt8(ascii: "+") {
                out.append(UInt8(ascii: " "))
            } else {
                out.append(b)
            }
            i += 1
        }
        return out
    }
}

@inline(__always)
func hexValue(_ b: UInt8) -> UInt8? {
    switch b {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return b - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return b - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return b - UInt8(ascii: "A") + 10
    default: return nil
    }
}

extension HTTPRequest {
    /// Whether the client's Accept-Encoding allows a gzip response body, for handlers that
    /// choose between a buffered body (which the server gzips) and a sized or streamed one.
    public var acceptsGzip: Bool { ResponseEncoder.acceptsGzip(headers.values(for: "Accept-Encoding")) }
}
