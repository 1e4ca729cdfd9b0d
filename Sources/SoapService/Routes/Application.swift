import Dispatch
import FastJSON
import SoapCore
import SoapHTTP
import SoapStorage
import Synchronization

/// Wires HTTP routes to the featurization service. Knows the routes (`routeTable`) and
/// their media types; the HTTP module knows nothing of chemistry and this type nothing of
/// sockets. Handlers live next to their kin (Routes/*Handlers.swift); each answers with an
/// HTTPResponse, typed `ServiceError`s becoming problem+json documents at this edge.
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
    /// Selection and reconstruction measures.
    public let analysis: AnalysisService
    public let authorization: Authorization
    /// The routes this application answers (`Application.routeTable` unless a test gives another).
    let routeTable: RouteTable

    public convenience init(configuration: ServiceConfiguration, database: Database? = nil) {
        self.init(configuration: configuration, database: database, routes: Application.routeTable)
    }

    init(configuration: ServiceConfiguration, database: Database?, routes: RouteTable) {
        self.configuration = configuration
        routeTable = routes
        let features = FeatureService(settings: configuration.featureSettings)
        let datasets = database.map { DatasetService(database: $0, features: features) }
        let bases = database.map {
            BasisService(
                database: $0, features: features, multispectrum: configuration.multispectrumFitLimits,
                peers: configuration.peerSettings)
        }
        if let bases {
            features.fittedBases.withLock { $0 = { id throws(ServiceError) in try bases.expansionBasis(id) } }
        }
        self.features = features
        self.datasets = datasets
        analysis = AnalysisService(features: features, datasets: datasets, limits: configuration.analysisLimits)
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

    /// Set on SIGTERM: /ready answers 503 from then on.
    public let draining = Atomic<Bool>(false)

    /// Live server figures for /metrics (set once the server exists).
    public let serverStats = ServerStatsSource()

    public func handle(_ request: HTTPRequest) -> HTTPResponse {
        let start = SystemClock.monotonic()
        let (route, response) = route(request)
        metrics.record(route: route, status: response.status, seconds: SystemClock.monotonic() - start)
        return response
    }

    /// The route template a request matches (for metrics; "other" when none) and its
    /// response: 404 for a path no template matches, 405 (with `Allow`) for a method the
    /// template's rows lack, 401/403 when the row's permission is not met, else the row's
    /// own handler. No other handler can answer.
    func route(_ request: HTTPRequest) -> (String, HTTPResponse) {
        let (route, id): (Route, String)
        switch routeTable.resolve(method: request.method, path: request.path) {
        case .notFound:
            return ("other", Self.problem(ServiceError(.notFound, "no route \(request.path.prefix(200))")))
        case .methodNotAllowed(let template, let allow):
            return (template, Self.methodNotAllowed(allow))
        case .matched(let matched, let matchedID):
            (route, id) = (matched, matchedID)
        }
        if let login = tokenLogin(request, template: route.template) { return (route.template, login) }
        switch authorization.decide(
            authorization.access(required: route.permission),
            authorization: request.headers["Authorization"] ?? Self.cookieAuthorization(request, permission: route.permission))
        {
        case .allowed: break
        case .unauthenticated:
            var r = Self.problem(
                status: 401, title: "Unauthorized", detail: "this route needs a bearer token (Authorization: Bearer …)")
            r.headers["WWW-Authenticate"] = "Bearer realm=\"soapd\""
            return (route.template, r)
        case .forbidden:
            var r = Self.problem(status: 403, title: "Forbidden", detail: "this route changes state and needs a write token")
            r.headers["WWW-Authenticate"] = "Bearer realm=\"soapd\", error=\"insufficient_scope\""
            return (route.template, r)
        }
        return (route.template, route.handler(self, request, id))
    }
}
