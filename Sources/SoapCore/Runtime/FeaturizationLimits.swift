/// Limits on what one computation may allocate (set from Config by callers).
public struct FeaturizationLimits: Sendable {
    /// Neighbour pairs in one structure (images included).
    public var maxPairsPerStructure: Int = 5_000_000
    /// Doubles in the gradient output (entries × 3 × columns).
    public var maxGradientValues: Int = 400_000_000
    /// Doubles in the value output.
    public var maxValues: Int = 400_000_000
    public init() {}
}
