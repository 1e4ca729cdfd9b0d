import FastJSON
import SoapCore

/// The JSON of GET /v1/datasets/{id}/residual-variance.
enum ResidualVarianceEncoding {
    /// `{"contraction", "center_specific", "curves": [{"center_type", "l", "q", "residual_variance"}],
    /// "total": {"q", "residual_variance"}}`.
    static func json(_ c: ResidualVarianceCurves) -> [UInt8] {
        var w = JSONWriter(capacity: 1024 + 24 * c.total.count * (c.curves.count + 1))
        w.beginObject()
        w.key("contraction")
        w.string(c.kind.rawValue)
        w.key("center_specific")
        w.bool(c.centerSpecific)
        w.key("curves")
        w.beginArray()
        for curve in c.curves {
            w.beginObject()
            w.key("center_type")
            if let z = curve.centerType { w.integer(z) } else { w.null() }
            w.key("l")
            w.integer(curve.l)
            w.key("q")
            w.intArray(curve.residualVariance.indices.map { $0 + 1 })
            w.key("residual_variance")
            w.doubleArray(curve.residualVariance)
            w.endObject()
        }
        w.endArray()
        w.key("total")
        w.beginObject()
        w.key("q")
        w.intArray(c.total.indices.map { $0 + 1 })
        w.key("residual_variance")
        w.doubleArray(c.total)
        w.endObject()
        w.endObject()
        return w.bytes
    }
}
