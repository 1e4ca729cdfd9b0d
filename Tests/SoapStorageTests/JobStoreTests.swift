import Foundation
import XCTest

@testable import SoapStorage

final class JobStoreTests: StorageTestCase {
    private func makeStore() throws -> JobStore {
        JobStore(database: try openDatabase())
    }

    private func runningJob(_ store: JobStore, total: Int = 10) throws -> JobRecord {
        let (job, _) = try store.create(JobRecord(request: Array("{\"structures\":[]}".utf8), structuresTotal: total))
        try store.start(job.id)
        return job
    }

    func testCreateIsIdempotentPerKey() throws {
        let store = try makeStore()
        let request = [UInt8](repeating: 0x7B, count: 100_000)
        let first = try store.create(JobRecord(request: request, structuresTotal: 5), idempotencyKey: "key-1")
        XCTAssertTrue(first.created)
        XCTAssertEqual(first.record.state, .queued)
        XCTAssertEqual(first.record.idempotencyKey, "key-1")
        XCTAssertEqual(try store.get(first.record.id), first.record)

        let retry = try store.create(JobRecord(request: [1], structuresTotal: 1), idempotencyKey: "key-1")
        XCTAssertFalse(retry.created)
        XCTAssertEqual(retry.record, first.record)

        // The key may also come in the record; jobs without keys never collide.
        XCTAssertFalse(try store.create(JobRecord(request: [], structuresTotal: 0, idempotencyKey: "key-1")).created)
        XCTAssertTrue(try store.create(JobRecord(request: [], structuresTotal: 0)).created)
        XCTAssertTrue(try store.create(JobRecord(request: [], structuresTotal: 0)).created)
        XCTAssertEqual(try store.list().count, 3)
        XCTAssertEqual(try store.list().first { $0.id == first.record.id }?.requestBytes, 100_000)
    }

    func testConcurrentCreatesWithOneKeyMakeOneJob() throws {
        let stores = try (0..<4).map { _ in try makeStore() }
        let tally = Tally()
        onThreads(stores.count) { index in
            do {
                let result = try stores[index].create(JobRecord(request: [1], structuresTotal: 1), idempotencyKey: "same")
                tally.add(result.created ? "created" : "existing")
            } catch { tally.record(error) }
        }
        XCTAssertEqual(tally.errors, [])
        XCTAssertEqual(tally["created"], 1)
        XCTAssertEqual(tally["existing"], 3)
    }

    func testStateMachine() throws {
        let store = try makeStore()
        // Every pair: build a job in `from`, try to move it to `to`.
        for from in JobState.allCases {
            for to in JobState.allCases {
                let (job, _) = try store.create(JobRecord(request: [], structuresTotal: 0))
                switch from {
                case .queued: break
                case .running: try store.start(job.id)
                case .succeeded:
                    try store.start(job.id)
                    try store.succeed(job.id, resultPath: "/r")
                case .failed:
                    try store.start(job.id)
                    try store.fail(job.id, error: "x")
                case .cancelled: try store.cancel(job.id)
                }
                XCTAssertEqual(try store.get(job.id)?.state, from)
                let allowed = [
                    (JobState.queued, JobState.running), (.queued, .cancelled),
                    (.running, .succeeded), (.running, .failed), (.running, .cancelled),
                ]
                .contains { $0 == (from, to) }
                XCTAssertEqual(from.canTransition(to: to), allowed, "\(from) → \(to)")
                if allowed {
                    XCTAssertEqual(try store.transition(job.id, to: to).state, to)
                } else {
                    assertStoreError(.invalidTransition(jobID: job.id, from: from, to: to), try store.transition(job.id, to: to))
                    XCTAssertEqual(try store.get(job.id)?.state, from)
                }
            }
        }
        assertStoreError(.notFound(id: "ghost"), try store.start("ghost"))
    }

    /// started_at is set when a job first runs and kept when it is resumed; finished_at when it
    /// ends; committed chunks add their atoms.
    func testStartFinishAndAtoms() throws {
        let store = try makeStore()
        let (job, _) = try store.create(JobRecord(request: [1], structuresTotal: 3))
        XCTAssertNil(try store.summary(job.id)?.startedAt)
        let started = try XCTUnwrap(try store.start(job.id).startedAt)
        XCTAssertEqual(try store.summary(job.id)?.startedAt, started)
        XCTAssertTrue(try store.commitChunk(jobID: job.id, chunk: 0, structures: 2, bytes: 10, atoms: 17))
        XCTAssertTrue(try store.commitChunk(jobID: job.id, chunk: 1, structures: 1, bytes: 10, atoms: 5))
        XCTAssertFalse(try store.commitChunk(jobID: job.id, chunk: 1, structures: 1, bytes: 10, atoms: 5), "once")
        XCTAssertEqual(try store.summary(job.id)?.atomsDone, 22)
        XCTAssertNil(try store.summary(job.id)?.finishedAt)
        let ended = try store.succeed(job.id, resultPath: "/r")
        XCTAssertEqual(ended.startedAt, started, "kept")
        let finished = try XCTUnwrap(ended.finishedAt)
        XCTAssertGreaterThanOrEqual(finished, started)
        XCTAssertEqual(try store.summary(job.id)?.finishedAt, finished)
        XCTAssertThrowsError(try store.commitChunk(jobID: job.id, chunk: 2, structures: 1, bytes: 1, atoms: -1))
    }

    func testTerminalStatesCarryTheirDetails() throws {
        let store = try makeStore()
        let ok = try runningJob(store)
        let done = try store.succeed(ok.id, resultPath: "/data/results/\(ok.id).bin", errorsJSON: #"[{"index":3}]"#)
        XCTAssertEqual(done.resultPath, "/data/results/\(ok.id).bin")
        XCTAssertEqual(try store.get(ok.id)?.errorsJSON, #"[{"index":3}]"#)
        XCTAssertGreaterThanOrEqual(done.updatedAt, done.createdAt)

        let bad = try runningJob(store)
        XCTAssertEqual(try store.fail(bad.id, error: "out of memory").error, "out of memory")
        XCTAssertEqual(try store.get(bad.id)?.error, "out of memory")
        assertStorageError(try store.fail(try runningJob(store).id, error: "e", errorsJSON: "not json")) {
            XCTAssertTrue($0.isConstraint)
        }
    }

    func testCommitChunkIsAtomicAndIdempotent() throws {
        let store = try makeStore()
        let job = try runningJob(store, total: 10)
        XCTAssertTrue(try store.commitChunk(jobID: job.id, chunk: 0, structures: 4, bytes: 4096))
        XCTAssertTrue(try store.commitChunk(jobID: job.id, chunk: 1, structures: 4, bytes: 4000))
        // A resumed worker redoing chunk 1 changes nothing.
        XCTAssertFalse(try store.commitChunk(jobID: job.id, chunk: 1, structures: 4, bytes: 4000))
        var current = try XCTUnwrap(store.get(job.id))
        XCTAssertEqual(current.structuresDone, 8)
        XCTAssertEqual(current.chunksDone, 2)

        // Would pass structures_total: the CHECK fails and the chunk row is rolled back too.
        assertStorageError(try store.commitChunk(jobID: job.id, chunk: 2, structures: 3, bytes: 1)) {
            XCTAssertTrue($0.isConstraint)
        }
        XCTAssertEqual(try store.chunks(jobID: job.id).map(\.chunk), [0, 1])
        current = try XCTUnwrap(store.get(job.id))
        XCTAssertEqual(current.structuresDone, 8)
        XCTAssertEqual(current.chunksDone, 2)

        XCTAssertTrue(try store.commitChunk(jobID: job.id, chunk: 2, structures: 2, bytes: 10))
        let chunks = try store.chunks(jobID: job.id)
        XCTAssertEqual(chunks.map(\.structures), [4, 4, 2])
        XCTAssertEqual(chunks.map(\.bytes), [4096, 4000, 10])
        XCTAssertEqual(try store.get(job.id)?.structuresDone, 10)

        assertStoreError(
            .invalidArgument("chunk, structures, bytes and atoms must be non-negative"),
            try store.commitChunk(jobID: job.id, chunk: -1, structures: 0, bytes: 0))
        assertStoreError(.notFound(id: "ghost"), try store.commitChunk(jobID: "ghost", chunk: 0, structures: 0, bytes: 0))
    }

    func testChunksOnlyWhileRunning() throws {
        let store = try makeStore()
        let (queued, _) = try store.create(JobRecord(request: [], structuresTotal: 5))
        assertStoreError(
            .jobNotRunning(jobID: queued.id, state: .queued),
            try store.commitChunk(jobID: queued.id, chunk: 0, structures: 1, bytes: 1))
        let job = try runningJob(store)
        try store.cancel(job.id)
        assertStoreError(
            .jobNotRunning(jobID: job.id, state: .cancelled),
            try store.commitChunk(jobID: job.id, chunk: 0, structures: 1, bytes: 1))
        XCTAssertEqual(try store.chunks(jobID: job.id), [])
    }

    func testResumableListAndDelete() throws {
        let store = try makeStore()
        let queued = try store.create(JobRecord(request: [1], structuresTotal: 1)).record
        let running = try runningJob(store)
        let finished = try runningJob(store)
        try store.succeed(finished.id, resultPath: nil)
        let cancelled = try store.create(JobRecord(request: [], structuresTotal: 0)).record
        try store.cancel(cancelled.id)

        XCTAssertEqual(Set(try store.resumable().map(\.id)), [queued.id, running.id])
        XCTAssertEqual(try store.list(state: .running).map(\.id), [running.id])
        XCTAssertEqual(try store.list(state: .succeeded).map(\.id), [finished.id])
        XCTAssertEqual(try store.list(state: .failed), [])
        XCTAssertEqual(try store.list().count, 4)
        XCTAssertEqual(try store.list(limit: 2, offset: 3).count, 1)

        XCTAssertTrue(try store.commitChunk(jobID: running.id, chunk: 0, structures: 1, bytes: 1))
        XCTAssertTrue(try store.delete(running.id))
        XCTAssertFalse(try store.delete(running.id))
        XCTAssertNil(try store.get(running.id))
        XCTAssertEqual(try store.database.queryRow("SELECT count(*) AS n FROM job_chunks")?["n"], .integer(0))
    }
}
