import SoapHTTP
import SoapStorage

/// Batch jobs: submit, progress (long polling), results streamed from disk, cancel.
extension Application {
    /// POST /v1/jobs: 202 with the queued job (the same job again for a repeated Idempotency-Key).
    func submitJob(_ request: HTTPRequest) -> HTTPResponse {
        answer(jobs, jsonBody: request) { jobs throws(ServiceError) in
            let (body, _, newID) = try jobs.submit(request.body, idempotencyKey: try Self.idempotencyKey(request))
            var r = json(202, body)
            r.headers["Location"] = "/v1/jobs/" + newID
            return r
        }
    }

    /// GET /v1/jobs?limit&offset&state.
    func listJobs(_ request: HTTPRequest) -> HTTPResponse {
        answer(jobs) { jobs throws(ServiceError) in
            let (limit, offset) = try Self.page(request)
            var state: JobState? = nil
            if let s = request.query["state"] {
                guard let parsed = JobState(rawValue: s) else {
                    throw ServiceError(.invalid, "state must be queued, running, succeeded, failed or cancelled")
                }
                state = parsed
            }
            return json(200, try jobs.list(limit: limit, offset: offset, state: state))
        }
    }

    /// GET /v1/jobs/{id}[?wait=seconds].
    func getJob(_ request: HTTPRequest, id: String) -> HTTPResponse {
        answer(jobs) { jobs throws(ServiceError) in
            var wait = 0.0
            if let w = request.query["wait"] {
                guard let seconds = Double(w), seconds >= 0, seconds <= 60 else {
                    throw ServiceError(.invalid, "wait must be a number of seconds from 0 to 60")
                }
                wait = seconds
            }
            return json(200, try jobs.status(id, waitSeconds: wait))
        }
    }

    /// DELETE /v1/jobs/{id}: 200 with the cancelled job, or 204 once a finished one is removed.
    func deleteJob(_ request: HTTPRequest, id: String) -> HTTPResponse {
        answer(jobs) { jobs throws(ServiceError) in
            if let body = try jobs.delete(id) { return json(200, body) }
            return HTTPResponse(status: 204)
        }
    }

    /// GET /v1/jobs/{id}/result: .npz (sized, from the chunk files), the JSON document or
    /// JSON lines (chunked); one chunk in memory at a time.
    func jobResult(_ request: HTTPRequest, id: String) -> HTTPResponse {
        answer(jobs) { jobs throws(ServiceError) in try Self.jobResult(jobs, id: id, request: request) }
    }

    static func jobResult(_ jobs: JobService, id: String, request: HTTPRequest) throws(ServiceError) -> HTTPResponse {
        let accept = request.headers["Accept"] ?? ""
        let wantsLines = accept.contains("application/x-ndjson") || accept.contains("application/jsonl")
        let format: FeatureFormat?
        if wantsLines {
            format = nil
        } else {
            guard let f = Self.negotiate(request.headers["Accept"], offered: [.json, .npz]) else {
                throw ServiceError(.notAcceptable, "job results are application/json, application/x-ndjson or application/x-npz")
            }
            format = f
        }
        let result = try jobs.result(id)
        switch format {
        case .npz?:
            let archive = result.archive()
            return HTTPResponse(
                contentType: FeatureFormat.npz.rawValue,
                body: .sized(length: archive.npzSize) { writer in
                    try archive.writeNPZ { try writer.write($0) }
                })
        case nil:
            return HTTPResponse(
                contentType: "application/x-ndjson",
                body: .stream { writer in
                    try result.writeJSONLines { try writer.write($0) }
                })
        default:
            return HTTPResponse(
                contentType: "application/json",
                body: .stream { writer in
                    try result.writeJSON { try writer.write($0) }
                })
        }
    }
}
