import CSQLite

/// An error reported by SQLite (or by this wrapper, using SQLite's codes).
///
/// `code` is the primary result code (`SQLITE_FULL`, `SQLITE_CONSTRAINT`, …) so callers
/// can map errors to HTTP statuses without knowing extended codes; `extendedCode` keeps
/// the detail (e.g. `SQLITE_CONSTRAINT_CHECK`) for logs.
public struct StorageError: Error, Sendable, CustomStringConvertible {
    public let code: Int32
    public let extendedCode: Int32
    public let message: String
    /// The statement that failed, if any. Safe to log: user data is only ever bound, never
    /// part of the SQL text.
    public let sql: String?

    public init(code: Int32, message: String, sql: String? = nil) {
        self.code = code & 0xFF
        self.extendedCode = code
        self.message = message
        self.sql = sql
    }

    /// The disk (or `PRAGMA max_page_count`) is full.
    public var isFull: Bool { code == SQLITE_FULL }
    /// The file or directory is read-only.
    public var isReadOnly: Bool { code == SQLITE_READONLY }
    /// Another connection held the lock past `busy_timeout`.
    public var isBusy: Bool { code == SQLITE_BUSY || code == SQLITE_LOCKED }
    /// A UNIQUE, PRIMARY KEY, FOREIGN KEY, NOT NULL or CHECK constraint failed.
    public var isConstraint: Bool { code == SQLITE_CONSTRAINT }

    public var description: String {
        let name = String(cString: sqlite3_errstr(extendedCode))
        var text = "SQLite error \(extendedCode) (\(name)): \(message)"
        if let sql { text += " [\(sql)]" }
        return text
    }

    /// The error just returned by a call on `handle` (extended result codes are enabled on
    /// every connection, so `code` already carries the detail).
    static func from(_ handle: OpaquePointer?, code: Int32, sql: String? = nil) -> StorageError {
        let message =
            handle.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) }
            ?? String(cString: sqlite3_errstr(code))
        return StorageError(code: code, message: message, sql: sql)
    }

    static func misuse(_ message: String, sql: String? = nil) -> StorageError {
        StorageError(code: SQLITE_MISUSE, message: message, sql: sql)
    }

    static func mismatch(_ message: String) -> StorageError {
        StorageError(code: SQLITE_MISMATCH, message: message)
    }
}

/// Errors from the typed stores that are about the request, not about SQLite.
public enum StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No row with this id.
    case notFound(id: String)
    /// The job state machine does not allow this move.
    case invalidTransition(jobID: String, from: JobState, to: JobState)
    /// Chunks can only be committed while a job is running (a cancelled job's worker
    /// learns it here).
    case jobNotRunning(jobID: String, state: JobState)
    /// A negative count, limit or offset.
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .notFound(let id): return "no record with id \(id)"
        case .invalidTransition(let id, let from, let to):
            return "job \(id): cannot move from \(from.rawValue) to \(to.rawValue)"
        case .jobNotRunning(let id, let state): return "job \(id) is \(state.rawValue), not running"
        case .invalidArgument(let message): return message
        }
    }
}
