import Dispatch
import FastJSON
import SoapCore

/// FeatureMatrix → response bytes. JSON is written by a direct numeric
/// writer, rows formatted in parallel: Foundation's encoders cost 5–30× the
/// computation for large outputs (shared/bench/README.md).
public enum FeatureResponseEncoder {
    public static func encode(_ m: FeatureMatrix, format: FeatureFormat, basisID: String? = nil, threads: Int = 2) -> [UInt8] {
        switch format {
        case .json: return json(m, basisID: basisID, threads: threads)
        case .npz: return archive(m, basisID: basisID).npz()
        case .npy: return NumpyArchive.npy(valuesEntry(m))
        }
    }

    /// A binary format's size and a writer that sends it straight from the matrix's arrays
    /// (no joined copy); nil for JSON.
    public static func binaryWriter(_ m: FeatureMatrix, format: FeatureFormat, basisID: String? = nil)
        -> (size: Int, write: @Sendable ((UnsafeRawBufferPointer) throws -> Void) throws -> Void)?
    {
        switch format {
        case .json: return nil
        case .npz:
            let archive = archive(m, basisID: basisID)
            return (archive.npzSize, { try archive.writeNPZ(to: $0) })
        case .npy:
            let entry = valuesEntry(m)
            return (NumpyArchive.npySize(entry), { try NumpyArchive.writeNPY(entry, to: $0) })
        }
    }

    /// The binary answer for per-atom values without gradients, written while they are being
    /// computed: every row goes out as soon as it is final (`progress`), the labels from the
    /// structures. Byte for byte what `binaryWriter` writes once the computation is done.
    public static func streamingWriter(
        _ progress: RowProgress, structures: [Structure], format: FeatureFormat,
        basisID: String? = nil
    )
        -> (size: Int, write: @Sendable ((UnsafeRawBufferPointer) throws -> Void) throws -> Void)?
    {
        let rows = progress.rows
        let columns = progress.columns
        let values = NumpyArchive.Element.streamed(descr: "<f8", byteCount: 8 * rows * columns) { sink in
            var sent = 0
            while sent < rows {
                let ready = try progress.waitForRows(after: sent)
                guard ready > sent, let base = progress.values else { continue }
                try sink(UnsafeRawBufferPointer(start: base + sent * columns, count: 8 * (ready - sent) * columns))
                sent = ready
            }
            // The last rows may be final before the computation has returned; wait for it,
            // so that a failure at the very end still cuts the answer short.
            _ = try progress.waitForRows(after: rows)
        }
        switch format {
        case .json: return nil
        case .npy:
            let entry = NumpyArchive.Entry(name: "values", shape: [rows, columns], element: values)
            return (NumpyArchive.npySize(entry), { try NumpyArchive.writeNPY(entry, to: $0) })
        case .npz:
            let (samples, centers) = Labels.atoms(of: structures)
            let archive = archive(
                samples: samples, centerTypes: centers, properties: progress.properties,
                values: values, gradients: nil, basisID: basisID)
            return (archive.npzSize, { try archive.writeNPZ(to: $0) })
        }
    }

    static func valuesEntry(_ m: FeatureMatrix) -> NumpyArchive.Entry {
        .init(name: "values", shape: [m.rowCount, m.columnCount], element: .float64(m.values))
    }

    // MARK: JSON

    public static func json(_ m: FeatureMatrix, basisID: String?, threads: Int) -> [UInt8] {
        let chunks = jsonChunks(m, basisID: basisID, threads: threads)
        var out: [UInt8] = []
        out.reserveCapacity(chunks.reduce(0) { $0 + $1.count })
        for chunk in chunks { out += chunk }
        return out
    }

    /// The JSON document as consecutive pieces, so a writer can send them
    /// without first joining megabytes of text into one buffer.
    public static func jsonChunks(_ m: FeatureMatrix, basisID: String?, threads: Int) -> [[UInt8]] {
        var chunks: [[UInt8]] = []
        var out: [UInt8] = []
        out += Array("{\"samples\":".utf8)
        appendLabels(m.samples, to: &out)
        if let centers = m.centerTypes {
            out += Array(",\"center_types\":[".utf8)
            for (k, z) in centers.enumerated() {
                if k > 0 { out.append(UInt8(ascii: ",")) }
                JSONNumberFormat.append(Int(z), to: &out)
            }
            out.append(UInt8(ascii: "]"))
        }
        out += Array(",\"properties\":".utf8)
        appendLabels(m.properties, to: &out)
        out += Array(",\"values\":".utf8)
        appendRows(
            m.values, rows: m.rowCount, columns: m.columnCount, rowsPerGroup: 1, threads: threads,
            to: &out, chunks: &chunks)
        if let samples = m.gradientSamples, let values = m.gradientValues {
            out += Array(",\"gradients\":{\"samples\":".utf8)
            appendLabels(samples, to: &out)
            out += Array(",\"values\":".utf8)
            appendRows(
                values, rows: samples.count * 3, columns: m.columnCount, rowsPerGroup: 3, threads: threads,
                to: &out, chunks: &chunks)
            out.append(UInt8(ascii: "}"))
        }
        if let samples = m.strainSamples, let values = m.strainValues {
            out += Array(",\"strain_gradients\":{\"samples\":".utf8)
            appendLabels(samples, to: &out)
            out += Array(",\"values\":".utf8)
            appendStrainRows(values, rows: samples.count, columns: m.columnCount, threads: threads, to: &out, chunks: &chunks)
            out.append(UInt8(ascii: "}"))
        }
        if let basisID {
            out += Array(",\"basis_id\":".utf8)
            var w = JSONWriter(capacity: basisID.utf8.count + 2)
            w.string(basisID)
            out += w.bytes
        }
        out.append(UInt8(ascii: "}"))
        chunks.append(out)
        return chunks
    }

    static func appendLabels(_ labels: Labels, to out: inout [UInt8]) {
        out += Array("{\"names\":[".utf8)
        for (k, name) in labels.names.enumerated() {
            if k > 0 { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "\""))
            out += Array(name.utf8)
            out.append(UInt8(ascii: "\""))
        }
        out += Array("],\"values\":[".utf8)
        let width = labels.names.count
        for e in 0..<labels.count {
            out.append(UInt8(ascii: e > 0 ? "," : "["))
            if e > 0 { out.append(UInt8(ascii: "[")) }
            for k in 0..<width {
                if k > 0 { out.append(UInt8(ascii: ",")) }
                JSONNumberFormat.append(Int(labels.values[e * width + k]), to: &out)
            }
            out.append(UInt8(ascii: "]"))
        }
        out += Array("]}".utf8)
    }

    /// `[[row],[row],…]`, or with rowsPerGroup 3, `[[[x],[y],[z]],…]`. Chunks
    /// of rows are formatted on separate threads, then concatenated.
    static func appendRows(
        _ values: [Double], rows: Int, columns: Int, rowsPerGroup: Int, threads: Int,
        to out: inout [UInt8], chunks: inout [[UInt8]]
    ) {
        let groups = rows / rowsPerGroup
        out.append(UInt8(ascii: "["))
        let workers = max(1, min(threads, groups / 64 + 1))
        let perChunk = (groups + workers - 1) / max(workers, 1)
        var parts = [[UInt8]](repeating: [], count: workers)
        values.withUnsafeBufferPointer { v in
            parts.withUnsafeMutableBufferPointer { partsOut in
                let partsOut = partsOut
                DispatchQueue.concurrentPerform(iterations: workers) { w in
                    let first = w * perChunk
                    let end = min(groups, first + perChunk)
                    guard first < end else { return }
                    var buffer: [UInt8] = []
                    buffer.reserveCapacity((end - first) * rowsPerGroup * (columns * 22 + 4))
                    for g in first..<end {
                        if g > 0 { buffer.append(UInt8(ascii: ",")) }
                        if rowsPerGroup > 1 { buffer.append(UInt8(ascii: "[")) }
                        for r in 0..<rowsPerGroup {
                            if r > 0 { buffer.append(UInt8(ascii: ",")) }
                            buffer.append(UInt8(ascii: "["))
                            let base = (g * rowsPerGroup + r) * columns
                            for c in 0..<columns {
                                if c > 0 { buffer.append(UInt8(ascii: ",")) }
                                JSONNumberFormat.append(v[base + c], to: &buffer)
                            }
                            buffer.append(UInt8(ascii: "]"))
                        }
                        if rowsPerGroup > 1 { buffer.append(UInt8(ascii: "]")) }
                    }
                    partsOut[w] = buffer
                }
            }
        }
        // The pending text, then the formatted parts as they are, then a fresh buffer.
        chunks.append(out)
        chunks += parts
        out = [UInt8(ascii: "]")]
    }

    // MARK: npz

    static func archive(_ m: FeatureMatrix, basisID: String?) -> NumpyArchive {
        let gradients = m.gradientSamples.flatMap { samples in m.gradientValues.map { (samples, $0) } }
        return archive(
            samples: m.samples, centerTypes: m.centerTypes, properties: m.properties,
            values: .float64(m.values), gradients: gradients, basisID: basisID
        ).withStrain(m)
    }

    /// The arrays of a features .npz from labels in memory; `values` in memory or streamed.
    static func archive(
        samples: Labels, centerTypes: [Int32]?, properties: Labels, values: NumpyArchive.Element,
        gradients: (samples: Labels, values: [Double])?, basisID: String?
    ) -> NumpyArchive {
        archive(
            rows: samples.count, sampleNames: samples.names, samples: .int32(samples.values),
            centerTypes: centerTypes.map { .int32($0) }, properties: properties, values: values,
            gradients: gradients.map {
                (count: $0.samples.count, samples: .int32($0.samples.values), values: .float64($0.values))
            },
            basisID: basisID)
    }

    /// The arrays of a features .npz, in their order, each in memory or streamed (a job's
    /// result streams them all from its chunk files).
    static func archive(
        rows: Int, sampleNames: [String], samples: NumpyArchive.Element, centerTypes: NumpyArchive.Element?,
        properties: Labels, values: NumpyArchive.Element,
        gradients: (count: Int, samples: NumpyArchive.Element, values: NumpyArchive.Element)?,
        basisID: String?
    ) -> NumpyArchive {
        var archive = NumpyArchive()
        archive.add("samples", shape: [rows, sampleNames.count], samples)
        archive.add("sample_names", shape: [sampleNames.count], .strings(sampleNames))
        archive.add("properties", shape: [properties.count, properties.names.count], .int32(properties.values))
        archive.add("property_names", shape: [properties.names.count], .strings(properties.names))
        archive.add("values", shape: [rows, properties.count], values)
        if let centerTypes { archive.add("center_types", shape: [rows], centerTypes) }
        if let gradients {
            archive.add("gradient_samples", shape: [gradients.count, 3], gradients.samples)
            archive.add("gradient_values", shape: [gradients.count, 3, properties.count], gradients.values)
        }
        if let basisID { archive.add("basis_id", shape: [1], .strings([basisID])) }
        return archive
    }
}
