import CSQLite

/// SQLite's SQLITE_TRANSIENT (a macro Swift cannot import): SQLite copies bound buffers,
/// so Swift arrays and strings need not outlive the bind call.
private let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// One prepared statement. Not thread-safe: only used by `Database` under its lock.
final class Statement {
    let handle: OpaquePointer
    let sql: String
    private let connection: OpaquePointer

    /// Prepares exactly one statement; trailing SQL (`"…; DROP TABLE x"`) is refused so a
    /// concatenation bug cannot smuggle in a second statement.
    init(connection: OpaquePointer, sql: String, persistent: Bool) throws(StorageError) {
        var statement: OpaquePointer?
        var tailIsEmpty = true
        let flags = persistent ? UInt32(SQLITE_PREPARE_PERSISTENT) : 0
        let rc = sql.withCString { text -> Int32 in
            var tail: UnsafePointer<CChar>?
            let rc = sqlite3_prepare_v3(connection, text, -1, flags, &statement, &tail)
            if rc == SQLITE_OK, let tail { tailIsEmpty = Statement.isBlank(tail, connection: connection) }
            return rc
        }
        guard rc == SQLITE_OK else {
            sqlite3_finalize(statement)
            throw StorageError.from(connection, code: rc, sql: sql)
        }
        guard let statement else { throw .misuse("empty SQL statement", sql: sql) }
        guard tailIsEmpty else {
            sqlite3_finalize(statement)
            throw .misuse("more than one SQL statement; use executeScript", sql: sql)
        }
        self.handle = statement
        self.sql = sql
        self.connection = connection
    }

    deinit { sqlite3_finalize(handle) }

    /// True if `text` holds only whitespace, semicolons and comments.
    static func isBlank(_ text: UnsafePointer<CChar>, connection: OpaquePointer) -> Bool {
        var rest: UnsafePointer<CChar>? = text
        while let current = rest, current.pointee != 0 {
            var statement: OpaquePointer?
            var next: UnsafePointer<CChar>?
            let rc = sqlite3_prepare_v2(connection, current, -1, &statement, &next)
            sqlite3_finalize(statement)
            // An unparsable tail is not blank either.
            if rc != SQLITE_OK || statement != nil { return false }
            if next == current { break }
            rest = next
        }
        return true
    }

    func bind(_ values: [SQLValue]) throws(StorageError) {
        let expected = Int(sqlite3_bind_parameter_count(handle))
        guard expected == values.count else {
            throw StorageError(
                code: SQLITE_RANGE,
                message: "statement has \(expected) parameters, got \(values.count) bindings", sql: sql)
        }
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let rc: Int32
            switch value {
            case .null:
                rc = sqlite3_bind_null(handle, index)
            case .integer(let v):
                rc = sqlite3_bind_int64(handle, index, v)
            case .real(let v):
                rc = sqlite3_bind_double(handle, index, v)
            case .text(var s):
                rc = s.withUTF8 { utf8 -> Int32 in
                    // An empty buffer may have no base address, and a NULL pointer would bind NULL.
                    guard let base = utf8.baseAddress, utf8.count > 0 else {
                        return sqlite3_bind_text(handle, index, "", 0, sqliteTransient)
                    }
                    return base.withMemoryRebound(to: CChar.self, capacity: utf8.count) {
                        sqlite3_bind_text64(handle, index, $0, UInt64(utf8.count), sqliteTransient, UInt8(SQLITE_UTF8))
                    }
                }
            case .blob(let bytes):
                rc = bytes.withUnsafeBytes { raw -> Int32 in
                    // Same reason: a zero-length blob must not become NULL.
                    guard let base = raw.baseAddress, raw.count > 0 else {
                        return sqlite3_bind_zeroblob(handle, index, 0)
                    }
                    return sqlite3_bind_blob64(handle, index, base, UInt64(raw.count), sqliteTransient)
                }
            }
            guard rc == SQLITE_OK else { throw StorageError.from(connection, code: rc, sql: sql) }
        }
    }

    /// Advances one row; true while a row is available.
    func step() throws(StorageError) -> Bool {
        switch sqlite3_step(handle) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        case let rc: throw StorageError.from(connection, code: rc, sql: sql)
        }
    }

    /// Makes the statement reusable and releases its read snapshot and bound buffers.
    func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    func columns() -> Row.Columns {
        let count = sqlite3_column_count(handle)
        return Row.Columns(names: (0..<count).map { String(cString: sqlite3_column_name(handle, $0)) })
    }

    func row(_ columns: Row.Columns) -> Row {
        Row(columns: columns, values: (0..<Int32(columns.names.count)).map(value(at:)))
    }

    private func value(at index: Int32) -> SQLValue {
        switch sqlite3_column_type(handle, index) {
        case SQLITE_INTEGER:
            return .integer(sqlite3_column_int64(handle, index))
        case SQLITE_FLOAT:
            return .real(sqlite3_column_double(handle, index))
        case SQLITE_TEXT:
            // Pointer first, then length (SQLite's documented order); the length keeps
            // embedded NULs.
            guard let text = sqlite3_column_text(handle, index) else { return .text("") }
            let count = Int(sqlite3_column_bytes(handle, index))
            return .text(String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self))
        case SQLITE_BLOB:
            // A zero-length BLOB comes back as a NULL pointer.
            guard let blob = sqlite3_column_blob(handle, index) else { return .blob([]) }
            let count = Int(sqlite3_column_bytes(handle, index))
            return .blob([UInt8](UnsafeRawBufferPointer(start: blob, count: count)))
        default:
            return .null
        }
    }
}
