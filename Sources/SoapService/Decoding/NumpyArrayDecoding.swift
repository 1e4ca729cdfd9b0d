/// A 2-D float64 .npy (little-endian '<f8', C order, format 1.0–3.0) as (values, columns):
/// the output gradient of `soapd featurize --vjp G.npy`. Anything else is refused by name.
public enum NumpyArrayDecoding {
    public static func matrix(_ bytes: [UInt8], name: String) throws(ServiceError) -> (values: [Double], columns: Int) {
        func fail(_ message: String) -> ServiceError { ServiceError(.invalid, pointer: "/\(name)", message) }
        guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1..<6]) == Array("NUMPY".utf8) else {
            throw fail("not a .npy file")
        }
        let major = bytes[6]
        let headerLength: Int
        let start: Int
        if major == 1 {
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            start = 10
        } else {
            guard bytes.count >= 12 else { throw fail("truncated .npy header") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            start = 12
        }
        guard start + headerLength <= bytes.count else { throw fail("truncated .npy header") }
        let header = String(decoding: bytes[start..<(start + headerLength)], as: UTF8.self)
        guard header.contains("'descr': '<f8'") else { throw fail("must hold float64 ('<f8') numbers") }
        guard header.contains("'fortran_order': False") else { throw fail("must be in C order") }
        guard let open = header.firstIndex(of: "("), let close = header.firstIndex(of: ")"), open < close else {
            throw fail("no shape in the .npy header")
        }
        let dims = header[header.index(after: open)..<close].split(separator: ",").compactMap {
            Int($0.filter { $0 != " " })
        }
        guard dims.count == 2 else { throw fail("must be 2-D (rows × columns), has shape \(dims)") }
        let count = dims[0] * dims[1]
        let data = start + headerLength
        guard bytes.count - data == 8 * count else { throw fail("holds \(bytes.count - data) bytes, expected \(8 * count)") }
        var values = [Double](repeating: 0, count: count)
        values.withUnsafeMutableBytes { out in
            bytes.withUnsafeBytes { raw in out.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[data...])) }
        }
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw ServiceError(
                .invalid, pointer: "/\(name)/\(bad / max(1, dims[1]))/\(bad % max(1, dims[1]))", "must be a finite number")
        }
        return (values, dims[1])
    }
}
