/// Limits on what a client controls in one request (from Config).
public struct RequestLimits: Sendable {
    public var maxStructures = 100_000
    public var maxAtomsPerStructure = 100_000
    public var maxAtomsTotal = 1_000_000
    public var maxAngular = 16
    public var maxRadial = 30
    /// Largest number of radial functions of one l (Explicit and Tabulated bases).
    public var maxRadialFunctionsPerL = 31
    /// Most points of one Tabulated radial integral.
    public var maxSplinePoints = 20_000
    public var minSplineAccuracy = 1e-12
    /// Highest multispectrum correlation_order a request may ask for.
    public var maxCorrelationOrder = 4
    public init() {}
}
