import Foundation

/// What a worker hands back to the connection thread.
enum JobOutcome: Sendable {
    /// The connection thread writes it (so a slow reader never holds a worker).
    case ready(EncodedResponse)
    /// The worker already wrote a streamed body.
    case streamed(status: Int, bytesSent: Int, complete: Bool, keepAlive: Bool)
}

/// One client connection, served on its own thread: read and parse with poll() timeouts,
/// run the handler on the worker pool, write the response, repeat while kept alive.
/// Requests on a connection are handled one at a time, so pipelined requests are answered
/// strictly in order.
final class Connection: @unchecked Sendable {
    private let socket: Socket
    private let remoteAddress: String
    private let runtime: ServerRuntime
    private var buffer = ByteBuffer()
    private var parser: RequestParser
    private let lock = NSLock()
    private var pending: Completion<JobOutcome>?
    private var aborted = false

    private static let continueLine = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)
    /// Bodies up to this size are sent in the same write as the head.
    private static let coalesceLimit = 64 * 1024
    private static let lingerSeconds = 1.0
    private static let lingerMaxBytes = 1 << 20

    init(socket: Socket, remoteAddress: String, runtime: ServerRuntime) {
        self.socket = socket
        self.remoteAddress = remoteAddress
        self.runtime = runtime
        parser = RequestParser(limits: runtime.limits)
    }

    private var config: HTTPServerConfiguration { runtime.config }

    func run() {
        serve()
        runtime.connectionFinished(self)
    }

    /// Forced close at the end of a shutdown grace period: socket calls fail from now on and
    /// a wait for the handler is abandoned.
    func abort() {
        let waiting: Completion<JobOutcome>? = lock.withLock {
            aborted = true
            return pending
        }
        socket.abort()
        waiting?.abort()
    }

    private func serve() {
        var waitStart = monotonicNow()
        var isFirst = true
        while true {
            guard let (head, started) = readHead(isFirst: isFirst, waitStart: waitStart),
                let rawBody = readBody(head, started: started)
            else { return }
            var body = rawBody
            if head.gzipBody {
                do {
                    body = try Gzip.decompress(rawBody, limit: config.maxBodyBytes)
                } catch GzipError.limitExceeded {
                    fail(413, "The decompressed request body exceeds \(config.maxBodyBytes) bytes.", head, started)
                    return
                } catch {
                    fail(400, "The request body is not valid gzip data.", head, started)
                    return
                }
            }
            guard respond(head, body: body, started: started) else { return }
            isFirst = false
            waitStart = monotonicNow()
        }
    }

    // MARK: - Reading

    /// Waits for and parses the next header section. Returns nil when the connection is done
    /// (closed quietly, or after an error response).
    private func readHead(isFirst: Bool, waitStart: Double) -> (RequestHead, Double)? {
        var started: Double? = buffer.isEmpty ? nil : monotonicNow()
        while true {
            switch parser.parse(&buffer) {
            case .head(let head):
                return (head, started ?? monotonicNow())
            case .failure(let error):
                fail(error.status, error.detail, nil, started ?? monotonicNow())
                return nil
            case .complete:
                fail(500, "Unexpected parser state.", nil, started ?? monotonicNow())
                return nil
            case .needMore:
                if parser.isAtMessageStart && buffer.isEmpty {
                    // Between requests: wait for the idle timeout (header timeout for a new
                    // connection) or for shutdown, and close silently on either.
                    if runtime.isShuttingDown { return nil }
                    let limit = isFirst ? config.headerTimeout : config.idleTimeout
                    switch socket.read(into: &buffer, deadline: waitStart + limit, wakeFD: runtime.wakeRead) {
                    case .data: started = started ?? monotonicNow()
                    case .eof, .failed, .timeout, .woken: return nil
                    }
                } else {
                    let begin = started ?? monotonicNow()
                    started = begin
                    // A new connection's clock starts at accept, so a slow first byte can't
                    // stretch the budget; absolute deadlines defeat byte-trickling (slowloris).
                    let deadline = (isFirst ? waitStart : begin) + config.headerTimeout
                    switch socket.read(into: &buffer, deadline: deadline) {
                    case .data: continue
                    case .timeout:
                        fail(408, "The request header was not received in time.", nil, begin)
                        return nil
                    case .eof:
                        fail(400, "The connection ended inside the request header.", nil, begin)
                        return nil
                    case .failed, .woken:
                        return nil
                    }
                }
            }
        }
    }

    private func readBody(_ head: RequestHead, started: Double) -> [UInt8]? {
        if head.expectsContinue {
            // The head passed every check (size included), so the client may send the body.
            do { try socket.writeAll(Self.continueLine, timeout: config.writeTimeout) } catch { return nil }
        }
        let deadline = monotonicNow() + config.bodyTimeout
        while true {
            switch parser.parse(&buffer) {
            case .complete(let body):
                return body
            case .failure(let error):
                fail(error.status, error.detail, head, started)
                return nil
            case .head:
                fail(500, "Unexpected parser state.", head, started)
                return nil
            case .needMore:
                switch socket.read(into: &buffer, deadline: deadline) {
                case .data: continue
                case .timeout:
                    fail(408, "The request body was not received in time.", head, started)
                    return nil
                case .eof:
                    fail(400, "The connection ended inside the request body.", head, started)
                    return nil
                case .failed, .woken:
                    return nil
                }
            }
        }
    }

    // MARK: - Handling

    /// Runs the handler on the pool and writes its response. Returns whether to keep going.
    private func respond(_ head: RequestHead, body: [UInt8], started: Double) -> Bool {
        let requestID = RequestID.accept(head.headers["X-Request-Id"]) ?? RequestID.generate()
        let request = HTTPRequest(
            method: head.method, target: head.target, path: head.path, query: head.query,
            version: head.version, headers: head.headers, body: body,
            requestID: requestID, remoteAddress: remoteAddress)
        let context = ResponseContext(
            isHead: head.isHead, minorVersion: head.minorVersion,
            keepAlive: head.keepAlive,
            acceptsGzip: ResponseEncoder.acceptsGzip(head.headers.values(for: "Accept-Encoding")),
            requestID: requestID)
        let completion = Completion<JobOutcome>()
        let registered = lock.withLock { () -> Bool in
            guard !aborted else { return false }
            pending = completion
            return true
        }
        guard registered else { return false }
        defer { lock.withLock { pending = nil } }

        let runtime = self.runtime
        let socket = self.socket
        let accepted = runtime.pool.trySubmit {
            let response = runtime.handler(request)
            var finalContext = context
            // Decided late so a response finishing during shutdown tells the client to go.
            finalContext.keepAlive = context.keepAlive && !runtime.isShuttingDown
            let encoded = ResponseEncoder.encode(
                response, context: finalContext,
                gzipMinimumBytes: runtime.config.gzipMinimumBytes)
            if let producer = encoded.stream {
                // Streamed on this worker so the body is never buffered whole.
                let (sent, complete) = Connection.writeStreamed(
                    encoded, producer: producer, socket: socket,
                    timeout: runtime.config.writeTimeout)
                completion.fulfil(
                    .streamed(
                        status: encoded.status, bytesSent: sent, complete: complete,
                        keepAlive: encoded.keepAlive))
            } else {
                completion.fulfil(.ready(encoded))
            }
        }

        guard accepted else {
            runtime.recordRejectedRequest()
            var response = HTTPResponse.problem(status: 503, detail: "The server is busy; retry shortly.")
            response.headers.set(name: "Retry-After", value: "1")
            var busyContext = context
            busyContext.keepAlive = context.keepAlive && !runtime.isShuttingDown
            let encoded = ResponseEncoder.encode(response, context: busyContext, gzipMinimumBytes: .max)
            return send(encoded, method: head.method, path: head.path, requestID: requestID, started: started)
        }

        guard let outcome = completion.wait() else { return false }  // aborted
        switch outcome {
        case .ready(let encoded):
            return send(encoded, method: head.method, path: head.path, requestID: requestID, started: started)
        case .streamed(let status, let sent, let complete, let keepAlive):
            logResponse(
                method: head.method, path: head.path, status: status, bytesSent: sent,
                requestID: requestID, started: started)
            guard complete else { return false }  // cut short: closing tells the client
            if !keepAlive {
                lingerClose()
                return false
            }
            return true
        }
    }

    /// Runs a body producer on the calling (worker) thread. Returns (bytes sent, completed).
    private static func writeStreamed(
        _ encoded: EncodedResponse, producer: (HTTPBodyWriter) throws -> Void,
        socket: Socket, timeout: Double
    ) -> (Int, Bool) {
        do {
            try socket.writeAll(encoded.head, timeout: timeout)
        } catch {
            return (0, false)
        }
        let writer = HTTPBodyWriter(
            socket: socket, chunked: encoded.chunked, timeout: timeout,
            expectedLength: encoded.streamLength)
        do {
            try producer(writer)
            try writer.finish()
            return (encoded.head.count + writer.bytesSent, true)
        } catch {
            return (encoded.head.count + writer.bytesSent, false)
        }
    }

    // MARK: - Writing

    /// Writes a complete response and logs it. Returns whether the connection stays open.
    private func send(
        _ encoded: EncodedResponse, method: String, path: String, requestID: String,
        started: Double
    ) -> Bool {
        var sent = 0
        do {
            let timeout = config.writeTimeout
            if encoded.body.isEmpty {
                try socket.writeAll(encoded.head, timeout: timeout)
            } else if encoded.body.count <= Self.coalesceLimit {
                try socket.writeAll(encoded.head + encoded.body, timeout: timeout)
            } else {
                try socket.writeAll(encoded.head, timeout: timeout)
                try socket.writeAll(encoded.body, timeout: timeout)
            }
            sent = encoded.head.count + encoded.body.count
        } catch {
            logResponse(
                method: method, path: path, status: encoded.status, bytesSent: sent,
                requestID: requestID, started: started)
            return false
        }
        logResponse(
            method: method, path: path, status: encoded.status, bytesSent: sent,
            requestID: requestID, started: started)
        if !encoded.keepAlive {
            lingerClose()
            return false
        }
        return true
    }

    /// Answers a request the server itself refuses (problem+json) and closes the connection.
    private func fail(_ status: Int, _ detail: String, _ head: RequestHead?, _ started: Double) {
        let requestID = RequestID.accept(head?.headers["X-Request-Id"]) ?? RequestID.generate()
        let context = ResponseContext(
            isHead: head?.isHead ?? false, minorVersion: head?.minorVersion ?? 1,
            keepAlive: false, acceptsGzip: false, requestID: requestID)
        let encoded = ResponseEncoder.encode(
            .problem(status: status, detail: detail), context: context,
            gzipMinimumBytes: .max)
        _ = send(
            encoded, method: head?.method ?? "-", path: head?.path ?? "-", requestID: requestID,
            started: started)
    }

    /// Half-closes, then briefly discards whatever the client still sends: closing with unread
    /// input would make the kernel send a RST that can destroy the response in flight.
    private func lingerClose() {
        socket.shutdownWrite()
        let deadline = monotonicNow() + Self.lingerSeconds
        var sink = ByteBuffer()
        var discarded = 0
        while discarded < Self.lingerMaxBytes {
            guard case .data = socket.read(into: &sink, deadline: deadline) else { return }
            discarded += sink.readableCount
            sink.consume(sink.readableCount)
        }
    }

    private func logResponse(
        method: String, path: String, status: Int, bytesSent: Int, requestID: String,
        started: Double
    ) {
        runtime.log(
            HTTPRequestLog(
                method: method, path: path, status: status, bytesSent: bytesSent,
                durationSeconds: max(0, monotonicNow() - started), requestID: requestID,
                remoteAddress: remoteAddress))
    }
}
