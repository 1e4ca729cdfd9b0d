import Dispatch
import Synchronization

/// Runs `chunks` pieces of work on `threads` workers that pull the next
/// chunk from a shared counter, so uneven chunks balance themselves. Each
/// worker gets its index, to own scratch memory for all of its chunks.
enum Parallel {
    static func run(
        chunks: Int, threads: Int, executor: (any ForkJoinExecutor)? = nil,
        _ body: (_ worker: Int, _ next: () -> Int?) -> Void
    ) {
        let workers = max(1, min(threads, executor?.width ?? threads, chunks))
        if workers == 1 {
            var i = 0
            body(0) { () -> Int? in
                defer { i += 1 }
                return i < chunks ? i : nil
            }
            return
        }
        let counter = ChunkCounter()
        func work(_ worker: Int) {
            body(worker) { () -> Int? in
                let i = counter.next()
                return i < chunks ? i : nil
            }
        }
        if let executor {
            executor.forkJoin(workers, work)
        } else {
            DispatchQueue.concurrentPerform(iterations: workers, execute: work)
        }
    }
}

/// Threads to run parallel loops on instead of Dispatch's shared pool: a caller that wants
/// the work on threads of its own (the batch-job runner's, at a lower scheduling priority)
/// passes one to the Featurizer.
public protocol ForkJoinExecutor: Sendable {
    /// Bodies it can run at once (the calling thread included).
    var width: Int { get }
    /// Runs body(0) … body(count − 1) concurrently, count ≤ width, one on the calling
    /// thread, and returns when all have returned.
    func forkJoin(_ count: Int, _ body: (Int) -> Void)
}

final class ChunkCounter: Sendable {
    private let value = Atomic<Int>(0)
    func next() -> Int { value.wrappingAdd(1, ordering: .relaxed).oldValue }
}
