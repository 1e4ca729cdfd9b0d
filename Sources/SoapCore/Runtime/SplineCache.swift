import Synchronization

/// Spline tables shared across requests, keyed by what defines them
/// (hypers, or a fitted basis id), with least-recently-used eviction.
/// A table is built once even when many requests ask for it at the same time.
public final class SplineCache: Sendable {
    private struct State {
        var entries: [String: Entry] = [:]
        var clock: UInt64 = 0
        var hits = 0, misses = 0
    }
    private final class Entry: @unchecked Sendable {
        let lock = Mutex<RadialSplineTable?>(nil)
        var lastUse: UInt64 = 0
    }
    private let state = Mutex(State())
    public let capacity: Int

    public init(capacity: Int = 32) { self.capacity = max(1, capacity) }

    public var statistics: (hits: Int, misses: Int, entries: Int) {
        state.withLock { ($0.hits, $0.misses, $0.entries.count) }
    }

    /// The table for `key`, built by `build` on a miss.
    public func table(for key: String, build: () throws -> RadialSplineTable) rethrows -> RadialSplineTable {
        let entry: Entry = state.withLock { s in
            s.clock += 1
            if let e = s.entries[key] {
                e.lastUse = s.clock
                return e
            }
            let e = Entry()
            e.lastUse = s.clock
            s.entries[key] = e
            if s.entries.count > capacity,
                let oldest = s.entries.min(by: { $0.value.lastUse < $1.value.lastUse })?.key, oldest != key
            {
                s.entries.removeValue(forKey: oldest)
            }
            return e
        }
        // Per-entry lock: concurrent requests for one key wait for one build.
        return try entry.lock.withLock { slot in
            if let table = slot {
                state.withLock { $0.hits += 1 }
                return table
            }
            let table = try build()
            slot = table
            state.withLock { $0.misses += 1 }
            return table
        }
    }
}
