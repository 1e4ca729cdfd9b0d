import SoapHTTP

/// POST /v1/features/vjp: forces and virials for models on the features, without the Jacobian.
/// The body is JSON (with `output_gradient` inside) or an npz upload (`application/x-npz`)
/// holding `request.json` (the same body without `output_gradient`) and `output_gradient.npy`
/// (float64, rows × columns).
extension Application {
    func postFeaturesVJP(_ request: HTTPRequest) -> HTTPResponse {
        let type = request.headers["Content-Type"].map { Self.mediaType($0) } ?? ""
        do throws(ServiceError) {
            let body: [UInt8]
            if type == "application/x-npz" {
                let files = try StoredZipReader.entries(request.body)
                guard let json = files["request.json"] else {
                    throw ServiceError(.invalid, pointer: "", "npz upload: needs request.json (the body without output_gradient)")
                }
                guard let npy = files["output_gradient.npy"] else {
                    throw ServiceError(.invalid, pointer: "/output_gradient", "npz upload: needs output_gradient.npy")
                }
                let gradient = try NumpyArrayDecoding.matrix(npy, name: "output_gradient")
                body = try features.vectorJacobianProduct(request: try features.parse(json), outputGradient: gradient)
            } else {
                if let problem = Self.requireJSONBody(request) { return problem }
                body = try features.vectorJacobianProduct(request.body)
            }
            return HTTPResponse(status: 200, contentType: "application/json", body: body)
        } catch {
            return Self.problem(error)
        }
    }
}
