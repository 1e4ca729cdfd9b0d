import Dispatch
import FastJSON
import SoapCore
import SoapHTTP
import SoapStorage
import Synchronization

#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// Settings of the batch-job runner (Config keys `job_*`).
public struct JobSettings: Sendable {
    /// Threads that compute job chunks together, one chunk at a time, at a lower scheduling
    /// priority than interactive requests (writing and committing are left to one other
    /// thread, so these only compute: as many as cores).
    public var workers = 2
    /// Atoms per chunk: the unit of progress, of commit and of resumption.
    public var chunkAtoms = 2048
    /// Finished jobs (and their results) are removed this long after they ended.
    public var retentionSeconds = 7.0 * 86400
    /// Where chunk files live; one directory per job.
    public var directory = ""
    public var maxStructures = 1_000_000
    public init() {}
}

/// Batch featurization jobs: submitted requests kept in SQLite, computed in chunks
/// that are written to disk and committed one by one, so a restarted service resumes
/// where it stopped and a result is never held in memory whole.
public final class JobService: @unchecked Sendable {
    let store: JobStore
    let features: FeatureService
    public let settings: JobSettings
    private let state = Mutex<RunnerState>(RunnerState())
    /// Requests decoded at submission, kept for the runner so it need not decode them again
    /// (a few only: the rest are decoded from SQLite when their turn comes).
    private let decoded = Mutex<[String: DecodedJob]>([:])
    private let wake = DispatchSemaphore(value: 0)
    private let exited = DispatchSemaphore(value: 0)
    private var started = 0
    /// Writes and commits computed chunks in the order they come, so that the computing
    /// threads never wait on the disk; at most two results wait for it (memory stays
    /// bounded, and a slow disk slows the computing down instead of piling results up).
    private let persister = DispatchQueue(label: "soapd.jobs.persist")
    private let persistSlots: DispatchSemaphore
    /// Long-polling status requests, woken when a job ends.
    private let ends = JobEnds()
    /// Chunk value arrays, reused from one chunk to the next while a job runs.
    private let valuesPool = ValueArrayPool(keep: 4)

    struct RunnerState {
        var current: Execution?
        /// The threads computing chunks with the runner thread.
        var team: ThreadTeam?
        var stopping = false
        var lastSweep = 0.0
    }

    /// Structures kept by a dataset (jobs may name a dataset instead of sending structures).
    let datasetStructures: (@Sendable (String, Int?) throws(ServiceError) -> ([JSONValue], Int))?

    public init(
        database: Database, features: FeatureService, settings: JobSettings,
        datasetStructures: (@Sendable (String, Int?) throws(ServiceError) -> ([JSONValue], Int))? = nil
    ) {
        store = JobStore(database: database)
        self.features = features
        self.settings = settings
        self.datasetStructures = datasetStructures
        persistSlots = DispatchSemaphore(value: 2)
    }

    // MARK: runner

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

    // MARK: routes

    /// POST /v1/jobs: validates the request, keeps it, answers with the queued job.
    public func submit(_ body: [UInt8], idempotencyKey: String?) throws(ServiceError) -> (
        json: [UInt8], created: Bool, id: String
    ) {
        var job = try decodeJob(body)
        var body = body
        if let pinned = job.pinnedRequest {
            // A job over a dataset keeps the dataset version it saw: batches added later
            // are not part of it, also after a restart.
            body = pinned
            job.pinnedRequest = nil
        }
        if job.failFast, let first = job.errors.first {
            throw ServiceError(.invalid, pointer: first.pointer, first.detail)
        }
        let record: JobRecord
        let created: Bool
        do {
            // Known-bad structures are reported from the start.
            (record, created) = try store.create(
                JobRecord(
                    request: body, structuresTotal: job.structures.count,
                    idempotencyKey: idempotencyKey,
                    errorsJSON: JobErrorList.encode(job.errors)),
                idempotencyKey: idempotencyKey)
            if created {
                decoded.withLock { if $0.count < 4 { $0[record.id] = job } }
            }
        } catch {
            throw ServiceError(storage: error)
        }
        wake.signal()
        return (try status(record.id), created, record.id)
    }

    /// GET /v1/jobs/{id}; with `waitSeconds`, answers as soon as the job has ended (long
    /// polling: a client learns of completion at once without polling in a loop).
    public func status(_ id: String, waitSeconds: Double = 0) throws(ServiceError) -> [UInt8] {
        guard var job = try storage({ try store.summary(id) }) else {
            throw ServiceError(.notFound, "no job \(id.prefix(80))")
        }
        let deadline = SystemClock.monotonic() + waitSeconds
        while job.state == .queued || job.state == .running {
            let left = deadline - SystemClock.monotonic()
            guard left > 0 else { break }
            // Registered before the re-read, so an end between the two still wakes us; the
            // bounded wait re-reads anyway, whatever ended the job.
            let waiter = ends.register()
            guard let next = try storage({ try store.summary(id) }) else {
                ends.unregister(waiter)
                break
            }
            job = next
            if job.state == .queued || job.state == .running {
                ends.wait(waiter, seconds: min(left, 0.25))
            } else {
                ends.unregister(waiter)
            }
        }
        var w = JSONWriter(capacity: 512)
        write(job, to: &w)
        return w.bytes
    }

    /// GET /v1/jobs.
    public func list(limit: Int, offset: Int, state: JobState?) throws(ServiceError) -> [UInt8] {
        let jobs = try storage { try store.list(limit: limit, offset: offset, state: state) }
        var w = JSONWriter(capacity: 256 * (jobs.count + 1))
        w.beginObject()
        w.key("jobs")
        w.beginArray()
        for job in jobs { write(job, to: &w) }
        w.endArray()
        w.key("limit")
        w.integer(limit)
        w.key("offset")
        w.integer(offset)
        w.endObject()
        return w.bytes
    }

    /// DELETE /v1/jobs/{id}: cancels a queued or running job (the job stays, cancelled),
    /// removes a finished one with its result. Returns the job after a cancel, nil after
    /// a removal.
    public func delete(_ id: String) throws(ServiceError) -> [UInt8]? {
        guard let job = try storage({ try store.summary(id) }) else { throw ServiceError(.notFound, "no job \(id.prefix(80))") }
        if job.state == .queued || job.state == .running {
            do { try store.cancel(id) } catch {
                // It finished in between: remove it as a finished job.
                return try delete(id)
            }
            _ = decoded.withLock { $0.removeValue(forKey: id) }  // cancelled before it was loaded
            state.withLock { s in
                if let current = s.current, current.id == id {
                    current.abandon()
                    s.current = nil
                }
            }
            removeFiles(id)
            ends.announce()
            wake.signal()
            return try status(id)
        }
        _ = try storage { try store.delete(id) }
        removeFiles(id)
        return nil
    }

    /// The parts of a finished job's result, for the encoders.
    public func result(_ id: String) throws(ServiceError) -> JobResult {
        guard let job = try storage({ try store.summary(id) }) else { throw ServiceError(.notFound, "no job \(id.prefix(80))") }
        guard job.state == .succeeded else {
            throw ServiceError(.conflict, "job \(id) is \(job.state.rawValue); its result exists once it has succeeded")
        }
        let chunks = try storage { try store.chunks(jobID: id) }
        let directory = jobDirectory(id)
        do {
            return try JobResult(directory: directory, chunks: chunks.map(\.chunk))
        } catch {
            throw ServiceError(.internal, "the result files of job \(id) are unreadable: \(error)")
        }
    }

    // MARK: helpers

    func jobDirectory(_ id: String) -> String { settings.directory + "/" + id }

    func removeFiles(_ id: String) {
        FileSystem.removeTree(jobDirectory(id))
    }

    /// The request of a job: the /v1/features body (structures inline, or `dataset_id` of a
    /// dataset that keeps its structures), plus `fail_fast`; structures are decoded one by
    /// one so that a bad one is reported (and skipped) rather than refusing the lot.
    func decodeJob(_ body: [UInt8]) throws(ServiceError) -> DecodedJob {
        let value = try features.parse(body)
        var request = try Self.decodeJobRequest(
            value, requestLimits: features.settings.requestLimits,
            maxStructures: settings.maxStructures)
        var pinnedRequest: [UInt8]? = nil
        if let datasetID = request.datasetID {
            guard let datasetStructures else { throw ServiceError(.unavailable, "this service keeps no datasets") }
            let (stored, version) = try datasetStructures(datasetID, request.datasetVersion)
            try Self.checkCount(stored.count, maxStructures: settings.maxStructures)
            request.items = stored
            if request.datasetVersion == nil, case .object(let original) = value {
                var w = JSONWriter(capacity: body.count + 32)
                w.value(
                    .object(
                        JSONObject(
                            uniqueKeysWithValues: original.map { ($0.key, $0.value) }
                                + [("dataset_version", .number(Double(version)))])))
                pinnedRequest = w.bytes
            }
        }
        let prepared = try features.prepare(request.settings)
        let (structures, errors) = Self.decodeJobStructures(
            request.items, decoder: request.decoder,
            species: prepared.request.species)
        return DecodedJob(
            prepared: prepared, structures: structures, errors: errors, failFast: request.failFast,
            pinnedRequest: pinnedRequest)
    }

    /// A job request before anything is computed: the /v1/features settings (with no
    /// structures), the raw structure items (or the dataset to read them from), `fail_fast`.
    struct JobRequest {
        var settings: FeatureRequest
        var items: [JSONValue]
        var datasetID: String?
        var datasetVersion: Int?
        var failFast: Bool
        var decoder: FeatureRequestDecoder
    }

    static func checkCount(_ count: Int, maxStructures: Int) throws(ServiceError) {
        guard count <= maxStructures else {
            throw ServiceError(.tooLarge, pointer: "/structures", "\(count) structures, above the job limit of \(maxStructures)")
        }
        guard count > 0 else { throw ServiceError(.invalid, pointer: "/structures", "a job needs at least one structure") }
    }

    /// The request decoding of `decodeJob` (pure: no storage, no computation; the fuzzers call it too).
    static func decodeJobRequest(
        _ value: JSONValue, requestLimits: RequestLimits,
        maxStructures: Int
    ) throws(ServiceError) -> JobRequest {
        guard case .object(let original) = value else { throw ServiceError(.invalid, pointer: "", "expected a JSON object") }
        var failFast = false
        if let f = original["fail_fast"] { failFast = try Field.bool(f, "/fail_fast") }
        var items: [JSONValue] = []
        var datasetID: String? = nil
        var datasetVersion: Int? = nil
        if let dataset = original["dataset_id"] {
            guard original["structures"] == nil else {
                throw ServiceError(.invalid, pointer: "/dataset_id", "give structures or dataset_id, not both")
            }
            datasetID = try Field.string(dataset, "/dataset_id")
            datasetVersion = try original["dataset_version"].map { v throws(ServiceError) in
                try Field.integer(v, "/dataset_version")
            }
        } else {
            if original["dataset_version"] != nil {
                throw ServiceError(.invalid, pointer: "/dataset_version", "applies with dataset_id only")
            }
            items = try Field.array(try Field.required(original, "structures", at: ""), "/structures")
            try checkCount(items.count, maxStructures: maxStructures)
        }
        // Everything but the structures, through the /v1/features decoder.
        let jobOnly: Set<String> = ["fail_fast", "dataset_id", "dataset_version", "structures"]
        let settingsOnly = JSONObject(
            uniqueKeysWithValues: original.filter { !jobOnly.contains($0.key) }
                .map { ($0.key, $0.value) } + [("structures", JSONValue.array([]))])
        var limits = requestLimits
        limits.maxStructures = maxStructures
        let decoder = FeatureRequestDecoder(limits: limits)
        let request = try decoder.decode(.object(settingsOnly))
        return JobRequest(
            settings: request, items: items, datasetID: datasetID, datasetVersion: datasetVersion,
            failFast: failFast, decoder: decoder)
    }

    /// Each structure of a job decoded and validated on its own: a bad one is reported
    /// (and skipped) rather than refusing the lot.
    static func decodeJobStructures(
        _ items: [JSONValue], decoder: FeatureRequestDecoder,
        species: [Int]
    ) -> ([Structure?], [JobError]) {
        var structures: [Structure?] = []
        structures.reserveCapacity(items.count)
        var errors: [JobError] = []
        let slots = Set(species)
        for (index, item) in items.enumerated() {
            do throws(ServiceError) {
                let s = try decoder.decodeStructure(item, at: "/structures/\(index)")
                do { try s.validate(index: index) } catch { throw ServiceError(FeaturizationError.structure(error)) }
                if let k = s.numbers.firstIndex(where: { !slots.contains($0) }) {
                    throw ServiceError(
                        .invalid, pointer: "/structures/\(index)/numbers/\(k)",
                        "atomic number \(s.numbers[k]) is not in descriptor.species")
                }
                structures.append(s)
            } catch {
                errors.append(
                    JobError(
                        structure: index, pointer: error.pointer.isEmpty ? "/structures/\(index)" : error.pointer,
                        detail: error.message))
                structures.append(nil)
            }
        }
        return (structures, errors)
    }

    func write(_ job: JobSummary, to w: inout JSONWriter) {
        w.beginObject()
        w.key("id")
        w.string(job.id)
        w.key("state")
        w.string(job.state.rawValue)
        w.key("created_at")
        w.string(SystemClock.iso8601(job.createdAt.timeIntervalSince1970))
        w.key("updated_at")
        w.string(SystemClock.iso8601(job.updatedAt.timeIntervalSince1970))
        if let started = job.startedAt {
            w.key("started_at")
            w.string(SystemClock.iso8601(started.timeIntervalSince1970, milliseconds: true))
        }
        if let finished = job.finishedAt {
            w.key("finished_at")
            w.string(SystemClock.iso8601(finished.timeIntervalSince1970, milliseconds: true))
        }
        w.key("progress")
        w.beginObject()
        w.key("structures_done")
        w.integer(job.structuresDone)
        w.key("structures_total")
        w.integer(job.structuresTotal)
        w.key("chunks_done")
        w.integer(job.chunksDone)
        w.key("atoms_done")
        w.integer(job.atomsDone)
        if let (rate, eta) = state.withLock({ s -> (Double, Double?)? in
            guard let c = s.current, c.id == job.id else { return nil }
            return c.rates(done: job.structuresDone, total: job.structuresTotal)
        }) {
            w.key("atoms_per_second")
            w.number(rate)
            if let eta {
                w.key("eta_seconds")
                w.number(eta)
            }
        } else if job.state == .succeeded, let started = job.startedAt, let finished = job.finishedAt,
            finished > started
        {
            // Over its whole running time (a resumed job's includes the time it was down).
            w.key("atoms_per_second")
            w.number(Double(job.atomsDone) / finished.timeIntervalSince(started))
        }
        w.endObject()
        w.key("errors")
        w.raw(Array(job.errorsJSON.utf8))
        if let error = job.error {
            w.key("error")
            w.string(error)
        }
        if job.state == .succeeded {
            w.key("result")
            w.string("/v1/jobs/\(job.id)/result")
        }
        w.endObject()
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

/// One structure the job could not featurize.
struct JobError: Equatable {
    var structure: Int
    var pointer: String
    var detail: String
}

enum JobErrorList {
    static func encode(_ errors: [JobError]) -> String {
        var w = JSONWriter(capacity: 64 * errors.count + 2)
        w.beginArray()
        for e in errors.sorted(by: { $0.structure < $1.structure }) { write(e, to: &w) }
        w.endArray()
        return String(decoding: w.bytes, as: UTF8.self)
    }

    static func write(_ e: JobError, to w: inout JSONWriter) {
        w.beginObject()
        w.key("structure")
        w.integer(e.structure)
        w.key("pointer")
        w.string(e.pointer)
        w.key("detail")
        w.string(e.detail)
        w.endObject()
    }

    static func decode(_ text: String) -> [JobError] {
        guard case .array(let items)? = try? JSON.parse(Array(text.utf8)) else { return [] }
        return items.compactMap { item in
            guard case .object(let o) = item, let s = o["structure"]?.doubleValue else { return nil }
            return JobError(structure: Int(s), pointer: o["pointer"]?.stringValue ?? "", detail: o["detail"]?.stringValue ?? "")
        }
    }
}

/// A job's request, decoded: the featurization settings and each structure (nil where
/// it could not be decoded or validated, with the reason in `errors`).
struct DecodedJob {
    var prepared: PreparedFeaturization
    var structures: [Structure?]
    var errors: [JobError]
    var failFast: Bool
    /// For a job over a dataset named without a version: the request with the version it saw.
    var pinnedRequest: [UInt8]? = nil
}

/// A job being worked on: its chunks, which are left, and its progress.
final class Execution: @unchecked Sendable {
    let id: String
    let job: DecodedJob
    let directory: String
    /// Structure ranges of the chunks, fixed by the request alone (so a resumed run cuts
    /// the same chunks).
    let chunks: [Range<Int>]
    private let lock = Mutex<Progress>(Progress())

    struct Progress {
        var pending: [Int] = []
        var next = 0
        var running = 0
        var abandoned = false
        var errors: [JobError] = []
        /// The structures in `errors`: each is reported once.
        var reported: Set<Int> = []
        var atoms = 0
        var started = 0.0

        mutating func report(_ new: [JobError]) {
            for e in new where reported.insert(e.structure).inserted { errors.append(e) }
        }
    }

    init(id: String, job: DecodedJob, directory: String, chunkAtoms: Int, committed: Set<Int>, errors: [JobError]) {
        self.id = id
        self.job = job
        self.directory = directory
        var ranges: [Range<Int>] = []
        var first = 0
        var atoms = 0
        for (s, structure) in job.structures.enumerated() {
            atoms += structure?.count ?? 1
            if atoms >= chunkAtoms {
                ranges.append(first..<(s + 1))
                first = s + 1
                atoms = 0
            }
        }
        if first < job.structures.count { ranges.append(first..<job.structures.count) }
        chunks = ranges
        lock.withLock { p in
            p.pending = ranges.indices.filter { !committed.contains($0) }
            p.report(errors)
            p.started = SystemClock.monotonic()
        }
    }

    func takeChunk() -> Int? {
        lock.withLock { p in
            guard !p.abandoned, p.next < p.pending.count else { return nil }
            p.next += 1
            p.running += 1
            return p.pending[p.next - 1]
        }
    }

    /// Records a committed chunk; true when it was the job's last.
    func finishChunk(atoms: Int) -> Bool {
        lock.withLock { p in
            p.running -= 1
            p.atoms += atoms
            return !p.abandoned && p.next == p.pending.count && p.running == 0
        }
    }

    func abandon() { lock.withLock { $0.abandoned = true } }

    var isAbandoned: Bool { lock.withLock { $0.abandoned } }

    func errorsJSON() -> String { JobErrorList.encode(lock.withLock { $0.errors }) }

    func rates(done: Int, total: Int) -> (Double, Double?) {
        lock.withLock { p in
            let elapsed = max(SystemClock.monotonic() - p.started, 1e-6)
            let rate = Double(p.atoms) / elapsed
            let atomsLeft = Double(total - done) * (done > 0 ? Double(p.atoms) / Double(max(done, 1)) : 0)
            return (rate, rate > 0 && p.atoms > 0 ? atomsLeft / rate : nil)
        }
    }

    /// Featurizes the chunk's valid structures; a structure the featurizer refuses is
    /// isolated, reported and skipped (or fails the job with fail_fast).
    func compute(chunk: Int, featurizer: Featurizer) throws -> ChunkComputation.Result {
        let range = chunks[chunk]
        let members = range.compactMap { s in job.structures[s].map { (s, $0) } }
        let computed = try ChunkComputation.run(
            members, prepared: job.prepared,
            featurizer: featurizer, failFast: job.failFast)
        lock.withLock { $0.report(computed.errors) }
        return computed
    }

    /// The pointer of an error from a one-structure run ("/structures/0/…") renamed to the
    /// job's structure `s`; no pointer becomes "/structures/s", one elsewhere is kept.
    static func jobPointer(_ pointer: String, structure s: Int) -> String {
        if pointer.isEmpty { return "/structures/\(s)" }
        guard var p = JSONPointer(parsing: pointer), p.tokens.count >= 2, p.tokens[0] == "structures", p.tokens[1] == "0" else {
            return pointer
        }
        p.tokens[1] = String(s)
        return p.description
    }

    /// Writes the chunk file atomically (temporary file, fsync, rename); returns its size.
    func write(_ outcome: ChunkComputation.Result, chunk: Int) throws -> Int {
        try JobChunkFile.write(outcome.matrix, globalIndex: outcome.globalIndex, to: JobChunkFile.path(directory, chunk))
    }

    /// Column labels and sample names, written once per job so that a result whose
    /// structures all failed still has them.
    func writeLabels(features: FeatureService) throws {
        try JobChunkFile.writeLabels(job.prepared, featurizer: features.featurizer(threads: 1), directory: directory)
    }
}

/// Featurizes one chunk of (index, structure) pairs; structures the featurizer refuses are
/// found one by one and reported instead of failing the chunk (unless fail-fast).
enum ChunkComputation {
    struct Result {
        var matrix: FeatureMatrix?
        /// The job's index of each structure in `matrix`.
        var globalIndex: [Int32]
        var errors: [JobError]
        var atoms: Int
    }

    static func run(
        _ members: [(Int, Structure)], prepared: PreparedFeaturization, featurizer: Featurizer,
        failFast: Bool
    ) throws(ServiceError) -> Result {
        func compute(_ chunk: [(Int, Structure)]) throws(FeaturizationError) -> FeatureMatrix {
            try featurizer.compute(chunk.map(\.1), prepared)
        }
        var good = members
        var errors: [JobError] = []
        var matrix: FeatureMatrix? = nil
        if !members.isEmpty {
            do {
                matrix = try compute(members)
            } catch {
                good = []
                for member in members {
                    do {
                        _ = try compute([member])
                        good.append(member)
                    } catch let e {
                        let service = ServiceError(e)
                        let pointer = Execution.jobPointer(service.pointer, structure: member.0)
                        if failFast {
                            throw ServiceError(.invalid, pointer: pointer, "structure \(member.0): \(service.message)")
                        }
                        errors.append(JobError(structure: member.0, pointer: pointer, detail: service.message))
                    }
                }
                do { matrix = good.isEmpty ? nil : try compute(good) } catch { throw ServiceError(error) }
            }
        }
        return Result(
            matrix: matrix, globalIndex: good.map { Int32($0.0) }, errors: errors,
            atoms: good.reduce(0) { $0 + $1.1.count })
    }
}

/// `soapd featurize` for inputs larger than memory: structures arrive one JSON line at a
/// time and are featurized in chunks written to a scratch directory; the .npz is then
/// written from those files (one chunk in memory at a time), like a job's result.
public final class StreamingFeaturizer {
    let features: FeatureService
    let prepared: PreparedFeaturization
    let decoder: FeatureRequestDecoder
    let directory: String
    let chunkAtoms: Int
    let failFast: Bool
    private var pending: [(Int, Structure)] = []
    private var pendingAtoms = 0
    private var chunks = 0
    public private(set) var structuresSeen = 0
    public private(set) var atomsDone = 0
    /// Per-structure problems as JSON lines ({"structure", "pointer", "detail"}), for stderr.
    public var onError: (String) -> Void = { _ in }

    /// `settings` is a /v1/features body without structures (descriptor, per, gradients).
    public init(
        features: FeatureService, settings: [UInt8], directory: String, chunkAtoms: Int,
        failFast: Bool
    ) throws(ServiceError) {
        let value = try features.parse(settings)
        guard case .object(let o) = value else { throw ServiceError(.invalid, pointer: "", "expected a JSON object") }
        if o["structures"] != nil {
            throw ServiceError(
                .invalid, pointer: "/structures", "give structures as JSON lines in --structures, not in the request")
        }
        var withStructures = Array(o.map { ($0.key, $0.value) })
        withStructures.append(("structures", .array([])))
        decoder = FeatureRequestDecoder(limits: features.settings.requestLimits)
        let request = try decoder.decode(.object(JSONObject(uniqueKeysWithValues: withStructures)))
        prepared = try features.prepare(request)
        self.features = features
        self.directory = directory
        self.chunkAtoms = max(1, chunkAtoms)
        self.failFast = failFast
        do { try FileSystem.createDirectories(forFile: directory + "/labels.bin") } catch {
            throw ServiceError(.internal, "\(error)")
        }
    }

    /// Adds one structure (a JSON line); featurizes a chunk when enough atoms are waiting.
    public func add(line: [UInt8]) throws(ServiceError) {
        let index = structuresSeen
        structuresSeen += 1
        do throws(ServiceError) {
            let value = try features.parse(line)
            let structure = try decoder.decodeStructure(value, at: "/structures/\(index)")
            pending.append((index, structure))
            pendingAtoms += structure.count
        } catch {
            if failFast { throw error }
            report(JobError(structure: index, pointer: error.pointer, detail: error.message))
        }
        if pendingAtoms >= chunkAtoms { try flush() }
    }

    /// Featurizes what is waiting, then writes the .npz through `sink`.
    public func finish(_ sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        try flush()
        try JobChunkFile.writeLabels(prepared, featurizer: features.featurizer(), directory: directory)
        try JobResult(directory: directory, chunks: Array(0..<chunks)).archive().writeNPZ(to: sink)
    }

    func flush() throws(ServiceError) {
        guard !pending.isEmpty else { return }
        let computed = try ChunkComputation.run(
            pending, prepared: prepared, featurizer: features.featurizer(), failFast: failFast)
        for e in computed.errors { report(e) }
        do {
            try JobChunkFile.write(computed.matrix, globalIndex: computed.globalIndex, to: JobChunkFile.path(directory, chunks))
        } catch {
            throw ServiceError(.insufficientStorage, "cannot write to \(directory): \(error)")
        }
        chunks += 1
        atomsDone += computed.atoms
        pending.removeAll(keepingCapacity: true)
        pendingAtoms = 0
    }

    func report(_ e: JobError) {
        var w = JSONWriter(capacity: 128)
        JobErrorList.write(e, to: &w)
        onError(String(decoding: w.bytes, as: UTF8.self))
    }

    /// Removes the scratch directory.
    public func cleanUp() { FileSystem.removeTree(directory) }
}

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
