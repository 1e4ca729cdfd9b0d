import SoapCore

/// A featurization request resolved to what the core needs: structures and
/// an expansion basis with its spline tables.
public struct PreparedFeaturization: Sendable {
    public var request: FeatureRequest
    public var basis: ExpansionBasis
    public var basisID: String?
    /// The request's options, with the basis' multispectrum contraction when it has one.
    public var options: DescriptorOptions { request.options }
    public var atomCount: Int { request.structures.reduce(0) { $0 + $1.count } }
}

extension Featurizer {
    /// `structures` featurized with a prepared request's descriptor, basis and options.
    func compute(_ structures: [Structure], _ prepared: PreparedFeaturization) throws(FeaturizationError) -> FeatureMatrix {
        try compute(
            structures, type: prepared.request.type, basis: prepared.basis, level: prepared.request.level,
            gradients: prepared.request.gradients, options: prepared.options, strain: prepared.request.strain)
    }
}
