import Dispatch
import FastJSON
import SoapCore
import SoapStorage
import Synchronization

/// Batch featurization jobs: submitted requests kept in SQLite, computed in chunks
/// that are written to disk and committed one by one, so a restarted service resumes
/// where it stopped and a result is never held in memory whole.
public final class JobService: @unchecked Sendable {
    let store: JobStore
    let features: FeatureService
    public let settings: JobSettings
    let state = Mutex<RunnerState>(RunnerState())
    /// Requests decoded at submission, kept for the runner so it need not decode them again
    /// (a few only: the rest are decoded from SQLite when their turn comes).
    let decoded = Mutex<[String: DecodedJob]>([:])
    let wake = DispatchSemaphore(value: 0)
    let exited = DispatchSemaphore(value: 0)
    var started = 0
    /// Writes and commits computed chunks in the order they come, so that the computing
    /// threads never wait on the disk; at most two results wait for it (memory stays
    /// bounded, and a slow disk slows the computing down instead of piling results up).
    let persister = DispatchQueue(label: "soapd.jobs.persist")
    let persistSlots: DispatchSemaphore
    /// Long-polling status requests, woken when a job ends.
    let ends = JobEnds()
    /// Chunk value arrays, reused from one chunk to the next while a job runs.
    let valuesPool = ValueArrayPool(keep: 4)

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
}
