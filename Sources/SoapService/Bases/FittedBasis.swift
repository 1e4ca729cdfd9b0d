import SoapCore

/// A stored fit, ready to featurize with: the basis and, when it was fitted with one, the
/// multispectrum's contractions.
public struct FittedBasis: Sendable {
    public var fitted: OptimalBasis
    public var basis: ExpansionBasis
    public var multispectrum: MultispectrumContraction?
    public init(fitted: OptimalBasis, basis: ExpansionBasis, multispectrum: MultispectrumContraction? = nil) {
        self.fitted = fitted
        self.basis = basis
        self.multispectrum = multispectrum
    }
}
