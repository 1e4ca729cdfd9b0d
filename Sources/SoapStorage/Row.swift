/// One result row. Values are copied out of SQLite, so a row outlives its statement.
///
/// The subscripts are lenient (an unknown column reads as `.null`); the typed accessors
/// are strict and throw `SQLITE_MISMATCH` for an unknown column, NULL or a different
/// storage class, so a schema/code mismatch surfaces instead of becoming a default value.
public struct Row: Sendable {
    /// Column names, shared by all rows of one query.
    final class Columns: Sendable {
        let names: [String]
        let index: [String: Int]

        init(names: [String]) {
            self.names = names
            // First occurrence wins when a join repeats a name.
            var index: [String: Int] = [:]
            for (i, name) in names.enumerated() where index[name] == nil { index[name] = i }
            self.index = index
        }
    }

    let columns: Columns
    public let values: [SQLValue]

    init(columns: Columns, values: [SQLValue]) {
        self.columns = columns
        self.values = values
    }

    public var columnNames: [String] { columns.names }

    public subscript(_ column: String) -> SQLValue {
        columns.index[column].map { values[$0] } ?? .null
    }

    public subscript(_ index: Int) -> SQLValue { values[index] }

    public func isNull(_ column: String) -> Bool { self[column].isNull }

    // MARK: Strict accessors

    public func int64(_ column: String) throws(StorageError) -> Int64 {
        switch try value(column) {
        case .integer(let v): return v
        case let other: throw mismatch(column, "INTEGER", other)
        }
    }

    public func int(_ column: String) throws(StorageError) -> Int {
        let v = try int64(column)
        guard let result = Int(exactly: v) else { throw .mismatch("column \(column): \(v) does not fit Int") }
        return result
    }

    /// REAL, or INTEGER converted (SQLite may store whole REAL values as integers).
    public func double(_ column: String) throws(StorageError) -> Double {
        switch try value(column) {
        case .real(let v): return v
        case .integer(let v): return Double(v)
        case let other: throw mismatch(column, "REAL", other)
        }
    }

    public func string(_ column: String) throws(StorageError) -> String {
        switch try value(column) {
        case .text(let v): return v
        case let other: throw mismatch(column, "TEXT", other)
        }
    }

    public func blob(_ column: String) throws(StorageError) -> [UInt8] {
        switch try value(column) {
        case .blob(let v): return v
        case let other: throw mismatch(column, "BLOB", other)
        }
    }

    /// A BLOB written with `SQLValue.doubles`.
    public func doubles(_ column: String) throws(StorageError) -> [Double] {
        try DoubleBlob.decode(blob(column))
    }

    // MARK: Nullable accessors (nil for NULL; still strict about the column and type)

    public func optionalInt(_ column: String) throws(StorageError) -> Int? {
        try isNullValue(column) ? nil : int(column)
    }

    public func optionalString(_ column: String) throws(StorageError) -> String? {
        try isNullValue(column) ? nil : string(column)
    }

    public func optionalBlob(_ column: String) throws(StorageError) -> [UInt8]? {
        try isNullValue(column) ? nil : blob(column)
    }

    // MARK: Private

    private func value(_ column: String) throws(StorageError) -> SQLValue {
        guard let i = columns.index[column] else {
            throw .mismatch("no column \(column) in result (\(columns.names.joined(separator: ", ")))")
        }
        return values[i]
    }

    private func isNullValue(_ column: String) throws(StorageError) -> Bool {
        try value(column).isNull
    }

    private func mismatch(_ column: String, _ expected: String, _ found: SQLValue) -> StorageError {
        let kind: String
        switch found {
        case .null: kind = "NULL"
        case .integer: kind = "INTEGER"
        case .real: kind = "REAL"
        case .text: kind = "TEXT"
        case .blob: kind = "BLOB"
        }
        return .mismatch("column \(column): expected \(expected), found \(kind)")
    }
}
