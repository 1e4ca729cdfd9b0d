import SoapHTTP

/// Late-bound access to the server's load figures (the server is built after the application).
public final class ServerStatsSource: @unchecked Sendable {
    private var provider: (@Sendable () -> HTTPServerStats)?
    public init() {}
    public func set(_ provider: @escaping @Sendable () -> HTTPServerStats) { self.provider = provider }
    func current() -> HTTPServerStats? { provider?() }
}
