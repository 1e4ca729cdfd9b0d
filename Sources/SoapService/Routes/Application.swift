import Dispatch
import FastJSON
import SoapCore
import SoapHTTP
import SoapStorage

#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// Wires HTTP routes to the featurization service. Knows the routes and
/// their media types; the HTTP module knows nothing of chemistry and this
/// type nothing of sockets.
public final class Application: Sendable {
    public let configuration: ServiceConfiguration
    public let features: FeatureService
    public let metrics = Metrics()
    public static let version = "0.1.0"

    /// Datasets; nil when the service runs without a database.
    public let datasets: DatasetService?
    /// Fitted bases; nil when the service runs without a database.
    public let bases: BasisService?
    /// Batch jobs; nil when the service runs without a database.
    public let jobs: JobService?
    public let authorization: Authorization

    public init(configuration: ServiceConfiguration, database: Database? = nil) {
        self.configuration = configuration
        let features = FeatureService(settings: configuration.featureSettings)
        let datasets = database.map { DatasetService(database: $0, features: features) }
        let bases = database.map {
            BasisService(database: $0, features: features, multispectrum: configuration.multispectrumFitLimits)
        }
        if let bases {
            features.fittedBases.withLock { $0 = { id throws(ServiceError) in try bases.expansionBasis(id) } }
        }
        self.features = features
        self.datasets = datasets
        self.bases = bases
        jobs = database.map { database in
            JobService(
                database: database, features: features, settings: configuration.jobSettings,
                datasetStructures: datasets.map { datasets in
                    { id, version throws(ServiceError) in try datasets.storedStructures(datasetID: id, upToVersion: version) }
                })
        }
        authorization = Authorization(
            writeTokens: Authorization.tokens(configuration.writeTokens),
            readTokens: Authorization.tokens(configuration.readTokens))
    }

    /// Live server figures for /metrics (set once the server exists).
    public let serverStats = ServerStatsSource()

    public func handle(_ request: HTTPRequest) -> HTTPResponse {
        let start = SystemClock.monotonic()
        let (route, response) = route(request)
        metrics.record(route: route, status: response.status, seconds: SystemClock.monotonic() - start)
        return response
    }

    /// Every route the service answers: path template and methods (HEAD
    /// goes with GET). openapi.yaml must list exactly these (a test checks).
    public static let routes: [(path: String, methods: [String])] = [
        ("/health", ["GET"]),
        ("/metrics", ["GET"]),
        ("/v1/features", ["POST"]),
        ("/v1/datasets", ["POST"]),
        ("/v1/datasets/{id}", ["GET"]),
        ("/v1/datasets/{id}/structures", ["POST"]),
        ("/v1/bases", ["GET", "POST"]),
        ("/v1/bases/{id}", ["GET", "DELETE"]),
        ("/v1/jobs", ["GET", "POST"]),
        ("/v1/jobs/{id}", ["GET", "DELETE"]),
        ("/v1/jobs/{id}/result", ["GET"]),
    ]

    /// The template matching a path and its `{id}` segment, if any.
    static func match(_ path: String) -> (template: String, id: String?)? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        for route in routes {
            let template = route.path.split(separator: "/", omittingEmptySubsequences: false)
            guard template.count == parts.count else { continue }
            var id: String? = nil
            var matches = true
            for (t, p) in zip(template, parts) {
                if t == "{id}" {
                    guard !p.isEmpty, p.count <= 128 else {
                        matches = false
                        break
                    }
                    id = String(p)
                } else if t != p {
                    matches = false
                    break
                }
            }
            if matches { return (route.path, id) }
        }
        return nil
    }

    /// The route template a request matches (for metrics) and its response.
    func route(_ request: HTTPRequest) -> (String, HTTPResponse) {
        let method = request.method == "HEAD" ? "GET" : request.method
        guard let (template, id) = Self.match(request.path),
            let route = Self.routes.first(where: { $0.path == template })
        else {
            return ("other", Self.problem(ServiceError(.notFound, "no route \(request.path.prefix(200))")))
        }
        guard route.methods.contains(method) else {
            return (template, Self.methodNotAllowed(route.methods.contains("GET") ? route.methods + ["HEAD"] : route.methods))
        }
        switch authorization.decide(
            authorization.access(method: method, template: template),
            authorization: request.headers["Authorization"])
        {
        case .allowed: break
        case .unauthenticated:
            var r = Self.problem(
                status: 401, title: "Unauthorized", detail: "this route needs a bearer token (Authorization: Bearer …)")
            r.headers["WWW-Authenticate"] = "Bearer realm=\"soapd\""
            return (template, r)
        case .forbidden:
            var r = Self.problem(status: 403, title: "Forbidden", detail: "this route changes state and needs a write token")
            r.headers["WWW-Authenticate"] = "Bearer realm=\"soapd\", error=\"insufficient_scope\""
            return (template, r)
        }
        switch (template, method) {
        case ("/health", _):
            return (
                template,
                HTTPResponse(
                    status: 200, contentType: "application/json",
                    body: Array("{\"status\":\"ok\",\"version\":\"\(Self.version)\"}".utf8))
            )
        case ("/metrics", _):
            return (
                template,
                HTTPResponse(
                    status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8",
                    body: Array(renderMetrics().utf8))
            )
        case ("/v1/features", _):
            return (template, postFeatures(request))
        case ("/v1/jobs", _), ("/v1/jobs/{id}", _), ("/v1/jobs/{id}/result", _):
            return (template, jobRoute(template, method: method, id: id ?? "", request: request))
        default:
            return (template, basisRoute(template, method: method, id: id ?? "", request: request))
        }
    }

    /// Datasets and bases (thesis chapter 2), JSON in and out.
    func basisRoute(_ template: String, method: String, id: String, request: HTTPRequest) -> HTTPResponse {
        guard let bases, let datasets else {
            return Self.problem(ServiceError(.unavailable, "this service runs without a database"))
        }
        if method == "POST", let problem = Self.requireJSONBody(request) { return problem }
        do throws(ServiceError) {
            switch (template, method) {
            case ("/v1/datasets", "POST"):
                let body = try datasets.createDataset(request.body)
                var r = HTTPResponse(status: 201, contentType: "application/json", body: body)
                if case .object(let o)? = try? JSON.parse(body), let newID = o["id"]?.stringValue {
                    r.headers["Location"] = "/v1/datasets/" + newID
                }
                return r
            case ("/v1/datasets/{id}", _):
                let matrices = request.query["matrices"] ?? "false"
                guard matrices == "true" || matrices == "false" else {
                    throw ServiceError(.invalid, "query parameter matrices must be true or false")
                }
                return json(200, try datasets.dataset(id, matrices: matrices == "true"))
            case ("/v1/datasets/{id}/structures", _):
                return json(
                    200,
                    try datasets.addStructures(
                        datasetID: id, body: request.body,
                        idempotencyKey: try Self.idempotencyKey(request)))
            case ("/v1/bases", "POST"):
                let (body, created, newID) = try bases.fit(request.body)
                var r = json(created ? 201 : 200, body)
                r.headers["Location"] = "/v1/bases/" + newID
                return r
            case ("/v1/bases", _):
                let (limit, offset) = try Self.page(request)
                return json(200, try bases.listBases(limit: limit, offset: offset))
            case ("/v1/bases/{id}", "DELETE"):
                try bases.deleteBasis(id)
                return HTTPResponse(status: 204)
            default:
                var points: Int? = nil
                if let p = request.query["radial_functions"] {
                    guard let n = Int(p), (2...2000).contains(n) else {
                        throw ServiceError(.invalid, "radial_functions must be a number of grid points from 2 to 2000")
                    }
                    points = n
                }
                return json(200, try bases.basis(id, radialPoints: points))
            }
        } catch {
            return Self.problem(error)
        }
    }

    /// Batch jobs: submit, progress, results streamed from disk, cancel.
    func jobRoute(_ template: String, method: String, id: String, request: HTTPRequest) -> HTTPResponse {
        guard let jobs else {
            return Self.problem(ServiceError(.unavailable, "this service runs without a database"))
        }
        if method == "POST", let problem = Self.requireJSONBody(request) { return problem }
        do throws(ServiceError) {
            switch (template, method) {
            case ("/v1/jobs", "POST"):
                let (body, _, newID) = try jobs.submit(request.body, idempotencyKey: try Self.idempotencyKey(request))
                var r = json(202, body)
                r.headers["Location"] = "/v1/jobs/" + newID
                return r
            case ("/v1/jobs", _):
                let (limit, offset) = try Self.page(request)
                var state: JobState? = nil
                if let s = request.query["state"] {
                    guard let parsed = JobState(rawValue: s) else {
                        throw ServiceError(.invalid, "state must be queued, running, succeeded, failed or cancelled")
                    }
                    state = parsed
                }
                return json(200, try jobs.list(limit: limit, offset: offset, state: state))
            case ("/v1/jobs/{id}", "DELETE"):
                if let body = try jobs.delete(id) { return json(200, body) }
                return HTTPResponse(status: 204)
            case ("/v1/jobs/{id}", _):
                var wait = 0.0
                if let w = request.query["wait"] {
                    guard let seconds = Double(w), seconds >= 0, seconds <= 60 else {
                        throw ServiceError(.invalid, "wait must be a number of seconds from 0 to 60")
                    }
                    wait = seconds
                }
                return json(200, try jobs.status(id, waitSeconds: wait))
            default:
                return try jobResult(jobs, id: id, request: request)
            }
        } catch {
            return Self.problem(error)
        }
    }

    /// GET /v1/jobs/{id}/result: .npz (sized, from the chunk files), the JSON document or
    /// JSON lines (chunked); one chunk in memory at a time.
    func jobResult(_ jobs: JobService, id: String, request: HTTPRequest) throws(ServiceError) -> HTTPResponse {
        let accept = request.headers["Accept"] ?? ""
        let wantsLines = accept.contains("application/x-ndjson") || accept.contains("application/jsonl")
        let format: FeatureFormat?
        if wantsLines {
            format = nil
        } else {
            guard let f = Self.negotiate(request.headers["Accept"], offered: [.json, .npz]) else {
                throw ServiceError(.notAcceptable, "job results are application/json, application/x-ndjson or application/x-npz")
            }
            format = f
        }
        let result = try jobs.result(id)
        switch format {
        case .npz?:
            let archive = result.archive()
            return HTTPResponse(
                contentType: FeatureFormat.npz.rawValue,
                body: .sized(length: archive.npzSize) { writer in
                    try archive.writeNPZ { try writer.write($0) }
                })
        case nil:
            return HTTPResponse(
                contentType: "application/x-ndjson",
                body: .stream { writer in
                    try result.writeJSONLines { try writer.write($0) }
                })
        default:
            return HTTPResponse(
                contentType: "application/json",
                body: .stream { writer in
                    try result.writeJSON { try writer.write($0) }
                })
        }
    }

    /// The Idempotency-Key header, if sent: 1 to 255 characters.
    static func idempotencyKey(_ request: HTTPRequest) throws(ServiceError) -> String? {
        let key = request.headers["Idempotency-Key"]
        if let key, key.isEmpty || key.count > 255 {
            throw ServiceError(.invalid, "Idempotency-Key must be 1 to 255 characters")
        }
        return key
    }

    /// `limit` (1…1000, default 100) and `offset` (≥ 0) of a listing.
    static func page(_ request: HTTPRequest) throws(ServiceError) -> (limit: Int, offset: Int) {
        let limit = request.query["limit"].map { Int($0) ?? -1 } ?? 100
        let offset = request.query["offset"].map { Int($0) ?? -1 } ?? 0
        guard (1...1000).contains(limit), offset >= 0 else {
            throw ServiceError(.invalid, "limit must be 1 to 1000 and offset non-negative")
        }
        return (limit, offset)
    }

    func json(_ status: Int, _ body: [UInt8]) -> HTTPResponse {
        HTTPResponse(status: status, contentType: "application/json", body: body)
    }

    func postFeatures(_ request: HTTPRequest) -> HTTPResponse {
        if let problem = Self.requireJSONBody(request) { return problem }
        let format: FeatureFormat
        switch Self.negotiate(request.headers["Accept"], offered: [.json, .npz, .npy]) {
        case .some(let f): format = f
        case .none:
            return Self.problem(
                ServiceError(
                    .notAcceptable,
                    "this route answers application/json, application/x-npz or application/x-npy"))
        }
        do {
            let prepared = try features.prepare(request.body)
            let gzip = request.acceptsGzip
            if format != .json && !gzip && prepared.request.level == .atom && !prepared.request.gradients {
                return try streamFeatures(prepared, format: format)
            }
            let matrix = try features.compute(prepared, textOutput: format == .json)
            metrics.recordFeaturized(atoms: prepared.atomCount, structures: prepared.request.structures.count)
            // Binary answers go out straight from the arrays unless the client wants them gzipped.
            if !gzip,
                let binary = FeatureResponseEncoder.binaryWriter(matrix, format: format, basisID: prepared.basisID)
            {
                return HTTPResponse(
                    contentType: format.rawValue,
                    body: .sized(length: binary.size) { writer in
                        // The budget's share is returned once the bytes are sent.
                        try withExtendedLifetime(matrix) { try binary.write { try writer.write($0) } }
                    })
            }
            let body = FeatureResponseEncoder.encode(
                matrix, format: format, basisID: prepared.basisID,
                threads: features.settings.threads)
            return HTTPResponse(status: 200, contentType: format.rawValue, body: body)
        } catch {
            return Self.problem(error)
        }
    }

    /// Per-atom values in a binary format: the computation runs on other threads while this
    /// one sends each row once it is final, so sending overlaps computing. Every check on the
    /// input happens before the values exist, so a refusal is still a problem document; only
    /// a failure midway (the time limit) cuts the answer short.
    func streamFeatures(_ prepared: PreparedFeaturization, format: FeatureFormat) throws(ServiceError) -> HTTPResponse {
        let progress = RowProgress()
        let features = self.features
        DispatchQueue.global().async {
            do { progress.finish(try features.compute(prepared, progress: progress)) } catch { progress.fail(error) }
        }
        if case .failed(let error) = progress.waitForStart() {
            throw error as? ServiceError ?? ServiceError(.internal, "\(error)")
        }
        metrics.recordFeaturized(atoms: prepared.atomCount, structures: prepared.request.structures.count)
        guard
            let binary = FeatureResponseEncoder.streamingWriter(
                progress, structures: prepared.request.structures,
                format: format, basisID: prepared.basisID)
        else {
            throw ServiceError(.internal, "no streaming writer for \(format.rawValue)")
        }
        return HTTPResponse(
            contentType: format.rawValue,
            body: .sized(length: binary.size) { writer in
                try binary.write { try writer.write($0) }
            })
    }

    func renderMetrics() -> String {
        let stats = serverStats.current()
        let cache = features.splineCache.statistics
        return metrics.render(
            gauges: [
                ("soapd_http_open_connections", "Open client connections.", Double(stats?.openConnections ?? 0)),
                ("soapd_queue_depth", "Requests waiting for a compute worker.", Double(stats?.queuedRequests ?? 0)),
                ("soapd_requests_running", "Requests being computed.", Double(stats?.runningRequests ?? 0)),
                ("soapd_spline_cache_entries", "Spline tables held in memory.", Double(cache.entries)),
            ],
            counters: [
                ("soapd_spline_cache_hits_total", "Spline table lookups served from the cache.", Double(cache.hits)),
                ("soapd_spline_cache_misses_total", "Spline tables built.", Double(cache.misses)),
                (
                    "soapd_http_rejected_requests_total", "Requests refused because the queue was full.",
                    Double(stats?.rejectedRequests ?? 0)
                ),
                (
                    "soapd_http_rejected_connections_total", "Connections refused at the connection limit.",
                    Double(stats?.rejectedConnections ?? 0)
                ),
            ])
    }

    // MARK: helpers shared by routes

    /// 415 unless the body is declared JSON (a missing Content-Type on an empty body is let through to 400/422).
    static func requireJSONBody(_ request: HTTPRequest) -> HTTPResponse? {
        let type = request.headers["Content-Type"].map { mediaType($0) } ?? ""
        if type == "application/json" || (type.isEmpty && request.body.isEmpty) { return nil }
        return problem(
            status: 415, title: "Unsupported media type",
            detail: "send the body as application/json (optionally with Content-Encoding: gzip)")
    }

    /// The lower-cased media type without parameters.
    static func mediaType(_ header: String) -> String {
        String(header.split(separator: ";", maxSplits: 1).first ?? "").trimmingSpaces().lowercased()
    }

    /// The offered format the Accept header prefers (by q, then by our order), or nil for 406.
    static func negotiate(_ accept: String?, offered: [FeatureFormat]) -> FeatureFormat? {
        guard let accept, !accept.trimmingSpaces().isEmpty else { return offered.first }
        var best: (FeatureFormat, Double, Int)? = nil
        for item in accept.split(separator: ",") {
            let parts = item.split(separator: ";")
            let type = String(parts.first ?? "").trimmingSpaces().lowercased()
            var q = 1.0
            for p in parts.dropFirst() {
                let kv = p.split(separator: "=", maxSplits: 1)
                if kv.count == 2, kv[0].trimmingSpaces().lowercased() == "q" { q = Double(kv[1].trimmingSpaces()) ?? 0 }
            }
            guard q > 0 else { continue }
            for (rank, format) in offered.enumerated() {
                let matches =
                    type == format.rawValue || type == "*/*" || (type == "application/*")
                    || (type == "application/octet-stream" && format == .npz)
                if matches, best == nil || q > best!.1 || (q == best!.1 && rank < best!.2) { best = (format, q, rank) }
            }
        }
        return best?.0
    }

    static func methodNotAllowed(_ allowed: [String]) -> HTTPResponse {
        var r = problem(status: 405, title: "Method not allowed", detail: "use " + allowed.joined(separator: " or "))
        r.headers["Allow"] = allowed.joined(separator: ", ")
        return r
    }

    static func problem(status: Int, title: String, detail: String) -> HTTPResponse {
        HTTPResponse.problem(status: status, title: title, detail: detail)
    }

    /// RFC 9457 document for a ServiceError; `pointer` names the field (JSON pointer).
    static func problem(_ error: ServiceError) -> HTTPResponse {
        var extra: [String: String] = [:]
        if !error.pointer.isEmpty || error.kind == .invalid || error.kind == .malformed { extra["pointer"] = error.pointer }
        var r = HTTPResponse.problem(status: error.status, title: error.title, detail: error.description, extra: extra)
        if error.kind == .unavailable { r.headers["Retry-After"] = "1" }
        return r
    }

}

/// Late-bound access to the server's load figures (the server is built after the application).
public final class ServerStatsSource: @unchecked Sendable {
    private var provider: (@Sendable () -> HTTPServerStats)?
    public init() {}
    public func set(_ provider: @escaping @Sendable () -> HTTPServerStats) { self.provider = provider }
    func current() -> HTTPServerStats? { provider?() }
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
