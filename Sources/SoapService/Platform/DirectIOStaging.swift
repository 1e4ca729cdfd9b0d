import Synchronization

#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// Glibc hides O_DIRECT behind _GNU_SOURCE; its value is per architecture.
#if arch(x86_64) || arch(i386)
    let O_DIRECT: Int32 = 0o40000
#elseif arch(arm64) || arch(arm)
    let O_DIRECT: Int32 = 0o200000
#else
    let O_DIRECT: Int32 = 0  // unknown here: buffered writes
#endif

/// Page-aligned buffers for O_DIRECT writes, kept for reuse: their pages are touched once.
enum DirectIOStaging {
    struct Buffer: @unchecked Sendable {
        let base: UnsafeMutableRawPointer
        let size: Int
    }
    static let alignment = 4096
    static let size = 4 << 20
    private static let pool = Mutex<[Buffer]>([])

    static func take() -> Buffer {
        if let buffer = pool.withLock({ $0.popLast() }) { return buffer }
        return Buffer(base: UnsafeMutableRawPointer.allocate(byteCount: size, alignment: alignment), size: size)
    }

    /// Keeps a few for the next writers (one per job worker, usually); frees the rest.
    static func give(_ buffer: Buffer) {
        let kept = pool.withLock { buffers -> Bool in
            guard buffers.count < 8 else { return false }
            buffers.append(buffer)
            return true
        }
        if !kept { buffer.base.deallocate() }
    }
}
