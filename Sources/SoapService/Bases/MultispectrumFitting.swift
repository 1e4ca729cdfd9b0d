import FastJSON
import SoapCore
import SoapStorage

/// The multispectrum contraction of a fit (POST /v1/bases with a "multispectrum" section).
extension BasisService {
    /// Fits the multispectrum contraction on the request's structures or, without them, on
    /// the dataset's kept structures up to the record's version, read one stored batch at a
    /// time once per order (the covariances are sums, so only one batch is in memory).
    /// Returns the contraction and the number of structures it was fitted on.
    func fitMultispectrum(
        _ request: MultispectrumFit, basis: ExpansionBasis,
        dataset record: DatasetRecord
    ) throws(ServiceError) -> (MultispectrumContraction, Int) {
        let pointer = "/multispectrum/structures"
        let versions =
            request.structures == nil
            ? try storage { try datasets.storedStructureVersions(datasetID: record.id, upToVersion: record.version) } : []
        let decoder = FeatureRequestDecoder(limits: features.settings.requestLimits)
        func batch(_ version: Int) throws(ServiceError) -> [Structure] {
            guard let blob = try storage({ try datasets.storedStructures(datasetID: record.id, version: version) }),
                let items = try? JSON.parse(blob)
            else {
                throw ServiceError(.internal, "stored structures of \(record.id) (version \(version)) are missing or damaged")
            }
            return try decoder.decodeStructures(items, at: pointer)
        }
        func fitting<T>(_ body: () throws(MultispectrumFitError) -> T) throws(ServiceError) -> T {
            do { return try body() } catch { throw Self.serviceError(error) }
        }
        let featurizer = features.interactiveFeaturizer()
        var fitter = try fitting { () throws(MultispectrumFitError) in
            try MultispectrumFitter(
                featurizer: featurizer, basis: basis, correlationOrder: request.correlationOrder,
                maxFeatures: request.maxFeatures, maxCovarianceValues: multispectrumLimits.maxCovarianceValues)
        }
        var structures = 0
        while !fitter.isComplete {
            structures = 0
            if let inline = request.structures {
                try fitting { () throws(MultispectrumFitError) in try fitter.add(inline) }
                structures = inline.count
            } else {
                for version in versions {
                    let items = try batch(version)
                    try fitting { () throws(MultispectrumFitError) in try fitter.add(items) }
                    structures += items.count
                }
            }
            try fitting { () throws(MultispectrumFitError) in try fitter.finishOrder() }
        }
        return (fitter.contraction, structures)
    }

    static func serviceError(_ error: MultispectrumFitError) -> ServiceError {
        let pointer = "/multispectrum/structures"
        switch error {
        case .featurization(.deadlineExceeded(let seconds)):
            return ServiceError(
                .timeout,
                "fitting the multispectrum contraction took longer than the limit of \(seconds) s "
                    + "(compute_timeout_seconds) and was stopped; fit it on fewer structures, or with a lower "
                    + "correlation_order or max_features_per_order")
        case .featurization(let e):
            return ServiceError(e, structures: pointer)
        case .noCenters: return ServiceError(.invalid, pointer: pointer, error.description)
        case .invalidBudget: return ServiceError(.invalid, pointer: "/multispectrum/max_features_per_order", error.description)
        case .covarianceTooLarge:
            return ServiceError(.invalid, pointer: "/multispectrum/max_features_per_order", error.description)
        case .decomposition: return ServiceError(.internal, error.description)
        }
    }

    /// The numbers of a structure, little-endian, for the basis id.
    static func structureBytes(_ s: Structure) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(8 * (s.numbers.count + s.positions.count + 12))
        func add(_ x: UInt64) { withUnsafeBytes(of: x.littleEndian) { out += $0 } }
        add(UInt64(s.numbers.count))
        for z in s.numbers { add(UInt64(z)) }
        for x in s.positions { add(x.bitPattern) }
        for x in s.cell ?? [] { add(x.bitPattern) }
        add((s.pbc.0 ? 1 : 0) | (s.pbc.1 ? 2 : 0) | (s.pbc.2 ? 4 : 0))
        return out
    }
}
