import Foundation
import XCTest

@testable import SoapStorage

final class DatasetStoreTests: StorageTestCase {
    /// A merge like soapd's: accumulate a count into statistics[0].
    private static func accumulate(_ record: DatasetRecord) -> DatasetRecord {
        var record = record
        record.statistics[0] += 1
        record.neighbors += 10
        return record
    }

    private func makeStore() throws -> DatasetStore {
        DatasetStore(database: try openDatabase())
    }

    func testCreateGetListDelete() throws {
        let store = try makeStore()
        let first = try store.create(
            DatasetRecord(
                hypersJSON: #"{"cutoff":5.0,"max_angular":6}"#, speciesJSON: "[1,8]", structures: 3,
                centersJSON: #"{"1":4,"8":2}"#, neighbors: 120, statistics: [1, 2, 3, 4], targets: [9, 8, 7]))
        XCTAssertEqual(first.id.count, 32)
        XCTAssertGreaterThan(first.createdAt.timeIntervalSince1970, 1_600_000_000)
        XCTAssertEqual(try store.get(first.id), first)
        XCTAssertNil(try store.get("absent"))

        let second = try store.create(DatasetRecord(hypersJSON: "{}"))
        let listed = try store.list()
        XCTAssertEqual(Set(listed.map(\.id)), [first.id, second.id])
        let summary = try XCTUnwrap(listed.first { $0.id == first.id })
        XCTAssertEqual(summary.statisticsCount, 4)
        XCTAssertTrue(summary.hasTargets)
        XCTAssertEqual(summary.neighbors, 120)
        XCTAssertEqual(try store.list(limit: 1).count, 1)
        XCTAssertEqual(try store.list(limit: 1, offset: 1).count, 1)
        XCTAssertEqual(try store.list(limit: 10, offset: 2), [])
        assertStoreError(.invalidArgument("limit and offset must be non-negative (got -1, 0)"), try store.list(limit: -1))

        XCTAssertTrue(try store.delete(first.id))
        XCTAssertFalse(try store.delete(first.id))
        XCTAssertEqual(try store.list().map(\.id), [second.id])
    }

    func testBatchMergesAndBumpsBookkeeping() throws {
        let store = try makeStore()
        let dataset = try store.create(DatasetRecord(hypersJSON: "{}", structures: 2, statistics: [0]))
        let outcome = try store.addBatch(datasetID: dataset.id, idempotencyKey: "req-1", structures: 5) { current in
            var next = Self.accumulate(current)
            next.structures = 999  // owned by the store
            next.version = 999
            next.speciesJSON = "[6]"
            return next
        }
        XCTAssertFalse(outcome.isDuplicate)
        let record = outcome.record
        XCTAssertEqual(record.structures, 7)
        XCTAssertEqual(record.version, 1)
        XCTAssertEqual(record.statistics, [1])
        XCTAssertEqual(record.speciesJSON, "[6]")
        XCTAssertEqual(record.createdAt, dataset.createdAt)
        XCTAssertEqual(try store.get(dataset.id), record)
        XCTAssertEqual(try store.batches(datasetID: dataset.id).map(\.idempotencyKey), ["req-1"])
    }

    func testSameIdempotencyKeyCountsOnce() throws {
        let store = try makeStore()
        let dataset = try store.create(DatasetRecord(hypersJSON: "{}", statistics: [0]))
        var merges = 0
        let merge: (DatasetRecord) throws -> DatasetRecord = {
            merges += 1
            return Self.accumulate($0)
        }

        let first = try store.addBatch(datasetID: dataset.id, idempotencyKey: "retry-me", structures: 4, merge: merge)
        let second = try store.addBatch(datasetID: dataset.id, idempotencyKey: "retry-me", structures: 4, merge: merge)
        XCTAssertEqual(merges, 1)
        XCTAssertFalse(first.isDuplicate)
        XCTAssertTrue(second.isDuplicate)
        XCTAssertEqual(second.record, first.record)
        XCTAssertEqual(try store.get(dataset.id)?.structures, 4)
        XCTAssertEqual(try store.batches(datasetID: dataset.id).count, 1)

        // The same key on another dataset is a different batch.
        let other = try store.create(DatasetRecord(hypersJSON: "{}", statistics: [0]))
        XCTAssertFalse(
            try store.addBatch(datasetID: other.id, idempotencyKey: "retry-me", structures: 1, merge: merge)
                .isDuplicate)
        // Batches without a key are never deduplicated.
        _ = try store.addBatch(datasetID: dataset.id, idempotencyKey: nil, structures: 1, merge: merge)
        _ = try store.addBatch(datasetID: dataset.id, idempotencyKey: nil, structures: 1, merge: merge)
        XCTAssertEqual(try store.get(dataset.id)?.version, 3)
        XCTAssertEqual(merges, 4)
    }

    func testThrowingMergeChangesNothing() throws {
        struct Incompatible: Error {}
        let store = try makeStore()
        let dataset = try store.create(DatasetRecord(hypersJSON: "{}", statistics: [0]))
        XCTAssertThrowsError(
            try store.addBatch(datasetID: dataset.id, idempotencyKey: "k", structures: 1) { _ in
                throw Incompatible()
            }
        ) { XCTAssertTrue($0 is Incompatible) }
        XCTAssertEqual(try store.get(dataset.id), dataset)
        XCTAssertEqual(try store.batches(datasetID: dataset.id), [])
        // The key was not consumed: the retry applies.
        XCTAssertFalse(
            try store.addBatch(datasetID: dataset.id, idempotencyKey: "k", structures: 1, merge: Self.accumulate)
                .isDuplicate)
    }

    /// Kept structures go with their batch: stored under the version it produced, not at all
    /// when the merge fails, and read back in order up to a version.
    func testStructuresAreKeptWithTheirBatch() throws {
        let store = try makeStore()
        let dataset = try store.create(DatasetRecord(hypersJSON: "{}", keepStructures: true))
        XCTAssertEqual(try store.get(dataset.id)?.keepStructures, true)
        _ = try store.addBatch(datasetID: dataset.id, idempotencyKey: "a", structures: 1, structuresBlob: Array("[1]".utf8)) {
            $0
        }
        struct Refused: Error {}
        XCTAssertThrowsError(
            try store.addBatch(
                datasetID: dataset.id, idempotencyKey: "b", structures: 1,
                structuresBlob: Array("[2]".utf8)
            ) { _ in throw Refused() })
        _ = try store.addBatch(datasetID: dataset.id, idempotencyKey: "c", structures: 1, structuresBlob: Array("[3]".utf8)) {
            $0
        }
        // A retried batch stores nothing again.
        _ = try store.addBatch(datasetID: dataset.id, idempotencyKey: "c", structures: 1, structuresBlob: Array("[3]".utf8)) {
            $0
        }
        XCTAssertEqual(
            try store.storedStructures(datasetID: dataset.id).map { String(decoding: $0, as: UTF8.self) }, ["[1]", "[3]"])
        XCTAssertEqual(try store.storedStructures(datasetID: dataset.id, upToVersion: 1).count, 1)
    }

    func testBatchForMissingDatasetOrNegativeCount() throws {
        let store = try makeStore()
        assertStoreError(.notFound(id: "nope"), try store.addBatch(datasetID: "nope", idempotencyKey: "k", structures: 1) { $0 })
        let dataset = try store.create(DatasetRecord(hypersJSON: "{}"))
        assertStoreError(
            .invalidArgument("structures must be non-negative"),
            try store.addBatch(datasetID: dataset.id, idempotencyKey: nil, structures: -1) { $0 })
    }

    /// 8 threads × 20 batches with distinct keys on one shared connection: every batch
    /// is merged exactly once, none is lost.
    func testConcurrentBatchesOnOneConnection() throws {
        let store = try makeStore()
        try runConcurrentBatches(stores: Array(repeating: store, count: 8), key: { "t\($0)-b\($1)" }, uniqueKeys: 160)
    }

    /// The same through 8 connections to one file (BEGIN IMMEDIATE + busy_timeout doing
    /// the serialising), with threads t and t+4 sending the same keys, as retries would.
    func testConcurrentBatchesOnSeparateConnectionsWithRetries() throws {
        let stores = try (0..<8).map { _ in try makeStore() }
        try runConcurrentBatches(stores: stores, key: { "t\($0 % 4)-b\($1)" }, uniqueKeys: 80)
    }

    private func runConcurrentBatches(
        stores: [DatasetStore], key: @escaping @Sendable (Int, Int) -> String, uniqueKeys: Int
    ) throws {
        let dataset = try stores[0].create(DatasetRecord(hypersJSON: "{}", statistics: [0]))
        let tally = Tally()
        onThreads(stores.count) { thread in
            for batch in 0..<20 {
                do {
                    let outcome = try stores[thread].addBatch(
                        datasetID: dataset.id, idempotencyKey: key(thread, batch), structures: 3
                    ) { current in
                        tally.add("merges")
                        return Self.accumulate(current)
                    }
                    tally.add(outcome.isDuplicate ? "duplicates" : "applied")
                } catch {
                    tally.record(error)
                }
            }
        }
        XCTAssertEqual(tally.errors, [])
        XCTAssertEqual(tally["merges"], uniqueKeys)
        XCTAssertEqual(tally["applied"], uniqueKeys)
        XCTAssertEqual(tally["duplicates"], stores.count * 20 - uniqueKeys)
        let final = try XCTUnwrap(stores[0].get(dataset.id))
        XCTAssertEqual(final.version, uniqueKeys)
        XCTAssertEqual(final.structures, 3 * uniqueKeys)
        XCTAssertEqual(final.statistics, [Double(uniqueKeys)])
        XCTAssertEqual(final.neighbors, 10 * uniqueKeys)
        XCTAssertEqual(try stores[0].batches(datasetID: dataset.id).count, uniqueKeys)
        XCTAssertEqual(try stores[0].database.integrityCheck(), "ok")
    }

    func testDeleteCascadesToBatchesAndDetachesBases() throws {
        let db = try openDatabase()
        let datasets = DatasetStore(database: db)
        let bases = BasisStore(database: db)
        let dataset = try datasets.create(DatasetRecord(hypersJSON: "{}"))
        _ = try datasets.addBatch(datasetID: dataset.id, idempotencyKey: "a", structures: 1) { $0 }
        _ = try datasets.addBatch(datasetID: dataset.id, idempotencyKey: "b", structures: 1) { $0 }
        try bases.put(BasisRecord(id: "basis", datasetID: dataset.id, payload: [1]))
        XCTAssertEqual(try datasets.batches(datasetID: dataset.id).count, 2)

        XCTAssertTrue(try datasets.delete(dataset.id))
        XCTAssertEqual(try db.queryRow("SELECT count(*) AS n FROM dataset_batches")?["n"], .integer(0))
        let basis = try XCTUnwrap(bases.get("basis"))
        XCTAssertNil(basis.datasetID)
        XCTAssertEqual(basis.payload, [1])
        XCTAssertEqual(try db.query("PRAGMA foreign_key_check").count, 0)
    }
}
