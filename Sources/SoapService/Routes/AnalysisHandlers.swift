import SoapHTTP

/// The analysis routes (issue 15): selection and reconstruction measures, JSON in and out.
extension Application {
    /// POST /v1/analysis/select: FPS or CUR over samples or features.
    func postSelect(_ request: HTTPRequest) -> HTTPResponse {
        answer(Optional(analysis), jsonBody: request) { analysis throws(ServiceError) in
            json(200, try analysis.select(request.body))
        }
    }

    /// POST /v1/analysis/gfre: GFRE and GFRD both ways between two descriptors.
    func postReconstruction(_ request: HTTPRequest) -> HTTPResponse {
        answer(Optional(analysis), jsonBody: request) { analysis throws(ServiceError) in
            json(200, try analysis.reconstruction(request.body))
        }
    }
}
