#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// A small HTTP/1.1 client for calls between replicas (issue 16): one request per
/// connection (`Connection: close`), plain `http://host:port` URLs (host names resolved
/// with getaddrinfo, e.g. a headless Service's DNS names), one deadline for the whole
/// exchange so that a peer that hangs costs `timeout` seconds at most, and a bounded body.
/// It knows nothing of soapd's routes; PeerDirectory does.
struct PeerClient: Sendable {
    var timeout: Double
    var maxBodyBytes: Int

    struct Response: Sendable {
        var status: Int
        /// Header names lower-cased.
        var headers: [String: String]
        var body: [UInt8]
    }

    enum Failure: Error, CustomStringConvertible {
        case badURL(String)
        /// The host name does not resolve (e.g. a StatefulSet ordinal scaled away).
        case unresolved(String)
        case connect(String)
        case timeout
        case protocolError(String)

        var description: String {
            switch self {
            case .badURL(let u): return "peer URL \(u.prefix(120)) is not http://host[:port]"
            case .unresolved(let h): return "cannot resolve \(h.prefix(120))"
            case .connect(let m): return "cannot connect: \(m)"
            case .timeout: return "no complete answer within the peer timeout"
            case .protocolError(let m): return "not an HTTP answer: \(m)"
            }
        }
    }

    /// Sends one request to `base` + `path` and reads the whole answer.
    func send(
        _ method: String, base: String, path: String, headers: [(String, String)] = [], body: [UInt8] = []
    ) throws(Failure) -> Response {
        let (host, port) = try Self.parse(base)
        let deadline = Self.now() + timeout
        let fd = try connect(host: host, port: port, deadline: deadline)
        defer { close(fd) }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if !body.isEmpty || method == "PUT" || method == "POST" { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        try write(fd, Array(head.utf8) + body, deadline: deadline)
        return try readResponse(fd, deadline: deadline)
    }

    /// "http://host:port[/]" → (host, port); port 80 when absent.
    static func parse(_ base: String) throws(Failure) -> (String, Int) {
        guard base.hasPrefix("http://") else { throw .badURL(base) }
        var rest = Substring(base.dropFirst(7))
        while rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.isEmpty, !rest.contains("/") else { throw .badURL(base) }
        if let colon = rest.lastIndex(of: ":") {
            guard let port = Int(rest[rest.index(after: colon)...]), (1...65535).contains(port) else {
                throw .badURL(base)
            }
            return (String(rest[..<colon]), port)
        }
        return (String(rest), 80)
    }

    private static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    private static func waitFor(_ fd: Int32, _ events: Int32, deadline: Double) throws(Failure) {
        while true {
            let remaining = deadline - now()
            guard remaining > 0 else { throw .timeout }
            var p = pollfd(fd: fd, events: Int16(events), revents: 0)
            let r = poll(&p, 1, Int32(min(remaining * 1000 + 1, 3_600_000)))
            if r > 0 { return }
            if r < 0 && errno != EINTR { throw .connect("poll failed (errno \(errno))") }
        }
    }

    private func connect(host: String, port: Int, deadline: Double) throws(Failure) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
            hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>? = nil
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else { throw .unresolved(host) }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let a = entry {
            entry = a.pointee.ai_next
            let fd = socket(a.pointee.ai_family, a.pointee.ai_socktype, a.pointee.ai_protocol)
            guard fd >= 0 else { continue }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            if Glibc.connect(fd, a.pointee.ai_addr, a.pointee.ai_addrlen) == 0 { return fd }
            guard errno == EINPROGRESS else {
                lastError = "connect failed (errno \(errno))"
                close(fd)
                continue
            }
            do { try Self.waitFor(fd, Int32(POLLOUT), deadline: deadline) } catch {
                close(fd)
                throw error
            }
            var err: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
            if err == 0 { return fd }
            lastError = "connection refused or unreachable (errno \(err))"
            close(fd)
        }
        throw .connect("\(host.prefix(120)):\(port): \(lastError)")
    }

    private func write(_ fd: Int32, _ bytes: [UInt8], deadline: Double) throws(Failure) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                sent += n
                continue
            }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                try Self.waitFor(fd, Int32(POLLOUT), deadline: deadline)
                continue
            }
            throw .connect("the peer closed the connection while receiving the request")
        }
    }

    private func readResponse(_ fd: Int32, deadline: Double) throws(Failure) -> Response {
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var head: (status: Int, headers: [String: String], bodyStart: Int)? = nil
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                data += chunk[0..<n]
                guard data.count <= maxBodyBytes + 65536 else { throw .protocolError("answer above \(maxBodyBytes) bytes") }
                if head == nil { head = try Self.parseHead(data) }
                if let h = head, let length = h.headers["content-length"].flatMap({ Int($0) }),
                    data.count - h.bodyStart >= length
                {
                    return Response(status: h.status, headers: h.headers, body: Array(data[h.bodyStart..<(h.bodyStart + length)]))
                }
                continue
            }
            if n == 0 { break }
            if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR {
                try Self.waitFor(fd, Int32(POLLIN), deadline: deadline)
                continue
            }
            throw .protocolError("the connection failed (errno \(errno))")
        }
        if head == nil { head = try Self.parseHead(data) }
        guard let h = head else { throw .protocolError("the peer closed without an answer") }
        var body = Array(data[h.bodyStart...])
        if let length = h.headers["content-length"].flatMap({ Int($0) }) {
            guard body.count >= length else { throw .protocolError("truncated body (\(body.count) of \(length) bytes)") }
            body = Array(body.prefix(length))
        } else if h.headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
            body = try Self.dechunk(body)
        }
        return Response(status: h.status, headers: h.headers, body: body)
    }

    /// The status, headers and where the body starts, once the head is complete.
    private static func parseHead(_ data: [UInt8]) throws(Failure) -> (Int, [String: String], Int)? {
        let end: [UInt8] = [13, 10, 13, 10]
        guard data.count >= 4 else { return nil }
        var found = -1
        for k in 0...(data.count - 4) where data[k] == 13 && Array(data[k..<(k + 4)]) == end {
            found = k
            break
        }
        guard found >= 0 else {
            if data.count > 65536 { throw .protocolError("header above 64 KiB") }
            if data.count >= 5, Array(data.prefix(5)) != Array("HTTP/".utf8) { throw .protocolError("no status line") }
            return nil
        }
        let lines = String(decoding: data[0..<found], as: UTF8.self).split(separator: "\r\n", omittingEmptySubsequences: false)
        let statusParts = lines.first?.split(separator: " ") ?? []
        guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/1."), let status = Int(statusParts[1]),
            (100...599).contains(status)
        else { throw .protocolError("bad status line") }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { throw .protocolError("bad header line") }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: " \t")
        }
        return (status, headers, found + 4)
    }

    private static func dechunk(_ data: [UInt8]) throws(Failure) -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        while true {
            guard let lineEnd = (i..<max(i, data.count - 1)).first(where: { data[$0] == 13 && data[$0 + 1] == 10 }) else {
                throw .protocolError("truncated chunked body")
            }
            let sizeText = String(decoding: data[i..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: " "), radix: 16), size >= 0 else {
                throw .protocolError("bad chunk size")
            }
            i = lineEnd + 2
            if size == 0 { return out }
            guard i + size + 2 <= data.count else { throw .protocolError("truncated chunked body") }
            out += data[i..<(i + size)]
            i += size + 2
        }
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var s = self
        while let c = s.first, set.contains(c) { s = s.dropFirst() }
        while let c = s.last, set.contains(c) { s = s.dropLast() }
        return String(s)
    }
}
