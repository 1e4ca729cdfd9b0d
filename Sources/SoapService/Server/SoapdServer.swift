import Dispatch
import FastJSON
import SoapCore
import SoapHTTP
import SoapStorage

#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// The running service: the HTTP server bound to the application, with
/// one structured log line per request and graceful shutdown on signals.
public final class SoapdServer: @unchecked Sendable {
    public let application: Application
    public let http: HTTPServer
    private var signalSources: [DispatchSourceSignal] = []

    public let database: Database

    /// Opens (creating on first start) the database, then builds the server.
    public init(configuration: ServiceConfiguration) throws {
        let path = configuration.resolvedDatabasePath
        try FileSystem.createDirectories(forFile: path)
        database = try Database(path: path)
        application = Application(configuration: configuration, database: database)
        var h = HTTPServerConfiguration(host: configuration.host, port: configuration.port)
        h.maxConnections = configuration.maxConnections
        h.maxRequestLineBytes = configuration.maxRequestLineBytes
        h.maxHeaderBytes = configuration.maxHeaderBytes
        h.maxHeaderCount = configuration.maxHeaderCount
        h.maxBodyBytes = configuration.maxBodyBytes
        h.headerTimeout = configuration.headerTimeoutSeconds
        h.bodyTimeout = configuration.bodyTimeoutSeconds
        h.idleTimeout = configuration.idleTimeoutSeconds
        h.writeTimeout = configuration.writeTimeoutSeconds
        h.gracePeriod = configuration.gracePeriodSeconds
        h.maxQueuedRequests = configuration.maxQueuedRequests
        // Each request's featurization already spreads over every core, so a
        // couple of workers keep the cores busy without oversubscribing them.
        h.workerThreads = max(2, configuration.effectiveThreads)
        let app = application
        http = HTTPServer(configuration: h) { request in app.handle(request) }
        let level = configuration.logLevel
        http.onRequestLog = { log in
            guard level == "debug" || level == "info" || log.status >= 500 else { return }
            Log.request(log)
        }
        application.serverStats.set { [weak self] in self?.http.stats ?? HTTPServerStats() }
    }

    /// Binds and starts serving; the data directory is created on first start.
    public func start() throws {
        try http.start()
        application.jobs?.start()
        let c = application.configuration
        if !["127.0.0.1", "::1", "localhost"].contains(c.host) && !application.authorization.requiresWriteTokens {
            Log.message("warning", "listening on a non-loopback address (\(c.host)); no write tokens are configured")
        }
        Log.message(
            "info",
            "soapd \(Application.version) listening on \(c.host):\(http.boundPort), database \(c.resolvedDatabasePath), \(c.effectiveThreads) threads, \(BLAS.description)"
        )
    }

    /// Blocks until SIGTERM or SIGINT, then drains in-flight requests and returns.
    public func runUntilSignalled() {
        let done = DispatchSemaphore(value: 0)
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { done.signal() }
            source.resume()
            signalSources.append(source)
        }
        done.wait()
        // Not ready from now on; keep serving while load balancers notice, then drain.
        application.draining.store(true, ordering: .relaxed)
        let delay = application.configuration.drainDelaySeconds
        if delay > 0 {
            Log.message("info", "draining: /ready answers 503; serving \(delay) s more before stopping")
            usleep(UInt32(min(delay, 3600) * 1_000_000))
        }
        Log.message(
            "info", "shutting down: draining in-flight requests (grace \(application.configuration.gracePeriodSeconds) s)")
        // Job workers finish (and commit) the chunk they hold; the rest resumes at next start.
        application.jobs?.stop(timeout: application.configuration.gracePeriodSeconds)
        http.shutdown()
        Log.message("info", "stopped")
    }
}
