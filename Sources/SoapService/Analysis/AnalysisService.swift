import FastJSON
import SoapCore

/// The analysis routes: which samples or features to keep (FPS, CUR) and how two feature
/// spaces relate (GFRE, GFRD), on feature matrices given or computed by the feature service.
/// Bounded by `analysis_max_values` (one matrix), `memory_budget_bytes` (its working copies)
/// and `compute_timeout_seconds`.
public final class AnalysisService: Sendable {
    let features: FeatureService
    let datasets: DatasetService?
    let limits: AnalysisLimits

    public init(features: FeatureService, datasets: DatasetService?, limits: AnalysisLimits = .init()) {
        self.features = features
        self.datasets = datasets
        self.limits = limits
    }

    /// POST /v1/analysis/select.
    public func select(_ body: [UInt8]) throws(ServiceError) -> [UInt8] {
        let request = try AnalysisRequestDecoding.selection(
            try features.parse(body), limits: features.settings.requestLimits, maxValues: limits.maxValues)
        let start = SystemClock.monotonic()
        var matrix: DenseMatrix
        switch request.source {
        case .values(let m): matrix = m
        case .features(let f): matrix = try compute(f, at: "/features/descriptor")
        }
        // FPS keeps the matrix and its distances; CUR a copy and its SVD's factors.
        let working = try reserveWorkingMemory(values: (request.method == .fps ? 2 : 4) * matrix.values.count)
        defer { withExtendedLifetime(working) {} }
        if !request.samples { matrix = matrix.transposed }
        let available = matrix.rows
        guard request.count <= available else {
            throw ServiceError(
                .invalid, pointer: "/n",
                "n is \(request.count) but the matrix has \(available) \(request.samples ? "rows (samples)" : "columns (features)")"
            )
        }
        let timeout = limits.computeTimeoutSeconds
        let stop = { SystemClock.monotonic() - start > timeout }
        let initial = request.initial ?? [0]
        if request.method == .fps, let bad = initial.firstIndex(where: { $0 >= available }) {
            let pointer = request.initial.map { $0.count == 1 ? "/initial" : "/initial/\(bad)" } ?? "/initial"
            throw ServiceError(.invalid, pointer: pointer, "index \(initial[bad]) is beyond the \(available) to choose from")
        }
        let indices: [Int]
        let values: [Double]
        do throws(AnalysisError) {
            switch request.method {
            case .fps:
                (indices, values) = try FarthestPointSampling.select(
                    rows: matrix, count: request.count, initial: initial, shouldStop: stop)
            case .cur:
                (indices, values) = try CURSelection.select(
                    matrix, axis: .rows, count: request.count, shouldStop: stop)
            }
        } catch {
            throw Self.serviceError(error, timeout: timeout)
        }
        var w = JSONWriter(capacity: 64 + 40 * request.count)
        w.beginObject()
        w.key("indices")
        w.intArray(indices)
        // FPS: each pick's squared distance to the earlier ones (null for the initial ones);
        // CUR: the leverage score that won each pick.
        w.key(request.method == .fps ? "hausdorff" : "score")
        w.beginArray()
        for d in values { if d.isFinite { w.number(d) } else { w.null() } }
        w.endArray()
        w.endObject()
        return w.bytes
    }

    /// POST /v1/analysis/gfre: GFRE and GFRD of b from a, and the reverse.
    public func reconstruction(_ body: [UInt8]) throws(ServiceError) -> [UInt8] {
        let request = try AnalysisRequestDecoding.reconstruction(try features.parse(body))
        let structures: JSONValue
        let structuresPointer: String
        switch request.structures {
        case .inline(let s): (structures, structuresPointer) = (s, "/structures")
        case .dataset(let id):
            guard let datasets else {
                throw ServiceError(.unavailable, "this service runs without a database")
            }
            structures = .array(try datasets.storedStructures(datasetID: id, upToVersion: nil).0)
            structuresPointer = "/dataset_id"
        }
        func descriptor(_ d: JSONValue, _ name: String) throws(ServiceError) -> FeatureRequest {
            let body = JSONValue.object(
                JSONObject(uniqueKeysWithValues: [("structures", structures), ("descriptor", d), ("per", request.per)]))
            do { return try FeatureRequestDecoder(limits: features.settings.requestLimits).decode(body) } catch {
                var pointer = error.pointer
                if pointer.hasPrefix("/descriptor") { pointer = name + pointer.dropFirst("/descriptor".count) }
                if pointer.hasPrefix("/structures") {
                    pointer = structuresPointer + (request.structures.isInline ? pointer.dropFirst("/structures".count) : "")
                }
                throw ServiceError(error.kind, pointer: pointer, error.message)
            }
        }
        let start = SystemClock.monotonic()
        let a = try compute(try descriptor(request.a, "/a"), at: "/a")
        let b = try compute(try descriptor(request.b, "/b"), at: "/b")
        // Scaled train and test copies of both, the ridge's folds and factors, the Procrustes
        // products: a few copies of the two matrices at once.
        let working = try reserveWorkingMemory(values: 6 * (a.values.count + b.values.count))
        defer { withExtendedLifetime(working) {} }
        let timeout = limits.computeTimeoutSeconds
        let stop = { SystemClock.monotonic() - start > timeout }
        func measure(_ x: DenseMatrix, _ y: DenseMatrix, _ xName: String, _ yName: String) throws(ServiceError)
            -> GlobalReconstruction.Result
        {
            do { return try GlobalReconstruction.measure(source: x, target: y, shouldStop: stop) } catch {
                switch error {
                case .stopped:
                    throw Self.serviceError(.stopped, timeout: timeout)
                case .tooFewSamples(let n):
                    throw ServiceError(
                        .invalid, pointer: structuresPointer,
                        "\(n) samples; the measures need at least 4 (two halves of two folds)")
                case .constant(let source):
                    throw ServiceError(
                        .invalid, pointer: source ? xName : yName, "these features do not vary over the train samples")
                case .decomposition:
                    throw ServiceError(.internal, "singular value decomposition failed")
                }
            }
        }
        let forward = try measure(a, b, "/a", "/b")
        let reverse = try measure(b, a, "/b", "/a")
        var w = JSONWriter(capacity: 256)
        w.beginObject()
        for (key, value) in [
            ("gfre", forward.gfre), ("gfrd", forward.gfrd), ("gfre_reverse", reverse.gfre), ("gfrd_reverse", reverse.gfrd),
        ] {
            w.key(key)
            w.number(value)
        }
        w.key("samples")
        w.integer(a.rows)
        w.key("features")
        w.beginObject()
        w.key("a")
        w.integer(a.columns)
        w.key("b")
        w.integer(b.columns)
        w.endObject()
        w.endObject()
        return w.bytes
    }

    /// The analysis's own working memory (copies, splits, decompositions) held in the
    /// service's memory budget while it runs, as a feature output is: above the whole budget
    /// a 413, beside other work that holds it now a 503 (retry).
    func reserveWorkingMemory(values: Int) throws(ServiceError) -> MemoryReservation? {
        guard let budget = features.memoryBudget else { return nil }
        let bytes = values * MemoryLayout<Double>.size
        guard bytes <= budget.limit else {
            throw ServiceError(
                .tooLarge,
                "the analysis needs about \(bytes) bytes of working memory, above the memory budget of \(budget.limit) bytes "
                    + "(memory_budget_bytes); use fewer samples or features")
        }
        guard let reservation = budget.reserve(bytes) else {
            throw ServiceError(
                .unavailable,
                "the analysis needs about \(bytes) bytes of working memory and only \(budget.available) are free in the "
                    + "memory budget while other requests run; retry shortly")
        }
        return reservation
    }

    /// A feature request's values as a matrix, within `analysis_max_values`.
    func compute(_ request: FeatureRequest, at pointer: String) throws(ServiceError) -> DenseMatrix {
        let prepared: PreparedFeaturization
        do { prepared = try features.prepare(request) } catch {
            var e = error
            if e.pointer.hasPrefix("/descriptor") { e.pointer = pointer + e.pointer.dropFirst("/descriptor".count) }
            throw e
        }
        let output = try features.compute(prepared)
        guard output.rowCount * output.columnCount <= limits.maxValues else {
            throw ServiceError(
                .tooLarge, pointer: pointer,
                "\(output.rowCount) × \(output.columnCount) features, above the limit of \(limits.maxValues) (analysis_max_values)"
            )
        }
        guard output.rowCount > 0, output.columnCount > 0 else {
            throw ServiceError(.invalid, pointer: pointer, "the feature matrix is empty")
        }
        return DenseMatrix(rows: output.rowCount, columns: output.columnCount, values: output.values)
    }

    static func serviceError(_ error: AnalysisError, timeout: Double) -> ServiceError {
        switch error {
        case .stopped: return ServiceError(.timeout, "the analysis took longer than \(timeout) s and was stopped")
        case .decomposition: return ServiceError(.internal, "singular value decomposition failed")
        }
    }
}

extension ReconstructionRequest.Structures {
    var isInline: Bool { if case .inline = self { return true } else { return false } }
}
