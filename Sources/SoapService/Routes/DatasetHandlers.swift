import FastJSON
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
