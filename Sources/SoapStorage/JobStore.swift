import Foundation

/// Featurization jobs, their state machine and their committed output chunks.
///
/// Every method is one transaction. Errors are `StorageError` or `StoreError`
/// (`.notFound`, `.invalidTransition`, `.jobNotRunning`, `.invalidArgument`).
public final class JobStore: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    private static let summaryColumns = """
        id, created_at, updated_at, state, idempotency_key, structures_total, structures_done, chunks_done, \
        error, result_path, errors_json, request_bytes, started_at, finished_at, atoms_done
        """

    /// Creates a queued job, or returns the existing job if `idempotencyKey` (or, when
    /// that is nil, `job.idempotencyKey`) was used before; `created` tells which. Comparing
    /// the existing request with the new one is the caller's call. Only `id`, `request`,
    /// `structuresTotal`, `errorsJSON` (errors known at submission) and the key are taken
    /// from `job`; the rest start fresh.
    @discardableResult
    public func create(_ job: JobRecord, idempotencyKey: String? = nil) throws -> (record: JobRecord, created: Bool) {
        let key = idempotencyKey ?? job.idempotencyKey
        return try database.transaction { db in
            // Under BEGIN IMMEDIATE, so two requests with one key cannot both insert.
            if let key,
                let existing = try db.queryRow(
                    "SELECT \(Self.summaryColumns), request FROM jobs JOIN job_requests ON job_id = id WHERE idempotency_key = ?",
                    [.text(key)]
                )
            {
                return (try Self.decode(existing), false)
            }
            let now = Timestamp.now()
            let stored = JobRecord(
                id: job.id, request: job.request, structuresTotal: job.structuresTotal, idempotencyKey: key,
                errorsJSON: job.errorsJSON, createdAt: Timestamp.date(now), updatedAt: Timestamp.date(now))
            try db.execute(
                """
                INSERT INTO jobs (id, created_at, updated_at, state, request_bytes, idempotency_key,
                    structures_total, structures_done, chunks_done, error, result_path, errors_json)
                VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, NULL, NULL, ?)
                """,
                [
                    .text(stored.id), .integer(now), .integer(now), .text(stored.state.rawValue),
                    SQLValue(stored.request.count), SQLValue(key), SQLValue(stored.structuresTotal), .text(stored.errorsJSON),
                ])
            try db.execute("INSERT INTO job_requests (job_id, request) VALUES (?, ?)", [.text(stored.id), .blob(stored.request)])
            return (stored, true)
        }
    }

    public func get(_ id: String) throws -> JobRecord? {
        try database.queryRow(
            "SELECT \(Self.summaryColumns), request FROM jobs JOIN job_requests ON job_id = id WHERE id = ?",
            [.text(id)]
        ).map(Self.decode)
    }

    /// Newest first, optionally only jobs in `state`; without request bodies.
    public func list(limit: Int = 100, offset: Int = 0, state: JobState? = nil) throws -> [JobSummary] {
        try checkPage(limit: limit, offset: offset)
        let rows: [Row]
        if let state {
            rows = try database.query(
                """
                SELECT \(Self.summaryColumns) FROM jobs WHERE state = ?
                ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?
                """, [.text(state.rawValue), SQLValue(limit), SQLValue(offset)])
        } else {
            rows = try database.query(
                """
                SELECT \(Self.summaryColumns) FROM jobs ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?
                """, [SQLValue(limit), SQLValue(offset)])
        }
        return try rows.map(Self.decodeSummary)
    }

    /// One job without its request body.
    public func summary(_ id: String) throws -> JobSummary? {
        try database.queryRow("SELECT \(Self.summaryColumns) FROM jobs WHERE id = ?", [.text(id)]).map(Self.decodeSummary)
    }

    /// Jobs to pick up again after a restart (queued or running), oldest first. A
    /// running job resumes after its last committed chunk (see `chunks`).
    public func resumable() throws -> [JobSummary] {
        try database.query(
            """
            SELECT \(Self.summaryColumns) FROM jobs WHERE state IN ('queued', 'running') ORDER BY created_at, id
            """
        ).map(Self.decodeSummary)
    }

    /// Ids of the jobs that ended (succeeded, failed or cancelled) before `cutoff`
    /// (seconds since 1970).
    public func ended(before cutoff: Double) throws -> [String] {
        try database.query(
            """
            SELECT id FROM jobs WHERE state IN ('succeeded', 'failed', 'cancelled') AND updated_at < ?
            """, [.integer(Timestamp.milliseconds(Date(timeIntervalSince1970: cutoff)))]
        ).map { row throws(StorageError) in try row.string("id") }
    }

    /// False if there was no such job. Its chunk rows go with it (cascade); result files
    /// are the caller's to remove.
    @discardableResult
    public func delete(_ id: String) throws -> Bool {
        try database.execute("DELETE FROM jobs WHERE id = ?", [.text(id)]) > 0
    }

    // MARK: State machine

    /// Moves a job to `next` if `JobState.canTransition` allows it, else throws
    /// `.invalidTransition`. Non-nil `error`, `resultPath` and `errorsJSON` are stored
    /// with the move. Returns the updated job.
    @discardableResult
    public func transition(
        _ id: String, to next: JobState, error: String? = nil, resultPath: String? = nil, errorsJSON: String? = nil
    ) throws -> JobSummary {
        try database.transaction { db in
            guard let row = try db.queryRow("SELECT \(Self.summaryColumns) FROM jobs WHERE id = ?", [.text(id)]) else {
                throw StoreError.notFound(id: id)
            }
            var job = try Self.decodeSummary(row)
            guard job.state.canTransition(to: next) else {
                throw StoreError.invalidTransition(jobID: id, from: job.state, to: next)
            }
            let now = Timestamp.now()
            job.state = next
            job.updatedAt = Timestamp.date(now)
            job.error = error ?? job.error
            job.resultPath = resultPath ?? job.resultPath
            job.errorsJSON = errorsJSON ?? job.errorsJSON
            // Started: the first time it ran (a resumed job keeps it); finished: its end.
            if next == .running, job.startedAt == nil { job.startedAt = Timestamp.date(now) }
            if next.isTerminal { job.finishedAt = Timestamp.date(now) }
            try db.execute(
                """
                UPDATE jobs SET state = ?, updated_at = ?, error = ?, result_path = ?, errors_json = ?,
                started_at = ?, finished_at = ? WHERE id = ?
                """,
                [
                    .text(next.rawValue), .integer(now), SQLValue(job.error), SQLValue(job.resultPath),
                    .text(job.errorsJSON), job.startedAt.map { .integer(Timestamp.milliseconds($0)) } ?? .null,
                    job.finishedAt.map { .integer(Timestamp.milliseconds($0)) } ?? .null, .text(id),
                ])
            return job
        }
    }

    @discardableResult
    public func start(_ id: String) throws -> JobSummary {
        try transition(id, to: .running)
    }

    @discardableResult
    public func succeed(_ id: String, resultPath: String?, errorsJSON: String? = nil) throws -> JobSummary {
        try transition(id, to: .succeeded, resultPath: resultPath, errorsJSON: errorsJSON)
    }

    @discardableResult
    public func fail(_ id: String, error: String, errorsJSON: String? = nil) throws -> JobSummary {
        try transition(id, to: .failed, error: error, errorsJSON: errorsJSON)
    }

    @discardableResult
    public func cancel(_ id: String) throws -> JobSummary {
        try transition(id, to: .cancelled)
    }

    // MARK: Chunks

    /// Commits one output chunk of a running job: inserts its row and adds to
    /// `structuresDone` / `chunksDone` (and replaces the per-structure errors when given),
    /// atomically. Returns false, changing nothing, if
    /// the chunk was already committed (a resumed worker may redo one). Throws
    /// `.jobNotRunning` for a job that is not running (e.g. cancelled meanwhile), and a
    /// constraint error if the total would pass `structuresTotal`.
    @discardableResult
    public func commitChunk(
        jobID: String, chunk: Int, structures: Int, bytes: Int, atoms: Int = 0,
        errorsJSON: String? = nil
    ) throws -> Bool {
        guard chunk >= 0, structures >= 0, bytes >= 0, atoms >= 0 else {
            throw StoreError.invalidArgument("chunk, structures, bytes and atoms must be non-negative")
        }
        return try database.transaction { db in
            guard let row = try db.queryRow("SELECT state FROM jobs WHERE id = ?", [.text(jobID)]) else {
                throw StoreError.notFound(id: jobID)
            }
            let state = try Self.state(row)
            guard state == .running else { throw StoreError.jobNotRunning(jobID: jobID, state: state) }
            let now = Timestamp.now()
            let inserted = try db.execute(
                """
                INSERT INTO job_chunks (job_id, chunk, structures, bytes, committed_at) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (job_id, chunk) DO NOTHING
                """, [.text(jobID), SQLValue(chunk), SQLValue(structures), SQLValue(bytes), .integer(now)])
            guard inserted > 0 else { return false }
            try db.execute(
                """
                UPDATE jobs SET structures_done = structures_done + ?, chunks_done = chunks_done + 1, updated_at = ?,
                atoms_done = atoms_done + ?, errors_json = COALESCE(?, errors_json) WHERE id = ?
                """, [SQLValue(structures), .integer(now), SQLValue(atoms), SQLValue(errorsJSON), .text(jobID)])
            return true
        }
    }

    /// Committed chunks in chunk order.
    public func chunks(jobID: String) throws -> [JobChunk] {
        try database.query(
            """
            SELECT job_id, chunk, structures, bytes, committed_at FROM job_chunks WHERE job_id = ? ORDER BY chunk
            """, [.text(jobID)]
        ).map { row throws(StorageError) in
            try JobChunk(
                jobID: row.string("job_id"), chunk: row.int("chunk"), structures: row.int("structures"),
                bytes: row.int("bytes"), committedAt: row.date("committed_at"))
        }
    }

    // MARK: Decoding

    private static func state(_ row: Row) throws(StorageError) -> JobState {
        let raw = try row.string("state")
        guard let state = JobState(rawValue: raw) else { throw .mismatch("unknown job state \(raw)") }
        return state
    }

    private static func decodeSummary(_ row: Row) throws(StorageError) -> JobSummary {
        try JobSummary(
            id: row.string("id"), createdAt: row.date("created_at"), updatedAt: row.date("updated_at"),
            state: state(row), idempotencyKey: row.optionalString("idempotency_key"),
            structuresTotal: row.int("structures_total"), structuresDone: row.int("structures_done"),
            chunksDone: row.int("chunks_done"), error: row.optionalString("error"),
            resultPath: row.optionalString("result_path"), errorsJSON: row.string("errors_json"),
            requestBytes: row.int("request_bytes"),
            startedAt: row.optionalInt("started_at").map { Timestamp.date(Int64($0)) },
            finishedAt: row.optionalInt("finished_at").map { Timestamp.date(Int64($0)) },
            atomsDone: row.int("atoms_done"))
    }

    private static func decode(_ row: Row) throws(StorageError) -> JobRecord {
        let summary = try decodeSummary(row)
        return try JobRecord(
            id: summary.id, request: row.blob("request"), structuresTotal: summary.structuresTotal,
            idempotencyKey: summary.idempotencyKey, state: summary.state, structuresDone: summary.structuresDone,
            chunksDone: summary.chunksDone, error: summary.error, resultPath: summary.resultPath,
            errorsJSON: summary.errorsJSON, createdAt: summary.createdAt, updatedAt: summary.updatedAt)
    }
}
