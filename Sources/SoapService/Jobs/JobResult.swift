import FastJSON
import SoapCore

/// A finished job's output, read chunk by chunk from disk when it is sent.
public struct JobResult: Sendable {
    let labels: JobChunkFile.Header
    /// The chunks, in order, their headers read once; their arrays are read when sent.
    let chunks: [JobChunkFile.Data]

    init(directory: String, chunks: [Int]) throws {
        labels = try JobChunkFile.read(JobChunkFile.labelsPath(directory)).header
        self.chunks = try chunks.map { try JobChunkFile.read(JobChunkFile.path(directory, $0)) }
    }

    var totalRows: Int { chunks.reduce(0) { $0 + $1.header.rows } }
    var totalGradients: Int { chunks.reduce(0) { $0 + ($1.header.gradients ?? 0) } }
    var columns: Int { labels.properties.count }
    var hasGradients: Bool { labels.gradients != nil }

    /// Calls `body` with each chunk's data, in order, and the number of rows before it.
    func forEachChunk(_ body: (JobChunkFile.Data, _ rowOffset: Int) throws -> Void) throws {
        var offset = 0
        for data in chunks {
            try body(data, offset)
            offset += data.header.rows
        }
    }

    /// The same archive as POST /v1/features answers, written from the chunk files.
    public func archive() -> NumpyArchive {
        let width = labels.sampleNames.count
        let columns = self.columns
        let rows = totalRows
        let gradients = totalGradients
        let result = self
        let samples = NumpyArchive.Element.streamed(descr: "<i4", byteCount: 4 * rows * width) { sink in
            try result.forEachChunk { d, _ in try (try d.samples).withUnsafeBytes(sink) }
        }
        let values = NumpyArchive.Element.streamed(descr: "<f8", byteCount: 8 * rows * columns) { sink in
            try result.forEachChunk { d, _ in try (try d.values).withUnsafeBytes(sink) }
        }
        let centers =
            labels.centers
            ? NumpyArchive.Element.streamed(descr: "<i4", byteCount: 4 * rows) { sink in
                try result.forEachChunk { d, _ in try (try d.centers).withUnsafeBytes(sink) }
            } : nil
        let gradientArrays =
            hasGradients
            ? (
                count: gradients,
                samples: NumpyArchive.Element.streamed(descr: "<i4", byteCount: 12 * gradients) { sink in
                    try result.forEachChunk { d, offset in
                        var g = try d.gradientSamples  // row indices are the chunk's own
                        for e in 0..<(g.count / 3) { g[3 * e] += Int32(offset) }
                        try g.withUnsafeBytes(sink)
                    }
                },
                values: NumpyArchive.Element.streamed(descr: "<f8", byteCount: 24 * gradients * columns) { sink in
                    try result.forEachChunk { d, _ in try (try d.gradientValues).withUnsafeBytes(sink) }
                }
            ) : nil
        return FeatureResponseEncoder.archive(
            rows: rows, sampleNames: labels.sampleNames, samples: samples,
            centerTypes: centers, properties: labels.properties, values: values,
            gradients: gradientArrays, basisID: nil)
    }

    /// The POST /v1/features JSON document, written piece by piece (one chunk in memory).
    public func writeJSON(_ write: ([UInt8]) throws -> Void) throws {
        let columns = self.columns
        var out = Array("{\"samples\":{\"names\":".utf8) + Self.strings(labels.sampleNames) + Array(",\"values\":[".utf8)
        var first = true
        try forEachChunk { d, _ in
            let width = d.header.sampleNames.count
            let samples = try d.samples
            for r in 0..<d.header.rows {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                Self.appendInts(samples[(r * width)..<((r + 1) * width)], to: &out)
            }
            try write(out)
            out.removeAll(keepingCapacity: true)
        }
        out += Array("]}".utf8)
        if labels.centers {
            out += Array(",\"center_types\":[".utf8)
            first = true
            try forEachChunk { d, _ in
                for z in try d.centers {
                    if !first { out.append(UInt8(ascii: ",")) }
                    first = false
                    JSONNumberFormat.append(Int(z), to: &out)
                }
                try write(out)
                out.removeAll(keepingCapacity: true)
            }
            out.append(UInt8(ascii: "]"))
        }
        out += Array(",\"properties\":".utf8)
        FeatureResponseEncoder.appendLabels(labels.properties, to: &out)
        out += Array(",\"values\":[".utf8)
        first = true
        try forEachChunk { d, _ in
            let values = try d.values
            for r in 0..<d.header.rows {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                Self.appendDoubles(values[(r * columns)..<((r + 1) * columns)], to: &out)
            }
            try write(out)
            out.removeAll(keepingCapacity: true)
        }
        out.append(UInt8(ascii: "]"))
        if hasGradients {
            out += Array(",\"gradients\":{\"samples\":{\"names\":".utf8) + Self.strings(labels.gradientNames)
            out += Array(",\"values\":[".utf8)
            first = true
            try forEachChunk { d, offset in
                let gradientSamples = try d.gradientSamples
                for e in 0..<(gradientSamples.count / 3) {
                    if !first { out.append(UInt8(ascii: ",")) }
                    first = false
                    var g = Array(gradientSamples[(3 * e)..<(3 * e + 3)])
                    g[0] += Int32(offset)
                    Self.appendInts(g[...], to: &out)
                }
                try write(out)
                out.removeAll(keepingCapacity: true)
            }
            out += Array("]},\"values\":[".utf8)
            first = true
            try forEachChunk { d, _ in
                let gradientValues = try d.gradientValues
                for e in 0..<(d.header.gradients ?? 0) {
                    if !first { out.append(UInt8(ascii: ",")) }
                    first = false
                    out.append(UInt8(ascii: "["))
                    for x in 0..<3 {
                        if x > 0 { out.append(UInt8(ascii: ",")) }
                        let base = (3 * e + x) * columns
                        Self.appendDoubles(gradientValues[base..<(base + columns)], to: &out)
                    }
                    out.append(UInt8(ascii: "]"))
                }
                try write(out)
                out.removeAll(keepingCapacity: true)
            }
            out += Array("]}".utf8)
        }
        out.append(UInt8(ascii: "}"))
        try write(out)
    }

    /// JSON lines: a header line (sample names, column labels), then one line per row
    /// and, with gradients, one per gradient entry.
    public func writeJSONLines(_ write: ([UInt8]) throws -> Void) throws {
        let columns = self.columns
        var out = Array("{\"sample_names\":".utf8) + Self.strings(labels.sampleNames) + Array(",\"properties\":".utf8)
        FeatureResponseEncoder.appendLabels(labels.properties, to: &out)
        if hasGradients { out += Array(",\"gradient_names\":".utf8) + Self.strings(labels.gradientNames) }
        out += Array("}\n".utf8)
        try forEachChunk { d, offset in
            let width = d.header.sampleNames.count
            let samples = try d.samples
            let centers = try d.centers
            let values = try d.values
            for r in 0..<d.header.rows {
                out += Array("{\"sample\":".utf8)
                Self.appendInts(samples[(r * width)..<((r + 1) * width)], to: &out)
                if labels.centers {
                    out += Array(",\"center_type\":".utf8)
                    JSONNumberFormat.append(Int(centers[r]), to: &out)
                }
                out += Array(",\"values\":".utf8)
                Self.appendDoubles(values[(r * columns)..<((r + 1) * columns)], to: &out)
                out += Array("}\n".utf8)
            }
            let gradientSamples = try d.gradientSamples
            let gradientValues = try d.gradientValues
            for e in 0..<(gradientSamples.count / 3) {
                var g = Array(gradientSamples[(3 * e)..<(3 * e + 3)])
                g[0] += Int32(offset)
                out += Array("{\"gradient\":".utf8)
                Self.appendInts(g[...], to: &out)
                out += Array(",\"values\":[".utf8)
                for x in 0..<3 {
                    if x > 0 { out.append(UInt8(ascii: ",")) }
                    let base = (3 * e + x) * columns
                    Self.appendDoubles(gradientValues[base..<(base + columns)], to: &out)
                }
                out += Array("]}\n".utf8)
            }
            try write(out)
            out.removeAll(keepingCapacity: true)
        }
    }

    static func strings(_ names: [String]) -> [UInt8] {
        var w = JSONWriter(capacity: 16 * names.count + 2)
        w.beginArray()
        for n in names { w.string(n) }
        w.endArray()
        return w.bytes
    }

    static func appendInts(_ values: ArraySlice<Int32>, to out: inout [UInt8]) {
        appendArray(values, to: &out) { JSONNumberFormat.append(Int($0), to: &$1) }
    }

    static func appendDoubles(_ values: ArraySlice<Double>, to out: inout [UInt8]) {
        appendArray(values, to: &out) { JSONNumberFormat.append($0, to: &$1) }
    }

    /// `[v,v,…]` with each value written by `format`.
    static func appendArray<T>(_ values: ArraySlice<T>, to out: inout [UInt8], _ format: (T, inout [UInt8]) -> Void) {
        out.append(UInt8(ascii: "["))
        var first = true
        for v in values {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            format(v, &out)
        }
        out.append(UInt8(ascii: "]"))
    }
}
