#if canImport(Glibc)
    import Glibc
#endif

/// Output arrays that the kernels overwrite completely: allocated without
/// zero-filling, and (on Linux) advised onto transparent huge pages, which
/// turns ~35k page faults of a 144 MB gradient block into ~70.
enum LargeBuffers {
    static func uninitialized<T: BitwiseCopyable>(_ type: T.Type, count: Int) -> [T] {
        [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            adviseHugePages(UnsafeMutableRawBufferPointer(buffer))
            initialized = count  // every element is written before it is read
        }
    }

    static func adviseHugePages(_ buffer: UnsafeMutableRawBufferPointer) {
        #if canImport(Glibc)
            let huge = 2 << 20
            guard buffer.count >= 4 * huge, let base = buffer.baseAddress else { return }
            let start = (Int(bitPattern: base) + huge - 1) & ~(huge - 1)
            let end = (Int(bitPattern: base) + buffer.count) & ~(huge - 1)
            if end > start {
                _ = madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, 14)  // 14: MADV_HUGEPAGE
            }
        #endif
    }
}
