/// The raw memory of one kernel object (an expansion, a contraction, an engine, a writer,
/// a spline table): every buffer it hands out is freed in its one `deinit`, so no kernel
/// keeps a hand-written list of `deallocate` calls.
///
/// A kernel asks for its buffers once, when it is built, keeps the typed pointers in `let`
/// (or, for a growing buffer, `var`) properties and uses them in its loops directly: no
/// reference counting, no bounds check and no existential there. Elements are trivial
/// (`BitwiseCopyable`), handed out uninitialised unless copied from an array, and never
/// deinitialised. A buffer that must grow (the per-pair buffers of a centre with more
/// neighbours than any before it) is replaced by a larger one, keeping a prefix if asked;
/// capacities grow geometrically, so nothing is allocated per neighbour.
final class BufferArena {
    private var buffers: [UnsafeMutableRawPointer] = []

    init() {}

    deinit {
        for buffer in buffers { buffer.deallocate() }
    }

    /// Room for `count` elements (at least one), uninitialised.
    func allocate<T: BitwiseCopyable>(_ type: T.Type = T.self, count: Int) -> UnsafeMutablePointer<T> {
        let buffer = UnsafeMutablePointer<T>.allocate(capacity: max(1, count))
        buffers.append(UnsafeMutableRawPointer(buffer))
        return buffer
    }

    /// A copy of `elements`.
    func copy<T: BitwiseCopyable>(_ elements: [T]) -> UnsafeMutablePointer<T> {
        let buffer = allocate(T.self, count: elements.count)
        buffer.initialize(from: elements, count: elements.count)
        return buffer
    }

    /// Room for `count` elements in place of `old`, a buffer of this arena, which is freed;
    /// its first `kept` elements are copied over, the rest is uninitialised.
    func reallocate<T: BitwiseCopyable>(
        _ old: UnsafeMutablePointer<T>, count: Int, keeping kept: Int = 0
    ) -> UnsafeMutablePointer<T> {
        guard let index = buffers.firstIndex(of: UnsafeMutableRawPointer(old)) else {
            preconditionFailure("reallocate: not a buffer of this arena")
        }
        let buffer = UnsafeMutablePointer<T>.allocate(capacity: max(1, count))
        buffer.initialize(from: old, count: min(kept, count))
        old.deallocate()
        buffers[index] = UnsafeMutableRawPointer(buffer)
        return buffer
    }
}
