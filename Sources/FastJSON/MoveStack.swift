#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A stack whose tail can be moved out into an Array with one memcpy
/// (no retain/release per element, unlike slicing a Swift Array).
/// Storage comes from malloc so growth can use realloc (mremap for large
/// blocks, no copy); Swift values are bitwise movable, so this is sound.
final class MoveStack<Element> {
    private var base: UnsafeMutablePointer<Element>
    private var capacity: Int
    private(set) var count = 0

    init(capacity: Int = 256) {
        self.capacity = capacity
        guard let raw = malloc(capacity * MemoryLayout<Element>.stride) else { fatalError("out of memory") }
        base = raw.bindMemory(to: Element.self, capacity: capacity)
    }

    deinit {
        base.deinitialize(count: count)
        free(base)
    }

    @inline(__always)
    func push(_ element: Element) {
        if count == capacity { grow() }
        (base + count).initialize(to: element)
        count &+= 1
    }

    subscript(i: Int) -> Element { base[i] }

    /// Moves elements start..<count out, in order, and shrinks the stack to `start`.
    func popArray(from start: Int) -> [Element] {
        let n = count &- start
        guard n > 0 else { return [] }
        let source = base + start
        count = start
        return [Element](unsafeUninitializedCapacity: n) { buffer, initialized in
            buffer.baseAddress!.moveInitialize(from: source, count: n)
            initialized = n
        }
    }

    @inline(never)
    private func grow() {
        let newCapacity = capacity * 2
        guard let raw = realloc(base, newCapacity * MemoryLayout<Element>.stride) else { fatalError("out of memory") }
        base = raw.bindMemory(to: Element.self, capacity: newCapacity)
        capacity = newCapacity
    }
}
