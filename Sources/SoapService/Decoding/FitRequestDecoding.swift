import FastJSON
import SoapCore
import SoapStorage

/// The body of POST /v1/bases (pure: no storage, no computation; the fuzzers call these too).
extension BasisService {
    /// The options of POST /v1/bases.
    struct FitOptions {
        var datasetID: String
        var method: FitMethod
        var contraction: Contraction
        var centerSpecific: Bool
        var q: Int?
        var threshold: Double?
        var multispectrum: MultispectrumFit?
    }

    /// The body of POST /v1/bases.
    static func decodeFit(
        _ value: JSONValue, limits: RequestLimits,
        multispectrumLimits: MultispectrumFitLimits = .init()
    ) throws(ServiceError) -> FitOptions {
        let root = try Field.object(value, "")
        try Field.allowOnly(
            root,
            [
                "dataset_id", "method", "contraction", "center_specific", "q_max", "residual_variance", "gamma",
                "multispectrum",
            ], at: "")
        let datasetID = try Field.string(try Field.required(root, "dataset_id", at: ""), "/dataset_id")
        let method = try root["method"].map { v throws(ServiceError) in try Field.string(v, "/method") } ?? "pca"
        let fitMethod: FitMethod
        switch method {
        case "pca":
            if root["gamma"] != nil { throw ServiceError(.invalid, pointer: "/gamma", "gamma applies to method \"pcovr\" only") }
            fitMethod = .pca
        case "pcovr":
            let gamma = try root["gamma"].map { v throws(ServiceError) in try Field.number(v, "/gamma") } ?? 0.5
            guard gamma >= 0 && gamma <= 1 else { throw ServiceError(.invalid, pointer: "/gamma", "must be between 0 and 1") }
            fitMethod = .pcovr(gamma: gamma)
        default:
            throw ServiceError(.invalid, pointer: "/method", "expected \"pca\" or \"pcovr\"")
        }
        let contractionName =
            try root["contraction"].map { v throws(ServiceError) in try Field.string(v, "/contraction") } ?? "separate"
        guard let contraction = Contraction(rawValue: contractionName) else {
            throw ServiceError(.invalid, pointer: "/contraction", "expected \"separate\" or \"mixed\"")
        }
        let centerSpecific =
            try root["center_specific"].map { v throws(ServiceError) in try Field.bool(v, "/center_specific") } ?? false
        var q: Int? = nil
        var threshold: Double? = nil
        switch (root["q_max"], root["residual_variance"]) {
        case (.some, .some): throw ServiceError(.invalid, pointer: "", "give q_max or residual_variance, not both")
        case (nil, nil): throw ServiceError(.invalid, pointer: "/q_max", "is required (or residual_variance)")
        case (let v?, nil):
            let value = try Field.integer(v, "/q_max")
            guard value >= 1, value <= limits.maxRadial * 16 else {
                throw ServiceError(.invalid, pointer: "/q_max", "must be a positive integer")
            }
            q = value
        case (nil, let v?): threshold = try Field.number(v, "/residual_variance")
        }
        let multispectrum = try root["multispectrum"].map { v throws(ServiceError) in
            try decodeMultispectrumFit(v, limits: limits, multispectrumLimits: multispectrumLimits)
        }
        return FitOptions(
            datasetID: datasetID, method: fitMethod, contraction: contraction, centerSpecific: centerSpecific,
            q: q, threshold: threshold, multispectrum: multispectrum)
    }

    /// The "multispectrum" section of POST /v1/bases.
    struct MultispectrumFit {
        var correlationOrder: Int
        var maxFeatures: Int
        /// The structures to fit on; nil: the dataset's kept structures.
        var structures: [Structure]?
    }

    static func decodeMultispectrumFit(
        _ value: JSONValue, limits: RequestLimits,
        multispectrumLimits: MultispectrumFitLimits
    ) throws(ServiceError) -> MultispectrumFit {
        let o = try Field.object(value, "/multispectrum")
        try Field.allowOnly(o, ["correlation_order", "max_features_per_order", "structures"], at: "/multispectrum")
        let nu = try Field.integer(
            try Field.required(o, "correlation_order", at: "/multispectrum"),
            "/multispectrum/correlation_order", in: 2...max(2, limits.maxCorrelationOrder))
        let budget = try Field.integer(
            try Field.required(o, "max_features_per_order", at: "/multispectrum"),
            "/multispectrum/max_features_per_order",
            in: 1...max(1, multispectrumLimits.maxFeaturesPerOrder))
        let structures = try o["structures"].map { v throws(ServiceError) in
            try FeatureRequestDecoder(limits: limits).decodeStructures(v, at: "/multispectrum/structures")
        }
        if let structures, !structures.contains(where: { $0.count > 0 }) {
            throw ServiceError(.invalid, pointer: "/multispectrum/structures", "must hold at least one atom")
        }
        return MultispectrumFit(correlationOrder: nu, maxFeatures: budget, structures: structures)
    }
}
