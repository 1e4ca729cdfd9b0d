import CSQLite
import Foundation
import XCTest

@testable import SoapStorage

final class DatabaseTests: StorageTestCase {
    // MARK: Opening and migrations

    func testMigratesAnEmptyFile() throws {
        let db = try openDatabase()
        XCTAssertEqual(try db.schemaVersion(), Migrations.latestVersion)
        XCTAssertEqual(Migrations.latestVersion, 4)
        let tables = try db.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .map { try $0.string("name") }
        XCTAssertEqual(
            tables, ["bases", "dataset_batches", "dataset_structures", "datasets", "job_chunks", "job_requests", "jobs"])
        let indices = try db.query("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
            .map { try $0.string("name") }
        XCTAssertEqual(
            Set(indices),
            [
                "datasets_by_created", "bases_by_created", "bases_by_dataset",
                "jobs_by_state", "jobs_by_created",
            ])
    }

    /// A version-2 database (requests inside `jobs`) migrates to version 3 keeping every
    /// job's request, now in `job_requests`, with its size.
    func testMigratesJobRequestsOutOfTheJobsTable() throws {
        var handle: OpaquePointer?
        XCTAssertEqual(sqlite3_open(path(), &handle), SQLITE_OK)
        for script in [
            Migrations.version1, Migrations.version2,
            "PRAGMA user_version = 2;",
            """
            INSERT INTO jobs (id, created_at, updated_at, state, request, idempotency_key, structures_total,
                structures_done, chunks_done, error, result_path, errors_json)
            VALUES ('old-job', 1, 1, 'running', x'7b2261223a317d', 'key-1', 3, 1, 1, NULL, NULL, '[]');
            """,
        ] {
            XCTAssertEqual(sqlite3_exec(handle, script, nil, nil, nil), SQLITE_OK, String(cString: sqlite3_errmsg(handle)))
        }
        sqlite3_close(handle)

        let db = try openDatabase()
        XCTAssertEqual(try db.schemaVersion(), 4)
        let store = JobStore(database: db)
        let job = try XCTUnwrap(try store.get("old-job"))
        XCTAssertEqual(job.request, Array(#"{"a":1}"#.utf8))
        XCTAssertEqual([job.state, .running], [.running, .running])
        XCTAssertEqual(job.structuresDone, 1)
        XCTAssertEqual(try store.summary("old-job")?.requestBytes, 7)
        XCTAssertEqual(try store.create(JobRecord(request: [1], structuresTotal: 1), idempotencyKey: "key-1").created, false)
        XCTAssertEqual(try db.integrityCheck(), "ok")
        // Deleting the job deletes its request.
        try store.delete("old-job")
        XCTAssertEqual(try db.queryRow("SELECT count(*) AS n FROM job_requests")?.int("n"), 0)
    }

    func testReopenKeepsDataAndSchemaVersion() throws {
        var db: Database? = try openDatabase()
        let record = try DatasetStore(database: db!).create(DatasetRecord(hypersJSON: #"{"cutoff":5}"#))
        db?.close()
        db = nil

        let reopened = try openDatabase()
        XCTAssertEqual(try reopened.schemaVersion(), Migrations.latestVersion)
        XCTAssertEqual(try DatasetStore(database: reopened).get(record.id), record)
    }

    func testRefusesANewerSchemaVersion() throws {
        let db = try openDatabase()
        try db.execute("PRAGMA user_version = \(Migrations.latestVersion + 1)")
        db.close()

        assertStorageError(try Database(path: path())) { error in
            XCTAssertEqual(error.code, SQLiteCode.cantOpen)
            XCTAssertTrue(error.message.contains("newer"), error.message)
        }
    }

    func testConnectionSettings() throws {
        let db = try openDatabase()
        XCTAssertEqual(try db.queryRow("PRAGMA journal_mode")?[0], .text("wal"))
        XCTAssertEqual(try db.queryRow("PRAGMA foreign_keys")?[0], .integer(1))
        XCTAssertEqual(try db.queryRow("PRAGMA busy_timeout")?[0], .integer(5000))
        XCTAssertEqual(try db.queryRow("PRAGMA synchronous")?[0], .integer(1), "NORMAL")
        try DatasetStore(database: db).create(DatasetRecord(hypersJSON: "{}"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: path() + "-wal"))
    }

    func testOpenFailsWithoutParentDirectory() {
        assertStorageError(try Database(path: path("missing/soap.sqlite"))) { error in
            XCTAssertEqual(error.code, SQLiteCode.cantOpen)
        }
    }

    func testClosedDatabaseReportsMisuse() throws {
        let db = try openDatabase()
        db.close()
        db.close()
        assertStorageError(try db.query("SELECT 1")) { XCTAssertEqual($0.code, SQLiteCode.misuse) }
    }

    // MARK: Statements and values

    func testAllValueKindsRoundTrip() throws {
        let db = try openDatabase()
        let values: [SQLValue] = [
            .null, .integer(.min), .integer(.max), .integer(0), .real(1.5), .real(-.infinity),
            .text(""), .text("plain"), .blob([]), .blob([0, 1, 2, 255]),
        ]
        for value in values {
            XCTAssertEqual(try db.queryRow("SELECT ? AS v", [value])?["v"], value)
        }
    }

    func testInjectionStringsAreStoredVerbatim() throws {
        let db = try openDatabase()
        try db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL) STRICT")
        let hostile = [
            "'; DROP TABLE datasets; --", "Robert'); DROP TABLE jobs;--", #"" OR "1"="1"#, "?", "?1 :name @x $y",
            "back\\slash", "nul\u{0}inside", "🧪 ünïcödé", "line\nbreak\ttab", "",
        ]
        for (index, text) in hostile.enumerated() {
            try db.execute("INSERT INTO notes (id, body) VALUES (?, ?)", [.integer(Int64(index)), .text(text)])
        }
        let stored = try db.query("SELECT body FROM notes ORDER BY id").map { try $0.string("body") }
        XCTAssertEqual(stored, hostile)
        XCTAssertEqual(
            try db.queryRow("SELECT count(*) AS n FROM notes WHERE body = ?", [.text(hostile[0])])?["n"],
            .integer(1))

        // The same through a store, in ids and JSON.
        let store = DatasetStore(database: db)
        let hypers = #"{"name":"x'); DELETE FROM datasets; --","quote":"\""}"#
        let record = try store.create(DatasetRecord(id: hostile[0], hypersJSON: hypers, speciesJSON: #"["O'Neil"]"#))
        XCTAssertEqual(try store.get(hostile[0]), record)
        XCTAssertEqual(try store.get(hostile[0])?.hypersJSON, hypers)
        XCTAssertEqual(try db.query("SELECT name FROM sqlite_master WHERE type = 'table'").count, 8)
    }

    func testRefusesMoreThanOneStatement() throws {
        let db = try openDatabase()
        assertStorageError(try db.execute("SELECT 1; DROP TABLE jobs")) { XCTAssertEqual($0.code, SQLiteCode.misuse) }
        XCTAssertNotNil(try db.queryRow("SELECT name FROM sqlite_master WHERE name = 'jobs'"))
        // Trailing semicolons, whitespace and comments are not a second statement.
        XCTAssertEqual(try db.queryRow("SELECT 7 AS n; -- done\n ;  ")?["n"], .integer(7))
    }

    func testBindingCountMustMatch() throws {
        let db = try openDatabase()
        assertStorageError(try db.query("SELECT ?, ?", [.integer(1)])) { XCTAssertEqual($0.code, SQLiteCode.range) }
        assertStorageError(try db.query("SELECT 1", [.integer(1)])) { XCTAssertEqual($0.code, SQLiteCode.range) }
    }

    func testPreparedStatementsAreCachedBySQL() throws {
        let db = try openDatabase()
        let before = db.cachedStatementCount
        for i in 0..<5 { _ = try db.query("SELECT ? + 1 AS n", [.integer(Int64(i))]) }
        XCTAssertEqual(db.cachedStatementCount, before + 1)
        XCTAssertEqual(try db.queryRow("SELECT ? + 1 AS n", [.integer(41)])?["n"], .integer(42))
    }

    func testExecuteReportsChangedRows() throws {
        let db = try openDatabase()
        try db.execute("CREATE TABLE t (v INTEGER) STRICT")
        XCTAssertEqual(try db.execute("INSERT INTO t (v) VALUES (1), (2), (3)"), 3)
        XCTAssertEqual(try db.execute("CREATE INDEX t_v ON t (v)"), 0)
        XCTAssertEqual(try db.execute("DELETE FROM t WHERE v > ?", [.integer(1)]), 2)
    }

    func testRowAccessorsAreStrict() throws {
        let db = try openDatabase()
        let row = try XCTUnwrap(db.queryRow("SELECT 1 AS i, 'x' AS s, NULL AS n, 2.5 AS r"))
        XCTAssertEqual(try row.int("i"), 1)
        XCTAssertEqual(try row.double("i"), 1)
        XCTAssertEqual(try row.double("r"), 2.5)
        XCTAssertEqual(try row.string("s"), "x")
        XCTAssertNil(try row.optionalString("n"))
        XCTAssertEqual(row["missing"], .null)
        XCTAssertEqual(row.columnNames, ["i", "s", "n", "r"])
        assertStorageError(try row.string("i"))
        assertStorageError(try row.int("n"))
        assertStorageError(try row.blob("missing"))
    }

    func testConstraintViolationsAreMapped() throws {
        let db = try openDatabase()
        let store = DatasetStore(database: db)
        try store.create(DatasetRecord(id: "a", hypersJSON: "{}"))
        assertStorageError(try store.create(DatasetRecord(id: "a", hypersJSON: "{}"))) { XCTAssertTrue($0.isConstraint) }
        assertStorageError(try store.create(DatasetRecord(id: "b", hypersJSON: "{not json"))) { error in
            XCTAssertTrue(error.isConstraint)
            XCTAssertFalse(error.isFull || error.isBusy || error.isReadOnly)
        }
        assertStorageError(try store.create(DatasetRecord(id: "c", hypersJSON: "{}", structures: -1))) {
            XCTAssertTrue($0.isConstraint)
        }
        // Foreign keys are enforced: a batch row for a dataset that does not exist.
        assertStorageError(
            try db.execute(
                "INSERT INTO dataset_batches (dataset_id, idempotency_key, structures, added_at) VALUES ('nope', 'k', 1, 0)"
            )
        ) { XCTAssertTrue($0.isConstraint) }
    }

    // MARK: Doubles

    func testDoubleBlobsRoundTripBitExactly() throws {
        let db = try openDatabase()
        let values: [Double] = [
            0.0, -0.0, 1.0, -1.0, .pi, 1e-300, -1e300,
            .leastNonzeroMagnitude, -.leastNonzeroMagnitude, .leastNormalMagnitude.nextDown,
            .leastNormalMagnitude, .greatestFiniteMagnitude, .infinity, -.infinity, 0.1 + 0.2,
        ]
        let bytes = DoubleBlob.encode(values)
        XCTAssertEqual(bytes.count, values.count * 8)
        XCTAssertEqual(Array(bytes[8..<16]), [0, 0, 0, 0, 0, 0, 0, 0x80], "little-endian -0.0")

        let row = try XCTUnwrap(db.queryRow("SELECT ? AS d", [.doubles(values)]))
        XCTAssertEqual(try row.doubles("d").map(\.bitPattern), values.map(\.bitPattern))

        let store = DatasetStore(database: db)
        let created = try store.create(DatasetRecord(hypersJSON: "{}", statistics: values))
        let loaded = try XCTUnwrap(store.get(created.id))
        XCTAssertEqual(loaded.statistics.map(\.bitPattern), values.map(\.bitPattern))

        let empty = try store.create(DatasetRecord(hypersJSON: "{}", statistics: [], targets: []))
        XCTAssertEqual(try store.get(empty.id)?.statistics, [])
        XCTAssertEqual(try store.get(empty.id)?.targets, [])

        XCTAssertThrowsError(try DoubleBlob.decode([1, 2, 3]))
    }

    // MARK: Transactions

    func testTransactionCommitsAndReturnsValue() throws {
        let db = try openDatabase()
        try db.execute("CREATE TABLE t (v INTEGER) STRICT")
        let count = try db.transaction { db -> Int in
            try db.execute("INSERT INTO t (v) VALUES (1), (2)")
            XCTAssertTrue(db.isInTransaction)
            return try db.queryRow("SELECT count(*) AS n FROM t")!.int("n")
        }
        XCTAssertEqual(count, 2)
        XCTAssertFalse(db.isInTransaction)
    }

    func testTransactionRollsBackOnThrow() throws {
        struct Boom: Error {}
        let db = try openDatabase()
        let store = DatasetStore(database: db)
        XCTAssertThrowsError(
            try db.transaction { db in
                try store.create(DatasetRecord(id: "gone", hypersJSON: "{}"))
                try db.execute(
                    "INSERT INTO jobs (id, created_at, updated_at, state, request_bytes, structures_total, "
                        + "structures_done, chunks_done, errors_json) VALUES ('j', 0, 0, 'queued', 1, 1, 0, 0, '[]')")
                try db.execute("INSERT INTO job_requests (job_id, request) VALUES ('j', x'00')")
                throw Boom()
            }
        ) { XCTAssertTrue($0 is Boom) }
        XCTAssertFalse(db.isInTransaction)
        XCTAssertNil(try store.get("gone"))
        XCTAssertNil(try JobStore(database: db).get("j"))
    }

    func testNestedTransactionUsesSavepoint() throws {
        struct Boom: Error {}
        let db = try openDatabase()
        try db.execute("CREATE TABLE t (v INTEGER) STRICT")
        try db.transaction { db in
            try db.execute("INSERT INTO t (v) VALUES (1)")
            XCTAssertThrowsError(
                try db.transaction { db in
                    try db.execute("INSERT INTO t (v) VALUES (2)")
                    throw Boom()
                })
            try db.transaction { db in try db.execute("INSERT INTO t (v) VALUES (3)") }
        }
        XCTAssertEqual(try db.query("SELECT v FROM t ORDER BY v").map { try $0.int("v") }, [1, 3])
    }

    func testTransactionsFromThreadsDoNotInterleave() throws {
        let db = try openDatabase()
        try db.execute("CREATE TABLE counter (n INTEGER NOT NULL) STRICT")
        try db.execute("INSERT INTO counter (n) VALUES (0)")
        let tally = Tally()
        onThreads(8) { _ in
            for _ in 0..<25 {
                do {
                    try db.transaction { db in
                        let n = try db.queryRow("SELECT n FROM counter")!.int("n")
                        try db.execute("UPDATE counter SET n = ?", [.integer(Int64(n + 1))])
                    }
                } catch { tally.record(error) }
            }
        }
        XCTAssertEqual(tally.errors, [])
        XCTAssertEqual(try db.queryRow("SELECT n FROM counter")?["n"], .integer(200))
    }

    func testIntegrityCheck() throws {
        let db = try openDatabase()
        try DatasetStore(database: db).create(DatasetRecord(hypersJSON: "{}", statistics: [1, 2, 3]))
        XCTAssertEqual(try db.integrityCheck(), "ok")
    }
}
