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
}
