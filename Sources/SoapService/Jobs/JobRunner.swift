import Dispatch
import SoapCore
import SoapHTTP
import SoapStorage

#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// The runner: one thread takes the current job's chunks, computes each with a team of
/// threads and hands it to the persister, which writes and commits it.
extension JobService {
    /// Starts the runner: one thread that takes chunks and computes each with a team of
    /// `workers` threads (itself included), all at a lower priority than requests; jobs left
    /// queued or running by an earlier process resume.
    public func start() {
        let team = ThreadTeam(width: max(1, settings.workers), setUp: Self.yieldToRequests)
        state.withLock { $0.team = team }
        if spawnThread({ [self] in
            Self.yieldToRequests()
            workerLoop()
            exited.signal()
        }) {
            started += 1
        }
    }

    /// Interactive requests first: job threads yield the cores to them (Linux applies a nice
    /// value to the calling thread when given its thread id).
    @Sendable static func yieldToRequests() {
        if let tid = threadID() { _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(tid), 10) }
    }

    /// Stops taking chunks; a chunk being computed finishes (and is committed) first.
    public func stop(timeout: Double = 30) {
        state.withLock { $0.stopping = true }
        for _ in 0..<started { wake.signal() }
        for _ in 0..<started { _ = exited.wait(timeout: .now() + timeout) }
        persister.sync {}  // the last computed chunks are written and committed
        state.withLock { $0.team }?.stop(timeout: timeout)
        started = 0
    }

    func workerLoop() {
        var idleSince: Double? = nil
        while true {
            if state.withLock({ $0.stopping }) { return }
            guard let (execution, chunk) = takeWork() else {
                // The arrays wait a few seconds for the next job, then go back to the system.
                let now = SystemClock.monotonic()
                if let since = idleSince, now - since > 5 { valuesPool.drain() } else if idleSince == nil { idleSince = now }
                sweepIfDue()
                _ = wake.wait(timeout: .now() + 1)
                continue
            }
            idleSince = nil
            run(execution, chunk: chunk)
        }
    }

    /// The next chunk of the current job, loading the next job when there is none.
    func takeWork() -> (Execution, Int)? {
        // One runner thread takes work: the current job's next chunk, or (once the current
        // job has ended) the next job, loaded outside the lock (it reads SQLite).
        let (work, idle) = state.withLock { s -> ((Execution, Int)?, Bool) in
            guard !s.stopping else { return (nil, false) }
            guard let current = s.current else { return (nil, true) }
            return (current.takeChunk().map { (current, $0) }, false)
        }
        if let work { return work }
        guard idle, let next = try? store.resumable().first else { return nil }
        let execution: Execution
        do {
            execution = try load(next.id)
        } catch {
            _ = try? store.fail(next.id, error: "could not start: \(error)")
            ends.announce()
            return nil
        }
        return state.withLock { s -> (Execution, Int)? in
            s.current = execution
            return execution.takeChunk().map { (execution, $0) }
        }
    }

    /// Builds the execution of a stored job (queued, or running before a restart).
    func load(_ id: String) throws -> Execution {
        // Taken out of the cache first, so that no path below leaves it there.
        let cached = decoded.withLock { $0.removeValue(forKey: id) }
        guard let record = try store.summary(id) else { throw ServiceError(.notFound, "job \(id) vanished") }
        if record.state == .queued { try store.start(id) }
        // The request (megabytes) is read only when the decoded job was not kept.
        let job: DecodedJob
        if let cached {
            job = cached
        } else {
            guard let request = try store.get(id)?.request else { throw ServiceError(.notFound, "job \(id) vanished") }
            job = try decodeJob(request)
        }
        let directory = jobDirectory(id)
        try FileSystem.createDirectories(forFile: JobChunkFile.labelsPath(directory))
        let committed = Set(try store.chunks(jobID: id).map(\.chunk))
        let execution = Execution(
            id: id, job: job, directory: directory, chunkAtoms: settings.chunkAtoms,
            committed: committed, errors: job.errors + JobErrorList.decode(record.errorsJSON))
        // Written by the persister, ahead of every chunk (its queue is in order), so the
        // computing starts at once.
        persister.async { [self] in
            do { try execution.writeLabels(features: features) } catch {
                abandon(execution, failure: "could not write the results: \(error)")
            }
        }
        return execution
    }

    /// Computes one chunk and hands it to the persister.
    func run(_ execution: Execution, chunk: Int) {
        let outcome: ChunkComputation.Result
        do {
            var featurizer = features.featurizer(threads: max(1, settings.workers))
            featurizer.executor = state.withLock { $0.team }
            featurizer.valuesPool = valuesPool
            outcome = try execution.compute(chunk: chunk, featurizer: featurizer)
        } catch let error as ServiceError {
            abandon(execution, failure: error.message)
            return
        } catch {
            abandon(execution, failure: "\(error)")
            return
        }
        persistSlots.wait()
        let handoff = Handoff(consume outcome)
        persister.async { [self] in
            defer { persistSlots.signal() }
            guard var outcome = handoff.take() else { return }
            persist(execution, chunk: chunk, outcome)
            // The values array goes back to the pool with no other reference left, so the
            // next chunk writes into its pages instead of faulting in fresh ones.
            if var matrix = outcome.matrix {
                outcome.matrix = nil
                let values = matrix.values
                matrix.values = []
                valuesPool.give(values)
            }
        }
    }

    /// A computed chunk on its way to the persister, taken out once (so that the closure
    /// that carried it holds no reference to its arrays afterwards).
    final class Handoff: @unchecked Sendable {
        private var outcome: ChunkComputation.Result?
        init(_ outcome: ChunkComputation.Result) { self.outcome = outcome }
        func take() -> ChunkComputation.Result? {
            defer { outcome = nil }
            return outcome
        }
    }

    /// Writes a computed chunk and commits it; finishes the job after its last chunk.
    func persist(_ execution: Execution, chunk: Int, _ outcome: ChunkComputation.Result) {
        guard !execution.isAbandoned else { return }
        let bytes: Int
        do {
            bytes = try execution.write(outcome, chunk: chunk)
        } catch {
            abandon(execution, failure: "could not write the results: \(error)")
            return
        }
        do {
            try store.commitChunk(
                jobID: execution.id, chunk: chunk, structures: execution.chunks[chunk].count,
                bytes: bytes, atoms: outcome.atoms,
                errorsJSON: outcome.errors.isEmpty ? nil : execution.errorsJSON())
        } catch {
            // Cancelled meanwhile (or the database failed): stop this job.
            abandon(execution, failure: nil)
            return
        }
        if execution.finishChunk(atoms: outcome.atoms) {
            do {
                try store.succeed(execution.id, resultPath: execution.directory, errorsJSON: execution.errorsJSON())
            } catch {
                _ = try? store.fail(execution.id, error: "could not record completion: \(error)")
            }
            state.withLock { if $0.current === execution { $0.current = nil } }
            ends.announce()
            wake.signal()
        }
    }

    /// Stops working on a job: failed with a message, or (nil) dropped because its state
    /// changed under us (cancelled).
    func abandon(_ execution: Execution, failure: String?) {
        execution.abandon()
        if let failure { _ = try? store.fail(execution.id, error: failure, errorsJSON: execution.errorsJSON()) }
        if let job = try? store.summary(execution.id), job.state == .cancelled { removeFiles(execution.id) }
        state.withLock { if $0.current === execution { $0.current = nil } }
        ends.announce()
        wake.signal()
    }

    /// Removes finished jobs older than the retention period, with their files.
    func sweepIfDue() {
        let now = SystemClock.monotonic()
        let due = state.withLock { s -> Bool in
            guard now - s.lastSweep > 60 else { return false }
            s.lastSweep = now
            return true
        }
        guard due else { return }
        sweep(olderThan: SystemClock.wall() - settings.retentionSeconds)
    }

    /// Removes finished jobs that ended before `cutoff` (seconds since 1970).
    public func sweep(olderThan cutoff: Double) {
        let expired = (try? store.ended(before: cutoff)) ?? []
        for id in expired where (try? store.delete(id)) == true { removeFiles(id) }
    }

    /// The calling thread's kernel id, from /proc/thread-self (Glibc's gettid is not
    /// exported to Swift).
    static func threadID() -> Int? {
        var buffer = [CChar](repeating: 0, count: 64)
        let n = readlink("/proc/thread-self", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        let text = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text.split(separator: "/").last.flatMap { Int($0) }
    }
}
