/// Parameters of the descriptors that have some (multispectrum, λ-SOAP).
public struct DescriptorOptions: Sendable, Equatable {
    /// Body order ν of the multispectrum (2 = power spectrum, 3 = bispectrum, …).
    public var correlationOrder: Int
    /// λ-SOAP: the equivariant λ blocks of the power spectrum instead of its invariants.
    public var lambda: Int?
    /// PCA contractions between orders (multispectrum), fitted by `multispectrumContraction`.
    public var contraction: MultispectrumContraction?

    public init(correlationOrder: Int = 3, lambda: Int? = nil, contraction: MultispectrumContraction? = nil) {
        self.correlationOrder = correlationOrder
        self.lambda = lambda
        self.contraction = contraction
    }

    /// The largest body order the multispectrum supports.
    public static let maxCorrelationOrder = 6
}
