import FastJSON
import SoapCore
import SoapStorage
import Synchronization

/// Fitted optimal bases (thesis chapter 2): fitted on a dataset's statistics, stored in
/// SQLite under a content hash, kept ready to featurize with. Routes and the CLI call this.
public final class BasisService: Sendable {
    let datasets: DatasetStore
    let bases: BasisStore
    let features: FeatureService
    /// Fitted bases ready to featurize with, by id (bounded).
    private let loaded = Mutex<[String: FittedBasis]>([:])
    /// Limits of the multispectrum contraction fits (from Config).
    let multispectrumLimits: MultispectrumFitLimits
    /// Other replicas, asked for a basis this one lacks (BasisExchange).
    let peers: PeerDirectory

    public init(
        database: Database, features: FeatureService, multispectrum: MultispectrumFitLimits = .init(),
        peers: PeerSettings = .init()
    ) {
        datasets = DatasetStore(database: database)
        bases = BasisStore(database: database)
        self.features = features
        multispectrumLimits = multispectrum
        self.peers = PeerDirectory(settings: peers)
    }

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
        let (hypers, species) = try StoredDataset.definition(record)
        guard let statistics = StoredDataset.statistics(record, hypers: hypers, species: species) else {
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
        // Identity: the primitive hypers, species, options and the statistics themselves;
        // kept with the basis so that a replica receiving it can check the id (BasisTransfer).
        var identity = Array(record.hypersJSON.utf8) + Array(record.speciesJSON.utf8)
        let options = Self.optionsJSON(
            method: request.method, contraction: request.contraction,
            centerSpecific: request.centerSpecific, q: fitted.q, threshold: request.threshold)
        identity += Array(options.utf8)
        identity += DoubleBlob.encode(record.statistics)
        if case .pcovr = request.method, let targets = record.targets { identity += targets }
        identity += Array("\(statistics.totalCenters)|\(statistics.neighbors)".utf8)
        if let multispectrum {
            // The contraction depends on its options and on every number of its structures
            // (those of the request, or the dataset's kept ones up to the version fitted).
            identity += Array("|multispectrum|\(multispectrum.correlationOrder)|\(multispectrum.maxFeatures)|".utf8)
            if let structures = multispectrum.structures {
                for s in structures { identity += Self.structureBytes(s) }
            } else {
                identity += Array("|dataset-structures|\(record.id)|\(record.version)".utf8)
            }
        }
        var hash = SHA256()
        hash.update(identity)
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
            try bases.put(
                BasisRecord(
                    id: id, datasetID: datasetID, optionsJSON: options, summaryJSON: summary, payload: payload, identity: identity
                ))
        }
        remember(id, FittedBasis(fitted: fitted, basis: basis, multispectrum: spectrumContraction))
        return (Array(summary.utf8), created, id)
    }

    /// GET /v1/bases/{id}, with the optimal radial functions on `points` radii if asked.
    public func basis(_ id: String, radialPoints: Int?, askPeers: Bool = true) throws(ServiceError) -> [UInt8] {
        guard let record = try record(id, askPeers: askPeers) else { throw ServiceError(.notFound, "no basis \(id.prefix(80))") }
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
        guard let record = try record(id, askPeers: true) else {
            throw ServiceError(.notFound, pointer: "/descriptor/basis_id", "no basis \(id.prefix(80))")
        }
        return try load(record)
    }

    func load(_ record: BasisRecord) throws(ServiceError) -> FittedBasis {
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
}
