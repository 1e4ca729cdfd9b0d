import Synchronization

/// A process-wide cap on the bytes that outputs may hold at once: each computation
/// reserves its output's size before allocating it and returns it when the output is gone.
public final class MemoryBudget: Sendable {
    public let limit: Int
    private let used = Atomic<Int>(0)

    public init(limit: Int) { self.limit = max(0, limit) }

    public var inUse: Int { used.load(ordering: .relaxed) }
    public var available: Int { max(0, limit - inUse) }

    /// A reservation of `bytes`, or nil when they do not fit beside the current ones.
    public func reserve(_ bytes: Int) -> MemoryReservation? {
        var current = used.load(ordering: .relaxed)
        while true {
            guard current + bytes <= limit else { return nil }
            let (exchanged, original) = used.compareExchange(
                expected: current, desired: current + bytes, ordering: .acquiringAndReleasing)
            if exchanged { return MemoryReservation(budget: self, bytes: bytes) }
            current = original
        }
    }

    fileprivate func release(_ bytes: Int) { used.wrappingSubtract(bytes, ordering: .acquiringAndReleasing) }
}

/// Bytes held in a MemoryBudget until this object goes away.
public final class MemoryReservation: Sendable {
    let budget: MemoryBudget
    public let bytes: Int
    init(budget: MemoryBudget, bytes: Int) {
        self.budget = budget
        self.bytes = bytes
    }
    deinit { budget.release(bytes) }
}
