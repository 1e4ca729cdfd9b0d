import CFastCRC
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
        /// Data produced piece by piece when the archive is written (e.g. read back from
        /// files), `byteCount` bytes of `descr` ('<f8', '<i4'); only `writeNPZ` takes it.
        case streamed(
            descr: String, byteCount: Int,
            write: @Sendable ((UnsafeRawBufferPointer) throws -> Void) throws -> Void)
    }

    public enum WriteError: Error, Equatable {
        /// A streamed entry produced more or fewer bytes than it announced.
        case sizeMismatch(entry: String, announced: Int, written: Int)
    }
    public struct Entry {
        public var name: String
        public var shape: [Int]
        public var element: Element
        public init(name: String, shape: [Int], element: Element) {
            self.name = name
            self.shape = shape
            self.element = element
        }
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
        case .streamed(let d, _, _): descr = d
        }
        let shape =
            entry.shape.count == 1 ? "(\(entry.shape[0]),)" : "(" + entry.shape.map(String.init).joined(separator: ", ") + ")"
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
        case .streamed(_, let n, _): return n
        }
    }

    static func serialCRC(_ start: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let p = bytes.baseAddress else { return start }
        return soapd_crc32(start, p, bytes.count)
    }

    static func withData(_ element: Element, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        switch element {
        case .float64(let v): try v.withUnsafeBytes(body)
        case .int32(let v): try v.withUnsafeBytes(body)
        case .strings:
            var bytes: [UInt8] = []
            appendData(element, to: &bytes)
            try bytes.withUnsafeBytes(body)
        case .streamed(_, _, let write):
            try write { try body($0) }
        }
    }

    static func appendData(_ element: Element, to out: inout [UInt8]) {
        // Little-endian hosts only (x86_64, arm64), as the '<' descriptors say.
        switch element {
        case .float64(let v): v.withUnsafeBytes { out.append(contentsOf: $0) }
        case .int32(let v): v.withUnsafeBytes { out.append(contentsOf: $0) }
        case .streamed:
            preconditionFailure("streamed entries are written by writeNPZ / writeNPY only")
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

    /// One entry's place in the archive, worked out before any byte is written.
    private struct Placement {
        var name: [UInt8]
        var npyHeader: [UInt8]
        var fileSize: Int
        var offset: Int
        var zip64: Bool
        var localHeaderSize: Int { 30 + name.count + (zip64 ? 20 : 0) }
        var descriptorSize: Int { zip64 ? 24 : 16 }
        var centralSize: Int { 46 + name.count + (zip64 ? 28 : 0) }
    }

    private func placements() -> (entries: [Placement], centralOffset: Int, centralSize: Int) {
        var out: [Placement] = []
        var offset = 0
        for entry in entries {
            let header = Self.npyHeader(entry)
            let fileSize = header.count + Self.dataSize(entry.element)
            let p = Placement(
                name: Array((entry.name + ".npy").utf8), npyHeader: header, fileSize: fileSize,
                offset: offset, zip64: fileSize >= 0xFFFF_FFFF || offset >= 0xFFFF_FFFF)
            out.append(p)
            offset += p.localHeaderSize + fileSize + p.descriptorSize
        }
        return (out, offset, out.reduce(0) { $0 + $1.centralSize })
    }

    /// The size of the .npz in bytes, known before it is written (a Content-Length).
    public var npzSize: Int {
        let (_, centralOffset, centralSize) = placements()
        return centralOffset + centralSize + 22 + (centralOffset >= 0xFFFF_FFFF ? 76 : 0)
    }

    /// The archive as one buffer (in-memory entries: writing them cannot fail).
    public func npz() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(npzSize)
        do { try writeNPZ { out.append(contentsOf: $0) } } catch {
            preconditionFailure("npz() is for in-memory entries; streamed ones go through writeNPZ: \(error)")
        }
        return out
    }

    /// Writes the archive as a ZIP of stored entries (ZIP64 records where an entry reaches
    /// 4 GiB), piece by piece straight from the arrays, so a response needs no joined copy.
    /// Each large entry's CRC-32 is computed on another thread while its bytes are written and
    /// follows them in a data descriptor (flag bit 3); the central directory, where readers such
    /// as numpy's zipfile take it from, repeats it. Local headers carry the real sizes, so
    /// streaming readers can find each entry's end.
    public func writeNPZ(to sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        let (placed, centralOffset, centralSize) = placements()
        var crcs: [UInt32] = []
        for (entry, p) in zip(entries, placed) {
            let size32: UInt32 = p.zip64 ? 0xFFFF_FFFF : UInt32(p.fileSize)
            var local = le32(0x0403_4b50) + le16(p.zip64 ? 45 : 20) + le16(0x08) + le16(0) + le16(0) + le16(0x21)
            local += le32(0) + le32(size32) + le32(size32) + le16(p.name.count) + le16(p.zip64 ? 20 : 0) + p.name
            if p.zip64 { local += le16(1) + le16(16) + le64(UInt64(p.fileSize)) + le64(UInt64(p.fileSize)) }
            try local.withUnsafeBytes(sink)
            try p.npyHeader.withUnsafeBytes(sink)
            let value: UInt32
            if case .streamed(_, let announced, let write) = entry.element {
                // Produced once: the CRC runs over each piece as it passes.
                var crc = p.npyHeader.withUnsafeBytes { Self.serialCRC(0, $0) }
                var written = 0
                try write { piece in
                    crc = Self.serialCRC(crc, piece)
                    written += piece.count
                    try sink(piece)
                }
                guard written == announced else {
                    throw WriteError.sizeMismatch(entry: entry.name, announced: announced, written: written)
                }
                value = crc
            } else {
                let crc = CRCTask(header: p.npyHeader, element: entry.element)
                try Self.withData(entry.element) { try sink($0) }
                value = crc.value()
            }
            crcs.append(value)
            var descriptor = le32(0x0807_4b50) + le32(value)
            descriptor += p.zip64 ? le64(UInt64(p.fileSize)) + le64(UInt64(p.fileSize)) : le32(size32) + le32(size32)
            try descriptor.withUnsafeBytes(sink)
        }
        var central: [UInt8] = []
        central.reserveCapacity(centralSize)
        for (p, crc) in zip(placed, crcs) {
            let size32: UInt32 = p.zip64 ? 0xFFFF_FFFF : UInt32(p.fileSize)
            central += le32(0x0201_4b50) + le16(p.zip64 ? 45 : 20) + le16(p.zip64 ? 45 : 20) + le16(0x08) + le16(0)
            central += le16(0) + le16(0x21) + le32(crc) + le32(size32) + le32(size32) + le16(p.name.count)
            central += le16(p.zip64 ? 28 : 0) + le16(0) + le16(0) + le16(0) + le32(0)
            central += le32(p.zip64 ? 0xFFFF_FFFF : UInt32(p.offset)) + p.name
            if p.zip64 {
                central += le16(1) + le16(24) + le64(UInt64(p.fileSize)) + le64(UInt64(p.fileSize)) + le64(UInt64(p.offset))
            }
        }
        let count = entries.count
        if centralOffset >= 0xFFFF_FFFF {
            let zip64End = centralOffset + central.count
            central += le32(0x0606_4b50) + le64(44) + le16(45) + le16(45) + le32(0) + le32(0)
            central += le64(UInt64(count)) + le64(UInt64(count)) + le64(UInt64(centralSize)) + le64(UInt64(centralOffset))
            central += le32(0x0706_4b50) + le32(0) + le64(UInt64(zip64End)) + le32(1)
        }
        central += le32(0x0605_4b50) + le16(0) + le16(0) + le16(count) + le16(count) + le32(UInt32(centralSize))
        central += le32(centralOffset >= 0xFFFF_FFFF ? 0xFFFF_FFFF : UInt32(centralOffset)) + le16(0)
        try central.withUnsafeBytes(sink)
    }

    /// The size of `npy(entry)`.
    public static func npySize(_ entry: Entry) -> Int { npyHeader(entry).count + dataSize(entry.element) }

    /// Writes one .npy straight from the array.
    public static func writeNPY(_ entry: Entry, to sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        try npyHeader(entry).withUnsafeBytes(sink)
        try withData(entry.element) { try sink($0) }
    }
}

/// The CRC-32 of an entry (npy header, then data): on a background thread for large data, so
/// that it overlaps with writing the same bytes; inline for small entries.
private final class CRCTask: @unchecked Sendable {
    private var result: UInt32 = 0
    private let group = DispatchGroup()

    init(header: [UInt8], element: NumpyArchive.Element) {
        let run = { [self] in
            var crc = header.withUnsafeBytes { NumpyArchive.serialCRC(0, $0) }
            try? NumpyArchive.withData(element) { crc = NumpyArchive.serialCRC(crc, $0) }
            result = crc
        }
        if NumpyArchive.dataSize(element) >= 1 << 20 {
            DispatchQueue.global().async(group: group, execute: run)
        } else {
            run()
        }
    }

    /// Waits for the background computation if there is one.
    func value() -> UInt32 {
        group.wait()
        return result
    }
}

@inline(__always) private func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xff), UInt8((v >> 8) & 0xff)] }
@inline(__always) private func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * $0)) & 0xff) } }
@inline(__always) private func le64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8((v >> (8 * $0)) & 0xff) } }
