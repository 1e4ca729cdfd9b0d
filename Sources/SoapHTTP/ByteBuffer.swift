import Glibc

/// A growable byte queue: bytes are appended at the end and consumed from the front.
/// Consumed space is reclaimed lazily so that consuming is O(1).
struct ByteBuffer: Sendable {
    private(set) var storage: [UInt8] = []
    private(set) var readIndex = 0

    init() {}
    init(_ bytes: [UInt8]) { storage = bytes }

    var readableCount: Int { storage.count - readIndex }
    var isEmpty: Bool { readIndex == storage.count }

    /// The byte `offset` bytes past the read position (caller checks bounds).
    @inline(__always)
    subscript(offset: Int) -> UInt8 { storage[readIndex + offset] }

    /// `count` readable bytes starting `offset` past the read position.
    func slice(from offset: Int, count: Int) -> ArraySlice<UInt8> {
        storage[(readIndex + offset)..<(readIndex + offset + count)]
    }

    /// Offset (from the read position) of the first `byte` in [from, to), if any.
    func firstIndex(of byte: UInt8, from: Int, to: Int) -> Int? {
        guard from < to else { return nil }
        return storage.withUnsafeBufferPointer { buf -> Int? in
            guard let base = buf.baseAddress else { return nil }
            let start = base + readIndex + from
            guard let hit = memchr(start, Int32(byte), to - from) else { return nil }
            return from + (UnsafeRawPointer(hit) - UnsafeRawPointer(start))
        }
    }

    mutating func append<C: Collection>(contentsOf bytes: C) where C.Element == UInt8 {
        reclaim()
        storage.append(contentsOf: bytes)
    }

    mutating func append(_ raw: UnsafeRawBufferPointer) {
        reclaim()
        storage.append(contentsOf: raw.bindMemory(to: UInt8.self))
    }

    mutating func consume(_ count: Int) {
        readIndex = min(readIndex + count, storage.count)
        if readIndex == storage.count {
            storage.removeAll(keepingCapacity: storage.capacity <= 1 << 20)
            readIndex = 0
        }
    }

    /// Drops consumed bytes once they make up at least half of the storage.
    private mutating func reclaim() {
        if readIndex > 0 && readIndex >= storage.count / 2 {
            storage.removeSubrange(0..<readIndex)
            readIndex = 0
        }
    }
}
