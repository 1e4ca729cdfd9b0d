import FastJSON
import SoapCore

/// Settings of the featurization service (from Config).
public struct FeatureServiceSettings: Sendable {
    public var threads = Featurizer.defaultThreads
    public var requestLimits = RequestLimits()
    public var featurizationLimits = FeaturizationLimits()
    public var jsonLimits = JSONLimits()
    public var splineCacheEntries = 32
    /// Time allowed to one interactive computation (a request, a dataset batch); jobs are
    /// bounded per chunk instead.
    public var computeTimeoutSeconds: Double? = nil
    /// Bytes that interactive outputs may hold at once (nil: unbounded).
    public var memoryBudgetBytes: Int? = nil
    public init() {}
}
