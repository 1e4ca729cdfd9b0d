import FastJSON
import SoapCore
import SoapStorage

/// The JSON of a fitted basis: its options (part of its identity) and its summary.
extension BasisService {
    static func optionsJSON(method: FitMethod, contraction: Contraction, centerSpecific: Bool, q: Int, threshold: Double?)
        -> String
    {
        var w = JSONWriter(capacity: 128)
        w.beginObject()
        w.key("method")
        w.string(method.name)
        if case .pcovr(let gamma) = method {
            w.key("gamma")
            w.number(gamma)
        }
        w.key("contraction")
        w.string(contraction.rawValue)
        w.key("center_specific")
        w.bool(centerSpecific)
        w.key("q_max")
        w.integer(q)
        if let threshold {
            w.key("residual_variance")
            w.number(threshold)
        }
        w.endObject()
        return String(decoding: w.bytes, as: UTF8.self)
    }

    func summaryJSON(
        id: String, datasetID: String, record: DatasetRecord, basis: OptimalBasis, options: String,
        multispectrum: MultispectrumContraction? = nil, multispectrumStructures: Int = 0
    ) -> String {
        var w = JSONWriter(capacity: 4096)
        w.beginObject()
        w.key("id")
        w.string(id)
        w.key("hypers")
        w.raw(Array(record.hypersJSON.utf8))
        w.key("species")
        w.intArray(basis.species)
        w.key("options")
        w.raw(Array(options.utf8))
        w.key("q_max")
        w.integer(basis.q)
        w.key("dataset")
        w.beginObject()
        w.key("id")
        w.string(datasetID)
        w.key("structures")
        w.integer(record.structures)
        w.key("centers")
        w.raw(Array(record.centersJSON.utf8))
        w.key("version")
        w.integer(record.version)
        w.endObject()
        w.key("eigenvalues")
        w.beginArray()
        for e in basis.eigenvalues { w.doubleArray(e) }
        w.endArray()
        w.key("residual_variance")
        w.beginArray()
        for c in basis.residualVariance { w.doubleArray(c) }
        w.endArray()
        if let m = multispectrum {
            // Per order and (λ, σ) block: features before and after, and the variance left out.
            w.key("multispectrum")
            w.beginObject()
            w.key("correlation_order")
            w.integer(m.correlationOrder)
            w.key("max_features_per_order")
            w.integer(m.maxFeatures)
            w.key("structures")
            w.integer(multispectrumStructures)
            w.key("blocks")
            w.beginArray()
            for b in m.blocks {
                w.beginObject()
                w.key("order")
                w.integer(b.order)
                w.key("o3_lambda")
                w.integer(b.lambda)
                w.key("o3_sigma")
                w.integer(b.sigma)
                w.key("features_in")
                w.integer(b.inputCount)
                w.key("features_out")
                w.integer(b.count)
                w.key("residual_variance")
                w.number(b.residualVariance)
                w.endObject()
            }
            w.endArray()
            w.endObject()
        }
        w.endObject()
        return String(decoding: w.bytes, as: UTF8.self)
    }
}
