import SoapCore

/// GET /v1/datasets/{id}/residual-variance.svg: the total residual variance against the
/// number of functions per l for the primitive, separate and mixed bases on one log-scale
/// plot (thesis Fig. 2.2).
enum ResidualVariancePlot {
    static func svg(_ curves: [ResidualVarianceCurves], datasetID: String) -> String {
        var svg = SVGDocument(width: 620, height: 400)
        let series = curves.enumerated().map { k, c in
            PlotPanel.Series(
                name: c.kind.rawValue, x: c.total.indices.map { Double($0 + 1) }, y: c.total,
                color: PlotPanel.palette[k % PlotPanel.palette.count], dash: PlotPanel.dashes[k % PlotPanel.dashes.count])
        }
        let panel = PlotPanel(
            title: "Residual variance, dataset \(datasetID.prefix(12))"
                + (curves.first?.centerSpecific == true ? " (centre-specific)" : ""),
            xLabel: "functions per l (q)", yLabel: "residual variance", series: series, logY: true)
        panel.draw(into: &svg, x: 0, y: 0, width: 620, height: 400)
        return svg.render()
    }
}

extension DatasetService {
    /// The plot of a stored dataset's curves, primitive, separate and mixed.
    public func residualVarianceSVG(_ id: String, centerSpecific: Bool) throws(ServiceError) -> String {
        var curves: [ResidualVarianceCurves] = []
        for kind in ResidualVarianceCurves.Kind.allCases {
            curves.append(try residualVariance(id, kind: kind, centerSpecific: centerSpecific))
        }
        return ResidualVariancePlot.svg(curves, datasetID: id)
    }
}
