import SoapHTTP

/// The SVG plots (issue 15): rendered by the service, no plotting dependency.
extension Application {
    func svg(_ text: String) -> HTTPResponse {
        HTTPResponse(status: 200, contentType: "image/svg+xml; charset=utf-8", body: Array(text.utf8))
    }

    /// GET /v1/bases/{id}/plot.svg.
    func basisPlot(_ request: HTTPRequest, id: String) -> HTTPResponse {
        answer(bases) { bases throws(ServiceError) in svg(try bases.plotSVG(id)) }
    }

    /// GET /v1/datasets/{id}/residual-variance.svg[?center_specific=true].
    func residualVariancePlot(_ request: HTTPRequest, id: String) -> HTTPResponse {
        answer(datasets) { datasets throws(ServiceError) in
            svg(try datasets.residualVarianceSVG(id, centerSpecific: try Self.flag(request, "center_specific")))
        }
    }
}
