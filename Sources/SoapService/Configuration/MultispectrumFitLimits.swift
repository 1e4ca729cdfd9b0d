/// Limits of POST /v1/bases' multispectrum section (from Config).
public struct MultispectrumFitLimits: Sendable {
    /// Largest max_features_per_order a fit may ask for.
    public var maxFeaturesPerOrder = 512
    /// Doubles of the per-block covariance matrices of one order (all workers together).
    public var maxCovarianceValues = 100_000_000
    public init() {}
}
