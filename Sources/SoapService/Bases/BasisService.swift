import FastJSON
import SoapCore
import SoapStorage
import Synchronization

/// Datasets (streamed covariance statistics) and fitted optimal bases,
/// persisted in SQLite; thesis chapter 2. Routes and the CLI call this.
public final class BasisService: Sendable {
    let datasets: DatasetStore
    let bases: BasisStore
    let features: FeatureService
    /// Fitted bases ready to featurize with, by id (bounded).
    private let loaded = Mutex<[String: FittedBasis]>([:])
    /// Limits of the multispectrum contraction fits (from Config).
    let multispectrumLimits: MultispectrumFitLimits

    public init(database: Database, features: FeatureService, multispectrum: MultispectrumFitLimits = .init()) {
        datasets = DatasetStore(database: database)
        bases = BasisStore(database: database)
        self.features = features
        multispectrumLimits = multispectrum
    }

    // MARK: datasets

    /// POST /v1/datasets: an empty accumulator for primitive hypers and species.
    public func createDataset(_ body: [UInt8]) throws(ServiceError) -> [UInt8] {
        let (hypers, species, keep) = try Self.decodeDataset(try features.parse(body), limits: features.settings.requestLimits)
        let empty = DatasetStatistics(species: species, maxAngular: hypers.maxAngular, radialCount: hypers.radialCount)
        let record = try storage {
            try datasets.create(
                DatasetRecord(
                    hypersJSON: HypersEncoder.json(hypers), speciesJSON: Self.intArray(species),
                    centersJSON: Self.centersJSON(empty), statistics: empty.gram,
                    keepStructures: keep))
        }
        return datasetJSON(record, matrices: false)
    }

    /// POST /v1/datasets/{id}/structures: adds a batch's statistics (once per Idempotency-Key).
    public func addStructures(datasetID: String, body: [UInt8], idempotencyKey: String?) throws(ServiceError) -> [UInt8] {
        guard let current = try storage({ try datasets.get(datasetID) }) else {
            throw ServiceError(.notFound, "no dataset \(datasetID.prefix(80))")
        }
        let (hypers, species) = try Self.definition(current)
        let (structures, targets, structuresJSON) = try Self.decodeBatch(
            try features.parse(body), limits: features.settings.requestLimits)
        let basis = try features.primitiveBasis(hypers: hypers, species: species)
        let batch: DatasetStatistics
        let featurizer = features.interactiveFeaturizer()
        do { batch = try featurizer.statistics(structures, basis: basis, targets: targets) } catch { throw ServiceError(error) }
        let outcome = try storage {
            try datasets.addBatch(
                datasetID: datasetID, idempotencyKey: idempotencyKey, structures: structures.count,
                structuresBlob: current.keepStructures ? structuresJSON.map(JSON.serialize) : nil
            ) { record in
                guard var total = Self.statistics(record, hypers: hypers, species: species) else {
                    throw ServiceError(.internal, "stored statistics of \(datasetID) are damaged")
                }
                total.add(batch)
                var updated = record
                updated.statistics = total.gram
                updated.neighbors = total.neighbors
                updated.centersJSON = Self.centersJSON(total)
                updated.targets = Self.targetsBlob(total)
                return updated
            }
        }
        return datasetJSON(outcome.record, matrices: false, duplicate: outcome.isDuplicate)
    }

    /// The structures a dataset kept, in the order they were added, up to `version` (the
    /// current one when nil); and that version.
    public func storedStructures(datasetID: String, upToVersion version: Int?) throws(ServiceError) -> ([JSONValue], Int) {
        guard let record = try storage({ try datasets.get(datasetID) }) else {
            throw ServiceError(.invalid, pointer: "/dataset_id", "no dataset \(datasetID.prefix(80))")
        }
        guard record.keepStructures else {
            throw ServiceError(
                .invalid, pointer: "/dataset_id",
                "dataset \(datasetID) keeps only statistics; create it with \"keep_structures\": true to run jobs over it")
        }
        let pinned = version ?? record.version
        guard pinned <= record.version else {
            throw ServiceError(.invalid, pointer: "/dataset_version", "the dataset is at version \(record.version)")
        }
        var items: [JSONValue] = []
        for blob in try storage({ try datasets.storedStructures(datasetID: datasetID, upToVersion: pinned) }) {
            guard case .array(let batch)? = try? JSON.parse(blob) else {
                throw ServiceError(.internal, "stored structures of \(datasetID) are damaged")
            }
            items += batch
        }
        return (items, pinned)
    }

    public func dataset(_ id: String, matrices: Bool) throws(ServiceError) -> [UInt8] {
        guard let record = try storage({ try datasets.get(id) }) else {
            throw ServiceError(.notFound, "no dataset \(id.prefix(80))")
        }
        return datasetJSON(record, matrices: matrices)
    }

    // MARK: bases

    /// POST /v1/bases: fits, stores under a content hash, returns the summary (created or already there).
    public func fit(_ body: [UInt8]) throws(ServiceError) -> (json: [UInt8], created: Bool, id: String) {
        let parsed = try features.parse(body)
        let request = try Self.decodeFit(
            parsed, limits: features.settings.requestLimits, multispectrumLimits: multispectrumLimits)
        let (datasetID, multispectrum) = (request.datasetID, request.multispectrum)
        guard let record = try storage({ try datasets.get(datasetID) }) else {
            throw ServiceError(.invalid, pointer: "/dataset_id", "no dataset \(datasetID.prefix(80))")
        }
        if let multispectrum, multispectrum.structures == nil, !record.keepStructures {
            throw ServiceError(
                .invalid, pointer: "/multispectrum/structures",
                "required: dataset \(datasetID) keeps only statistics (create it with \"keep_structures\": true to fit on its structures)"
            )
        }
        let (hypers, species) = try Self.definition(record)
        guard let statistics = Self.statistics(record, hypers: hypers, species: species) else {
            throw ServiceError(.internal, "stored statistics of \(datasetID) are damaged")
        }
        let fitted: OptimalBasis
        do {
            fitted = try OptimalBasis.fit(
                statistics, hypers: hypers, contraction: request.contraction,
                centerSpecific: request.centerSpecific, method: request.method, q: request.q,
                residualVariance: request.threshold)
        } catch {
            switch error {
            case .emptyDataset: throw ServiceError(.invalid, pointer: "/dataset_id", "the dataset has no structures yet")
            case .tooManyFunctions: throw ServiceError(.invalid, pointer: "/q_max", error.description)
            case .invalidThreshold: throw ServiceError(.invalid, pointer: "/residual_variance", error.description)
            case .invalidGamma: throw ServiceError(.invalid, pointer: "/gamma", error.description)
            case .noTargets: throw ServiceError(.invalid, pointer: "/method", error.description)
            case .noCenters: throw ServiceError(.invalid, pointer: "/center_specific", error.description)
            case .decomposition: throw ServiceError(.internal, error.description)
            }
        }
        // Identity: the primitive hypers, species, options and the statistics themselves.
        var hash = SHA256()
        hash.update(record.hypersJSON)
        hash.update(record.speciesJSON)
        let options = Self.optionsJSON(
            method: request.method, contraction: request.contraction,
            centerSpecific: request.centerSpecific, q: fitted.q, threshold: request.threshold)
        hash.update(options)
        hash.update(record.statistics)
        if case .pcovr = request.method, let targets = record.targets { hash.update(targets) }
        hash.update("\(statistics.totalCenters)|\(statistics.neighbors)")
        if let multispectrum {
            // The contraction depends on its options and on every number of its structures
            // (those of the request, or the dataset's kept ones up to the version fitted).
            hash.update("|multispectrum|\(multispectrum.correlationOrder)|\(multispectrum.maxFeatures)|")
            if let structures = multispectrum.structures {
                for s in structures { hash.update(Self.structureBytes(s)) }
            } else {
                hash.update("|dataset-structures|\(record.id)|\(record.version)")
            }
        }
        let id = SHA256.hex(hash.finalize())
        if let existing = try storage({ try bases.get(id) }) {
            return (Array(existing.summaryJSON.utf8), false, id)
        }
        let tables: [RadialSplineTable]
        do { tables = try fitted.splineTables() } catch { throw ServiceError(.internal, "spline tables failed: \(error)") }
        let basis = fitted.expansionBasis(tables: tables)
        var spectrumContraction: MultispectrumContraction? = nil
        var spectrumStructures = 0
        if let multispectrum {
            (spectrumContraction, spectrumStructures) = try fitMultispectrum(multispectrum, basis: basis, dataset: record)
        }
        let summary = summaryJSON(
            id: id, datasetID: datasetID, record: record, basis: fitted, options: options,
            multispectrum: spectrumContraction, multispectrumStructures: spectrumStructures)
        let payload = BasisCodec.encode(fitted, tables: tables, hypersJSON: record.hypersJSON, multispectrum: spectrumContraction)
        let created = try storage {
            try bases.put(BasisRecord(id: id, datasetID: datasetID, optionsJSON: options, summaryJSON: summary, payload: payload))
        }
        remember(id, FittedBasis(fitted: fitted, basis: basis, multispectrum: spectrumContraction))
        return (Array(summary.utf8), created, id)
    }

    /// GET /v1/bases/{id}, with the optimal radial functions on `points` radii if asked.
    public func basis(_ id: String, radialPoints: Int?) throws(ServiceError) -> [UInt8] {
        guard let record = try storage({ try bases.get(id) }) else { throw ServiceError(.notFound, "no basis \(id.prefix(80))") }
        let fitted = try load(record).fitted
        // The stored summary object, extended with the contraction (and the functions).
        var out = Array(Array(record.summaryJSON.utf8).dropLast())
        var projections = JSONWriter(capacity: 4096)
        projections.beginArray()
        for block in fitted.projections { projections.doubleArray(block) }
        projections.endArray()
        out += Array(",\"projections\":".utf8) + projections.bytes
        if let points = radialPoints {
            let (r, values) = (try? fitted.radialFunctions(points: points)) ?? ([], [])
            var radial = JSONWriter(capacity: 16 * (r.count + values.count) + 64)
            radial.beginObject()
            radial.key("layout")
            radial.string(fitted.centerSpecific ? "[center_type][species][l][q][r]" : "[species][l][q][r]")
            radial.key("r")
            radial.doubleArray(r)
            radial.key("values")
            radial.doubleArray(values)
            radial.endObject()
            out += Array(",\"radial_functions\":".utf8) + radial.bytes
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    public func listBases(limit: Int, offset: Int) throws(ServiceError) -> [UInt8] {
        let list = try storage { try bases.list(limit: limit, offset: offset) }
        var out = Array("{\"bases\":[".utf8)
        for (k, b) in list.enumerated() {
            if k > 0 { out.append(UInt8(ascii: ",")) }
            out += Array(b.summaryJSON.utf8)
        }
        out += Array("],\"limit\":\(limit),\"offset\":\(offset)}".utf8)
        return out
    }

    public func deleteBasis(_ id: String) throws(ServiceError) {
        guard try storage({ try bases.delete(id) }) else { throw ServiceError(.notFound, "no basis \(id.prefix(80))") }
        _ = loaded.withLock { $0.removeValue(forKey: id) }
    }

    /// The expansion basis of a stored fit (from memory, or its stored tables).
    public func expansionBasis(_ id: String) throws(ServiceError) -> FittedBasis {
        if let hit = loaded.withLock({ $0[id] }) { return hit }
        guard let record = try storage({ try bases.get(id) }) else {
            throw ServiceError(.notFound, pointer: "/descriptor/basis_id", "no basis \(id.prefix(80))")
        }
        return try load(record)
    }

    private func load(_ record: BasisRecord) throws(ServiceError) -> FittedBasis {
        if let hit = loaded.withLock({ $0[record.id] }) { return hit }
        guard let (fitted, tables, multispectrum) = BasisCodec.decode(record.payload) else {
            throw ServiceError(.internal, "stored basis \(record.id) is damaged")
        }
        let loadedBasis = FittedBasis(fitted: fitted, basis: fitted.expansionBasis(tables: tables), multispectrum: multispectrum)
        remember(record.id, loadedBasis)
        return loadedBasis
    }

    private func remember(_ id: String, _ basis: FittedBasis) {
        loaded.withLock { cache in
            if cache.count >= 16, let victim = cache.keys.first { cache.removeValue(forKey: victim) }
            cache[id] = basis
        }
    }

    /// Fits the multispectrum contraction on the request's structures or, without them, on
    /// the dataset's kept structures up to the record's version, read one stored batch at a
    /// time once per order (the covariances are sums, so only one batch is in memory).
    /// Returns the contraction and the number of structures it was fitted on.
    func fitMultispectrum(
        _ request: MultispectrumFit, basis: ExpansionBasis,
        dataset record: DatasetRecord
    ) throws(ServiceError) -> (MultispectrumContraction, Int) {
        let pointer = "/multispectrum/structures"
        let versions =
            request.structures == nil
            ? try storage { try datasets.storedStructureVersions(datasetID: record.id, upToVersion: record.version) } : []
        let decoder = FeatureRequestDecoder(limits: features.settings.requestLimits)
        func batch(_ version: Int) throws(ServiceError) -> [Structure] {
            guard let blob = try storage({ try datasets.storedStructures(datasetID: record.id, version: version) }),
                let items = try? JSON.parse(blob)
            else {
                throw ServiceError(.internal, "stored structures of \(record.id) (version \(version)) are missing or damaged")
            }
            return try decoder.decodeStructures(items, at: pointer)
        }
        func fitting<T>(_ body: () throws(MultispectrumFitError) -> T) throws(ServiceError) -> T {
            do { return try body() } catch { throw Self.serviceError(error) }
        }
        let featurizer = features.interactiveFeaturizer()
        var fitter = try fitting { () throws(MultispectrumFitError) in
            try MultispectrumFitter(
                featurizer: featurizer, basis: basis, correlationOrder: request.correlationOrder,
                maxFeatures: request.maxFeatures, maxCovarianceValues: multispectrumLimits.maxCovarianceValues)
        }
        var structures = 0
        while !fitter.isComplete {
            structures = 0
            if let inline = request.structures {
                try fitting { () throws(MultispectrumFitError) in try fitter.add(inline) }
                structures = inline.count
            } else {
                for version in versions {
                    let items = try batch(version)
                    try fitting { () throws(MultispectrumFitError) in try fitter.add(items) }
                    structures += items.count
                }
            }
            try fitting { () throws(MultispectrumFitError) in try fitter.finishOrder() }
        }
        return (fitter.contraction, structures)
    }

    static func serviceError(_ error: MultispectrumFitError) -> ServiceError {
        let pointer = "/multispectrum/structures"
        switch error {
        case .featurization(.deadlineExceeded(let seconds)):
            return ServiceError(
                .timeout,
                "fitting the multispectrum contraction took longer than the limit of \(seconds) s "
                    + "(compute_timeout_seconds) and was stopped; fit it on fewer structures, or with a lower "
                    + "correlation_order or max_features_per_order")
        case .featurization(let e):
            return ServiceError(e, structures: pointer)
        case .noCenters: return ServiceError(.invalid, pointer: pointer, error.description)
        case .invalidBudget: return ServiceError(.invalid, pointer: "/multispectrum/max_features_per_order", error.description)
        case .covarianceTooLarge:
            return ServiceError(.invalid, pointer: "/multispectrum/max_features_per_order", error.description)
        case .decomposition: return ServiceError(.internal, error.description)
        }
    }

    /// The "multispectrum" section of POST /v1/bases.
    struct MultispectrumFit {
        var correlationOrder: Int
        var maxFeatures: Int
        /// The structures to fit on; nil: the dataset's kept structures.
        var structures: [Structure]?
    }

    static func decodeMultispectrumFit(
        _ value: JSONValue, limits: RequestLimits,
        multispectrumLimits: MultispectrumFitLimits
    ) throws(ServiceError) -> MultispectrumFit {
        let o = try Field.object(value, "/multispectrum")
        try Field.allowOnly(o, ["correlation_order", "max_features_per_order", "structures"], at: "/multispectrum")
        let nu = try Field.integer(
            try Field.required(o, "correlation_order", at: "/multispectrum"),
            "/multispectrum/correlation_order", in: 2...max(2, limits.maxCorrelationOrder))
        let budget = try Field.integer(
            try Field.required(o, "max_features_per_order", at: "/multispectrum"),
            "/multispectrum/max_features_per_order",
            in: 1...max(1, multispectrumLimits.maxFeaturesPerOrder))
        let structures = try o["structures"].map { v throws(ServiceError) in
            try FeatureRequestDecoder(limits: limits).decodeStructures(v, at: "/multispectrum/structures")
        }
        if let structures, !structures.contains(where: { $0.count > 0 }) {
            throw ServiceError(.invalid, pointer: "/multispectrum/structures", "must hold at least one atom")
        }
        return MultispectrumFit(correlationOrder: nu, maxFeatures: budget, structures: structures)
    }

    /// The numbers of a structure, little-endian, for the basis id.
    static func structureBytes(_ s: Structure) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(8 * (s.numbers.count + s.positions.count + 12))
        func add(_ x: UInt64) { withUnsafeBytes(of: x.littleEndian) { out += $0 } }
        add(UInt64(s.numbers.count))
        for z in s.numbers { add(UInt64(z)) }
        for x in s.positions { add(x.bitPattern) }
        for x in s.cell ?? [] { add(x.bitPattern) }
        add((s.pbc.0 ? 1 : 0) | (s.pbc.1 ? 2 : 0) | (s.pbc.2 ? 4 : 0))
        return out
    }

    // MARK: helpers

    /// Storage failures are the service's (5xx), with disk-full as 507.
    static func definition(_ record: DatasetRecord) throws(ServiceError) -> (SoapHypers, [Int]) {
        do {
            let hypers = try HypersDecoder(limits: RequestLimits()).decode(
                try JSON.parse(record.hypersJSON), radialOnly: false, at: "")
            guard case .array(let items) = try JSON.parse(record.speciesJSON) else { throw ServiceError(.internal, "species") }
            return (hypers, items.compactMap { $0.doubleValue.map { Int($0) } })
        } catch {
            throw ServiceError(.internal, "stored dataset \(record.id) is damaged")
        }
    }

    static func statistics(_ record: DatasetRecord, hypers: SoapHypers, species: [Int]) -> DatasetStatistics? {
        var centers = Array(repeating: 0, count: species.count)
        if case .object(let o)? = try? JSON.parse(record.centersJSON) {
            for (k, z) in species.enumerated() { centers[k] = o[String(z)]?.doubleValue.map { Int($0) } ?? 0 }
        }
        guard
            var s = DatasetStatistics(
                species: species, maxAngular: hypers.maxAngular, radialCount: hypers.radialCount,
                structures: record.structures, neighbors: record.neighbors, centers: centers,
                gram: record.statistics)
        else { return nil }
        if let blob = record.targets {
            // [structures, yᵀy, Xᵀy (D), XᵀX (D²)] as little-endian doubles.
            let d = s.targetFeatureCount
            guard blob.count == 8 * (2 + d + d * d), let v = try? DoubleBlob.decode(blob) else { return nil }
            guard
                s.setTargets(
                    structures: Int(v[0]), squares: v[1], cross: Array(v[2..<(2 + d)]),
                    gram: Array(v[(2 + d)...]))
            else { return nil }
        }
        return s
    }

    static func targetsBlob(_ s: DatasetStatistics) -> [UInt8]? {
        guard s.targetStructures > 0 else { return nil }
        return DoubleBlob.encode([Double(s.targetStructures), s.targetSquares] + s.targetCross + s.targetGram)
    }

    // MARK: request decoding (pure: no storage, no computation; the fuzzers call these too)

    /// The body of POST /v1/datasets: primitive hypers and species.
    static func decodeDataset(_ value: JSONValue, limits: RequestLimits) throws(ServiceError) -> (SoapHypers, [Int], Bool) {
        let root = try Field.object(value, "")
        try Field.allowOnly(root, ["descriptor", "keep_structures"], at: "")
        let keep = try root["keep_structures"].map { v throws(ServiceError) in try Field.bool(v, "/keep_structures") } ?? false
        let descriptor = try Field.object(try Field.required(root, "descriptor", at: ""), "/descriptor")
        try Field.allowOnly(descriptor, ["species", "hypers"], at: "/descriptor")
        let hypers = try HypersDecoder(limits: limits)
            .decode(try Field.required(descriptor, "hypers", at: "/descriptor"), radialOnly: false, at: "/descriptor/hypers")
        let species = try FeatureRequestDecoder(limits: limits)
            .decodeSpecies(try Field.required(descriptor, "species", at: "/descriptor"))
        return (hypers, species, keep)
    }

    /// The body of POST /v1/datasets/{id}/structures: structures (decoded, and as sent, to
    /// keep) and optional targets.
    static func decodeBatch(_ value: JSONValue, limits: RequestLimits) throws(ServiceError) -> (
        [Structure], [Double]?, JSONValue?
    ) {
        let root = try Field.object(value, "")
        try Field.allowOnly(root, ["structures", "targets"], at: "")
        let structures = try FeatureRequestDecoder(limits: limits)
            .decodeStructures(try Field.required(root, "structures", at: ""))
        let targets = try root["targets"].map { v throws(ServiceError) in try Self.decodeTargets(v, count: structures.count) }
        return (structures, targets, root["structures"])
    }

    /// The options of POST /v1/bases.
    struct FitOptions {
        var datasetID: String
        var method: FitMethod
        var contraction: Contraction
        var centerSpecific: Bool
        var q: Int?
        var threshold: Double?
        var multispectrum: MultispectrumFit?
    }

    /// The body of POST /v1/bases.
    static func decodeFit(
        _ value: JSONValue, limits: RequestLimits,
        multispectrumLimits: MultispectrumFitLimits = .init()
    ) throws(ServiceError) -> FitOptions {
        let root = try Field.object(value, "")
        try Field.allowOnly(
            root,
            [
                "dataset_id", "method", "contraction", "center_specific", "q_max", "residual_variance", "gamma",
                "multispectrum",
            ], at: "")
        let datasetID = try Field.string(try Field.required(root, "dataset_id", at: ""), "/dataset_id")
        let method = try root["method"].map { v throws(ServiceError) in try Field.string(v, "/method") } ?? "pca"
        let fitMethod: FitMethod
        switch method {
        case "pca":
            if root["gamma"] != nil { throw ServiceError(.invalid, pointer: "/gamma", "gamma applies to method \"pcovr\" only") }
            fitMethod = .pca
        case "pcovr":
            let gamma = try root["gamma"].map { v throws(ServiceError) in try Field.number(v, "/gamma") } ?? 0.5
            guard gamma >= 0 && gamma <= 1 else { throw ServiceError(.invalid, pointer: "/gamma", "must be between 0 and 1") }
            fitMethod = .pcovr(gamma: gamma)
        default:
            throw ServiceError(.invalid, pointer: "/method", "expected \"pca\" or \"pcovr\"")
        }
        let contractionName =
            try root["contraction"].map { v throws(ServiceError) in try Field.string(v, "/contraction") } ?? "separate"
        guard let contraction = Contraction(rawValue: contractionName) else {
            throw ServiceError(.invalid, pointer: "/contraction", "expected \"separate\" or \"mixed\"")
        }
        let centerSpecific =
            try root["center_specific"].map { v throws(ServiceError) in try Field.bool(v, "/center_specific") } ?? false
        var q: Int? = nil
        var threshold: Double? = nil
        switch (root["q_max"], root["residual_variance"]) {
        case (.some, .some): throw ServiceError(.invalid, pointer: "", "give q_max or residual_variance, not both")
        case (nil, nil): throw ServiceError(.invalid, pointer: "/q_max", "is required (or residual_variance)")
        case (let v?, nil):
            let value = try Field.integer(v, "/q_max")
            guard value >= 1, value <= limits.maxRadial * 16 else {
                throw ServiceError(.invalid, pointer: "/q_max", "must be a positive integer")
            }
            q = value
        case (nil, let v?): threshold = try Field.number(v, "/residual_variance")
        }
        let multispectrum = try root["multispectrum"].map { v throws(ServiceError) in
            try decodeMultispectrumFit(v, limits: limits, multispectrumLimits: multispectrumLimits)
        }
        return FitOptions(
            datasetID: datasetID, method: fitMethod, contraction: contraction, centerSpecific: centerSpecific,
            q: q, threshold: threshold, multispectrum: multispectrum)
    }

    /// One finite number per structure.
    static func decodeTargets(_ value: JSONValue, count: Int) throws(ServiceError) -> [Double] {
        guard case .array(let items) = value else {
            throw ServiceError(.invalid, pointer: "/targets", "expected an array of numbers, one per structure")
        }
        guard items.count == count else {
            throw ServiceError(.invalid, pointer: "/targets", "expected \(count) targets (one per structure), got \(items.count)")
        }
        var out: [Double] = []
        out.reserveCapacity(count)
        for (k, item) in items.enumerated() {
            guard let x = item.doubleValue, x.isFinite else {
                throw ServiceError(.invalid, pointer: "/targets/\(k)", "expected a finite number")
            }
            out.append(x)
        }
        return out
    }

    /// The first little-endian double of a blob (the count of a targets blob).
    static func firstDouble(_ blob: [UInt8]) -> Double {
        guard blob.count >= 8 else { return 0 }
        return (try? DoubleBlob.decode(Array(blob.prefix(8))))?.first ?? 0
    }

    static func intArray(_ values: [Int]) -> String { "[" + values.map(String.init).joined(separator: ",") + "]" }

    static func centersJSON(_ s: DatasetStatistics) -> String {
        "{" + s.species.enumerated().map { "\"\($0.element)\":\(s.centers[$0.offset])" }.joined(separator: ",") + "}"
    }

    static func optionsJSON(method: FitMethod, contraction: Contraction, centerSpecific: Bool, q: Int, threshold: Double?)
        -> String
    {
        var w = JSONWriter(capacity: 128)
        w.beginObject()
        w.key("method")
        w.string(method.name)
        if case .pcovr(let gamma) = method {
            w.key("gamma")
            w.number(gamma)
        }
        w.key("contraction")
        w.string(contraction.rawValue)
        w.key("center_specific")
        w.bool(centerSpecific)
        w.key("q_max")
        w.integer(q)
        if let threshold {
            w.key("residual_variance")
            w.number(threshold)
        }
        w.endObject()
        return String(decoding: w.bytes, as: UTF8.self)
    }

    func datasetJSON(_ r: DatasetRecord, matrices: Bool, duplicate: Bool = false) -> [UInt8] {
        var w = JSONWriter(capacity: 1024 + (matrices ? r.statistics.count * 22 : 0))
        w.beginObject()
        w.key("id")
        w.string(r.id)
        w.key("structures")
        w.integer(r.structures)
        w.key("centers")
        w.raw(Array(r.centersJSON.utf8))
        w.key("neighbors")
        w.integer(r.neighbors)
        w.key("targets")
        w.integer(r.targets.map { Int(Self.firstDouble($0)) } ?? 0)
        w.key("species")
        w.raw(Array(r.speciesJSON.utf8))
        w.key("hypers")
        w.raw(Array(r.hypersJSON.utf8))
        w.key("version")
        w.integer(r.version)
        w.key("keep_structures")
        w.bool(r.keepStructures)
        if duplicate {
            w.key("duplicate")
            w.bool(true)
        }
        if matrices, let (hypers, species) = try? Self.definition(r) {
            let ch = species.count * hypers.radialCount
            w.key("matrices")
            w.beginObject()
            w.key("layout")
            w.string("[center_type][l][(neighbor_type, n)][(neighbor_type, n)]")
            w.key("shape")
            w.intArray([species.count, hypers.maxAngular + 1, ch, ch])
            w.key("values")
            w.doubleArray(r.statistics)
            w.endObject()
        }
        w.endObject()
        return w.bytes
    }

    func summaryJSON(
        id: String, datasetID: String, record: DatasetRecord, basis: OptimalBasis, options: String,
        multispectrum: MultispectrumContraction? = nil, multispectrumStructures: Int = 0
    ) -> String {
        var w = JSONWriter(capacity: 4096)
        w.beginObject()
        w.key("id")
        w.string(id)
        w.key("hypers")
        w.raw(Array(record.hypersJSON.utf8))
        w.key("species")
        w.intArray(basis.species)
        w.key("options")
        w.raw(Array(options.utf8))
        w.key("q_max")
        w.integer(basis.q)
        w.key("dataset")
        w.beginObject()
        w.key("id")
        w.string(datasetID)
        w.key("structures")
        w.integer(record.structures)
        w.key("centers")
        w.raw(Array(record.centersJSON.utf8))
        w.key("version")
        w.integer(record.version)
        w.endObject()
        w.key("eigenvalues")
        w.beginArray()
        for e in basis.eigenvalues { w.doubleArray(e) }
        w.endArray()
        w.key("residual_variance")
        w.beginArray()
        for c in basis.residualVariance { w.doubleArray(c) }
        w.endArray()
        if let m = multispectrum {
            // Per order and (λ, σ) block: features before and after, and the variance left out.
            w.key("multispectrum")
            w.beginObject()
            w.key("correlation_order")
            w.integer(m.correlationOrder)
            w.key("max_features_per_order")
            w.integer(m.maxFeatures)
            w.key("structures")
            w.integer(multispectrumStructures)
            w.key("blocks")
            w.beginArray()
            for b in m.blocks {
                w.beginObject()
                w.key("order")
                w.integer(b.order)
                w.key("o3_lambda")
                w.integer(b.lambda)
                w.key("o3_sigma")
                w.integer(b.sigma)
                w.key("features_in")
                w.integer(b.inputCount)
                w.key("features_out")
                w.integer(b.count)
                w.key("residual_variance")
                w.number(b.residualVariance)
                w.endObject()
            }
            w.endArray()
            w.endObject()
        }
        w.endObject()
        return String(decoding: w.bytes, as: UTF8.self)
    }
}

/// Limits of POST /v1/bases' multispectrum section (from Config).
public struct MultispectrumFitLimits: Sendable {
    /// Largest max_features_per_order a fit may ask for.
    public var maxFeaturesPerOrder = 512
    /// Doubles of the per-block covariance matrices of one order (all workers together).
    public var maxCovarianceValues = 100_000_000
    public init() {}
}

/// The stored form of a fitted basis: a JSON header (fit, shapes, spline
/// segments) then the spline points as raw little-endian doubles, so a
/// restart serves the same tables without rebuilding them. A basis fitted
/// with a multispectrum contraction adds an optional "multispectrum" header
/// entry (its blocks' shapes) and the blocks' components after the points;
/// payloads without it (older ones included) decode with no contraction.
enum BasisCodec {
    static let magic = Array("SOAPDB1\n".utf8)

    static func encode(
        _ b: OptimalBasis, tables: [RadialSplineTable], hypersJSON: String,
        multispectrum: MultispectrumContraction? = nil
    ) -> [UInt8] {
        var w = JSONWriter(capacity: 8192)
        w.beginObject()
        w.key("hypers")
        w.raw(Array(hypersJSON.utf8))
        w.key("species")
        w.intArray(b.species)
        w.key("contraction")
        w.string(b.contraction.rawValue)
        w.key("method")
        w.string(b.method.name)
        if case .pcovr(let gamma) = b.method {
            w.key("gamma")
            w.number(gamma)
        }
        w.key("center_specific")
        w.bool(b.centerSpecific)
        w.key("q")
        w.integer(b.q)
        w.key("projections")
        w.beginArray()
        for p in b.projections { w.doubleArray(p) }
        w.endArray()
        w.key("eigenvalues")
        w.beginArray()
        for e in b.eigenvalues { w.doubleArray(e) }
        w.endArray()
        w.key("residual_variance")
        w.beginArray()
        for c in b.residualVariance { w.doubleArray(c) }
        w.endArray()
        w.key("tables")
        w.beginArray()
        for t in tables {
            w.beginObject()
            w.key("cutoff")
            w.number(t.cutoff)
            w.key("points")
            w.integer(t.dataCount)
            w.key("segments")
            w.beginArray()
            for s in t.segments { w.intArray([s.first, s.count, s.intervals, s.offset]) }
            w.endArray()
            w.endObject()
        }
        w.endArray()
        if let m = multispectrum {
            w.key("multispectrum")
            w.beginObject()
            w.key("correlation_order")
            w.integer(m.correlationOrder)
            w.key("max_features")
            w.integer(m.maxFeatures)
            w.key("max_angular")
            w.integer(m.maxAngular)
            w.key("channels")
            w.integer(m.channels)
            // Per block: order, λ, σ, features in, features out; then its eigenvalues and residual.
            w.key("blocks")
            w.beginArray()
            for block in m.blocks { w.intArray([block.order, block.lambda, block.sigma, block.inputCount, block.count]) }
            w.endArray()
            w.key("eigenvalues")
            w.beginArray()
            for block in m.blocks { w.doubleArray(block.eigenvalues) }
            w.endArray()
            w.key("residual_variance")
            w.doubleArray(m.blocks.map(\.residualVariance))
            w.endObject()
        }
        w.endObject()
        var out = magic
        let header = w.bytes
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out += $0 }
        out += header
        for t in tables { t.points.withUnsafeBytes { out += $0 } }
        for block in multispectrum?.blocks ?? [] {
            out += DoubleBlob.encode(block.components)
        }
        return out
    }

    static func decode(_ payload: [UInt8]) -> (OptimalBasis, [RadialSplineTable], MultispectrumContraction?)? {
        guard payload.count > 16, Array(payload[0..<8]) == magic else { return nil }
        var length: UInt64 = 0
        for k in 0..<8 { length |= UInt64(payload[8 + k]) << (8 * UInt64(k)) }
        guard length < UInt64(payload.count - 16) else { return nil }
        let headerEnd = 16 + Int(length)
        guard case .object(let o)? = try? JSON.parse(Array(payload[16..<headerEnd])),
            let hypersJSON = o["hypers"],
            let hypers = try? HypersDecoder(limits: RequestLimits()).decode(hypersJSON, radialOnly: false, at: ""),
            let species = o["species"]?.arrayValue?.compactMap({ $0.doubleValue.map { Int($0) } }),
            let contraction = o["contraction"]?.stringValue.flatMap(Contraction.init(rawValue:)),
            let q = o["q"]?.doubleValue.map({ Int($0) }),
            let tablesJSON = o["tables"]?.arrayValue
        else { return nil }
        func matrix(_ key: String) -> [[Double]]? {
            o[key]?.arrayValue?.map { $0.arrayValue?.compactMap(\.doubleValue) ?? [] }
        }
        guard let projections = matrix("projections"), let eigenvalues = matrix("eigenvalues"),
            let residual = matrix("residual_variance")
        else { return nil }
        var offset = headerEnd
        var tables: [RadialSplineTable] = []
        for t in tablesJSON {
            guard case .object(let to) = t, let cutoff = to["cutoff"]?.doubleValue,
                let count = to["points"]?.doubleValue.map({ Int($0) }), count >= 0,
                offset + 8 * count <= payload.count,
                let segmentsJSON = to["segments"]?.arrayValue
            else { return nil }
            let segments = segmentsJSON.compactMap { s -> RadialSplineTable.Segment? in
                guard let v = s.arrayValue?.compactMap({ $0.doubleValue.map { Int($0) } }), v.count == 4 else { return nil }
                return RadialSplineTable.Segment(first: v[0], count: v[1], intervals: v[2], offset: v[3])
            }
            guard segments.count == segmentsJSON.count,
                segments.allSatisfy({ (s: RadialSplineTable.Segment) -> Bool in s.intervals > 0 && s.offset + s.size <= count })
            else { return nil }
            guard let points = try? DoubleBlob.decode(Array(payload[offset..<(offset + 8 * count)])) else { return nil }
            offset += 8 * count
            tables.append(RadialSplineTable(cutoff: cutoff, segments: segments, data: points, maxValueError: 0))
        }
        let method: FitMethod = o["method"]?.stringValue == "pcovr" ? .pcovr(gamma: o["gamma"]?.doubleValue ?? 0.5) : .pca
        let centerSpecific: Bool
        if case .bool(let b)? = o["center_specific"] { centerSpecific = b } else { centerSpecific = false }
        let basis = OptimalBasis(
            hypers: hypers, species: species, contraction: contraction, method: method,
            centerSpecific: centerSpecific, q: q, projections: projections,
            eigenvalues: eigenvalues, residualVariance: residual)
        guard tables.count == basis.centerBlocks * species.count, tables.allSatisfy({ $0.count == (hypers.maxAngular + 1) * q })
        else { return nil }
        var multispectrum: MultispectrumContraction? = nil
        if case .object(let m)? = o["multispectrum"] {
            func int(_ key: String) -> Int? { m[key]?.doubleValue.map { Int($0) } }
            guard let order = int("correlation_order"), let budget = int("max_features"), let lmax = int("max_angular"),
                let channels = int("channels"), let shapes = m["blocks"]?.arrayValue,
                let eigenvalues = m["eigenvalues"]?.arrayValue, let residuals = m["residual_variance"]?.arrayValue,
                eigenvalues.count == shapes.count, residuals.count == shapes.count
            else { return nil }
            var blocks: [MultispectrumContraction.Block] = []
            for (k, shape) in shapes.enumerated() {
                guard let v = shape.arrayValue?.compactMap({ $0.doubleValue.map { Int($0) } }), v.count == 5,
                    v[3] >= 0, v[4] >= 0, let values = eigenvalues[k].arrayValue?.compactMap(\.doubleValue),
                    values.count == v[4], let residual = residuals[k].doubleValue
                else { return nil }
                let n = v[3] * v[4]
                guard offset + 8 * n <= payload.count else { return nil }
                guard let components = try? DoubleBlob.decode(Array(payload[offset..<(offset + 8 * n)])) else { return nil }
                offset += 8 * n
                blocks.append(
                    .init(
                        order: v[0], lambda: v[1], sigma: v[2], inputCount: v[3], components: components,
                        eigenvalues: values, residualVariance: residual))
            }
            multispectrum = MultispectrumContraction(
                correlationOrder: order, maxFeatures: budget, maxAngular: lmax,
                channels: channels, blocks: blocks)
        }
        return (basis, tables, multispectrum)
    }
}
