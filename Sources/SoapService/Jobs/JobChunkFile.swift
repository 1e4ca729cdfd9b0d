import FastJSON
import SoapCore

/// One chunk of a job's output on disk: a JSON header, then raw little-endian arrays
/// (samples with global structure indices, centre types, values, gradient samples and
/// values), so a result is assembled by reading chunks one at a time.
enum JobChunkFile {
    static let magic = Array("SOAPDJC1".utf8)

    static func path(_ directory: String, _ chunk: Int) -> String { directory + "/chunk-\(chunk).bin" }
    static func labelsPath(_ directory: String) -> String { directory + "/labels.bin" }

    struct Header {
        var rows: Int
        var columns: Int
        var sampleNames: [String]
        var centers: Bool
        /// Gradient entries, or nil without gradients.
        var gradients: Int?
        var gradientNames: [String]
        var properties: Labels
    }

    /// Writes the chunk file atomically, the large arrays straight from the matrix;
    /// `globalIndex[k]` is the job's index of the matrix's structure k. Returns its size.
    @discardableResult
    static func write(_ m: FeatureMatrix?, globalIndex: [Int32], to path: String) throws -> Int {
        var w = JSONWriter(capacity: 256)
        w.beginObject()
        w.key("rows")
        w.integer(m?.rowCount ?? 0)
        w.key("columns")
        w.integer(m?.columnCount ?? 0)
        w.key("sample_names")
        w.beginArray()
        for n in m?.samples.names ?? [] { w.string(n) }
        w.endArray()
        w.key("centers")
        w.bool(m?.centerTypes != nil)
        if let g = m?.gradientSamples {
            w.key("gradients")
            w.integer(g.count)
            w.key("gradient_names")
            w.beginArray()
            for n in g.names { w.string(n) }
            w.endArray()
        }
        if let m, m.rowCount == 0 {  // the labels file: column labels, no rows
            w.key("property_names")
            w.beginArray()
            for n in m.properties.names { w.string(n) }
            w.endArray()
            w.key("properties")
            w.intArray(m.properties.values.map { Int($0) })
        }
        w.endObject()
        var head = magic
        withUnsafeBytes(of: UInt64(w.bytes.count).littleEndian) { head += $0 }
        head += w.bytes
        return try FileSystem.writeAtomically(to: path, direct: true) { put in
            try head.withUnsafeBytes(put)
            guard let m else { return }
            // The structure column is the matrix's own index; the job's is stored.
            var samples = m.samples.values
            let width = m.samples.names.count
            for r in 0..<m.rowCount { samples[r * width] = globalIndex[Int(samples[r * width])] }
            try samples.withUnsafeBytes(put)
            try m.centerTypes?.withUnsafeBytes(put)
            try m.values.withUnsafeBytes(put)
            if var g = m.gradientSamples?.values, let gv = m.gradientValues {
                for e in 0..<(g.count / 3) { g[3 * e + 1] = globalIndex[Int(g[3 * e + 1])] }
                try g.withUnsafeBytes(put)
                try gv.withUnsafeBytes(put)
            }
        }
    }

    /// The labels file: column labels and sample names, written once per job so that a
    /// result whose structures all failed still has them.
    static func writeLabels(_ prepared: PreparedFeaturization, featurizer: Featurizer, directory: String) throws {
        try write(try featurizer.compute([], prepared), globalIndex: [], to: labelsPath(directory))
    }

    struct Damaged: Error, CustomStringConvertible { var description: String { "damaged chunk file" } }

    /// Where the header of a file starting with `bytes` ends (magic, length, JSON).
    static func headerEnd(_ bytes: [UInt8]) throws -> Int {
        guard bytes.count >= 16, Array(bytes[0..<8]) == magic else { throw Damaged() }
        var length = 0
        for k in 0..<8 { length |= Int(bytes[8 + k]) << (8 * k) }
        guard length > 0, length < 1 << 40 else { throw Damaged() }
        return 16 + length
    }

    static func header(_ bytes: [UInt8]) throws -> (Header, Int) {
        let end = try headerEnd(bytes)
        let length = end - 16
        guard end <= bytes.count,
            case .object(let o) = try JSON.parse(Array(bytes[16..<(16 + length)])),
            let rows = o["rows"]?.doubleValue, let columns = o["columns"]?.doubleValue
        else { throw Damaged() }
        let names = { (key: String) -> [String] in o[key]?.arrayValue?.compactMap(\.stringValue) ?? [] }
        let properties = Labels(
            names: names("property_names"),
            values: o["properties"]?.arrayValue?.compactMap { $0.doubleValue.map { Int32($0) } } ?? [])
        let header = Header(
            rows: Int(rows), columns: Int(columns), sampleNames: names("sample_names"),
            centers: o["centers"]?.boolValue ?? false, gradients: o["gradients"]?.doubleValue.map { Int($0) },
            gradientNames: names("gradient_names"), properties: properties)
        return (header, 16 + length)
    }

    /// A chunk's arrays, each read from disk when asked for (pread of its own bytes).
    struct Data {
        var header: Header
        let path: String
        let start: Int

        var samples: [Int32] { get throws { try section(0, header.rows * header.sampleNames.count) } }
        var centers: [Int32] { get throws { header.centers ? try section(sampleBytes, header.rows) : [] } }
        var values: [Double] { get throws { try section(sampleBytes + centerBytes, header.rows * header.columns) } }
        var gradientSamples: [Int32] {
            get throws { try section(sampleBytes + centerBytes + valueBytes, 3 * (header.gradients ?? 0)) }
        }
        var gradientValues: [Double] {
            get throws {
                try section(
                    sampleBytes + centerBytes + valueBytes + 12 * (header.gradients ?? 0),
                    3 * (header.gradients ?? 0) * header.columns)
            }
        }

        private var sampleBytes: Int { 4 * header.rows * header.sampleNames.count }
        private var centerBytes: Int { header.centers ? 4 * header.rows : 0 }
        private var valueBytes: Int { 8 * header.rows * header.columns }

        private func section<T>(_ offset: Int, _ count: Int) throws -> [T] {
            try FileSystem.readSection(path, offset: start + offset, count: count, as: T.self)
        }
    }

    static func read(_ path: String) throws -> Data {
        // Most headers fit in 64 KB; a labels file's (every column label) may not.
        var prefix = try FileSystem.readPrefix(path, upTo: 1 << 16)
        let end = try headerEnd(prefix)
        if end > prefix.count { prefix = try FileSystem.readPrefix(path, upTo: end) }
        let (header, start) = try header(prefix)
        return Data(header: header, path: path, start: start)
    }
}
