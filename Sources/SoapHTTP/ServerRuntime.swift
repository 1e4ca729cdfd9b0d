import Dispatch
import Foundation
import Glibc

/// Everything that exists while a server is running: the listener, the accept thread,
/// the worker pool and the registry of open connections.
final class ServerRuntime: @unchecked Sendable {
    let config: HTTPServerConfiguration
    let handler: @Sendable (HTTPRequest) -> HTTPResponse
    let limits: ParserLimits
    let pool: WorkerPool
    let boundPort: Int
    /// Read end of the shutdown pipe. It becomes (and stays) readable when shutdown begins,
    /// which wakes the accept loop and every connection waiting idle in poll().
    let wakeRead: Int32
    private let wakeWrite: Int32
    private let listenFD: Int32
    private let logSink: @Sendable (HTTPRequestLog) -> Void

    private let state = NSCondition()
    private var connections: [ObjectIdentifier: Connection] = [:]
    private var shuttingDown = false
    private var finished = false
    private var acceptLoopDone = false
    private var lingeringRejects = 0
    private var counters = HTTPServerStats()

    private static let connectionStackSize = 512 << 10
    private static let maxLingeringRejects = 1024

    init(
        configuration: HTTPServerConfiguration, handler: @escaping @Sendable (HTTPRequest) -> HTTPResponse,
        log: @escaping @Sendable (HTTPRequestLog) -> Void
    ) throws {
        config = configuration
        self.handler = handler
        logSink = log
        // Clamped so that limit arithmetic (limit + 2, …) can never overflow.
        func clamp(_ value: Int, _ low: Int) -> Int { min(max(value, low), 1 << 48) }
        limits = ParserLimits(
            maxRequestLineBytes: clamp(configuration.maxRequestLineBytes, 16),
            maxHeaderBytes: clamp(configuration.maxHeaderBytes, 0),
            maxHeaderCount: clamp(configuration.maxHeaderCount, 0),
            maxBodyBytes: clamp(configuration.maxBodyBytes, 0))
        let backlog = Int32(clamping: min(max(configuration.maxConnections, 16), Int(SOMAXCONN)))
        (listenFD, boundPort) = try Self.openListener(
            host: configuration.host, port: configuration.port,
            backlog: backlog)
        var pipeFDs: [Int32] = [-1, -1]
        // pipe2/accept4 are GNU extensions the Glibc module does not export; fcntl does the same.
        guard pipe(&pipeFDs) == 0, setNonBlockingCloseOnExec(pipeFDs[0]), setNonBlockingCloseOnExec(pipeFDs[1]) else {
            Glibc.close(listenFD)
            throw HTTPServerError.resourceExhausted("the shutdown pipe")
        }
        wakeRead = pipeFDs[0]
        wakeWrite = pipeFDs[1]
        guard
            let pool = WorkerPool(
                threads: configuration.workerThreads,
                maxQueued: configuration.maxQueuedRequests)
        else {
            for fd in [listenFD, wakeRead, wakeWrite] { _ = Glibc.close(fd) }
            throw HTTPServerError.resourceExhausted("worker threads")
        }
        self.pool = pool
        guard spawnThread(stackSize: 256 << 10, { [self] in acceptLoop() }) else {
            pool.stop()
            for fd in [listenFD, wakeRead, wakeWrite] { _ = Glibc.close(fd) }
            throw HTTPServerError.resourceExhausted("the accept thread")
        }
    }

    // MARK: - Listening

    private static func openListener(host: String, port: Int, backlog: Int32) throws -> (Int32, Int) {
        guard (0...65535).contains(port) else { throw HTTPServerError.invalidPort(port) }
        var name = host
        if name.hasPrefix("["), name.hasSuffix("]"), name.count >= 2 { name = String(name.dropFirst().dropLast()) }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let rc =
            name.isEmpty
            ? getaddrinfo(nil, String(port), &hints, &list)
            : getaddrinfo(name, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            throw HTTPServerError.addressResolutionFailed(host: host, reason: String(cString: gai_strerror(rc)))
        }
        defer { freeaddrinfo(first) }

        var lastError: Int32 = EADDRNOTAVAIL
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let info = candidate {
            candidate = info.pointee.ai_next
            let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
            let fd = socket(info.pointee.ai_family, type, 0)
            guard fd >= 0 else {
                lastError = errno
                continue
            }
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            guard bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0, listen(fd, backlog) == 0 else {
                lastError = errno
                Glibc.close(fd)
                continue
            }
            var address = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            _ = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            return (fd, boundPortOf(address) ?? port)
        }
        throw HTTPServerError.bindFailed(host: host, port: port, errno: lastError)
    }

    private static func boundPortOf(_ storage: sockaddr_storage) -> Int? {
        var storage = storage
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
            }
        case AF_INET6:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
            }
        default:
            return nil
        }
    }

    private func acceptLoop() {
        defer {
            state.lock()
            acceptLoopDone = true
            state.broadcast()
            state.unlock()
        }
        while true {
            var fds = [
                pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0),
                pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0),
            ]
            if poll(&fds, 2, -1) < 0 {
                if errno != EINTR { usleep(10_000) }
                continue
            }
            if fds[1].revents != 0 { return }  // shutdown
            guard fds[0].revents != 0 else { continue }
            var address = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    accept(listenFD, $0, &length)
                }
            }
            if fd < 0 {
                // Out of descriptors or memory: back off rather than spin on a ready listener.
                if [EMFILE, ENFILE, ENOBUFS, ENOMEM].contains(errno) { usleep(20_000) }
                continue
            }
            let socket = Socket(fd: fd)  // owns fd from here on (closed on release)
            guard setNonBlockingCloseOnExec(fd) else { continue }
            admit(socket, remoteAddress: describeAddress(address))
        }
    }

    private func admit(_ socket: Socket, remoteAddress: String) {
        var one: Int32 = 1
        setsockopt(socket.fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        state.lock()
        if shuttingDown {
            state.unlock()
            return  // dropping the socket closes it
        }
        if connections.count >= config.maxConnections {
            counters.rejectedConnections += 1
            state.unlock()
            reject(socket, remoteAddress: remoteAddress)
            return
        }
        let connection = Connection(socket: socket, remoteAddress: remoteAddress, runtime: self)
        connections[ObjectIdentifier(connection)] = connection
        state.unlock()
        if !spawnThread(stackSize: Self.connectionStackSize, { connection.run() }) {
            connectionFinished(connection)
            reject(socket, remoteAddress: remoteAddress)
        }
    }

    /// Answers 503 on a connection that won't be served, without tying up a thread.
    private func reject(_ socket: Socket, remoteAddress: String) {
        var response = HTTPResponse.problem(status: 503, detail: "The server has too many open connections.")
        response.headers.set(name: "Retry-After", value: "1")
        let requestID = RequestID.generate()
        let context = ResponseContext(
            isHead: false, minorVersion: 1, keepAlive: false, acceptsGzip: false,
            requestID: requestID)
        let encoded = ResponseEncoder.encode(response, context: context, gzipMinimumBytes: .max)
        // A fresh socket's send buffer is empty, so this small write completes without waiting.
        let bytes = encoded.head + encoded.body
        let sent = (try? socket.writeAll(bytes, timeout: 0)) != nil
        socket.shutdownWrite()
        log(
            HTTPRequestLog(
                method: "-", path: "-", status: 503, bytesSent: sent ? bytes.count : 0,
                durationSeconds: 0, requestID: requestID, remoteAddress: remoteAddress))
        // Close a moment later, after discarding what the client sent meanwhile: closing with
        // unread input makes the kernel send a RST that can destroy the 503 before it is read.
        let linger = state.withLock {
            guard lingeringRejects < Self.maxLingeringRejects else { return false }
            lingeringRejects += 1
            return true
        }
        guard linger else { return }
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.5) { [self] in
            _ = socket.drain()
            state.withLock { lingeringRejects -= 1 }
        }
    }

    // MARK: - Bookkeeping used by connections

    var isShuttingDown: Bool {
        state.withLock { shuttingDown }
    }

    func connectionFinished(_ connection: Connection) {
        state.lock()
        connections[ObjectIdentifier(connection)] = nil
        state.broadcast()
        state.unlock()
    }

    func recordRejectedRequest() {
        state.withLock { counters.rejectedRequests += 1 }
    }

    func log(_ entry: HTTPRequestLog) {
        state.withLock { counters.responsesSent += 1 }
        logSink(entry)
    }

    var stats: HTTPServerStats {
        var snapshot = state.withLock {
            var s = counters
            s.openConnections = connections.count
            return s
        }
        snapshot.queuedRequests = pool.queuedCount
        snapshot.runningRequests = pool.runningCount
        return snapshot
    }

    // MARK: - Shutdown

    func shutdown(gracePeriod: Double) {
        state.lock()
        if shuttingDown {
            while !finished { state.wait() }
            state.unlock()
            return
        }
        shuttingDown = true
        state.unlock()

        var byte: UInt8 = 1
        _ = Glibc.write(wakeWrite, &byte, 1)
        state.withLock { while !acceptLoopDone { state.wait() } }
        Glibc.close(listenFD)  // from here on, connection attempts are refused

        // Idle connections saw the wake-up and close; busy ones finish their current request.
        let graceDeadline = Date(timeIntervalSinceNow: gracePeriod.isNaN ? 0 : min(max(0, gracePeriod), 1e9))
        let stragglers: [Connection] = state.withLock {
            while !connections.isEmpty && state.wait(until: graceDeadline) {}
            return Array(connections.values)
        }
        for connection in stragglers { connection.abort() }
        // Aborted connections fail their next socket call and exit; give them a moment.
        let abortDeadline = Date(timeIntervalSinceNow: 2)
        let clean = state.withLock {
            while !connections.isEmpty && state.wait(until: abortDeadline) {}
            return connections.isEmpty
        }
        pool.stop()
        if clean {
            // Nobody polls the pipe any more; otherwise leak it rather than risk a reused fd.
            Glibc.close(wakeRead)
            Glibc.close(wakeWrite)
        }
        state.withLock {
            finished = true
            state.broadcast()
        }
    }
}
