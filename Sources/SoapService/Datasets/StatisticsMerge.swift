import FastJSON
import SoapCore
import SoapStorage

/// Dataset statistics out and in (issue 16): a dataset accumulated in shards on several
/// replicas becomes one by adding the shards' statistics documents into one dataset.
extension DatasetService {
    /// GET /v1/datasets/{id}/statistics.
    public func statisticsDocument(_ id: String) throws(ServiceError) -> [UInt8] {
        guard let record = try storage({ try datasets.get(id) }) else {
            throw ServiceError(.notFound, "no dataset \(id.prefix(80))")
        }
        let (hypers, species) = try StoredDataset.definition(record)
        guard let statistics = StoredDataset.statistics(record, hypers: hypers, species: species) else {
            throw ServiceError(.internal, "stored statistics of \(id) are damaged")
        }
        return StatisticsDocument.encode(record, statistics)
    }

    /// POST /v1/datasets/{id}/statistics: adds a document's statistics (once per
    /// Idempotency-Key); 422 when they were accumulated for another descriptor, or when the
    /// dataset keeps its structures (the merged statistics would not be those of its structures).
    public func mergeStatistics(datasetID: String, body: [UInt8], idempotencyKey: String?) throws(ServiceError) -> [UInt8] {
        guard let current = try storage({ try datasets.get(datasetID) }) else {
            throw ServiceError(.notFound, "no dataset \(datasetID.prefix(80))")
        }
        guard !current.keepStructures else {
            throw ServiceError(
                .invalid,
                "dataset \(datasetID) keeps its structures; merge statistics into a dataset created without keep_structures")
        }
        let (hypers, species) = try StoredDataset.definition(current)
        let shard = try StatisticsDocument.decode(
            try features.parse(body), hypers: hypers, hypersJSON: current.hypersJSON, species: species)
        let outcome = try storage {
            try datasets.addBatch(datasetID: datasetID, idempotencyKey: idempotencyKey, structures: shard.structures) {
                record in
                guard var total = StoredDataset.statistics(record, hypers: hypers, species: species) else {
                    throw ServiceError(.internal, "stored statistics of \(datasetID) are damaged")
                }
                total.add(shard)
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
}
