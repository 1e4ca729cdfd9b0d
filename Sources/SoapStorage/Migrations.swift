import CSQLite

/// Schema migrations. `PRAGMA user_version` holds how many of `scripts` were applied;
/// the missing ones run in order, in one transaction, when a connection opens.
/// Append new scripts; never edit a released one.
enum Migrations {
    static let scripts: [String] = [version1, version2, version3, version4]

    static var latestVersion: Int { scripts.count }

    static func migrate(_ database: Database) throws(StorageError) {
        // Fast path for the common case, without taking the write lock.
        if try check(database) == latestVersion { return }
        do {
            try database.transaction { database in
                // Re-read under the write lock: another process may have migrated meanwhile.
                let current = try check(database)
                for version in current..<latestVersion {
                    try database.executeScript(scripts[version])
                    // PRAGMA takes no bindings; the value is an integer from this code.
                    try database.execute("PRAGMA user_version = \(version + 1)")
                }
            }
        } catch let error as StorageError {
            throw error
        } catch {
            throw StorageError(code: SQLITE_ERROR, message: "migration failed: \(error)")
        }
    }

    /// The applied version, or an error if it is newer than this build knows.
    private static func check(_ database: Database) throws(StorageError) -> Int {
        let current = try database.schemaVersion()
        guard current <= latestVersion else {
            throw StorageError(
                code: SQLITE_CANTOPEN,
                message:
                    "database schema version \(current) is newer than this build supports (\(latestVersion)); refusing to open")
        }
        return current
    }

    // Timestamps are unix milliseconds (INTEGER): compact, sortable, no time-zone parsing.
    // JSON columns are opaque to storage but must be valid JSON. STRICT tables make
    // SQLite reject values of the wrong type instead of silently converting them.
    static let version1 = """
        CREATE TABLE datasets (
            id           TEXT    NOT NULL PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 128),
            created_at   INTEGER NOT NULL,
            updated_at   INTEGER NOT NULL,
            hypers_json  TEXT    NOT NULL CHECK (json_valid(hypers_json)),
            species_json TEXT    NOT NULL CHECK (json_valid(species_json)),
            structures   INTEGER NOT NULL CHECK (structures >= 0),
            centers_json TEXT    NOT NULL CHECK (json_valid(centers_json)),
            neighbors    INTEGER NOT NULL CHECK (neighbors >= 0),
            statistics   BLOB    NOT NULL CHECK (length(statistics) % 8 = 0),
            targets      BLOB,
            version      INTEGER NOT NULL CHECK (version >= 0)
        ) STRICT;
        CREATE INDEX datasets_by_created ON datasets (created_at, id);

        -- One row per applied batch that carried an Idempotency-Key: a retry finds it and
        -- is not merged again. The primary key doubles as the foreign-key index.
        CREATE TABLE dataset_batches (
            dataset_id      TEXT    NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
            idempotency_key TEXT    NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
            structures      INTEGER NOT NULL CHECK (structures >= 0),
            added_at        INTEGER NOT NULL,
            PRIMARY KEY (dataset_id, idempotency_key)
        ) STRICT, WITHOUT ROWID;

        -- Content-addressed: id is the caller's hash of the fitted basis.
        CREATE TABLE bases (
            id           TEXT    NOT NULL PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 128),
            created_at   INTEGER NOT NULL,
            dataset_id   TEXT    REFERENCES datasets (id) ON DELETE SET NULL,
            options_json TEXT    NOT NULL CHECK (json_valid(options_json)),
            summary_json TEXT    NOT NULL CHECK (json_valid(summary_json)),
            payload      BLOB    NOT NULL
        ) STRICT;
        CREATE INDEX bases_by_created ON bases (created_at, id);
        -- Without it, deleting a dataset scans all bases to null their reference.
        CREATE INDEX bases_by_dataset ON bases (dataset_id);

        CREATE TABLE jobs (
            id               TEXT    NOT NULL PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 128),
            created_at       INTEGER NOT NULL,
            updated_at       INTEGER NOT NULL,
            state            TEXT    NOT NULL
                CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
            request          BLOB    NOT NULL,
            idempotency_key  TEXT    UNIQUE CHECK (length(idempotency_key) BETWEEN 1 AND 255),
            structures_total INTEGER NOT NULL CHECK (structures_total >= 0),
            structures_done  INTEGER NOT NULL CHECK (structures_done BETWEEN 0 AND structures_total),
            chunks_done      INTEGER NOT NULL CHECK (chunks_done >= 0),
            error            TEXT,
            result_path      TEXT,
            errors_json      TEXT    NOT NULL CHECK (json_valid(errors_json))
        ) STRICT;
        CREATE INDEX jobs_by_state ON jobs (state, created_at);
        CREATE INDEX jobs_by_created ON jobs (created_at);

        -- A chunk of a job's output is committed exactly when its row exists.
        CREATE TABLE job_chunks (
            job_id       TEXT    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
            chunk        INTEGER NOT NULL CHECK (chunk >= 0),
            structures   INTEGER NOT NULL CHECK (structures >= 0),
            bytes        INTEGER NOT NULL CHECK (bytes >= 0),
            committed_at INTEGER NOT NULL,
            PRIMARY KEY (job_id, chunk)
        ) STRICT, WITHOUT ROWID;
        """

    /// Datasets may keep their structures (opt-in), so that a job can featurize them later.
    static let version2 = """
        ALTER TABLE datasets ADD COLUMN keep_structures INTEGER NOT NULL DEFAULT 0 CHECK (keep_structures IN (0, 1));

        -- The structures of each applied batch of a dataset that keeps them (a JSON array),
        -- by the dataset version the batch produced.
        CREATE TABLE dataset_structures (
            dataset_id TEXT    NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
            version    INTEGER NOT NULL CHECK (version >= 1),
            structures BLOB    NOT NULL,
            PRIMARY KEY (dataset_id, version)
        ) STRICT, WITHOUT ROWID;
        """

    /// Job requests in a table of their own: SQLite rewrites a whole row on UPDATE, so with
    /// the request (megabytes for a large job) in `jobs` every chunk commit copied it into
    /// the WAL again (10 ms per commit, and checkpoints, for a 1.3 MB request). And when a
    /// job started and ended, and the atoms it has done: its throughput once finished.
    static let version3 = """
        CREATE TABLE job_requests (
            job_id  TEXT NOT NULL PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
            request BLOB NOT NULL
        ) STRICT;
        INSERT INTO job_requests (job_id, request) SELECT id, request FROM jobs;
        ALTER TABLE jobs ADD COLUMN request_bytes INTEGER NOT NULL DEFAULT 0 CHECK (request_bytes >= 0);
        UPDATE jobs SET request_bytes = length(request);
        ALTER TABLE jobs DROP COLUMN request;
        ALTER TABLE jobs ADD COLUMN started_at INTEGER;
        ALTER TABLE jobs ADD COLUMN finished_at INTEGER;
        ALTER TABLE jobs ADD COLUMN atoms_done INTEGER NOT NULL DEFAULT 0 CHECK (atoms_done >= 0);
        """

    /// What a basis's content id hashes (its identity: primitive hypers, species, options,
    /// statistics), kept so that a replica can send the basis to another and the receiver
    /// can check the id itself (issue 16). NULL for bases fitted before: they do not travel.
    static let version4 = """
        ALTER TABLE bases ADD COLUMN identity BLOB;
        """
}
