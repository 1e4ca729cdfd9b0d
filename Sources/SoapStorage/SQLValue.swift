/// A value bound to, or read from, SQLite: its five storage classes.
public enum SQLValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])

    /// An `Int` as `.integer`.
    public init(_ value: Int) { self = .integer(Int64(value)) }

    /// A `String?` as `.text` or `.null`.
    public init(_ value: String?) { self = value.map { .text($0) } ?? .null }

    /// A `[UInt8]?` as `.blob` or `.null`.
    public init(_ value: [UInt8]?) { self = value.map { .blob($0) } ?? .null }

    /// An array of doubles as a BLOB of little-endian IEEE-754 bit patterns (bit-exact,
    /// including -0.0 and subnormals; independent of the host's byte order).
    public static func doubles(_ values: [Double]) -> SQLValue { .blob(DoubleBlob.encode(values)) }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }
}

/// The byte layout of `[Double]` BLOBs: 8 bytes per value, little-endian bit patterns.
public enum DoubleBlob {
    public static func encode(_ values: [Double]) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: values.count * 8) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            for (i, value) in values.enumerated() {
                raw.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: i * 8, as: UInt64.self)
            }
            initialized = values.count * 8
        }
    }

    /// Decodes a BLOB written by `encode`; its length must be a multiple of 8.
    public static func decode(_ bytes: [UInt8]) throws(StorageError) -> [Double] {
        guard bytes.count % 8 == 0 else {
            throw .mismatch("a doubles BLOB must be a multiple of 8 bytes, got \(bytes.count)")
        }
        let count = bytes.count / 8
        return bytes.withUnsafeBytes { raw in
            [Double](unsafeUninitializedCapacity: count) { buffer, initialized in
                for i in 0..<count {
                    let bits = raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)
                    buffer[i] = Double(bitPattern: UInt64(littleEndian: bits))
                }
                initialized = count
            }
        }
    }
}
