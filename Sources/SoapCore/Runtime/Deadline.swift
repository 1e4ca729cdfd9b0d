import Synchronization

/// A computation's time limit, shared by its worker threads: once past, every worker stops
/// taking chunks and the computation throws.
final class Deadline: Sendable {
    private let end: Double?
    private let limit: Double
    private let passed = Atomic<Bool>(false)

    init(seconds: Double?) {
        limit = seconds ?? 0
        end = seconds.map { SystemClock.monotonic() + $0 }
    }

    func expired() -> Bool {
        guard let end else { return false }
        if passed.load(ordering: .relaxed) { return true }
        if SystemClock.monotonic() > end {
            passed.store(true, ordering: .relaxed)
            return true
        }
        return false
    }

    func check() throws(FeaturizationError) {
        if expired() { throw .deadlineExceeded(seconds: limit) }
    }
}
