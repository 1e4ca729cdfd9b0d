import SoapCore

/// GET /v1/datasets/{id}/residual-variance: the curves of eq. 2.12 from a dataset's stored
/// statistics alone (no structure is featurized again).
extension DatasetService {
    /// The residual-variance curves of a stored dataset, for one kind of basis.
    public func residualVariance(
        _ id: String, kind: ResidualVarianceCurves.Kind, centerSpecific: Bool
    ) throws(ServiceError) -> ResidualVarianceCurves {
        guard let record = try storage({ try datasets.get(id) }) else {
            throw ServiceError(.notFound, "no dataset \(id.prefix(80))")
        }
        let (hypers, species) = try StoredDataset.definition(record)
        guard let statistics = StoredDataset.statistics(record, hypers: hypers, species: species) else {
            throw ServiceError(.internal, "stored statistics of \(id) are damaged")
        }
        do {
            return try ResidualVarianceCurves.compute(statistics, kind: kind, centerSpecific: centerSpecific)
        } catch {
            switch error {
            case .emptyDataset: throw ServiceError(.invalid, pointer: "/id", "the dataset has no structures yet")
            case .noCenters: throw ServiceError(.invalid, pointer: "/center_specific", error.description)
            default: throw ServiceError(.internal, error.description)
            }
        }
    }

    /// GET /v1/datasets?limit&offset: the datasets' summaries, newest first as stored.
    public func listDatasets(limit: Int, offset: Int) throws(ServiceError) -> [DatasetListing] {
        try storage { try datasets.list(limit: limit, offset: offset) }.map {
            DatasetListing(
                id: $0.id, structures: $0.structures, centersJSON: $0.centersJSON, neighbors: $0.neighbors,
                speciesJSON: $0.speciesJSON, hypersJSON: $0.hypersJSON, version: $0.version)
        }
    }
}

/// One row of GET /v1/datasets (and of the web page).
public struct DatasetListing: Sendable {
    public let id: String
    public let structures: Int
    public let centersJSON: String
    public let neighbors: Int
    public let speciesJSON: String
    public let hypersJSON: String
    public let version: Int
}
