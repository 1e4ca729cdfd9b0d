import SoapCore

/// GET /v1/bases/{id}/plot.svg: the optimal radial functions R_aql(r) = Σ_n U_qn R_n(r)
/// (thesis Fig. 2.1), one panel per l (and per centre species when centre-specific); colour
/// by q, dash by neighbour species.
enum BasisPlot {
    static func svg(_ basis: OptimalBasis, points: Int = 160) -> String {
        let (r, values) = (try? basis.radialFunctions(points: points)) ?? ([], [])
        let L = basis.hypers.maxAngular
        let S = basis.species.count
        let Q = basis.q
        let columns = min(L + 1, 3)
        let rowsPerBlock = (L + 1 + columns - 1) / columns
        let (panelW, panelH) = (360.0, 250.0)
        let blocks = basis.centerBlocks
        var svg = SVGDocument(width: Double(columns) * panelW, height: Double(blocks * rowsPerBlock) * panelH + 10)
        let speciesNames = basis.species.map { Elements.isKnown($0) ? Elements.symbols[$0 - 1] : "Z\($0)" }
        for center in 0..<blocks {
            for l in 0...L {
                var series: [PlotPanel.Series] = []
                for a in 0..<S {
                    for q in 0..<Q {
                        // [centre block][species][l][q][point]
                        let base = ((((center * S + a) * (L + 1) + l) * Q) + q) * r.count
                        guard base + r.count <= values.count else { continue }
                        series.append(
                            PlotPanel.Series(
                                name: "\(speciesNames[a]) q=\(q + 1)", x: r, y: Array(values[base..<(base + r.count)]),
                                color: PlotPanel.palette[q % PlotPanel.palette.count],
                                dash: PlotPanel.dashes[a % PlotPanel.dashes.count]))
                    }
                }
                var legend = (0..<min(Q, 8)).map {
                    PlotPanel.LegendEntry(name: "q = \($0 + 1)", color: PlotPanel.palette[$0 % PlotPanel.palette.count])
                }
                if basis.contraction == .separate || S > 1 {
                    legend += (0..<min(S, 4)).map {
                        PlotPanel.LegendEntry(name: speciesNames[$0], color: "#555555", dash: PlotPanel.dashes[$0] ?? "none")
                    }
                }
                let title =
                    (basis.centerSpecific ? "centre \(speciesNames[center]), " : "") + "l = \(l)"
                    + " (\(basis.contraction.rawValue), q = \(Q))"
                let panel = PlotPanel(
                    title: title, xLabel: "r / Å", yLabel: "R(r)", series: series, legend: l == 0 ? legend : [])
                let row = center * rowsPerBlock + l / columns
                panel.draw(
                    into: &svg, x: Double(l % columns) * panelW, y: Double(row) * panelH, width: panelW, height: panelH)
            }
        }
        return svg.render()
    }
}

extension BasisService {
    /// The plot of a stored basis.
    public func plotSVG(_ id: String) throws(ServiceError) -> String {
        guard try storage({ try bases.get(id) }) != nil else { throw ServiceError(.notFound, "no basis \(id.prefix(80))") }
        return BasisPlot.svg(try expansionBasis(id).fitted)
    }
}
