/// Datasets: accumulated statistics that grow batch by batch.
///
/// Every method is one transaction (single statements are their own). Errors are
/// `StorageError` (SQLite, including constraint violations such as a duplicate id or a
/// negative count), `StoreError`, or whatever a `merge` closure throws.
public final class DatasetStore: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    private static let columns = """
        id, created_at, updated_at, hypers_json, species_json, structures, centers_json, neighbors, \
        statistics, targets, version, keep_structures
        """

    private static let summaryColumns = """
        id, created_at, updated_at, hypers_json, species_json, structures, centers_json, neighbors, \
        version, length(statistics) / 8 AS statistics_count, targets IS NOT NULL AS has_targets
        """

    /// Inserts a new dataset and returns it as stored (timestamps assigned).
    @discardableResult
    public func create(_ record: DatasetRecord) throws -> DatasetRecord {
        var stored = record
        let now = Timestamp.now()
        stored.createdAt = Timestamp.date(now)
        stored.updatedAt = stored.createdAt
        try database.execute(
            """
            INSERT INTO datasets (\(Self.columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .text(stored.id), .integer(now), .integer(now), .text(stored.hypersJSON), .text(stored.speciesJSON),
                SQLValue(stored.structures), .text(stored.centersJSON), SQLValue(stored.neighbors),
                .doubles(stored.statistics), SQLValue(stored.targets), SQLValue(stored.version),
                SQLValue(stored.keepStructures ? 1 : 0),
            ])
        return stored
    }

    public func get(_ id: String) throws -> DatasetRecord? {
        try Self.fetch(database, id)
    }

    /// Newest first.
    public func list(limit: Int = 100, offset: Int = 0) throws -> [DatasetSummary] {
        try checkPage(limit: limit, offset: offset)
        return try database.query(
            """
            SELECT \(Self.summaryColumns) FROM datasets ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?
            """, [SQLValue(limit), SQLValue(offset)]
        ).map(Self.decodeSummary)
    }

    /// Deletes the dataset and (by cascade) its batch rows; bases keep existing with
    /// their dataset reference cleared. False if there was no such dataset.
    @discardableResult
    public func delete(_ id: String) throws -> Bool {
        try database.execute("DELETE FROM datasets WHERE id = ?", [.text(id)]) > 0
    }

    /// Applies a batch atomically.
    ///
    /// If `(datasetID, idempotencyKey)` was applied before, returns `.duplicate` with the
    /// current record and changes nothing (a retried request counts once). Otherwise calls
    /// `merge(current)` inside a `BEGIN IMMEDIATE` transaction — concurrent batches, from
    /// any connection, serialise, so no update is lost — stores the result and the batch
    /// row, and returns `.applied` with the record as stored.
    ///
    /// The store owns the bookkeeping fields: `id` and `createdAt` are kept, `updatedAt`
    /// is now, `version` is `current.version + 1` and `structures` is
    /// `current.structures + structures`, whatever `merge` set them to. `merge` owns all
    /// other fields. A batch without a key is applied but not recorded (it cannot be
    /// recognised on retry). If `merge` throws, nothing changes and the error propagates.
    /// `structuresBlob`, when given, is kept with the batch (same transaction) under the
    /// version the batch produces.
    public func addBatch(
        datasetID: String, idempotencyKey: String?, structures: Int, structuresBlob: [UInt8]? = nil,
        merge: (DatasetRecord) throws -> DatasetRecord
    ) throws -> BatchOutcome {
        guard structures >= 0 else { throw StoreError.invalidArgument("structures must be non-negative") }
        return try database.transaction { db in
            guard let current = try Self.fetch(db, datasetID) else { throw StoreError.notFound(id: datasetID) }
            if let key = idempotencyKey,
                try db.queryRow(
                    """
                    SELECT 1 FROM dataset_batches WHERE dataset_id = ? AND idempotency_key = ?
                    """, [.text(datasetID), .text(key)]) != nil
            {
                return .duplicate(current)
            }
            var updated = try merge(current)
            let now = Timestamp.now()
            updated.id = current.id
            updated.createdAt = current.createdAt
            updated.updatedAt = Timestamp.date(now)
            updated.version = current.version + 1
            updated.structures = current.structures + structures
            try db.execute(
                """
                UPDATE datasets SET updated_at = ?, hypers_json = ?, species_json = ?, structures = ?,
                    centers_json = ?, neighbors = ?, statistics = ?, targets = ?, version = ?
                WHERE id = ?
                """,
                [
                    .integer(now), .text(updated.hypersJSON), .text(updated.speciesJSON),
                    SQLValue(updated.structures), .text(updated.centersJSON), SQLValue(updated.neighbors),
                    .doubles(updated.statistics), SQLValue(updated.targets), SQLValue(updated.version),
                    .text(updated.id),
                ])
            if let key = idempotencyKey {
                try db.execute(
                    """
                    INSERT INTO dataset_batches (dataset_id, idempotency_key, structures, added_at)
                    VALUES (?, ?, ?, ?)
                    """, [.text(datasetID), .text(key), SQLValue(structures), .integer(now)])
            }
            if let structuresBlob {
                try db.execute(
                    "INSERT INTO dataset_structures (dataset_id, version, structures) VALUES (?, ?, ?)",
                    [.text(datasetID), SQLValue(updated.version), .blob(structuresBlob)])
            }
            return .applied(updated)
        }
    }

    /// The kept structure batches of a dataset up to `version` (all when nil), oldest first.
    public func storedStructures(datasetID: String, upToVersion version: Int? = nil) throws -> [[UInt8]] {
        try database.query(
            """
            SELECT structures FROM dataset_structures WHERE dataset_id = ? AND version <= ? ORDER BY version
            """, [.text(datasetID), SQLValue(version ?? Int(Int64.max))]
        ).map { row throws(StorageError) in
            try row.blob("structures")
        }
    }

    /// The versions that kept a structure batch, up to `version` (all when nil), oldest first:
    /// with `storedStructures(datasetID:version:)`, a way to read the batches one at a time.
    public func storedStructureVersions(datasetID: String, upToVersion version: Int? = nil) throws -> [Int] {
        try database.query(
            """
            SELECT version FROM dataset_structures WHERE dataset_id = ? AND version <= ? ORDER BY version
            """, [.text(datasetID), SQLValue(version ?? Int(Int64.max))]
        ).map { row throws(StorageError) in
            try row.int("version")
        }
    }

    /// The structure batch kept at `version`, if any.
    public func storedStructures(datasetID: String, version: Int) throws -> [UInt8]? {
        try database.queryRow(
            "SELECT structures FROM dataset_structures WHERE dataset_id = ? AND version = ?",
            [.text(datasetID), SQLValue(version)]
        ).map { row throws(StorageError) in try row.blob("structures") }
    }

    /// The recorded (keyed) batches of a dataset, oldest first.
    public func batches(datasetID: String) throws -> [DatasetBatch] {
        try database.query(
            """
            SELECT dataset_id, idempotency_key, structures, added_at FROM dataset_batches
            WHERE dataset_id = ? ORDER BY added_at, idempotency_key
            """, [.text(datasetID)]
        ).map { row throws(StorageError) in
            try DatasetBatch(
                datasetID: row.string("dataset_id"), idempotencyKey: row.string("idempotency_key"),
                structures: row.int("structures"), addedAt: row.date("added_at"))
        }
    }

    // MARK: Decoding

    static func fetch(_ db: Database, _ id: String) throws(StorageError) -> DatasetRecord? {
        try db.queryRow("SELECT \(columns) FROM datasets WHERE id = ?", [.text(id)]).map(decode)
    }

    private static func decode(_ row: Row) throws(StorageError) -> DatasetRecord {
        try DatasetRecord(
            id: row.string("id"), hypersJSON: row.string("hypers_json"), speciesJSON: row.string("species_json"),
            structures: row.int("structures"), centersJSON: row.string("centers_json"),
            neighbors: row.int("neighbors"), statistics: row.doubles("statistics"),
            targets: row.optionalBlob("targets"), version: row.int("version"),
            keepStructures: row.int("keep_structures") != 0,
            createdAt: row.date("created_at"), updatedAt: row.date("updated_at"))
    }

    private static func decodeSummary(_ row: Row) throws(StorageError) -> DatasetSummary {
        try DatasetSummary(
            id: row.string("id"), createdAt: row.date("created_at"), updatedAt: row.date("updated_at"),
            hypersJSON: row.string("hypers_json"), speciesJSON: row.string("species_json"),
            structures: row.int("structures"), centersJSON: row.string("centers_json"),
            neighbors: row.int("neighbors"), version: row.int("version"),
            statisticsCount: row.int("statistics_count"), hasTargets: row.int("has_targets") != 0)
    }
}
