import FastJSON
import SoapCore
import SoapHTTP

/// The dataset routes (thesis chapter 2), JSON in and out.
extension Application {
    /// POST /v1/datasets.
    func createDataset(_ request: HTTPRequest) -> HTTPResponse {
        answer(datasets, jsonBody: request) { datasets throws(ServiceError) in
            let body = try datasets.createDataset(request.body)
            var r = HTTPResponse(status: 201, contentType: "application/json", body: body)
            if case .object(let o)? = try? JSON.parse(body), let newID = o["id"]?.stringValue {
                r.headers["Location"] = "/v1/datasets/" + newID
            }
            return r
        }
    }

    /// GET /v1/datasets/{id}[?matrices=true].
    func getDataset(_ request: HTTPRequest, id: String) -> HTTPResponse {
        answer(datasets) { datasets throws(ServiceError) in
            let matrices = request.query["matrices"] ?? "false"
            guard matrices == "true" || matrices == "false" else {
                throw ServiceError(.invalid, "query parameter matrices must be true or false")
            }
            return json(200, try datasets.dataset(id, matrices: matrices == "true"))
        }
    }

    /// POST /v1/datasets/{id}/structures (once per Idempotency-Key).
    func addDatasetStructures(_ request: HTTPRequest, id: String) -> HTTPResponse {
        answer(datasets, jsonBody: request) { datasets throws(ServiceError) in
            json(
                200,
                try datasets.addStructures(
                    datasetID: id, body: request.body,
                    idempotencyKey: try Self.idempotencyKey(request)))
        }
    }
}

/// Statistics between replicas (issue 16): a dataset's sums out, a shard's sums in.
extension Application {
    /// GET /v1/datasets/{id}/statistics (`application/x-soapd-statistics`).
    func getDatasetStatistics(_ request: HTTPRequest, id: String) -> HTTPResponse {
        answer(datasets) { datasets throws(ServiceError) in
            HTTPResponse(status: 200, contentType: StatisticsDocument.mediaType, body: try datasets.statisticsDocument(id))
        }
    }

    /// POST /v1/datasets/{id}/statistics: a statistics document added in (once per Idempotency-Key).
    func mergeDatasetStatistics(_ request: HTTPRequest, id: String) -> HTTPResponse {
        answer(datasets) { datasets throws(ServiceError) in
            let type = Self.mediaType(request.headers["Content-Type"] ?? "")
            guard type == StatisticsDocument.mediaType || type == "application/json" else {
                return Self.problem(
                    status: 415, title: "Unsupported media type",
                    detail: "send a statistics document as \(StatisticsDocument.mediaType) (GET /v1/datasets/{id}/statistics)")
            }
            return json(
                200,
                try datasets.mergeStatistics(
                    datasetID: id, body: request.body, idempotencyKey: try Self.idempotencyKey(request)))
        }
    }
}

/// The dataset listing and its residual-variance curves (issue 15).
extension Application {
    /// GET /v1/datasets?limit&offset.
    func listDatasets(_ request: HTTPRequest) -> HTTPResponse {
        answer(datasets) { datasets throws(ServiceError) in
            let (limit, offset) = try Self.page(request)
            return json(
                200,
                DatasetService.listJSON(try datasets.listDatasets(limit: limit, offset: offset), limit: limit, offset: offset))
        }
    }

    /// GET /v1/datasets/{id}/residual-variance?contraction=primitive|separate|mixed&center_specific=false.
    func datasetResidualVariance(_ request: HTTPRequest, id: String) -> HTTPResponse {
        answer(datasets) { datasets throws(ServiceError) in
            let (kind, centerSpecific) = try Self.residualVarianceOptions(request)
            return json(
                200, ResidualVarianceEncoding.json(try datasets.residualVariance(id, kind: kind, centerSpecific: centerSpecific)))
        }
    }

    /// `contraction` (default mixed) and `center_specific` (default false) of the curves' routes.
    static func residualVarianceOptions(_ request: HTTPRequest) throws(ServiceError) -> (
        ResidualVarianceCurves.Kind, Bool
    ) {
        let name = request.query["contraction"] ?? "mixed"
        guard let kind = ResidualVarianceCurves.Kind(rawValue: name) else {
            throw ServiceError(.invalid, pointer: "/contraction", "contraction must be primitive, separate or mixed")
        }
        return (kind, try flag(request, "center_specific"))
    }

    /// A `true`/`false` query parameter (false when absent).
    static func flag(_ request: HTTPRequest, _ name: String) throws(ServiceError) -> Bool {
        let value = request.query[name] ?? "false"
        guard value == "true" || value == "false" else {
            throw ServiceError(.invalid, pointer: "/" + name, "query parameter \(name) must be true or false")
        }
        return value == "true"
    }
}
