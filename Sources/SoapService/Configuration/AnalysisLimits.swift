/// Limits of the analysis routes (from Config): the size of one feature matrix, and the time
/// one analysis may take (the service's `compute_timeout_seconds`).
public struct AnalysisLimits: Sendable {
    public var maxValues = 20_000_000
    public var computeTimeoutSeconds = 300.0
    public init(maxValues: Int = 20_000_000, computeTimeoutSeconds: Double = 300) {
        self.maxValues = maxValues
        self.computeTimeoutSeconds = computeTimeoutSeconds
    }
}
