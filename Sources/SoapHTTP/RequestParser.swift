/// Limits enforced while parsing; each maps to the status the RFCs suggest.
struct ParserLimits: Sendable {
    var maxRequestLineBytes = 8192  // 414
    var maxHeaderBytes = 32768  // 431 (sum of header lines, CRLF included)
    var maxHeaderCount = 100  // 431
    var maxBodyBytes = 64 << 20  // 413 (on the wire; the decoded size is checked later)
    /// A chunk-size line (with extensions) longer than this is malformed.
    var maxChunkLineBytes = 4096
}

/// How the body of a request is delimited.
enum BodyFraming: Equatable, Sendable {
    case none
    case length(Int)
    case chunked
}

/// Everything known once the header section has been parsed.
struct RequestHead: Sendable {
    var method: String
    var target: String
    var path: String
    var query: [String: String]
    /// 0 or 1 (HTTP/1.0 or HTTP/1.1).
    var minorVersion: Int
    var headers: HTTPHeaders
    var framing: BodyFraming
    /// The client's persistence wish (HTTP/1.1 default on, HTTP/1.0 opt-in).
    var keepAlive: Bool
    /// `Expect: 100-continue` on an HTTP/1.1 request that has a body.
    var expectsContinue: Bool
    /// `Content-Encoding: gzip` (the body must be inflated before use).
    var gzipBody: Bool

    var version: String { minorVersion == 0 ? "HTTP/1.0" : "HTTP/1.1" }
    var isHead: Bool { method == "HEAD" }
}

/// A request that cannot be served; `status` is the response to send (then close).
struct HTTPParseError: Error, Equatable, Sendable {
    var status: Int
    var detail: String
}

enum ParseEvent: Sendable {
    /// Feed more bytes and call again.
    case needMore
    /// The header section is complete; call again to get the body.
    case head(RequestHead)
    /// The body is complete; the parser is ready for the next (pipelined) request.
    case complete(body: [UInt8])
    /// Fatal for the connection: answer `status` and close. Sticky.
    case failure(HTTPParseError)
}

/// An incremental HTTP/1.1 request parser: a pure state machine over bytes with no I/O,
/// so it can be driven by a socket, by tests byte-by-byte, or by a fuzzer.
///
/// `parse` consumes what it can from the buffer and reports one event at a time.
/// Arithmetic on client-supplied numbers is overflow-checked; nothing here traps on input.
struct RequestParser: Sendable {
    private enum State: Sendable {
        case requestLine
        case headers
        case fixedBody(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case failed(HTTPParseError)
    }

    let limits: ParserLimits
    private var state: State = .requestLine
    /// Bytes already searched for LF without finding one (avoids rescanning on each feed).
    private var scanOffset = 0
    private var headerBytes = 0
    private var headerCount = 0
    private var method = ""
    private var target: [UInt8] = []
    private var minorVersion = 1
    private var headers = HTTPHeaders()
    private var body: [UInt8] = []

    init(limits: ParserLimits = ParserLimits()) {
        self.limits = limits
    }

    /// True between requests: nothing of a next request has been consumed yet.
    var isAtMessageStart: Bool {
        if case .requestLine = state { return scanOffset == 0 }
        return false
    }

    mutating func parse(_ buffer: inout ByteBuffer) -> ParseEvent {
        while true {
            switch state {
            case .failed(let error):
                return .failure(error)

            case .requestLine:
                // RFC 9112 §2.2: ignore empty lines before the request line.
                while scanOffset == 0, !buffer.isEmpty, buffer[0] == 0x0D || buffer[0] == 0x0A {
                    buffer.consume(1)
                }
                switch scanLine(buffer, limit: limits.maxRequestLineBytes) {
                case .needMore: return .needMore
                case .tooLong:
                    return fail(414, "The request line exceeds \(limits.maxRequestLineBytes) bytes.")
                case .line(let length, let consumed):
                    // Parse before consuming so no slice outlives the buffer mutation (no COW copy).
                    let error = parseRequestLine(buffer.slice(from: 0, count: length))
                    buffer.consume(consumed)
                    if let error { return fail(error) }
                    state = .headers
                }

            case .headers:
                switch scanLine(buffer, limit: limits.maxHeaderBytes - headerBytes) {
                case .needMore: return .needMore
                case .tooLong:
                    return fail(431, "The header section exceeds \(limits.maxHeaderBytes) bytes.")
                case .line(let length, let consumed):
                    headerBytes += consumed
                    if length == 0 {
                        buffer.consume(consumed)
                        switch finishHead() {
                        case .success(let head): return .head(head)
                        case .failure(let error): return fail(error)
                        }
                    }
                    headerCount += 1
                    if headerCount > limits.maxHeaderCount {
                        return fail(431, "More than \(limits.maxHeaderCount) header fields.")
                    }
                    let parsed = parseHeaderLine(buffer.slice(from: 0, count: length))
                    buffer.consume(consumed)
                    switch parsed {
                    case .success(let field): headers.add(name: field.name, value: field.value)
                    case .failure(let error): return fail(error)
                    }
                }

            case .fixedBody(let remaining):
                let n = min(remaining, buffer.readableCount)
                if n > 0 {
                    body.append(contentsOf: buffer.slice(from: 0, count: n))
                    buffer.consume(n)
                }
                if remaining - n == 0 { return finishMessage() }
                state = .fixedBody(remaining: remaining - n)
                return .needMore

            case .chunkSize:
                switch scanLine(buffer, limit: limits.maxChunkLineBytes) {
                case .needMore: return .needMore
                case .tooLong: return fail(400, "A chunk-size line is too long.")
                case .line(let length, let consumed):
                    let parsed = parseChunkSize(buffer.slice(from: 0, count: length))
                    buffer.consume(consumed)
                    switch parsed {
                    case .failure(let error): return fail(error)
                    case .success(0):
                        headerBytes = 0
                        headerCount = 0
                        state = .trailers
                    case .success(let size):
                        guard size <= limits.maxBodyBytes - body.count else {
                            return fail(413, "The request body exceeds \(limits.maxBodyBytes) bytes.")
                        }
                        state = .chunkData(remaining: size)
                    }
                }

            case .chunkData(let remaining):
                let n = min(remaining, buffer.readableCount)
                if n > 0 {
                    body.append(contentsOf: buffer.slice(from: 0, count: n))
                    buffer.consume(n)
                }
                if remaining - n > 0 {
                    state = .chunkData(remaining: remaining - n)
                    return .needMore
                }
                state = .chunkDataEnd

            case .chunkDataEnd:
                // The CRLF that ends chunk data (a bare LF is tolerated like elsewhere).
                guard !buffer.isEmpty else { return .needMore }
                if buffer[0] == 0x0A {
                    buffer.consume(1)
                } else if buffer[0] == 0x0D {
                    guard buffer.readableCount >= 2 else { return .needMore }
                    guard buffer[1] == 0x0A else { return fail(400, "Chunk data is not followed by CRLF.") }
                    buffer.consume(2)
                } else {
                    return fail(400, "Chunk data is longer than its chunk size.")
                }
                state = .chunkSize

            case .trailers:
                switch scanLine(buffer, limit: limits.maxHeaderBytes - headerBytes) {
                case .needMore: return .needMore
                case .tooLong:
                    return fail(431, "The trailer section exceeds \(limits.maxHeaderBytes) bytes.")
                case .line(let length, let consumed):
                    headerBytes += consumed
                    if length == 0 {
                        buffer.consume(consumed)
                        return finishMessage()
                    }
                    headerCount += 1
                    if headerCount > limits.maxHeaderCount {
                        return fail(431, "More than \(limits.maxHeaderCount) trailer fields.")
                    }
                    // Trailers are validated but dropped: nothing downstream needs them.
                    let parsed = parseHeaderLine(buffer.slice(from: 0, count: length))
                    buffer.consume(consumed)
                    if case .failure(let error) = parsed { return fail(error) }
                }
            }
        }
    }

    // MARK: - Lines

    private enum LineScan {
        case needMore
        case tooLong
        /// A line of `length` content bytes at the read position; `consumed` includes the terminator.
        case line(length: Int, consumed: Int)
    }

    /// Finds the next line (LF-terminated, optional CR before it) of at most `limit` content bytes.
    private mutating func scanLine(_ buffer: ByteBuffer, limit: Int) -> LineScan {
        let limit = max(limit, 0)
        // A line of `limit` bytes plus CRLF fits in `limit + 2` bytes; never look further.
        let searchEnd = min(buffer.readableCount, limit + 2)
        if let lf = buffer.firstIndex(of: 0x0A, from: scanOffset, to: searchEnd) {
            scanOffset = 0
            let length = (lf > 0 && buffer[lf - 1] == 0x0D) ? lf - 1 : lf
            return length > limit ? .tooLong : .line(length: length, consumed: lf + 1)
        }
        scanOffset = searchEnd
        return searchEnd >= limit + 2 ? .tooLong : .needMore
    }

    // MARK: - Request line

    private mutating func parseRequestLine(_ line: ArraySlice<UInt8>) -> HTTPParseError? {
        let space = UInt8(ascii: " ")
        guard let firstSpace = line.firstIndex(of: space) else {
            return HTTPParseError(status: 400, detail: "Malformed request line.")
        }
        let methodBytes = line[line.startIndex..<firstSpace]
        let afterMethod = line[(firstSpace + 1)...]
        guard let secondSpace = afterMethod.firstIndex(of: space) else {
            return HTTPParseError(status: 400, detail: "Malformed request line.")
        }
        let targetBytes = afterMethod[afterMethod.startIndex..<secondSpace]
        let versionBytes = afterMethod[(secondSpace + 1)...]
        guard isToken(methodBytes) else {
            return HTTPParseError(status: 400, detail: "Invalid method token.")
        }
        // Visible ASCII only: no spaces, controls or raw non-ASCII in the target.
        guard !targetBytes.isEmpty, targetBytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            return HTTPParseError(status: 400, detail: "Invalid request target.")
        }
        switch parseVersion(versionBytes) {
        case .some(let minor) where minor >= 0:
            minorVersion = minor
        case .some:
            return HTTPParseError(status: 505, detail: "Only HTTP/1.0 and HTTP/1.1 are supported.")
        case .none:
            return HTTPParseError(status: 400, detail: "Malformed HTTP version.")
        }
        method = String(decoding: methodBytes, as: UTF8.self)
        target = Array(targetBytes)
        return nil
    }

    /// The minor version for HTTP/1.0 and HTTP/1.1, -1 for another well-formed version
    /// (answered with 505), nil for garbage (answered with 400).
    private func parseVersion(_ v: ArraySlice<UInt8>) -> Int? {
        guard v.count == 8, v.starts(with: "HTTP/".utf8) else { return nil }
        let i = v.startIndex
        guard let major = digitValue(v[i + 5]), v[i + 6] == UInt8(ascii: "."),
            let minor = digitValue(v[i + 7])
        else { return nil }
        return (major == 1 && minor <= 1) ? Int(minor) : -1
    }

    // MARK: - Header fields

    private func parseHeaderLine(_ line: ArraySlice<UInt8>) -> Result<(name: String, value: String), HTTPParseError> {
        guard let first = line.first else { return .failure(.init(status: 400, detail: "Empty header line.")) }
        if first == 0x20 || first == 0x09 {
            return .failure(.init(status: 400, detail: "Obsolete line folding is not accepted."))
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
            return .failure(.init(status: 400, detail: "A header line has no colon."))
        }
        let name = line[line.startIndex..<colon]
        guard isToken(name) else {
            return .failure(.init(status: 400, detail: "Invalid header field name."))
        }
        var value = line[(colon + 1)...]
        while let b = value.first, b == 0x20 || b == 0x09 { value = value.dropFirst() }
        while let b = value.last, b == 0x20 || b == 0x09 { value = value.dropLast() }
        guard value.allSatisfy(isFieldValueByte) else {
            return .failure(.init(status: 400, detail: "Invalid character in a header field value."))
        }
        return .success((String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
    }

    /// Validates the header section as a whole and decides how the body is framed.
    private mutating func finishHead() -> Result<RequestHead, HTTPParseError> {
        let hosts = headers.values(for: "Host")
        if hosts.count > 1 || (minorVersion == 1 && hosts.isEmpty) {
            return .failure(.init(status: 400, detail: hosts.isEmpty ? "Missing Host header." : "Multiple Host headers."))
        }

        var framing = BodyFraming.none
        let transferEncodings = headers.values(for: "Transfer-Encoding")
        let contentLengths = headers.values(for: "Content-Length")
        if !transferEncodings.isEmpty {
            // Both framings at once is the classic request-smuggling vector.
            if !contentLengths.isEmpty {
                return .failure(.init(status: 400, detail: "Both Transfer-Encoding and Content-Length are present."))
            }
            if minorVersion == 0 {
                return .failure(.init(status: 400, detail: "Transfer-Encoding is not allowed in HTTP/1.0."))
            }
            guard headerListTokens(transferEncodings) == ["chunked"] else {
                return .failure(.init(status: 501, detail: "Only Transfer-Encoding: chunked is supported."))
            }
            framing = .chunked
        } else if !contentLengths.isEmpty {
            switch parseContentLength(contentLengths) {
            case .failure(let error): return .failure(error)
            case .success(let length):
                guard length <= limits.maxBodyBytes else {
                    return .failure(.init(status: 413, detail: "The request body exceeds \(limits.maxBodyBytes) bytes."))
                }
                framing = length > 0 ? .length(length) : .none
            }
        }

        let connection = headerListTokens(headers.values(for: "Connection"))
        let keepAlive =
            minorVersion == 1
            ? !connection.contains("close")
            : connection.contains("keep-alive") && !connection.contains("close")

        var expectsContinue = false
        let expect = headers.values(for: "Expect")
        if minorVersion == 1 && !expect.isEmpty {
            // RFC 9110 §10.1.1: 100-continue is the only expectation defined.
            guard headerListTokens(expect) == ["100-continue"] else {
                return .failure(.init(status: 417, detail: "Only Expect: 100-continue is supported."))
            }
            expectsContinue = framing != .none
        }

        let codings = headerListTokens(headers.values(for: "Content-Encoding")).filter { $0 != "identity" }
        let gzipBody: Bool
        switch codings {
        case []: gzipBody = false
        case ["gzip"], ["x-gzip"]: gzipBody = true
        default: return .failure(.init(status: 415, detail: "Only gzip request bodies are supported."))
        }

        guard let (path, query) = TargetDecoder.decode(target[...]) else {
            return .failure(.init(status: 400, detail: "Invalid request target."))
        }

        let head = RequestHead(
            method: method, target: String(decoding: target, as: UTF8.self), path: path,
            query: query, minorVersion: minorVersion, headers: headers, framing: framing,
            keepAlive: keepAlive, expectsContinue: expectsContinue, gzipBody: gzipBody)
        switch framing {
        case .none: state = .fixedBody(remaining: 0)
        case .length(let n):
            state = .fixedBody(remaining: n)
            body.reserveCapacity(min(n, 1 << 20))  // never trust a large claim with memory up front
        case .chunked: state = .chunkSize
        }
        return .success(head)
    }

    /// Content-Length: digits only; repeated (or list) values must all agree.
    private func parseContentLength(_ values: [String]) -> Result<Int, HTTPParseError> {
        var result: Int?
        for value in values {
            for element in value.utf8.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
                var bytes = element[...]
                while let b = bytes.first, b == 0x20 || b == 0x09 { bytes = bytes.dropFirst() }
                while let b = bytes.last, b == 0x20 || b == 0x09 { bytes = bytes.dropLast() }
                guard !bytes.isEmpty, bytes.allSatisfy({ digitValue($0) != nil }) else {
                    return .failure(.init(status: 400, detail: "Invalid Content-Length."))
                }
                var n = 0
                for b in bytes {
                    let (m, o1) = n.multipliedReportingOverflow(by: 10)
                    let (s, o2) = m.addingReportingOverflow(Int(b &- UInt8(ascii: "0")))
                    if o1 || o2 {
                        return .failure(.init(status: 413, detail: "The request body exceeds \(limits.maxBodyBytes) bytes."))
                    }
                    n = s
                }
                if let previous = result, previous != n {
                    return .failure(.init(status: 400, detail: "Conflicting Content-Length values."))
                }
                result = n
            }
        }
        guard let length = result else { return .failure(.init(status: 400, detail: "Invalid Content-Length.")) }
        return .success(length)
    }

    // MARK: - Chunked

    /// chunk-size [ BWS ";" chunk-ext ] — extensions are checked for control bytes and ignored.
    private func parseChunkSize(_ line: ArraySlice<UInt8>) -> Result<Int, HTTPParseError> {
        var size = 0
        var digits = 0
        var i = line.startIndex
        while i < line.endIndex, let v = hexValue(line[i]) {
            let (m, o1) = size.multipliedReportingOverflow(by: 16)
            let (s, o2) = m.addingReportingOverflow(Int(v))
            if o1 || o2 { return .failure(.init(status: 413, detail: "A chunk is too large.")) }
            size = s
            digits += 1
            i += 1
        }
        guard digits > 0 else { return .failure(.init(status: 400, detail: "Invalid chunk size.")) }
        while i < line.endIndex, line[i] == 0x20 || line[i] == 0x09 { i += 1 }
        if i < line.endIndex {
            guard line[i] == UInt8(ascii: ";"), line[i...].allSatisfy(isFieldValueByte) else {
                return .failure(.init(status: 400, detail: "Invalid chunk extension."))
            }
        }
        return .success(size)
    }

    // MARK: - Helpers

    private mutating func finishMessage() -> ParseEvent {
        let completed = body
        state = .requestLine
        scanOffset = 0
        headerBytes = 0
        headerCount = 0
        method = ""
        target = []
        headers = HTTPHeaders()
        body = []
        return .complete(body: completed)
    }

    private mutating func fail(_ status: Int, _ detail: String) -> ParseEvent {
        fail(HTTPParseError(status: status, detail: detail))
    }

    private mutating func fail(_ error: HTTPParseError) -> ParseEvent {
        state = .failed(error)
        return .failure(error)
    }
}

@inline(__always)
private func digitValue(_ b: UInt8) -> UInt8? {
    (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) ? b - UInt8(ascii: "0") : nil
}
