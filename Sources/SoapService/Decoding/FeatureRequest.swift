import SoapCore

/// A decoded POST /v1/features body (docs/http-contract.md).
public struct FeatureRequest: Sendable {
    public var structures: [Structure]
    public var type: DescriptorType
    public var species: [Int]
    /// Primitive hypers, or nil when the descriptor names a fitted basis.
    public var hypers: SoapHypers?
    public var basisID: String?
    public var level: SampleLevel
    public var gradients: Bool
    /// Strain (cell) gradients too (`"gradients": ["strain"]`).
    public var strain = false
    /// Multispectrum body order and λ-SOAP's λ (the contraction is resolved with the basis).
    public var options = DescriptorOptions()
}
