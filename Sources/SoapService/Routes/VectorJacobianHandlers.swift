import SoapHTTP

/// POST /v1/features/vjp: forces and virials for models on the features, without the Jacobian.
extension Application {
    func postFeaturesVJP(_ request: HTTPRequest) -> HTTPResponse {
        if let problem = Self.requireJSONBody(request) { return problem }
        do {
            let body = try features.vectorJacobianProduct(request.body)
            return HTTPResponse(status: 200, contentType: "application/json", body: body)
        } catch {
            return Self.problem(error)
        }
    }
}
