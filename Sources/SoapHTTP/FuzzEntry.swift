/// Entry points for the libFuzzer targets in Fuzz/ (and their regression tests): the parser
/// is internal, so the fuzzers reach it only through these. Each runs the same code the
/// server runs on untrusted bytes and checks invariants with `precondition`, so a violated
/// invariant is a crash the fuzzer reports, just like a trap or a memory error.
public enum HTTPFuzzEntry {
    /// Parses `bytes` as a stream of (possibly pipelined) requests, as a connection does,
    /// including the gzip inflation of a `Content-Encoding: gzip` body:
    ///  - whole at once and one byte at a time must give the same events (and bodies);
    ///  - with tiny limits as well (every limit path is reachable by short inputs);
    ///  - no body exceeds its limit, a failure is a 4xx/5xx and is sticky.
    /// Returns the events of the whole-buffer run, one line each (for tests).
    @discardableResult
    public static func parseRequests(_ bytes: [UInt8]) -> [String] {
        let whole = run(bytes, limits: ParserLimits(), feed: .max)
        let split = run(bytes, limits: ParserLimits(), feed: 1)
        precondition(whole == split, "whole-buffer and byte-by-byte parses differ:\n\(whole)\n\(split)")
        let tiny = ParserLimits(
            maxRequestLineBytes: 16, maxHeaderBytes: 64, maxHeaderCount: 3,
            maxBodyBytes: 32, maxChunkLineBytes: 8)
        let tinyWhole = run(bytes, limits: tiny, feed: .max)
        let tinySplit = run(bytes, limits: tiny, feed: 3)
        precondition(tinyWhole == tinySplit, "whole-buffer and 3-byte parses differ (tiny limits):\n\(tinyWhole)\n\(tinySplit)")
        return whole
    }

    /// Drives one parser over `bytes`, handing it `feed` bytes at a time, until it needs more
    /// than there is or fails. Mirrors Connection.serve (head, body, gunzip).
    static func run(_ bytes: [UInt8], limits: ParserLimits, feed: Int) -> [String] {
        var parser = RequestParser(limits: limits)
        var buffer = ByteBuffer()
        var events: [String] = []
        var offset = 0
        var head: RequestHead?
        while true {
            switch parser.parse(&buffer) {
            case .needMore:
                guard offset < bytes.count else { return events }
                let end = offset + min(feed, bytes.count - offset)
                buffer.append(contentsOf: bytes[offset..<end])
                offset = end
            case .head(let h):
                precondition(head == nil, "a second head before the body")
                precondition(!h.path.isEmpty && !h.method.isEmpty)
                if case .length(let n) = h.framing { precondition(n > 0 && n <= limits.maxBodyBytes) }
                head = h
                respond(h)
                events.append(
                    "head \(h.method) \(h.target) \(h.path) \(h.query.sorted { $0.key < $1.key }) "
                        + "\(h.version) \(h.framing) keepAlive=\(h.keepAlive) continue=\(h.expectsContinue) "
                        + "gzip=\(h.gzipBody) headers=\(h.headers.count)")
            case .complete(let body):
                guard let h = head else { preconditionFailure("a body without a head") }
                precondition(body.count <= limits.maxBodyBytes, "body of \(body.count) bytes over the limit")
                if case .length(let n) = h.framing { precondition(body.count == n) }
                if case .none = h.framing { precondition(body.isEmpty) }
                var line = "body \(body.count) \(checksum(body))"
                if h.gzipBody {
                    do {
                        let inflated = try Gzip.decompress(body, limit: limits.maxBodyBytes)
                        precondition(inflated.count <= limits.maxBodyBytes)
                        line += " gunzip \(inflated.count)"
                    } catch {
                        line += " gunzip \(error)"
                    }
                }
                events.append(line)
                head = nil
            case .failure(let error):
                precondition((400...599).contains(error.status), "status \(error.status)")
                events.append("error \(error.status) \(error.detail)")
                // Sticky: the parser never recovers, whatever comes next.
                buffer.append(contentsOf: Array("GET / HTTP/1.1\r\nHost: h\r\n\r\n".utf8))
                guard case .failure(let again) = parser.parse(&buffer), again == error else {
                    preconditionFailure("a failure is not sticky")
                }
                return events
            }
        }
    }

    /// Inflates `bytes` as a gzip request body, checking the limit contract: the output never
    /// exceeds the limit, a limit just at the output size succeeds with the same bytes, one
    /// below throws `limitExceeded`, and what inflates re-compresses and inflates back.
    /// Returns the inflated size, or nil when the input is refused.
    @discardableResult
    public static func inflate(_ bytes: [UInt8]) -> Int? {
        let limit = 1 << 20
        let output: [UInt8]
        do {
            output = try Gzip.decompress(bytes, limit: limit)
        } catch GzipError.limitExceeded {
            return nil
        } catch {
            // Whatever is corrupt at a large limit is corrupt (or over) at a small one too.
            do {
                _ = try Gzip.decompress(bytes, limit: 16)
                preconditionFailure("corrupt at 1 MiB, accepted at 16 bytes")
            } catch {}
            return nil
        }
        precondition(output.count <= limit)
        do {
            let exact = try Gzip.decompress(bytes, limit: output.count)
            precondition(exact == output, "inflating twice differs")
        } catch {
            preconditionFailure("a limit equal to the output size refused: \(error)")
        }
        if output.count > 0 {
            do {
                _ = try Gzip.decompress(bytes, limit: output.count - 1)
                preconditionFailure("a limit below the output size accepted")
            } catch GzipError.limitExceeded {
            } catch {
                preconditionFailure("a limit below the output size gave \(error)")
            }
        }
        let again = try? Gzip.decompress(Gzip.compress(output), limit: output.count)
        precondition(again == output, "compress/decompress round trip differs")
        return output.count
    }

    /// What Connection.respond does with a head before the handler (request id, gzip
    /// negotiation), then the encoding of a response that echoes client text in headers:
    /// the head must stay well-formed (CRLF only as line ends, client bytes never split it).
    static func respond(_ head: RequestHead) {
        let requestID = RequestID.accept(head.headers["X-Request-Id"]) ?? RequestID.generate()
        precondition(requestID.utf8.allSatisfy { isTokenByte($0) })
        let context = ResponseContext(
            isHead: head.isHead, minorVersion: head.minorVersion, keepAlive: head.keepAlive,
            acceptsGzip: ResponseEncoder.acceptsGzip(head.headers.values(for: "Accept-Encoding")),
            requestID: requestID)
        let text = Array(repeating: UInt8(ascii: "a"), count: 1100)
        var names = head.headers.makeIterator()
        let firstName = names.next()?.name ?? "X"
        let response = HTTPResponse(
            status: 200,
            headers: HTTPHeaders([
                ("Content-Type", "text/plain"), ("Location", head.path),
                ("X-Target", head.target),
                (firstName, "v"),
            ]),
            body: .bytes(text))
        let encoded = ResponseEncoder.encode(response, context: context, gzipMinimumBytes: 1024)
        let bytes = encoded.head
        precondition(bytes.count >= 4 && Array(bytes.suffix(4)) == [0x0D, 0x0A, 0x0D, 0x0A], "response head not terminated")
        for (i, b) in bytes.enumerated() {
            if b == 0x0A { precondition(i > 0 && bytes[i - 1] == 0x0D, "bare LF in a response head") }
            if b == 0x0D { precondition(i + 1 < bytes.count && bytes[i + 1] == 0x0A, "bare CR in a response head") }
            precondition(b != 0, "NUL in a response head")
        }
        if head.isHead {
            precondition(encoded.body.isEmpty)
        } else if encoded.body != text {
            // Compressed only when the client accepts gzip (and no handler encoding is set).
            precondition(context.acceptsGzip, "a gzipped response the client did not accept")
            precondition((try? Gzip.decompress(encoded.body, limit: text.count)) == text, "gzipped response body differs")
        }
    }

    private static func checksum(_ bytes: [UInt8]) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }
}
