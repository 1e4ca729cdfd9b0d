/// Optional bearer tokens (Config `write_tokens`, `read_tokens`): with write tokens set,
/// routes that change state need one; with read tokens set, the other /v1 routes need a
/// read or a write token. /health and /metrics stay open. Which route is which is the
/// route table's `permission` column (ServiceRouteTable.swift). Tokens are compared in constant
/// time (SHA-256 digests, every configured token checked) and never logged.
public struct Authorization: Sendable {
    public enum Access: Sendable { case open, read, write }
    public enum Decision: Equatable, Sendable {
        case allowed
        /// 401: no (or an unknown) token.
        case unauthenticated
        /// 403: a valid token without the needed scope.
        case forbidden
    }

    private let writeDigests: [[UInt8]]
    private let readDigests: [[UInt8]]

    public init(writeTokens: [String], readTokens: [String]) {
        writeDigests = writeTokens.map { Self.digest($0) }
        readDigests = readTokens.map { Self.digest($0) }
    }

    /// Tokens from a comma-separated list (blanks ignored).
    public static func tokens(_ list: String) -> [String] {
        list.split(separator: ",").map { $0.trimmingSpaces() }.filter { !$0.isEmpty }
    }

    public var requiresWriteTokens: Bool { !writeDigests.isEmpty }

    /// What a route of the service's table needs with these tokens (a method and template
    /// the table lacks are taken to change state).
    public func access(method: String, template: String) -> Access {
        access(required: Application.routeTable.route(method: method, template: template)?.permission ?? .write)
    }

    /// What a route whose table row says `required` needs with these tokens: a write token
    /// for `.write` when write tokens are set; otherwise, with read tokens set, any token
    /// (so with only read tokens set, writes need a token too); else nothing.
    public func access(required: Access) -> Access {
        switch required {
        case .open: return .open
        case .write where !writeDigests.isEmpty: return .write
        case .read, .write: return readDigests.isEmpty ? .open : .read
        }
    }

    public func decide(_ access: Access, authorization header: String?) -> Decision {
        guard access != .open else { return .allowed }
        guard let header, let token = Self.bearer(header) else { return .unauthenticated }
        let d = Self.digest(token)
        let isWrite = Self.matches(d, writeDigests)
        let isRead = Self.matches(d, readDigests)
        switch access {
        case .open: return .allowed
        case .write: return isWrite ? .allowed : (isRead ? .forbidden : .unauthenticated)
        case .read: return isWrite || isRead ? .allowed : .unauthenticated
        }
    }

    /// "Bearer <token>" (scheme case-insensitive, RFC 6750).
    static func bearer(_ header: String) -> String? {
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].trimmingSpaces()
        return token.isEmpty ? nil : token
    }

    static func digest(_ token: String) -> [UInt8] {
        var h = SHA256()
        h.update(token)
        return h.finalize()
    }

    /// Whether `d` equals any of `digests`, looking at every byte of every one.
    static func matches(_ d: [UInt8], _ digests: [[UInt8]]) -> Bool {
        var found: UInt8 = 0
        for candidate in digests {
            var difference: UInt8 = 0
            for k in 0..<32 { difference |= candidate[k] ^ d[k] }
            found |= UInt8(truncatingIfNeeded: ((UInt16(difference) &- 1) >> 8) & 1)  // 1 iff difference == 0
        }
        return found != 0
    }
}
