import Foundation

/// A fixed set of threads running handler jobs, fed by a bounded queue. Submitting never
/// blocks: when `maxQueued` jobs are already waiting the job is refused (the caller answers
/// 503), so memory and latency stay bounded under overload.
final class WorkerPool: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [() -> Void] = []
    private var head = 0
    private var idle = 0
    private var running = 0
    private var stopping = false
    private let maxQueued: Int

    /// Starts `threads` workers (at least one). Returns nil if no thread could be started.
    /// Handlers may recurse deeply (JSON, numerics), hence the main-thread-sized 8 MiB stacks.
    init?(threads: Int, maxQueued: Int, stackSize: Int = 8 << 20) {
        self.maxQueued = max(0, maxQueued)
        var started = 0
        for _ in 0..<max(1, threads) {
            if spawnThread(stackSize: stackSize, { [self] in workerLoop() }) { started += 1 }
        }
        if started == 0 { return nil }
    }

    /// Jobs waiting for a worker (not counting those an idle worker is about to pick up).
    var queuedCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return max(0, jobs.count - head - idle)
    }

    var runningCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return running
    }

    /// Enqueues `job` unless the queue is full or the pool is stopping.
    func trySubmit(_ job: @escaping () -> Void) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        // Pending jobs that idle workers will take at once don't count against the bound.
        guard !stopping, jobs.count - head < maxQueued + idle else { return false }
        jobs.append(job)
        condition.signal()
        return true
    }

    /// Workers exit once idle; jobs still queued are dropped (their connections are gone).
    func stop() {
        condition.lock()
        stopping = true
        jobs.removeAll()
        head = 0
        condition.broadcast()
        condition.unlock()
    }

    private func workerLoop() {
        condition.lock()
        while true {
            while head == jobs.count && !stopping {
                idle += 1
                condition.wait()
                idle -= 1
            }
            if head == jobs.count { break }  // stopping and nothing left
            let job = jobs[head]
            head += 1
            if head == jobs.count {
                jobs.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 64 && head * 2 >= jobs.count {
                jobs.removeFirst(head)  // keep the array from growing while never empty
                head = 0
            }
            running += 1
            condition.unlock()
            job()
            condition.lock()
            running -= 1
        }
        condition.unlock()
    }
}

/// A one-shot result handed from a worker to the waiting connection thread; the wait can
/// be abandoned by `abort()` when the server force-closes connections.
final class Completion<Value>: @unchecked Sendable {
    private let condition = NSCondition()
    private var value: Value?
    private var aborted = false

    func fulfil(_ newValue: Value) {
        condition.lock()
        value = newValue
        condition.broadcast()
        condition.unlock()
    }

    func abort() {
        condition.lock()
        aborted = true
        condition.broadcast()
        condition.unlock()
    }

    /// The value, or nil if aborted first.
    func wait() -> Value? {
        condition.lock()
        defer { condition.unlock() }
        while value == nil && !aborted { condition.wait() }
        return value
    }
}
