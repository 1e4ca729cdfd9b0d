import CZlib
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Writes arrays as a NumPy .npz (a ZIP of .npy files, stored uncompressed
/// so that writing costs one copy) or a single .npy; `numpy.load` reads both
/// without pickle. Transport compression is the HTTP layer's gzip.
public struct NumpyArchive {
    public enum Element {
        case float64([Double])
        case int32([Int32])
        /// Unicode strings, stored as '<U{n}' (UTF-32LE, fixed width).
        case strings([String])
    }
    public struct Entry {
        public var name: String
        public var shape: [Int]
        public var element: Element
        public init(name: String, shape: [Int], element: Element) { self.name = name; self.shape = shape; self.element = element }
    }

    public var entries: [Entry] = []
    public init() {}

    public mutating func add(_ name: String, shape: [Int], _ element: Element) {
        entries.append(Entry(name: name, shape: shape, element: element))
    }

    /// One .npy file: magic, version 1.0, a header dict padded to 64 bytes, then the data.
    public static func npy(_ entry: Entry) -> [UInt8] {
        var out = npyHeader(entry)
        appendData(entry.element, to: &out)
        return out
    }

    static func npyHeader(_ entry: Entry) -> [UInt8] {
        let descr: String
        switch entry.element {
        case .float64: descr = "<f8"
        case .int32: descr = "<i4"
        case .strings(let s): descr = "<U\(max(1, s.map { $0.unicodeScalars.count }.max() ?? 1))"
        }
        let shape = entry.shape.count == 1 ? "(\(entry.shape[0]),)" : "(" + entry.shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shape), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        let length = header.utf8.count
        out += [UInt8(length & 0xff), UInt8(length >> 8)]
        out += Array(header.utf8)
        return out
    }

    static func dataSize(_ element: Element) -> Int {
        switch element {
        case .float64(let v): return v.count * 8
        case .int32(let v): return v.count * 4
        case .strings(let s): return s.count * 4 * max(1, s.map { $0.unicodeScalars.count }.max() ?? 1)
        }
    }

    /// CRC-32 continuing from `start`; large buffers are split across two
    /// threads and the halves joined with crc32_combine.
    static func crc(_ start: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard bytes.count >= 1 << 21, let base = bytes.baseAddress else { return serialCRC(start, bytes) }
        let half = bytes.count / 2
        let parts = [UnsafeRawBufferPointer(start: base, count: half),
                     UnsafeRawBufferPointer(start: base + half, count: bytes.count - half)]
        var results = [UInt32](repeating: 0, count: 2)
        results.withUnsafeMutableBufferPointer { out in
            let out = out
            DispatchQueue.concurrentPerform(iterations: 2) { k in out[k] = serialCRC(k == 0 ? start : 0, parts[k]) }
        }
        return UInt32(crc32_combine(UInt(results[0]), UInt(results[1]), off_t(parts[1].count)))
    }

    static func serialCRC(_ start: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var c = UInt(start)
        guard var p = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return start }
        var left = bytes.count
        while left > 0 {   // zlib's crc32 takes a 32-bit length
            let n = min(left, 1 << 30)
            c = crc32(c, p, UInt32(n))
            p += n; left -= n
        }
        return UInt32(c)
    }

    static func withData(_ element: Element, _ body: (UnsafeRawBufferPointer) -> Void) {
        switch element {
        case .float64(let v): v.withUnsafeBytes(body)
        case .int32(let v): v.withUnsafeBytes(body)
        case .strings:
            var bytes: [UInt8] = []
            appendData(element, to: &bytes)
            bytes.withUnsafeBytes(body)
        }
    }

    static func appendData(_ element: Element, to out: inout [UInt8]) {
        // Little-endian hosts only (x86_64, arm64), as the '<' descriptors say.
        switch element {
        case .float64(let v): v.withUnsafeBytes { out.append(contentsOf: $0) }
        case .int32(let v): v.withUnsafeBytes { out.append(contentsOf: $0) }
        case .strings(let strings):
            let width = max(1, strings.map { $0.unicodeScalars.count }.max() ?? 1)
            for s in strings {
                var n = 0
                for scalar in s.unicodeScalars {
                    let v = scalar.value
                    out += [UInt8(v & 0xff), UInt8((v >> 8) & 0xff), UInt8((v >> 16) & 0xff), UInt8(v >> 24)]
                    n += 1
                }
                out += [UInt8](repeating: 0, count: 4 * (width - n))
            }
        }
    }

    /// The archive as a ZIP with stored entries (ZIP64 records where an entry reaches 4 GiB).
    public func npz() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(entries.reduce(0) { $0 + Self.dataSize($1.element) + 256 })
        var central: [UInt8] = []
        for entry in entries {
            let offset = out.count
            let name = Array((entry.name + ".npy").utf8)
            let header = Self.npyHeader(entry)
            let fileSize = header.count + Self.dataSize(entry.element)
            var crc = header.withUnsafeBytes { Self.crc(0, $0) }
            Self.withData(entry.element) { crc = Self.crc(crc, $0) }
            let zip64 = fileSize >= 0xFFFF_FFFF || offset >= 0xFFFF_FFFF
            let size32: UInt32 = zip64 ? 0xFFFF_FFFF : UInt32(fileSize)
            // Local file header.
            out += le32(0x04034b50) + le16(zip64 ? 45 : 20) + le16(0) + le16(0) + le16(0) + le16(0x21)
            out += le32(crc) + le32(size32) + le32(size32) + le16(name.count) + le16(zip64 ? 20 : 0)
            out += name
            if zip64 { out += le16(1) + le16(16) + le64(UInt64(fileSize)) + le64(UInt64(fileSize)) }
            out += header
            Self.withData(entry.element) { out.append(contentsOf: $0) }
            // Central directory record.
            central += le32(0x02014b50) + le16(zip64 ? 45 : 20) + le16(zip64 ? 45 : 20) + le16(0) + le16(0) + le16(0) + le16(0x21)
            central += le32(crc) + le32(size32) + le32(size32) + le16(name.count) + le16(zip64 ? 28 : 0) + le16(0)
            central += le16(0) + le16(0) + le32(0) + le32(zip64 ? 0xFFFF_FFFF : UInt32(offset))
            central += name
            if zip64 { central += le16(1) + le16(24) + le64(UInt64(fileSize)) + le64(UInt64(fileSize)) + le64(UInt64(offset)) }
        }
        let centralOffset = out.count
        out += central
        let count = entries.count
        if centralOffset >= 0xFFFF_FFFF {
            let zip64End = out.count
            out += le32(0x06064b50) + le64(44) + le16(45) + le16(45) + le32(0) + le32(0)
            out += le64(UInt64(count)) + le64(UInt64(count)) + le64(UInt64(central.count)) + le64(UInt64(centralOffset))
            out += le32(0x07064b50) + le32(0) + le64(UInt64(zip64End)) + le32(1)
        }
        out += le32(0x06054b50) + le16(0) + le16(0) + le16(count) + le16(count) + le32(UInt32(central.count))
        out += le32(centralOffset >= 0xFFFF_FFFF ? 0xFFFF_FFFF : UInt32(centralOffset)) + le16(0)
        return out
    }
}

@inline(__always) private func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xff), UInt8((v >> 8) & 0xff)] }
@inline(__always) private func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * $0)) & 0xff) } }
@inline(__always) private func le64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8((v >> (8 * $0)) & 0xff) } }
