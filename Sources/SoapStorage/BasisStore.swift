/// Fitted bases, content-addressed by a hash the caller computes.
///
/// Every method is a single statement, hence one transaction. Errors are `StorageError`
/// (e.g. a constraint error for a `datasetID` that does not exist) or `StoreError`.
public final class BasisStore: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    private static let summaryColumns = """
        id, created_at, dataset_id, options_json, summary_json, length(payload) AS payload_bytes
        """

    /// Stores the basis unless one with the same id exists. The id is a content hash, so
    /// an existing row already holds this content and is kept as it is (first write
    /// wins, its `createdAt` too). Returns true if a row was inserted.
    @discardableResult
    public func put(_ basis: BasisRecord) throws -> Bool {
        try database.execute(
            """
            INSERT INTO bases (id, created_at, dataset_id, options_json, summary_json, payload, identity)
            VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING
            """,
            [
                .text(basis.id), .integer(Timestamp.now()), SQLValue(basis.datasetID),
                .text(basis.optionsJSON), .text(basis.summaryJSON), .blob(basis.payload),
                basis.identity.map { .blob($0) } ?? .null,
            ]) > 0
    }

    public func get(_ id: String) throws -> BasisRecord? {
        try database.queryRow(
            """
            SELECT id, created_at, dataset_id, options_json, summary_json, payload, identity FROM bases WHERE id = ?
            """, [.text(id)]
        ).map { row throws(StorageError) in
            try BasisRecord(
                id: row.string("id"), datasetID: row.optionalString("dataset_id"),
                optionsJSON: row.string("options_json"), summaryJSON: row.string("summary_json"),
                payload: row.blob("payload"), identity: row.optionalBlob("identity"), createdAt: row.date("created_at"))
        }
    }

    /// Newest first, without payloads.
    public func list(limit: Int = 100, offset: Int = 0) throws -> [BasisSummary] {
        try checkPage(limit: limit, offset: offset)
        return try database.query(
            """
            SELECT \(Self.summaryColumns) FROM bases ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?
            """, [SQLValue(limit), SQLValue(offset)]
        ).map(Self.decodeSummary)
    }

    /// False if there was no such basis.
    @discardableResult
    public func delete(_ id: String) throws -> Bool {
        try database.execute("DELETE FROM bases WHERE id = ?", [.text(id)]) > 0
    }

    private static func decodeSummary(_ row: Row) throws(StorageError) -> BasisSummary {
        try BasisSummary(
            id: row.string("id"), createdAt: row.date("created_at"), datasetID: row.optionalString("dataset_id"),
            optionsJSON: row.string("options_json"), summaryJSON: row.string("summary_json"),
            payloadBytes: row.int("payload_bytes"))
    }
}
