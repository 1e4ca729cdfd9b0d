import Foundation
import Glibc

/// Server settings. Times are in seconds. The defaults suit a service behind a proxy.
public struct HTTPServerConfiguration: Sendable {
    /// "127.0.0.1", "::1", "0.0.0.0", "::", "localhost", … (brackets around IPv6 are accepted).
    public var host = "127.0.0.1"
    /// 0 picks an ephemeral port; read it back from `HTTPServer.boundPort`.
    public var port = 8080
    /// Beyond this many open connections new ones get 503 + Retry-After and are closed.
    public var maxConnections = 256
    public var maxRequestLineBytes = 8192
    public var maxHeaderBytes = 32768
    public var maxHeaderCount = 100
    /// Applies to the body as received and again after gzip decoding.
    public var maxBodyBytes = 64 << 20
    /// Time allowed to receive a request's header section (from its first byte; from accept
    /// for a connection's first request). Expiry answers 408.
    public var headerTimeout: TimeInterval = 10
    /// Time allowed to receive a request body after its header section. Expiry answers 408.
    public var bodyTimeout: TimeInterval = 60
    /// How long a keep-alive connection may sit idle between requests (closed silently).
    public var idleTimeout: TimeInterval = 30
    /// How long a write may make no progress before the client is dropped.
    public var writeTimeout: TimeInterval = 60
    /// Handlers run on this many threads at most.
    public var workerThreads = ProcessInfo.processInfo.activeProcessorCount
    /// Requests waiting for a worker beyond this are answered 503 + Retry-After at once.
    public var maxQueuedRequests = 64
    /// Default for `shutdown(gracePeriod:)`.
    public var gracePeriod: TimeInterval = 10
    /// Byte bodies at least this long are gzipped when the client accepts it.
    public var gzipMinimumBytes = 1024

    public init() {}

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }
}

/// A snapshot of the server's load.
public struct HTTPServerStats: Sendable, Equatable {
    public var openConnections = 0
    /// Requests accepted but waiting for a worker.
    public var queuedRequests = 0
    /// Requests whose handler is running.
    public var runningRequests = 0
    /// Connections turned away because `maxConnections` was reached.
    public var rejectedConnections = 0
    /// Requests turned away because the queue was full.
    public var rejectedRequests = 0
    /// Responses written (all statuses, server errors included).
    public var responsesSent = 0

    public init() {}
}

/// One line of access log, reported after a response was written (or failed to be).
public struct HTTPRequestLog: Sendable {
    /// "-" when the request was too malformed to tell.
    public var method: String
    public var path: String
    public var status: Int
    /// Bytes written for the response, head included.
    public var bytesSent: Int
    /// From the request's first byte to the response's last.
    public var durationSeconds: Double
    public var requestID: String
    public var remoteAddress: String

    public init(
        method: String, path: String, status: Int, bytesSent: Int, durationSeconds: Double,
        requestID: String, remoteAddress: String
    ) {
        self.method = method
        self.path = path
        self.status = status
        self.bytesSent = bytesSent
        self.durationSeconds = durationSeconds
        self.requestID = requestID
        self.remoteAddress = remoteAddress
    }
}

public enum HTTPServerError: Error, Sendable, Equatable, CustomStringConvertible {
    case alreadyStarted
    case invalidPort(Int)
    case addressResolutionFailed(host: String, reason: String)
    /// socket/bind/listen failed for every address of the host; `errno` is the last error.
    case bindFailed(host: String, port: Int, errno: Int32)
    /// A pipe or thread could not be created.
    case resourceExhausted(String)

    public var description: String {
        switch self {
        case .alreadyStarted: return "The server was already started."
        case .invalidPort(let port): return "Invalid port \(port)."
        case .addressResolutionFailed(let host, let reason): return "Cannot resolve \(host): \(reason)."
        case .bindFailed(let host, let port, let code):
            return "Cannot listen on \(host):\(port): \(String(cString: strerror(code)))."
        case .resourceExhausted(let what): return "Cannot create \(what)."
        }
    }
}

/// An HTTP/1.1 server facing untrusted clients.
///
/// Threads: one accept thread; one thread per open connection (at most `maxConnections`)
/// that reads, parses and writes with poll()-based deadlines, so a slow client only ever
/// holds its own connection; `workerThreads` workers that run the handler (and encode or
/// gzip its response) from a queue bounded by `maxQueuedRequests`. Requests on one
/// connection are handled one after the other, so pipelined responses stay in order.
public final class HTTPServer: @unchecked Sendable {
    public let configuration: HTTPServerConfiguration
    private let handler: @Sendable (HTTPRequest) -> HTTPResponse
    private let lock = NSLock()
    private var runtime: ServerRuntime?
    private var logCallback: (@Sendable (HTTPRequestLog) -> Void)?

    public init(
        configuration: HTTPServerConfiguration = HTTPServerConfiguration(),
        handler: @escaping @Sendable (HTTPRequest) -> HTTPResponse
    ) {
        self.configuration = configuration
        self.handler = handler
    }

    deinit {
        runtime?.shutdown(gracePeriod: 0)
    }

    /// Called (on a connection or worker thread) after each response.
    public var onRequestLog: (@Sendable (HTTPRequestLog) -> Void)? {
        get { lock.withLock { logCallback } }
        set { lock.withLock { logCallback = newValue } }
    }

    /// Binds and listens; returns once connections are being accepted.
    /// Throws `HTTPServerError` (e.g. `.bindFailed` when the port is taken).
    public func start() throws {
        try lock.withLock {
            guard runtime == nil else { throw HTTPServerError.alreadyStarted }
            // Belt and braces: every send uses MSG_NOSIGNAL, but nothing else in the
            // process should die of a client hanging up either.
            signal(SIGPIPE, SIG_IGN)
            runtime = try ServerRuntime(
                configuration: configuration, handler: handler,
                log: { [weak self] entry in self?.onRequestLog?(entry) })
        }
    }

    /// The port actually bound (useful with port 0); 0 before `start()`.
    public var boundPort: Int {
        lock.withLock { runtime?.boundPort ?? 0 }
    }

    public var stats: HTTPServerStats {
        lock.withLock { runtime }?.stats ?? HTTPServerStats()
    }

    /// Stops accepting (the listener is closed at once), closes idle keep-alive connections,
    /// lets in-flight requests finish for up to `gracePeriod` seconds (default: the
    /// configuration's), then force-closes whatever remains. Returns when done; safe to call
    /// more than once (later calls wait for the first).
    public func shutdown(gracePeriod: TimeInterval? = nil) {
        lock.withLock { runtime }?.shutdown(gracePeriod: gracePeriod ?? configuration.gracePeriod)
    }
}
