import Dispatch
import Synchronization

/// Wakes the long-polling status requests when any job ends; each then re-reads its job.
final class JobEnds: @unchecked Sendable {
    private let waiters = Mutex<[ObjectIdentifier: DispatchSemaphore]>([:])

    final class Waiter {
        let semaphore = DispatchSemaphore(value: 0)
    }

    func register() -> Waiter {
        let waiter = Waiter()
        waiters.withLock { $0[ObjectIdentifier(waiter)] = waiter.semaphore }
        return waiter
    }

    func unregister(_ waiter: Waiter) { _ = waiters.withLock { $0.removeValue(forKey: ObjectIdentifier(waiter)) } }

    /// Until a job ends or `seconds` pass; the waiter is unregistered either way.
    func wait(_ waiter: Waiter, seconds: Double) {
        _ = waiter.semaphore.wait(timeout: .now() + seconds)
        unregister(waiter)
    }

    func announce() {
        for semaphore in waiters.withLock({ w -> [DispatchSemaphore] in
            defer { w.removeAll() }
            return Array(w.values)
        }) {
            semaphore.signal()
        }
    }
}
