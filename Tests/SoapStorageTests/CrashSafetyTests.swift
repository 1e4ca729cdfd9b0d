import Foundation
import XCTest

@testable import SoapStorage

final class CrashSafetyTests: StorageTestCase {
    /// A connection that goes away mid-transaction leaves nothing behind.
    func testCloseWithoutCommitLeavesNothing() throws {
        let db = try openDatabase()
        let store = DatasetStore(database: db)
        let kept = try store.create(DatasetRecord(hypersJSON: "{}"))
        try db.execute("BEGIN IMMEDIATE")
        try store.create(DatasetRecord(id: "uncommitted", hypersJSON: "{}", statistics: [1, 2]))
        try JobStore(database: db).create(JobRecord(id: "job", request: [1], structuresTotal: 1))
        db.close()

        let reopened = try openDatabase()
        let reopenedStore = DatasetStore(database: reopened)
        XCTAssertNil(try reopenedStore.get("uncommitted"))
        XCTAssertNil(try JobStore(database: reopened).get("job"))
        XCTAssertEqual(try reopenedStore.get(kept.id), kept)
        XCTAssertEqual(try reopened.integrityCheck(), "ok")
    }

    /// The files as a crash would leave them: a copy taken while a large transaction is
    /// open, after SQLite has spilled uncommitted pages into the WAL. Recovery must
    /// ignore the frames without a commit record.
    func testFilesCopiedMidTransactionRecoverToLastCommit() throws {
        let db = try openDatabase()
        let store = DatasetStore(database: db)
        let kept = try store.create(DatasetRecord(hypersJSON: "{}", statistics: [42]))
        let walAfterCommit = fileSize(path() + "-wal")

        // A tiny page cache forces SQLite to write dirty pages to the WAL before COMMIT.
        try db.execute("PRAGMA cache_size = 10")
        try db.execute("BEGIN IMMEDIATE")
        let big = [Double](repeating: 1.25, count: 256 * 1024)  // 2 MiB
        try store.create(DatasetRecord(id: "uncommitted", hypersJSON: "{}", statistics: big))
        XCTAssertGreaterThan(fileSize(path() + "-wal"), walAfterCommit + 1_000_000, "pages were not spilled")

        for suffix in ["", "-wal"] {
            try FileManager.default.copyItem(atPath: path() + suffix, toPath: path("crashed.sqlite") + suffix)
        }
        try db.execute("ROLLBACK")
        db.close()

        let recovered = try openDatabase("crashed.sqlite")
        let recoveredStore = DatasetStore(database: recovered)
        XCTAssertNil(try recoveredStore.get("uncommitted"))
        XCTAssertEqual(try recoveredStore.get(kept.id), kept)
        XCTAssertEqual(try recovered.integrityCheck(), "ok")
    }

    /// SQLITE_FULL (simulated with max_page_count) is reported as `isFull`, rolls back
    /// cleanly, and the database works again once there is room.
    func testDiskFullIsMappedAndRecoverable() throws {
        let db = try openDatabase()
        let bases = BasisStore(database: db)
        let datasets = DatasetStore(database: db)
        let dataset = try datasets.create(DatasetRecord(hypersJSON: "{}"))
        let pages = try XCTUnwrap(db.queryRow("PRAGMA page_count")).int("page_count")
        try db.execute("PRAGMA max_page_count = \(pages + 2)")

        let payload = [UInt8](repeating: 7, count: 1 << 20)
        assertStorageError(try bases.put(BasisRecord(id: "big", payload: payload))) { XCTAssertTrue($0.isFull) }
        XCTAssertNil(try bases.get("big"))

        // Inside an explicit transaction (BEGIN IMMEDIATE … ROLLBACK) as well.
        assertStorageError(
            try datasets.addBatch(datasetID: dataset.id, idempotencyKey: "k", structures: 1) { record in
                var record = record
                record.statistics = [Double](repeating: 3, count: 1 << 17)
                return record
            }
        ) { XCTAssertTrue($0.isFull) }
        XCTAssertFalse(db.isInTransaction)
        XCTAssertEqual(try datasets.get(dataset.id), dataset)
        XCTAssertEqual(try datasets.batches(datasetID: dataset.id), [])

        try db.execute("PRAGMA max_page_count = 1073741823")
        XCTAssertTrue(try bases.put(BasisRecord(id: "big", payload: payload)))
        XCTAssertEqual(try bases.get("big")?.payload, payload)
        let outcome = try datasets.addBatch(datasetID: dataset.id, idempotencyKey: "k", structures: 1) { $0 }
        XCTAssertFalse(outcome.isDuplicate)
        XCTAssertEqual(try db.integrityCheck(), "ok")
    }
}
