#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
import Dispatch
import FastJSON
import SoapCore
import SoapHTTP
import SoapStorage
import Synchronization

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
        Log.message("info", "soapd \(Application.version) listening on \(c.host):\(http.boundPort), database \(c.resolvedDatabasePath), \(c.effectiveThreads) threads")
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
        Log.message("info", "shutting down: draining in-flight requests (grace \(application.configuration.gracePeriodSeconds) s)")
        // Job workers finish (and commit) the chunk they hold; the rest resumes at next start.
        application.jobs?.stop(timeout: application.configuration.gracePeriodSeconds)
        http.shutdown()
        Log.message("info", "stopped")
    }
}

/// Structured log lines (JSON, one per line) on stderr.
public enum Log {
    public static func request(_ log: HTTPRequestLog) {
        var w = JSONWriter(capacity: 256)
        w.beginObject()
        w.key("time"); w.string(timestamp())
        w.key("level"); w.string(log.status >= 500 ? "error" : "info")
        w.key("method"); w.string(log.method)
        w.key("path"); w.string(String(log.path.prefix(200)))
        w.key("status"); w.integer(log.status)
        w.key("bytes"); w.integer(log.bytesSent)
        w.key("duration_ms"); w.number((log.durationSeconds * 1e6).rounded() / 1e3)
        w.key("request_id"); w.string(log.requestID)
        w.key("remote"); w.string(log.remoteAddress)
        w.endObject()
        emit(w.bytes)
    }

    public static func message(_ level: String, _ text: String) {
        var w = JSONWriter(capacity: 128)
        w.beginObject()
        w.key("time"); w.string(timestamp())
        w.key("level"); w.string(level)
        w.key("message"); w.string(text)
        w.endObject()
        emit(w.bytes)
    }

    static func emit(_ bytes: [UInt8]) {
        var line = bytes
        line.append(0x0A)
        line.withUnsafeBytes { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }

    static func timestamp() -> String { SystemClock.iso8601(SystemClock.wall(), milliseconds: true) }
}

public enum FileSystem {
    public struct Failure: Error, CustomStringConvertible { public var description: String }

    /// mkdir -p of the directory that will hold `path`.
    public static func createDirectories(forFile path: String) throws {
        guard let slash = path.lastIndex(of: "/") else { return }
        let directory = String(path[..<slash])
        var current = directory.hasPrefix("/") ? "" : "."
        for part in directory.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw Failure(description: "cannot create \(current): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Writes a file so that it is either absent, as before, or complete: a temporary file,
    /// flushed to disk, renamed over `path`. Each call has its own temporary name: two
    /// writers of the same path (two job workers loading the same job) used to share one,
    /// and the second rename failed with ENOENT.
    public static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        try writeAtomically(to: path) { put in try bytes.withUnsafeBytes(put) }
    }

    /// The same, with the content given piece by piece (straight from the caller's arrays).
    /// Returns the number of bytes written.
    @discardableResult
    public static func writeAtomically(to path: String,
                                       _ content: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws -> Int {
        // A name of its own, so concurrent writers of one path cannot take each other's file.
        let temporary = path + ".tmp-\(UInt64.random(in: 0...UInt64.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Failure(description: "cannot create \(temporary): \(String(cString: strerror(errno)))") }
        func abandon(_ what: String) -> Failure {
            let reason = String(cString: strerror(errno))
            close(fd)
            unlink(temporary)
            return Failure(description: "cannot \(what) \(temporary): \(reason)")
        }
        var total = 0
        do {
            try content { piece in
                var offset = 0
                while offset < piece.count {
                    let n = write(fd, piece.baseAddress! + offset, piece.count - offset)
                    if n < 0 && errno == EINTR { continue }
                    guard n > 0 else { throw abandon("write") }
                    offset += n
                }
                total += piece.count
            }
        } catch let failure as Failure {
            throw failure   // abandon() closed and removed the file
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        // Data only: the rename below is what makes the file visible.
        guard fdatasync(fd) == 0 else { throw abandon("flush") }
        close(fd)
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw Failure(description: "cannot rename \(temporary): \(reason)")
        }
        return total
    }

    /// The first `limit` bytes of a file (fewer if it is shorter).
    public static func readPrefix(_ path: String, upTo limit: Int) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(description: "cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var out = [UInt8](repeating: 0, count: limit)
        var filled = 0
        while filled < limit {
            let n = out.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + filled, limit - filled, off_t(filled)) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw Failure(description: "cannot read \(path): \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            filled += n
        }
        out.removeLast(limit - filled)
        return out
    }

    /// `count` values of T stored at `offset` (little-endian, as written), read straight into the array.
    public static func readSection<T>(_ path: String, offset: Int, count: Int, as: T.Type) throws -> [T] {
        let size = count * MemoryLayout<T>.stride
        guard count > 0 else { return [] }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(description: "cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var failure: Failure?
        let out = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            let raw = UnsafeMutableRawPointer(buffer.baseAddress!)
            var filled = 0
            while filled < size {
                let n = pread(fd, raw + filled, size - filled, off_t(offset + filled))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    failure = Failure(description: n == 0 ? "\(path) is truncated" : "cannot read \(path): \(String(cString: strerror(errno)))")
                    // Zero-fill so the array is initialised even on failure.
                    (raw + filled).initializeMemory(as: UInt8.self, repeating: 0, count: size - filled)
                    break
                }
                filled += n
            }
            initialized = count
        }
        if let failure { throw failure }
        return out
    }

    /// Removes a directory of files (one level, as a job's directory is).
    public static func removeTree(_ path: String) {
        if let dir = opendir(path) {
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
                }
                if name != "." && name != ".." { unlink(path + "/" + name) }
            }
            closedir(dir)
        }
        rmdir(path)
    }

    /// Runs `body` on a new thread of its own (not Dispatch's pool, so that its scheduling
    /// priority can be set).
    public static func startThread(_ body: @escaping @Sendable () -> Void) {
        final class Box { let body: @Sendable () -> Void; init(_ b: @escaping @Sendable () -> Void) { body = b } }
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            box.body()
            return nil
        }, box)
        if rc == 0 { pthread_detach(thread) } else { Unmanaged<Box>.fromOpaque(box).release() }
    }
}
