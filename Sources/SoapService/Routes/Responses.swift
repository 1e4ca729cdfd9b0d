import FastJSON
import SoapHTTP

/// The responses every handler shares: JSON bodies, problem documents (RFC 9457) for typed
/// `ServiceError`s, 405 with `Allow`, and the run-with-a-service wrapper of database routes.
extension Application {
    func json(_ status: Int, _ body: [UInt8]) -> HTTPResponse {
        HTTPResponse(status: status, contentType: "application/json", body: body)
    }

    /// Answers with `body(service)`, or 503 when the service runs without a database (the
    /// service is nil), 415 when `jsonBody` is given and not declared JSON, or the problem
    /// document of the `ServiceError` the body throws.
    func answer<Service>(
        _ service: Service?, jsonBody request: HTTPRequest? = nil,
        _ body: (Service) throws(ServiceError) -> HTTPResponse
    ) -> HTTPResponse {
        guard let service else {
            return Self.problem(ServiceError(.unavailable, "this service runs without a database"))
        }
        if let request, let problem = Self.requireJSONBody(request) { return problem }
        do { return try body(service) } catch { return Self.problem(error) }
    }

    static func methodNotAllowed(_ allowed: [String]) -> HTTPResponse {
        var r = problem(status: 405, title: "Method not allowed", detail: "use " + allowed.joined(separator: " or "))
        r.headers["Allow"] = allowed.joined(separator: ", ")
        return r
    }

    static func problem(status: Int, title: String, detail: String) -> HTTPResponse {
        HTTPResponse.problem(status: status, title: title, detail: detail)
    }

    /// RFC 9457 document for a ServiceError; `pointer` names the field (JSON pointer).
    static func problem(_ error: ServiceError) -> HTTPResponse {
        var extra: [String: String] = [:]
        if !error.pointer.isEmpty || error.kind == .invalid || error.kind == .malformed { extra["pointer"] = error.pointer }
        var r = HTTPResponse.problem(status: error.status, title: error.title, detail: error.description, extra: extra)
        if error.kind == .unavailable { r.headers["Retry-After"] = "1" }
        return r
    }
}
