import Dispatch
import SoapCore
import SoapHTTP
import Synchronization

#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// A calling thread plus `width − 1` helper threads of its own that run the featurizer's
/// parallel loops together (fork-join). The batch-job runner computes each chunk with all
/// of them, as `soapd bench` does with Dispatch's pool, but on threads it started at a
/// lower scheduling priority, so interactive requests still come first. One fork-join at a
/// time: a team belongs to one calling thread.
final class ThreadTeam: ForkJoinExecutor, @unchecked Sendable {
    /// The calling thread and the helpers that started (set once, in init).
    private(set) var width = 1
    private let go = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private let exited = DispatchSemaphore(value: 0)
    private let work = Mutex<Work>(Work())

    private struct Work {
        var body: ((Int) -> Void)?
        var next = 1
        var stopping = false
    }

    /// `setUp` runs first on each helper thread (to lower its priority, for one).
    /// The width is what actually started: a helper the system refuses is not waited for.
    init(width: Int, setUp: @escaping @Sendable () -> Void = {}) {
        var started = 0
        for _ in 1..<max(1, width) {
            if spawnThread({ [self] in
                setUp()
                helperLoop()
                exited.signal()
            }) {
                started += 1
            }
        }
        self.width = 1 + started
    }

    private func helperLoop() {
        while true {
            go.wait()
            guard runOne() else { return }
            finished.signal()
        }
    }

    /// Runs the next index of the current body; false when stopping. Its own function so
    /// that every reference to the body is gone when it returns (forkJoin checks that the
    /// body did not escape once all helpers said they finished).
    private func runOne() -> Bool {
        guard
            let (body, index) = work.withLock({ w -> ((Int) -> Void, Int)? in
                guard !w.stopping, let body = w.body else { return nil }
                defer { w.next += 1 }
                return (body, w.next)
            })
        else { return false }
        body(index)
        return true
    }

    func forkJoin(_ count: Int, _ body: (Int) -> Void) {
        let count = min(max(count, 1), width)
        guard count > 1 else {
            body(0)
            return
        }
        withoutActuallyEscaping(body) { body in
            work.withLock {
                $0.body = body
                $0.next = 1
            }
            for _ in 1..<count { go.signal() }
            body(0)
            for _ in 1..<count { finished.wait() }
            work.withLock { $0.body = nil }
        }
    }

    /// Ends the helper threads (after any fork-join in progress).
    func stop(timeout: Double = 30) {
        work.withLock { $0.stopping = true }
        for _ in 1..<width { go.signal() }
        for _ in 1..<width { _ = exited.wait(timeout: .now() + timeout) }
    }
}
