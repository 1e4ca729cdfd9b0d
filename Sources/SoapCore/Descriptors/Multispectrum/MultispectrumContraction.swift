/// Data-driven truncation of the NICE iteration (thesis §2.1.3): for every
/// order k = 2…ν and every equivariant block (λ, σ) of that order, the
/// leading principal components of the block's rotation-invariant,
/// uncentred covariance Σ_i Σ_μ x_{iμ} x_{iμ}ᵀ. Features of order k are
/// replaced by their projections on these components before being coupled
/// with the density to order k + 1; at order ν the invariant block (0, +1)
/// is projected too, so every order holds at most `maxFeatures` per block.
public struct MultispectrumContraction: Sendable, Equatable {
    public struct Block: Sendable, Equatable {
        public let order: Int
        public let lambda: Int
        public let sigma: Int
        /// Features of the block before the projection.
        public let inputCount: Int
        /// count × inputCount, row-major, orthonormal rows by descending variance.
        public let components: [Double]
        /// Variance captured by each kept component (descending).
        public let eigenvalues: [Double]
        /// Fraction of the block's variance left out.
        public let residualVariance: Double
        public var count: Int { inputCount == 0 ? 0 : components.count / inputCount }

        public init(
            order: Int, lambda: Int, sigma: Int, inputCount: Int, components: [Double], eigenvalues: [Double],
            residualVariance: Double
        ) {
            self.order = order
            self.lambda = lambda
            self.sigma = sigma
            self.inputCount = inputCount
            self.components = components
            self.eigenvalues = eigenvalues
            self.residualVariance = residualVariance
        }
    }

    /// The body order it was fitted for; requests may ask for any ν up to it.
    public let correlationOrder: Int
    public let maxFeatures: Int
    /// The expansion it was fitted on: max_angular and channels (groups × K).
    public let maxAngular: Int
    public let channels: Int
    public let blocks: [Block]

    public init(correlationOrder: Int, maxFeatures: Int, maxAngular: Int, channels: Int, blocks: [Block]) {
        self.correlationOrder = correlationOrder
        self.maxFeatures = maxFeatures
        self.maxAngular = maxAngular
        self.channels = channels
        self.blocks = blocks
    }

    public func block(order: Int, lambda: Int, sigma: Int) -> Block? {
        blocks.first { $0.order == order && $0.lambda == lambda && $0.sigma == sigma }
    }
}
