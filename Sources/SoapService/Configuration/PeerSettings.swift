/// The other replicas of the service (Config keys `peers`, `peer_token`,
/// `peer_timeout_seconds`, `peer_retries`): where an unknown basis is looked for.
public struct PeerSettings: Sendable {
    /// Base URLs (`http://host:port`), in the order they are asked.
    public var urls: [String] = []
    /// Bearer token sent to peers (one of their read or write tokens); empty sends none.
    public var token = ""
    /// Whole-exchange limit of one call to a peer (connect, send, answer).
    public var timeoutSeconds = 5.0
    /// Extra attempts per peer after a failed call (a connection error, timeout or 5xx).
    public var retries = 1
    /// Largest answer read from a peer.
    public var maxBodyBytes = 64 << 20
    public init() {}

    /// "http://a:8080, http://b:8080" → the URLs (empty entries dropped).
    public static func urls(_ list: String) -> [String] {
        list.split(separator: ",").map { String($0).trimmingSpaces() }.filter { !$0.isEmpty }
    }
}
