import FastJSON
import SoapCore

/// Strain gradients in a features answer: JSON `strain_gradients` {samples ["sample"],
/// values rows × 3 × 3 × columns}, and in an npz `strain_gradient_samples` (rows × 1) and
/// `strain_gradient_values` (rows × 3 × 3 × columns), named as the position gradients'
/// `gradient_samples` and `gradient_values`.
extension FeatureResponseEncoder {
    static func appendStrainRows(
        _ values: [Double], rows: Int, columns: Int, threads: Int, to out: inout [UInt8], chunks: inout [[UInt8]]
    ) {
        // Each sample is 3 groups of 3 rows: format as 3·rows groups of 3, then nest by 3.
        out.append(UInt8(ascii: "["))
        for r in 0..<rows {
            if r > 0 { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "["))
            for a in 0..<3 {
                if a > 0 { out.append(UInt8(ascii: ",")) }
                out.append(UInt8(ascii: "["))
                for b in 0..<3 {
                    if b > 0 { out.append(UInt8(ascii: ",")) }
                    out.append(UInt8(ascii: "["))
                    let base = ((r * 3 + a) * 3 + b) * columns
                    for c in 0..<columns {
                        if c > 0 { out.append(UInt8(ascii: ",")) }
                        JSONNumberFormat.append(values[base + c], to: &out)
                    }
                    out.append(UInt8(ascii: "]"))
                }
                out.append(UInt8(ascii: "]"))
            }
            out.append(UInt8(ascii: "]"))
        }
        out.append(UInt8(ascii: "]"))
    }
}

extension NumpyArchive {
    /// This archive with a matrix's strain gradients added, when it has them.
    func withStrain(_ m: FeatureMatrix) -> NumpyArchive {
        guard let samples = m.strainSamples, let values = m.strainValues else { return self }
        var archive = self
        archive.add("strain_gradient_samples", shape: [samples.count, 1], .int32(samples.values))
        archive.add("strain_gradient_values", shape: [samples.count, 3, 3, m.columnCount], .float64(values))
        return archive
    }
}
