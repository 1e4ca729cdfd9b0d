import CSQLite
import Foundation

/// One SQLite connection, shared by threads and serialised by a recursive lock.
///
/// Opened with `SQLITE_OPEN_NOMUTEX`: SQLite's own per-call mutex would be redundant,
/// because every call — and every `transaction` as a whole — already runs under `lock`.
/// Holding the lock for a whole transaction is what keeps another thread's statements
/// out of it. The lock is recursive so a transaction body can call back into the database
/// (but must not wait for another thread that uses it).
///
/// Several `Database` objects (or processes) may open the same file: writers then
/// serialise on `BEGIN IMMEDIATE` and wait up to `busy_timeout` (5 s) for each other.
public final class Database: @unchecked Sendable {
    public let path: String
    private var connection: OpaquePointer?
    private let lock = NSRecursiveLock()
    /// Prepared statements by SQL text. The SQL is static in this module, so the cache
    /// stays small; the limit only guards against callers generating SQL.
    private var statements: [String: Statement] = [:]
    private static let statementCacheLimit = 256
    private var savepointDepth = 0

    /// Opens (creating if needed) the database file at `path` and migrates it to the
    /// latest schema. The parent directory must exist. Refuses a file whose schema is
    /// newer than this build (`SQLITE_CANTOPEN`), so an old binary cannot damage it.
    public init(path: String) throws(StorageError) {
        self.path = path
        var handle: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &handle, flags, nil)
        guard rc == SQLITE_OK, let handle else {
            let error = StorageError.from(handle, code: rc)
            sqlite3_close_v2(handle)
            throw error
        }
        connection = handle
        sqlite3_extended_result_codes(handle, 1)
        // Before any other statement, so even switching to WAL waits for other openers.
        sqlite3_busy_timeout(handle, 5000)
        do {
            try configure()
            try Migrations.migrate(self)
        } catch {
            close()
            throw error
        }
    }

    deinit { close() }

    private func configure() throws(StorageError) {
        let mode = try query("PRAGMA journal_mode = WAL").first?[0]
        // In-memory databases cannot use WAL and report "memory".
        guard mode == .text("wal") || mode == .text("memory") else {
            throw StorageError(code: SQLITE_ERROR, message: "could not enable WAL (journal_mode is \(String(describing: mode)))")
        }
        try execute("PRAGMA foreign_keys = ON")
        try execute("PRAGMA busy_timeout = 5000")
        // With WAL, NORMAL loses at most the last commits on power loss, never consistency.
        try execute("PRAGMA synchronous = NORMAL")
    }

    /// Finalises the statements and closes the connection. An open transaction is rolled
    /// back by SQLite. Later calls fail with `SQLITE_MISUSE`. Idempotent.
    public func close() {
        lock.lock()
        defer { lock.unlock() }
        guard let connection else { return }
        statements.removeAll()
        sqlite3_close_v2(connection)
        self.connection = nil
    }

    // MARK: Statements

    /// Runs one statement (rows, if any, are discarded) and returns the number of rows it
    /// inserted, updated or deleted.
    @discardableResult
    public func execute(_ sql: String, _ bindings: [SQLValue] = []) throws(StorageError) -> Int {
        try withStatement(sql, bindings) { statement, connection throws(StorageError) in
            let before = sqlite3_total_changes64(connection)
            while try statement.step() {}
            // sqlite3_changes keeps the previous DML count across DDL/PRAGMA; report 0 then.
            return sqlite3_total_changes64(connection) == before ? 0 : Int(sqlite3_changes64(connection))
        }
    }

    /// Runs one statement and returns all its rows.
    public func query(_ sql: String, _ bindings: [SQLValue] = []) throws(StorageError) -> [Row] {
        try withStatement(sql, bindings) { statement, _ throws(StorageError) in
            let columns = statement.columns()
            var rows: [Row] = []
            while try statement.step() { rows.append(statement.row(columns)) }
            return rows
        }
    }

    /// Runs one statement and returns its first row, without stepping further.
    public func queryRow(_ sql: String, _ bindings: [SQLValue] = []) throws(StorageError) -> Row? {
        try withStatement(sql, bindings) { statement, _ throws(StorageError) in
            try statement.step() ? statement.row(statement.columns()) : nil
        }
    }

    /// Runs a script of several statements without bindings (schema migrations). Not cached.
    public func executeScript(_ sql: String) throws(StorageError) {
        lock.lock()
        defer { lock.unlock() }
        let connection = try openConnection()
        // withCString only rethrows untyped errors, so the loop reports its error by value.
        let failure: StorageError? = sql.withCString { start in
            var rest: UnsafePointer<CChar>? = start
            while let current = rest, current.pointee != 0 {
                var handle: OpaquePointer?
                var next: UnsafePointer<CChar>?
                let rc = sqlite3_prepare_v2(connection, current, -1, &handle, &next)
                guard rc == SQLITE_OK else { return StorageError.from(connection, code: rc, sql: sql) }
                // Whitespace or a comment at the end prepares to no statement.
                guard let handle else { break }
                var stepResult = sqlite3_step(handle)
                while stepResult == SQLITE_ROW { stepResult = sqlite3_step(handle) }
                let error = stepResult == SQLITE_DONE ? nil : StorageError.from(connection, code: stepResult, sql: sql)
                sqlite3_finalize(handle)
                if let error { return error }
                rest = next
            }
            return nil
        }
        if let failure { throw failure }
    }

    private func withStatement<T>(
        _ sql: String, _ bindings: [SQLValue],
        _ body: (Statement, OpaquePointer) throws(StorageError) -> T
    ) throws(StorageError) -> T {
        lock.lock()
        defer { lock.unlock() }
        let connection = try openConnection()
        let statement = try cachedStatement(sql, connection)
        // Always reset: a statement left mid-step would pin a read snapshot in the WAL.
        defer { statement.reset() }
        try statement.bind(bindings)
        return try body(statement, connection)
    }

    private func cachedStatement(_ sql: String, _ connection: OpaquePointer) throws(StorageError) -> Statement {
        if let statement = statements[sql] { return statement }
        if statements.count >= Self.statementCacheLimit { statements.removeAll() }
        let statement = try Statement(connection: connection, sql: sql, persistent: true)
        statements[sql] = statement
        return statement
    }

    private func openConnection() throws(StorageError) -> OpaquePointer {
        guard let connection else { throw .misuse("database is closed") }
        return connection
    }

    /// Number of cached prepared statements (for tests).
    var cachedStatementCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return statements.count
    }

    // MARK: Transactions

    /// Runs `body` in a transaction: `BEGIN IMMEDIATE` … `COMMIT`, or `ROLLBACK` if it
    /// throws. IMMEDIATE takes the write lock up front, so read-modify-write bodies from
    /// different connections serialise instead of failing with SQLITE_BUSY at the first
    /// write. Nested calls (and calls inside a transaction begun with `execute`) use a
    /// SAVEPOINT, so an inner failure undoes only the inner work.
    @discardableResult
    public func transaction<T>(_ body: (Database) throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        let connection = try openConnection()
        if sqlite3_get_autocommit(connection) != 0 {
            try execute("BEGIN IMMEDIATE")
            do {
                let result = try body(self)
                try execute("COMMIT")
                return result
            } catch {
                rollbackIfActive()
                throw error
            }
        }
        savepointDepth += 1
        defer { savepointDepth -= 1 }
        // The name is built from a counter, never from user data.
        let name = "soap_savepoint_\(savepointDepth)"
        try execute("SAVEPOINT \(name)")
        do {
            let result = try body(self)
            try execute("RELEASE \(name)")
            return result
        } catch {
            // Some errors (SQLITE_FULL, IOERR, NOMEM) already rolled back the whole
            // transaction; then there is no savepoint left to roll back to.
            if let connection = self.connection, sqlite3_get_autocommit(connection) == 0 {
                _ = try? execute("ROLLBACK TO \(name)")
                _ = try? execute("RELEASE \(name)")
            }
            throw error
        }
    }

    private func rollbackIfActive() {
        guard let connection, sqlite3_get_autocommit(connection) == 0 else { return }
        _ = try? execute("ROLLBACK")
    }

    /// True while a transaction is open on this connection.
    public var isInTransaction: Bool {
        lock.lock()
        defer { lock.unlock() }
        return connection.map { sqlite3_get_autocommit($0) == 0 } ?? false
    }

    // MARK: Maintenance

    /// `PRAGMA integrity_check`: "ok", or the problems found, one per line.
    public func integrityCheck() throws(StorageError) -> String {
        try query("PRAGMA integrity_check")
            .map { row -> String in
                if case .text(let line) = row[0] { return line }
                return "\(row[0])"
            }
            .joined(separator: "\n")
    }

    /// `PRAGMA user_version`: the number of migrations applied.
    public func schemaVersion() throws(StorageError) -> Int {
        guard let row = try queryRow("PRAGMA user_version") else { return 0 }
        return try row.int("user_version")
    }
}
