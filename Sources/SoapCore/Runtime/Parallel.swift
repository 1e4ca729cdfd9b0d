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

final class ChunkCounter: Sendable {
    private let value = Atomic<Int>(0)
    func next() -> Int { value.wrappingAdd(1, ordering: .relaxed).oldValue }
}
