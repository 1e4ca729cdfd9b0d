import FastJSON
import SoapCore
import SoapStorage

/// Datasets: the streamed covariance statistics of primitive-basis expansions (thesis
/// chapter 2), persisted in SQLite, optionally with the structures themselves (for jobs and
/// multispectrum fits over them). Routes and the CLI call this; fits read what it stores.
public final class DatasetService: Sendable {
    let datasets: DatasetStore
    let features: FeatureService

    public init(database: Database, features: FeatureService) {
        datasets = DatasetStore(database: database)
        self.features = features
    }

    /// POST /v1/datasets: an empty accumulator for primitive hypers and species.
    public func createDataset(_ body: [UInt8]) throws(ServiceError) -> [UInt8] {
        let (hypers, species, keep) = try Self.decodeDataset(try features.parse(body), limits: features.settings.requestLimits)
        let empty = DatasetStatistics(species: species, maxAngular: hypers.maxAngular, radialCount: hypers.radialCount)
        let record = try storage {
            try datasets.create(
                DatasetRecord(
                    hypersJSON: HypersEncoder.json(hypers), speciesJSON: StoredDataset.intArray(species),
                    centersJSON: StoredDataset.centersJSON(empty), statistics: empty.gram,
                    keepStructures: keep))
        }
        return datasetJSON(record, matrices: false)
    }

    /// POST /v1/datasets/{id}/structures: adds a batch's statistics (once per Idempotency-Key).
    public func addStructures(datasetID: String, body: [UInt8], idempotencyKey: String?) throws(ServiceError) -> [UInt8] {
        guard let current = try storage({ try datasets.get(datasetID) }) else {
            throw ServiceError(.notFound, "no dataset \(datasetID.prefix(80))")
        }
        let (hypers, species) = try StoredDataset.definition(current)
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
                guard var total = StoredDataset.statistics(record, hypers: hypers, species: species) else {
                    throw ServiceError(.internal, "stored statistics of \(datasetID) are damaged")
                }
                total.add(batch)
                var updated = record
                updated.statistics = total.gram
                updated.neighbors = total.neighbors
                updated.centersJSON = StoredDataset.centersJSON(total)
                updated.targets = StoredDataset.targetsBlob(total)
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
}
