extension DatasetService {
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
