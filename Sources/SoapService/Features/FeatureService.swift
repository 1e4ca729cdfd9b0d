import FastJSON
import SoapCore
import Synchronization

/// The one path from request bytes to features, shared by the CLI, the HTTP
/// route and batch jobs; only the ends differ.
public final class FeatureService: Sendable {
    public let settings: FeatureServiceSettings
    public let splineCache: SplineCache
    /// Shared by all interactive computations of this service.
    public let memoryBudget: MemoryBudget?

    public init(settings: FeatureServiceSettings = .init()) {
        self.settings = settings
        splineCache = SplineCache(capacity: settings.splineCacheEntries)
        memoryBudget = settings.memoryBudgetBytes.map { MemoryBudget(limit: $0) }
    }

    public func parse(_ body: [UInt8]) throws(ServiceError) -> JSONValue {
        do {
            return try JSON.parse(body, limits: settings.jsonLimits)
        } catch {
            // A configured limit (nesting depth, string length…) is a size problem, the rest syntax.
            throw ServiceError(error.isLimit ? .tooLarge : .malformed, "invalid JSON: \(error)")
        }
    }

    public func prepare(_ body: [UInt8]) throws(ServiceError) -> PreparedFeaturization {
        let request = try FeatureRequestDecoder(limits: settings.requestLimits).decode(try parse(body))
        return try prepare(request)
    }

    /// Resolves `basis_id` to a fitted basis (set when storage is available).
    public let fittedBases = Mutex<(@Sendable (String) throws(ServiceError) -> FittedBasis)?>(nil)

    public func prepare(_ request: FeatureRequest) throws(ServiceError) -> PreparedFeaturization {
        guard let hypers = request.hypers else {
            let id = request.basisID ?? ""
            guard let resolve = fittedBases.withLock({ $0 }) else {
                throw ServiceError(.notFound, pointer: "/descriptor/basis_id", "no basis store is configured")
            }
            let loaded = try resolve(id)
            let fitted = loaded.fitted
            if !request.species.isEmpty && request.species != fitted.species {
                throw ServiceError(
                    .invalid, pointer: "/descriptor/species",
                    "the basis was fitted for species \(fitted.species); omit species or give the same")
            }
            var resolved = request
            resolved.species = fitted.species
            if request.type == .multispectrum { resolved.options.contraction = loaded.multispectrum }
            return PreparedFeaturization(request: resolved, basis: loaded.basis, basisID: id)
        }
        return PreparedFeaturization(
            request: request, basis: try primitiveBasis(hypers: hypers, species: request.species),
            basisID: nil)
    }

    /// The primitive GTO basis, its spline table from the cache.
    public func primitiveBasis(hypers: SoapHypers, species: [Int]) throws(ServiceError) -> ExpansionBasis {
        let table: RadialSplineTable
        do {
            table = try splineCache.table(for: hypers.radialTableKey) { try ExpansionBasis.radialTable(for: hypers) }
        } catch {
            throw ServiceError(
                .invalid, pointer: "/descriptor/hypers/basis/radial",
                "no usable radial basis for these hyper-parameters (\(error)); reduce max_radial or widen the density")
        }
        return ExpansionBasis.primitive(hypers: hypers, species: species, table: table)
    }

    public func featurizer(threads: Int? = nil) -> Featurizer {
        Featurizer(threads: threads ?? settings.threads, limits: settings.featurizationLimits)
    }

    /// A featurizer for work a request waits on: bounded by `compute_timeout_seconds`
    /// (jobs are bounded per chunk instead and use `featurizer`).
    public func interactiveFeaturizer(threads: Int? = nil) -> Featurizer {
        var featurizer = featurizer(threads: threads)
        featurizer.timeLimit = settings.computeTimeoutSeconds
        return featurizer
    }

    /// `textOutput`: the answer will be JSON text (about 3 bytes of text per byte of double),
    /// so that much more is reserved in the memory budget.
    public func compute(
        _ prepared: PreparedFeaturization, threads: Int? = nil,
        textOutput: Bool = false, progress: RowProgress? = nil
    ) throws(ServiceError) -> FeatureMatrix {
        do {
            var featurizer = interactiveFeaturizer(threads: threads)
            featurizer.memoryBudget = memoryBudget
            featurizer.reserveFactor = textOutput ? 4 : 1
            return try featurizer.compute(
                prepared.request.structures, type: prepared.request.type, basis: prepared.basis,
                level: prepared.request.level, gradients: prepared.request.gradients,
                progress: progress, options: prepared.options, strain: prepared.request.strain)
        } catch {
            throw ServiceError(error)
        }
    }

    /// Request bytes → response bytes in the asked format.
    public func featurize(_ body: [UInt8], format: FeatureFormat, threads: Int? = nil) throws(ServiceError) -> [UInt8] {
        let prepared = try prepare(body)
        let features = try compute(prepared, threads: threads)
        return FeatureResponseEncoder.encode(
            features, format: format, basisID: prepared.basisID,
            threads: threads ?? settings.threads)
    }
}
