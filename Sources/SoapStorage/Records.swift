import Foundation

// Plain value types mirroring the tables. Timestamps are assigned by the stores (unix
// milliseconds in the database, `Date` here); values passed in for them are ignored.
// Summaries leave out the large BLOBs so that listings stay cheap.

/// Random 128-bit identifiers as 32 lower-case hex digits.
public enum StorageID {
    public static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        let high = generator.next() as UInt64
        let low = generator.next() as UInt64
        return hex(high) + hex(low)
    }

    private static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}

/// Milliseconds since 1970, the database's time unit.
enum Timestamp {
    static func now() -> Int64 { milliseconds(Date()) }
    static func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
    static func date(_ milliseconds: Int64) -> Date { Date(timeIntervalSince1970: Double(milliseconds) / 1000) }
}

// MARK: Datasets

public struct DatasetRecord: Sendable, Equatable {
    public var id: String
    public var createdAt: Date
    public var updatedAt: Date
    /// Canonical JSON of the primitive hyper-parameters (opaque here).
    public var hypersJSON: String
    public var speciesJSON: String
    public var structures: Int
    /// Per-centre-type counts (opaque JSON).
    public var centersJSON: String
    public var neighbors: Int
    /// The accumulated covariance statistics; layout defined by the caller.
    public var statistics: [Double]
    /// Opaque, optional.
    public var targets: [UInt8]?
    /// Incremented by the store for every applied batch.
    public var version: Int
    /// Whether each batch's structures are kept (for jobs over the dataset).
    public var keepStructures: Bool

    public init(
        id: String = StorageID.random(), hypersJSON: String, speciesJSON: String = "[]",
        structures: Int = 0, centersJSON: String = "{}", neighbors: Int = 0,
        statistics: [Double] = [], targets: [UInt8]? = nil, version: Int = 0, keepStructures: Bool = false,
        createdAt: Date = Date(timeIntervalSince1970: 0), updatedAt: Date = Date(timeIntervalSince1970: 0)
    ) {
        self.keepStructures = keepStructures
        self.id = id
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.hypersJSON = hypersJSON
        self.speciesJSON = speciesJSON
        self.structures = structures
        self.centersJSON = centersJSON
        self.neighbors = neighbors
        self.statistics = statistics
        self.targets = targets
        self.version = version
    }
}

/// A dataset without its statistics and targets BLOBs.
public struct DatasetSummary: Sendable, Equatable {
    public var id: String
    public var createdAt: Date
    public var updatedAt: Date
    public var hypersJSON: String
    public var speciesJSON: String
    public var structures: Int
    public var centersJSON: String
    public var neighbors: Int
    public var version: Int
    public var statisticsCount: Int
    public var hasTargets: Bool
}

/// A recorded batch (only batches that carried an idempotency key are recorded).
public struct DatasetBatch: Sendable, Equatable {
    public var datasetID: String
    public var idempotencyKey: String
    public var structures: Int
    public var addedAt: Date
}

public enum BatchOutcome: Sendable, Equatable {
    /// The batch was merged; the record as stored.
    case applied(DatasetRecord)
    /// The idempotency key was seen before; nothing changed; the current record.
    case duplicate(DatasetRecord)

    public var record: DatasetRecord {
        switch self {
        case .applied(let record), .duplicate(let record): return record
        }
    }

    public var isDuplicate: Bool {
        if case .duplicate = self { return true }
        return false
    }
}

// MARK: Bases

public struct BasisRecord: Sendable, Equatable {
    /// Content hash computed by the caller.
    public var id: String
    public var createdAt: Date
    public var datasetID: String?
    public var optionsJSON: String
    public var summaryJSON: String
    /// The serialised fitted basis (opaque).
    public var payload: [UInt8]
    /// The bytes whose SHA-256 is `id` (opaque; nil for bases stored before it was kept).
    public var identity: [UInt8]?

    public init(
        id: String, datasetID: String? = nil, optionsJSON: String = "{}", summaryJSON: String = "{}",
        payload: [UInt8], identity: [UInt8]? = nil, createdAt: Date = Date(timeIntervalSince1970: 0)
    ) {
        self.identity = identity
        self.id = id
        self.createdAt = createdAt
        self.datasetID = datasetID
        self.optionsJSON = optionsJSON
        self.summaryJSON = summaryJSON
        self.payload = payload
    }
}

/// A basis without its payload.
public struct BasisSummary: Sendable, Equatable {
    public var id: String
    public var createdAt: Date
    public var datasetID: String?
    public var optionsJSON: String
    public var summaryJSON: String
    public var payloadBytes: Int
}

// MARK: Jobs

public enum JobState: String, Sendable, CaseIterable {
    case queued, running, succeeded, failed, cancelled

    public var isTerminal: Bool {
        switch self {
        case .succeeded, .failed, .cancelled: return true
        case .queued, .running: return false
        }
    }

    /// queued → running | cancelled; running → succeeded | failed | cancelled.
    public func canTransition(to next: JobState) -> Bool {
        switch (self, next) {
        case (.queued, .running), (.queued, .cancelled),
            (.running, .succeeded), (.running, .failed), (.running, .cancelled):
            return true
        default:
            return false
        }
    }
}

public struct JobRecord: Sendable, Equatable {
    public var id: String
    public var createdAt: Date
    public var updatedAt: Date
    public var state: JobState
    /// The request body.
    public var request: [UInt8]
    public var idempotencyKey: String?
    public var structuresTotal: Int
    public var structuresDone: Int
    public var chunksDone: Int
    public var error: String?
    public var resultPath: String?
    /// Per-structure errors (opaque JSON).
    public var errorsJSON: String

    /// A new job. `JobStore.create` stores id, request, structuresTotal and the key; the
    /// lifecycle fields start at queued / 0 / nil / "[]" whatever they hold here.
    public init(
        id: String = StorageID.random(), request: [UInt8], structuresTotal: Int,
        idempotencyKey: String? = nil, state: JobState = .queued, structuresDone: Int = 0,
        chunksDone: Int = 0, error: String? = nil, resultPath: String? = nil, errorsJSON: String = "[]",
        createdAt: Date = Date(timeIntervalSince1970: 0), updatedAt: Date = Date(timeIntervalSince1970: 0)
    ) {
        self.id = id
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.state = state
        self.request = request
        self.idempotencyKey = idempotencyKey
        self.structuresTotal = structuresTotal
        self.structuresDone = structuresDone
        self.chunksDone = chunksDone
        self.error = error
        self.resultPath = resultPath
        self.errorsJSON = errorsJSON
    }
}

/// A job without its request body.
public struct JobSummary: Sendable, Equatable {
    public var id: String
    public var createdAt: Date
    public var updatedAt: Date
    public var state: JobState
    public var idempotencyKey: String?
    public var structuresTotal: Int
    public var structuresDone: Int
    public var chunksDone: Int
    public var error: String?
    public var resultPath: String?
    public var errorsJSON: String
    public var requestBytes: Int
    /// When it first ran and when it ended (nil until then); atoms in committed chunks.
    public var startedAt: Date?
    public var finishedAt: Date?
    public var atomsDone: Int
}

/// A committed chunk of a job's output.
public struct JobChunk: Sendable, Equatable {
    public var jobID: String
    public var chunk: Int
    public var structures: Int
    public var bytes: Int
    public var committedAt: Date
}

// MARK: Shared store helpers

extension Row {
    func date(_ column: String) throws(StorageError) -> Date { Timestamp.date(try int64(column)) }
}

/// Negative values would mean "no limit" to SQLite; refuse them instead.
func checkPage(limit: Int, offset: Int) throws(StoreError) {
    guard limit >= 0, offset >= 0 else {
        throw .invalidArgument("limit and offset must be non-negative (got \(limit), \(offset))")
    }
}
