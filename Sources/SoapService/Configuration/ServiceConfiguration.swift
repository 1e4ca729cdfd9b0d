import FastJSON
import SoapCore

#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// Every setting of the service. Defaults live in Config/soapd.json; a
/// config file, then `SOAPD_<KEY>` environment variables, then command-line
/// flags (`--key-name value`) override them, in that order.
public struct ServiceConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// SQLite file; empty means `<data_directory>/soapd.sqlite`.
    public var database = ""
    /// Empty means $SOAPD_DATA_DIR, $XDG_DATA_HOME/soapd or ~/.local/share/soapd.
    public var dataDirectory = ""
    /// 0 means one per core.
    public var threads = 0
    public var logLevel = "info"

    public var maxConnections = 256
    public var maxRequestLineBytes = 8192
    public var maxHeaderBytes = 32768
    public var maxHeaderCount = 100
    public var maxBodyBytes = 64 << 20
    public var headerTimeoutSeconds = 10.0
    public var bodyTimeoutSeconds = 60.0
    public var idleTimeoutSeconds = 30.0
    public var writeTimeoutSeconds = 60.0
    public var gracePeriodSeconds = 10.0
    public var maxQueuedRequests = 64
    public var computeTimeoutSeconds = 300.0

    public var maxStructures = 100_000
    public var maxAtomsPerStructure = 100_000
    public var maxAtomsTotal = 1_000_000
    public var maxPairsPerStructure = 5_000_000
    public var maxOutputValues = 400_000_000
    public var maxGradientValues = 400_000_000
    public var maxAngular = 16
    public var maxRadial = 30
    public var maxRadialFunctionsPerL = 31
    public var maxSplinePoints = 20_000
    public var jsonMaxDepth = 64
    public var jsonMaxStringBytes = 1 << 20
    public var splineCacheEntries = 32
    /// Multispectrum: highest correlation_order, largest max_features_per_order of a fit,
    /// and the doubles its per-block covariances may take.
    public var multispectrumMaxCorrelationOrder = 4
    public var multispectrumMaxFeaturesPerOrder = 512
    public var multispectrumMaxCovarianceValues = 100_000_000
    /// Analysis routes (selection, reconstruction measures): numbers in one feature matrix.
    public var analysisMaxValues = 20_000_000
    /// Batch jobs: worker threads (0: one per core), atoms per chunk, retention, size.
    public var jobWorkers = 0
    public var jobChunkAtoms = 2048
    public var jobRetentionHours = 168.0
    public var jobMaxStructures = 1_000_000
    public var jobDirectory = ""
    /// Bytes that interactive outputs (values, gradients, their JSON text) may hold at once.
    public var memoryBudgetBytes = 8 << 30
    /// Bearer tokens, comma-separated (empty: none required); never logged.
    public var writeTokens = ""
    public var readTokens = ""
    /// Other replicas (comma-separated base URLs) asked for a basis this one lacks, the
    /// token sent to them, the limit of one call and the retries of a failed one.
    public var peers = ""
    public var peerToken = ""
    public var peerTimeoutSeconds = 5.0
    public var peerRetries = 1
    /// After SIGTERM, how long /ready answers 503 while requests are still served (so a load
    /// balancer stops sending new ones) before the server drains and stops.
    public var drainDelaySeconds = 0.0

    public init() {}

    /// A configuration key: its name in files (snake_case) and how to set it.
    struct Key {
        let name: String
        let set: (inout ServiceConfiguration, String) -> Bool
    }

    static func int(_ name: String, _ path: WritableKeyPath<ServiceConfiguration, Int>, min: Int = 0) -> Key {
        Key(name: name) { config, text in
            guard let v = Int(text), v >= min else { return false }
            config[keyPath: path] = v
            return true
        }
    }
    static func seconds(_ name: String, _ path: WritableKeyPath<ServiceConfiguration, Double>) -> Key {
        Key(name: name) { config, text in
            guard let v = Double(text), v > 0, v.isFinite else { return false }
            config[keyPath: path] = v
            return true
        }
    }
    static func string(
        _ name: String, _ path: WritableKeyPath<ServiceConfiguration, String>,
        allowed: Set<String>? = nil
    ) -> Key {
        Key(name: name) { config, text in
            if let allowed, !allowed.contains(text) { return false }
            config[keyPath: path] = text
            return true
        }
    }

    static let keys: [Key] = [
        string("host", \.host), int("port", \.port), string("database", \.database),
        string("data_directory", \.dataDirectory), int("threads", \.threads),
        string("log_level", \.logLevel, allowed: ["debug", "info", "warning", "error"]),
        int("max_connections", \.maxConnections, min: 1), int("max_request_line_bytes", \.maxRequestLineBytes, min: 64),
        int("max_header_bytes", \.maxHeaderBytes, min: 256), int("max_header_count", \.maxHeaderCount, min: 4),
        int("max_body_bytes", \.maxBodyBytes, min: 1024),
        seconds("header_timeout_seconds", \.headerTimeoutSeconds), seconds("body_timeout_seconds", \.bodyTimeoutSeconds),
        seconds("idle_timeout_seconds", \.idleTimeoutSeconds), seconds("write_timeout_seconds", \.writeTimeoutSeconds),
        seconds("grace_period_seconds", \.gracePeriodSeconds), int("max_queued_requests", \.maxQueuedRequests, min: 1),
        seconds("compute_timeout_seconds", \.computeTimeoutSeconds),
        int("max_structures", \.maxStructures, min: 1), int("max_atoms_per_structure", \.maxAtomsPerStructure, min: 1),
        int("max_atoms_total", \.maxAtomsTotal, min: 1), int("max_pairs_per_structure", \.maxPairsPerStructure, min: 1),
        int("max_output_values", \.maxOutputValues, min: 1), int("max_gradient_values", \.maxGradientValues, min: 1),
        int("max_angular", \.maxAngular), int("max_radial", \.maxRadial),
        int("max_radial_functions_per_l", \.maxRadialFunctionsPerL, min: 1),
        int("max_spline_points", \.maxSplinePoints, min: 2),
        int("json_max_depth", \.jsonMaxDepth, min: 2), int("json_max_string_bytes", \.jsonMaxStringBytes, min: 16),
        int("spline_cache_entries", \.splineCacheEntries, min: 1),
        int("multispectrum_max_correlation_order", \.multispectrumMaxCorrelationOrder, min: 2),
        int("multispectrum_max_features_per_order", \.multispectrumMaxFeaturesPerOrder, min: 1),
        int("multispectrum_max_covariance_values", \.multispectrumMaxCovarianceValues, min: 1),
        int("analysis_max_values", \.analysisMaxValues, min: 1),
        int("job_workers", \.jobWorkers), int("job_chunk_atoms", \.jobChunkAtoms, min: 1),
        seconds("job_retention_hours", \.jobRetentionHours), int("job_max_structures", \.jobMaxStructures, min: 1),
        string("job_directory", \.jobDirectory),
        int("memory_budget_bytes", \.memoryBudgetBytes, min: 1 << 20),
        string("write_tokens", \.writeTokens), string("read_tokens", \.readTokens),
        string("peers", \.peers), string("peer_token", \.peerToken),
        seconds("peer_timeout_seconds", \.peerTimeoutSeconds), int("peer_retries", \.peerRetries),
        Key(name: "drain_delay_seconds") { config, text in
            guard let v = Double(text), v >= 0, v <= 3600 else { return false }
            config.drainDelaySeconds = v
            return true
        },
    ]

    public static var keyNames: [String] { keys.map(\.name) }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Sets one key from text; the error names the key and its source.
    public mutating func set(_ name: String, _ value: String, source: String) throws {
        guard let key = Self.keys.first(where: { $0.name == name }) else {
            throw Failure(description: "\(source): unknown setting '\(name)'")
        }
        guard key.set(&self, value) else {
            throw Failure(description: "\(source): invalid value '\(value)' for \(name)")
        }
    }

    /// Applies a JSON config file (an object of key: value).
    public mutating func apply(file bytes: [UInt8], path: String) throws {
        let value: JSONValue
        do { value = try JSON.parse(bytes) } catch { throw Failure(description: "\(path): \(error)") }
        guard case .object(let object) = value else { throw Failure(description: "\(path): expected a JSON object") }
        for name in object.keys {
            let text: String
            switch object[name]! {
            case .string(let s): text = s
            case .number(let x): text = x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : String(x)
            case .bool(let b): text = b ? "true" : "false"
            default: throw Failure(description: "\(path): \(name) must be a string or a number")
            }
            try set(name, text, source: path)
        }
    }

    /// Applies `SOAPD_<KEY>` variables (e.g. SOAPD_MAX_BODY_BYTES).
    public mutating func apply(environment: [String: String]) throws {
        for key in Self.keys {
            if let value = environment["SOAPD_" + key.name.uppercased()] {
                try set(key.name, value, source: "SOAPD_" + key.name.uppercased())
            }
        }
    }

    // MARK: derived settings

    public var effectiveThreads: Int { threads > 0 ? threads : Featurizer.defaultThreads }

    public var resolvedDataDirectory: String {
        if !dataDirectory.isEmpty { return dataDirectory }
        let env = ProcessEnvironment.current
        if let d = env["SOAPD_DATA_DIR"], !d.isEmpty { return d }
        if let x = env["XDG_DATA_HOME"], !x.isEmpty { return x + "/soapd" }
        return (env["HOME"] ?? ".") + "/.local/share/soapd"
    }

    public var resolvedDatabasePath: String { database.isEmpty ? resolvedDataDirectory + "/soapd.sqlite" : database }

    public var jobSettings: JobSettings {
        var s = JobSettings()
        // One per core: they compute each chunk together; another thread writes chunks.
        s.workers = jobWorkers > 0 ? jobWorkers : effectiveThreads
        s.chunkAtoms = jobChunkAtoms
        s.retentionSeconds = jobRetentionHours * 3600
        s.maxStructures = jobMaxStructures
        s.directory = resolvedJobDirectory
        return s
    }

    /// Where job results live. Every default path follows the database, so that two servers
    /// with different databases never share state by accident: an explicit `database` keeps
    /// its jobs beside it (`<database>.jobs/`, as SQLite keeps `-wal` beside it); without one,
    /// `<data_directory>/jobs/` next to `<data_directory>/soapd.sqlite`.
    public var resolvedJobDirectory: String {
        if !jobDirectory.isEmpty { return jobDirectory }
        if !database.isEmpty { return database + ".jobs" }
        return resolvedDataDirectory + "/jobs"
    }

    public var peerSettings: PeerSettings {
        var p = PeerSettings()
        p.urls = PeerSettings.urls(peers)
        p.token = peerToken
        p.timeoutSeconds = peerTimeoutSeconds
        p.retries = peerRetries
        p.maxBodyBytes = maxBodyBytes
        return p
    }

    public var multispectrumFitLimits: MultispectrumFitLimits {
        var l = MultispectrumFitLimits()
        l.maxFeaturesPerOrder = multispectrumMaxFeaturesPerOrder
        l.maxCovarianceValues = multispectrumMaxCovarianceValues
        return l
    }

    public var analysisLimits: AnalysisLimits {
        AnalysisLimits(maxValues: analysisMaxValues, computeTimeoutSeconds: computeTimeoutSeconds)
    }

    public var featureSettings: FeatureServiceSettings {
        var s = FeatureServiceSettings()
        s.threads = effectiveThreads
        s.requestLimits.maxStructures = maxStructures
        s.requestLimits.maxAtomsPerStructure = maxAtomsPerStructure
        s.requestLimits.maxAtomsTotal = maxAtomsTotal
        s.requestLimits.maxAngular = maxAngular
        s.requestLimits.maxRadial = maxRadial
        s.requestLimits.maxRadialFunctionsPerL = maxRadialFunctionsPerL
        s.requestLimits.maxSplinePoints = maxSplinePoints
        s.requestLimits.maxCorrelationOrder = min(multispectrumMaxCorrelationOrder, DescriptorOptions.maxCorrelationOrder)
        s.featurizationLimits.maxPairsPerStructure = maxPairsPerStructure
        s.featurizationLimits.maxValues = maxOutputValues
        s.featurizationLimits.maxGradientValues = maxGradientValues
        s.jsonLimits.maxDepth = jsonMaxDepth
        s.jsonLimits.maxStringBytes = jsonMaxStringBytes
        s.splineCacheEntries = splineCacheEntries
        s.computeTimeoutSeconds = computeTimeoutSeconds
        s.memoryBudgetBytes = memoryBudgetBytes
        return s
    }
}
