import Glibc

/// Seconds on the monotonic clock (immune to wall-clock changes).
func monotonicNow() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// poll() timeout in milliseconds until `deadline` (0 when past, rounded up otherwise).
func pollTimeout(until deadline: Double) -> Int32 {
    let remaining = deadline - monotonicNow()
    guard remaining > 0 else { return 0 }  // also catches NaN
    let milliseconds = (remaining * 1000).rounded(.up)
    // Compare as Double first: converting an infinite or huge value to Int would trap.
    return milliseconds >= Double(Int32.max) ? Int32.max : Int32(milliseconds)
}

/// A non-blocking connected socket. The descriptor is closed when the last reference goes
/// away, so a worker still streaming into it can never write to a reused descriptor number.
final class Socket: @unchecked Sendable {
    let fd: Int32
    /// Receive scratch space; only the connection thread reads.
    private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)

    init(fd: Int32) {
        self.fd = fd
    }

    deinit {
        scratch.deallocate()
        Glibc.close(fd)
    }

    enum ReadResult {
        case data
        case eof
        case timeout
        /// `wakeFD` became readable (server shutdown) while no data was pending.
        case woken
        case failed
    }

    /// Reads what is available into `buffer`, waiting until `deadline` at most.
    func read(into buffer: inout ByteBuffer, deadline: Double, wakeFD: Int32 = -1) -> ReadResult {
        while true {
            let n = recv(fd, scratch.baseAddress, scratch.count, 0)
            if n > 0 {
                buffer.append(UnsafeRawBufferPointer(rebasing: scratch[0..<n]))
                return .data
            }
            if n == 0 { return .eof }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: break
            default: return .failed
            }
            var fds = [
                pollfd(fd: fd, events: Int16(POLLIN), revents: 0),
                pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0),
            ]
            let timeout = pollTimeout(until: deadline)
            let rc = poll(&fds, wakeFD >= 0 ? 2 : 1, timeout)
            if rc < 0 {
                if errno == EINTR { continue }
                return .failed
            }
            if rc == 0 { return .timeout }
            if fds[0].revents != 0 { continue }  // data, EOF or error: recv tells which
            if wakeFD >= 0 && fds[1].revents != 0 { return .woken }
        }
    }

    /// Non-blocking read of whatever is pending, discarding it. Returns false on EOF/error.
    func drain() -> Bool {
        while true {
            let n = recv(fd, scratch.baseAddress, scratch.count, 0)
            if n > 0 { continue }
            if n == 0 { return false }
            if errno == EINTR { continue }
            return errno == EAGAIN || errno == EWOULDBLOCK
        }
    }

    /// Sends all bytes; fails if the peer is gone or makes no progress for `timeout` seconds.
    func writeAll(_ bytes: [UInt8], timeout: Double) throws {
        try bytes.withUnsafeBytes { try writeAll($0, timeout: timeout) }
    }

    func writeAll(_ bytes: UnsafeRawBufferPointer, timeout: Double) throws {
        guard let base = bytes.baseAddress else { return }
        var offset = 0
        var deadline = monotonicNow() + timeout
        while offset < bytes.count {
            // MSG_NOSIGNAL: a vanished peer yields EPIPE instead of killing the process.
            let n = send(fd, base + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            if n > 0 {
                offset += n
                deadline = monotonicNow() + timeout
                continue
            }
            if n < 0 && errno == EINTR { continue }
            guard n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) else {
                throw HTTPWriteError.connectionClosed
            }
            var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let rc = poll(&pfd, 1, pollTimeout(until: deadline))
            if rc == 0 { throw HTTPWriteError.timedOut }
            if rc < 0 && errno != EINTR { throw HTTPWriteError.connectionClosed }
        }
    }

    /// Half-close: the peer sees EOF after our last response.
    func shutdownWrite() {
        Glibc.shutdown(fd, Int32(SHUT_WR))
    }

    /// Makes every pending and future read/write on this socket fail promptly (forced close),
    /// without releasing the descriptor number while other threads still hold it.
    func abort() {
        Glibc.shutdown(fd, Int32(SHUT_RDWR))
    }
}

/// Sets O_NONBLOCK and FD_CLOEXEC on a descriptor.
func setNonBlockingCloseOnExec(_ fd: Int32) -> Bool {
    let flags = fcntl(fd, F_GETFL)
    guard flags >= 0, fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 else { return false }
    let fdFlags = fcntl(fd, F_GETFD)
    return fdFlags >= 0 && fcntl(fd, F_SETFD, fdFlags | FD_CLOEXEC) == 0
}

/// "ip:port" or "[ipv6]:port" for a socket address.
func describeAddress(_ storage: sockaddr_storage) -> String {
    var storage = storage
    var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
    switch Int32(storage.ss_family) {
    case AF_INET:
        return withUnsafePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin -> String in
                var address = sin.pointee.sin_addr
                inet_ntop(AF_INET, &address, &text, socklen_t(text.count))
                return "\(String(cString: text)):\(UInt16(bigEndian: sin.pointee.sin_port))"
            }
        }
    case AF_INET6:
        return withUnsafePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 -> String in
                var address = sin6.pointee.sin6_addr
                inet_ntop(AF_INET6, &address, &text, socklen_t(text.count))
                return "[\(String(cString: text))]:\(UInt16(bigEndian: sin6.pointee.sin6_port))"
            }
        }
    default:
        return "unknown"
    }
}

/// Starts a detached pthread with an explicit stack size (by default glibc's usual 8 MiB).
/// Returns false if the system refuses (thread limits), so callers can shed load instead of
/// crashing.
public func spawnThread(stackSize: Int = 8 << 20, _ body: @escaping () -> Void) -> Bool {
    final class Box {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    defer { pthread_attr_destroy(&attributes) }
    pthread_attr_setstacksize(&attributes, stackSize)
    pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
    let context = Unmanaged.passRetained(Box(body)).toOpaque()
    var thread = pthread_t()
    let rc = pthread_create(
        &thread, &attributes,
        { raw in
            guard let raw else { return nil }
            Unmanaged<Box>.fromOpaque(raw).takeRetainedValue().body()
            return nil
        }, context)
    if rc != 0 {
        Unmanaged<Box>.fromOpaque(context).release()
        return false
    }
    return true
}
