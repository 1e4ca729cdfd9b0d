import FastJSON
import SoapCore
import SoapStorage

/// The stored form of a fitted basis: a JSON header (fit, shapes, spline
/// segments) then the spline points as raw little-endian doubles, so a
/// restart serves the same tables without rebuilding them. A basis fitted
/// with a multispectrum contraction adds an optional "multispectrum" header
/// entry (its blocks' shapes) and the blocks' components after the points;
/// payloads without it (older ones included) decode with no contraction.
enum BasisCodec {
    static let magic = Array("SOAPDB1\n".utf8)

    static func encode(
        _ b: OptimalBasis, tables: [RadialSplineTable], hypersJSON: String,
        multispectrum: MultispectrumContraction? = nil
    ) -> [UInt8] {
        var w = JSONWriter(capacity: 8192)
        w.beginObject()
        w.key("hypers")
        w.raw(Array(hypersJSON.utf8))
        w.key("species")
        w.intArray(b.species)
        w.key("contraction")
        w.string(b.contraction.rawValue)
        w.key("method")
        w.string(b.method.name)
        if case .pcovr(let gamma) = b.method {
            w.key("gamma")
            w.number(gamma)
        }
        w.key("center_specific")
        w.bool(b.centerSpecific)
        w.key("q")
        w.integer(b.q)
        w.key("projections")
        w.beginArray()
        for p in b.projections { w.doubleArray(p) }
        w.endArray()
        w.key("eigenvalues")
        w.beginArray()
        for e in b.eigenvalues { w.doubleArray(e) }
        w.endArray()
        w.key("residual_variance")
        w.beginArray()
        for c in b.residualVariance { w.doubleArray(c) }
        w.endArray()
        w.key("tables")
        w.beginArray()
        for t in tables {
            w.beginObject()
            w.key("cutoff")
            w.number(t.cutoff)
            w.key("points")
            w.integer(t.dataCount)
            w.key("segments")
            w.beginArray()
            for s in t.segments { w.intArray([s.first, s.count, s.intervals, s.offset]) }
            w.endArray()
            w.endObject()
        }
        w.endArray()
        if let m = multispectrum {
            w.key("multispectrum")
            w.beginObject()
            w.key("correlation_order")
            w.integer(m.correlationOrder)
            w.key("max_features")
            w.integer(m.maxFeatures)
            w.key("max_angular")
            w.integer(m.maxAngular)
            w.key("channels")
            w.integer(m.channels)
            // Per block: order, λ, σ, features in, features out; then its eigenvalues and residual.
            w.key("blocks")
            w.beginArray()
            for block in m.blocks { w.intArray([block.order, block.lambda, block.sigma, block.inputCount, block.count]) }
            w.endArray()
            w.key("eigenvalues")
            w.beginArray()
            for block in m.blocks { w.doubleArray(block.eigenvalues) }
            w.endArray()
            w.key("residual_variance")
            w.doubleArray(m.blocks.map(\.residualVariance))
            w.endObject()
        }
        w.endObject()
        var out = magic
        let header = w.bytes
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out += $0 }
        out += header
        for t in tables { t.points.withUnsafeBytes { out += $0 } }
        for block in multispectrum?.blocks ?? [] {
            out += DoubleBlob.encode(block.components)
        }
        return out
    }

    static func decode(_ payload: [UInt8]) -> (OptimalBasis, [RadialSplineTable], MultispectrumContraction?)? {
        guard payload.count > 16, Array(payload[0..<8]) == magic else { return nil }
        var length: UInt64 = 0
        for k in 0..<8 { length |= UInt64(payload[8 + k]) << (8 * UInt64(k)) }
        guard length < UInt64(payload.count - 16) else { return nil }
        let headerEnd = 16 + Int(length)
        guard case .object(let o)? = try? JSON.parse(Array(payload[16..<headerEnd])),
            let hypersJSON = o["hypers"],
            let hypers = try? HypersDecoder(limits: RequestLimits()).decode(hypersJSON, radialOnly: false, at: ""),
            let species = o["species"]?.arrayValue?.compactMap({ $0.doubleValue.map { Int($0) } }),
            let contraction = o["contraction"]?.stringValue.flatMap(Contraction.init(rawValue:)),
            let q = o["q"]?.doubleValue.map({ Int($0) }),
            let tablesJSON = o["tables"]?.arrayValue
        else { return nil }
        func matrix(_ key: String) -> [[Double]]? {
            o[key]?.arrayValue?.map { $0.arrayValue?.compactMap(\.doubleValue) ?? [] }
        }
        guard let projections = matrix("projections"), let eigenvalues = matrix("eigenvalues"),
            let residual = matrix("residual_variance")
        else { return nil }
        var offset = headerEnd
        var tables: [RadialSplineTable] = []
        for t in tablesJSON {
            guard case .object(let to) = t, let cutoff = to["cutoff"]?.doubleValue,
                let count = to["points"]?.doubleValue.map({ Int($0) }), count >= 0,
                offset + 8 * count <= payload.count,
                let segmentsJSON = to["segments"]?.arrayValue
            else { return nil }
            let segments = segmentsJSON.compactMap { s -> RadialSplineTable.Segment? in
                guard let v = s.arrayValue?.compactMap({ $0.doubleValue.map { Int($0) } }), v.count == 4 else { return nil }
                return RadialSplineTable.Segment(first: v[0], count: v[1], intervals: v[2], offset: v[3])
            }
            guard segments.count == segmentsJSON.count,
                segments.allSatisfy({ (s: RadialSplineTable.Segment) -> Bool in s.intervals > 0 && s.offset + s.size <= count })
            else { return nil }
            guard let points = try? DoubleBlob.decode(Array(payload[offset..<(offset + 8 * count)])) else { return nil }
            offset += 8 * count
            tables.append(RadialSplineTable(cutoff: cutoff, segments: segments, data: points, maxValueError: 0))
        }
        let method: FitMethod = o["method"]?.stringValue == "pcovr" ? .pcovr(gamma: o["gamma"]?.doubleValue ?? 0.5) : .pca
        let centerSpecific: Bool
        if case .bool(let b)? = o["center_specific"] { centerSpecific = b } else { centerSpecific = false }
        let basis = OptimalBasis(
            hypers: hypers, species: species, contraction: contraction, method: method,
            centerSpecific: centerSpecific, q: q, projections: projections,
            eigenvalues: eigenvalues, residualVariance: residual)
        guard tables.count == basis.centerBlocks * species.count, tables.allSatisfy({ $0.count == (hypers.maxAngular + 1) * q })
        else { return nil }
        var multispectrum: MultispectrumContraction? = nil
        if case .object(let m)? = o["multispectrum"] {
            func int(_ key: String) -> Int? { m[key]?.doubleValue.map { Int($0) } }
            guard let order = int("correlation_order"), let budget = int("max_features"), let lmax = int("max_angular"),
                let channels = int("channels"), let shapes = m["blocks"]?.arrayValue,
                let eigenvalues = m["eigenvalues"]?.arrayValue, let residuals = m["residual_variance"]?.arrayValue,
                eigenvalues.count == shapes.count, residuals.count == shapes.count
            else { return nil }
            var blocks: [MultispectrumContraction.Block] = []
            for (k, shape) in shapes.enumerated() {
                guard let v = shape.arrayValue?.compactMap({ $0.doubleValue.map { Int($0) } }), v.count == 5,
                    v[3] >= 0, v[4] >= 0, let values = eigenvalues[k].arrayValue?.compactMap(\.doubleValue),
                    values.count == v[4], let residual = residuals[k].doubleValue
                else { return nil }
                let n = v[3] * v[4]
                guard offset + 8 * n <= payload.count else { return nil }
                guard let components = try? DoubleBlob.decode(Array(payload[offset..<(offset + 8 * n)])) else { return nil }
                offset += 8 * n
                blocks.append(
                    .init(
                        order: v[0], lambda: v[1], sigma: v[2], inputCount: v[3], components: components,
                        eigenvalues: values, residualVariance: residual))
            }
            multispectrum = MultispectrumContraction(
                correlationOrder: order, maxFeatures: budget, maxAngular: lmax,
                channels: channels, blocks: blocks)
        }
        return (basis, tables, multispectrum)
    }
}
