#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// One plot panel: a frame with axes, ticks, labels, line series and a legend, on a linear
/// or logarithmic y scale. Drawn into an `SVGDocument` at a given rectangle.
struct PlotPanel {
    struct Series {
        var name: String
        var x: [Double]
        var y: [Double]
        var color: String
        var dash: String? = nil
    }
    struct LegendEntry {
        var name: String
        var color: String
        var dash: String? = nil
    }

    var title: String
    var xLabel: String
    var yLabel: String
    var series: [Series]
    var logY = false
    /// Shown at the panel's right, inside the frame; nil: one per series.
    var legend: [LegendEntry]? = nil

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
    static let dashes: [String?] = [nil, "6 3", "2 2", "8 3 2 3"]

    func draw(into svg: inout SVGDocument, x: Double, y: Double, width: Double, height: Double) {
        let (left, right, top, bottom) = (x + 58, x + width - 12, y + 26, y + height - 40)
        let xs = series.flatMap(\.x).filter(\.isFinite)
        var ys = series.flatMap(\.y).filter(\.isFinite)
        if logY { ys = ys.filter { $0 > 0 } }
        var (x0, x1) = (xs.min() ?? 0, xs.max() ?? 1)
        if x1 <= x0 { x1 = x0 + 1 }
        var (y0, y1) = (ys.min() ?? (logY ? 1e-3 : 0), ys.max() ?? 1)
        if logY {
            y0 = pow(10, floor(log10(y0)))
            y1 = pow(10, ceil(log10(y1)))
            if y1 <= y0 { y1 = y0 * 10 }
        } else {
            if y1 <= y0 { (y0, y1) = (y0 - 1, y1 + 1) }
            let pad = 0.05 * (y1 - y0)
            (y0, y1) = (y0 - pad, y1 + pad)
        }
        func px(_ v: Double) -> Double { left + (v - x0) / (x1 - x0) * (right - left) }
        func py(_ v: Double) -> Double {
            let t = logY ? (log10(v) - log10(y0)) / (log10(y1) - log10(y0)) : (v - y0) / (y1 - y0)
            return bottom - t * (bottom - top)
        }
        svg.open("g", [("class", "panel")])
        svg.rect(left, top, right - left, bottom - top, fill: "#ffffff", stroke: "#444444")
        svg.text(title, x: (left + right) / 2, y: y + 16, anchor: "middle", size: 13, className: "title")
        // Ticks and grid.
        for t in Self.ticks(x0, x1) {
            svg.line(px(t), bottom, px(t), bottom + 4, stroke: "#444444")
            svg.text(Self.label(t), x: px(t), y: bottom + 15, anchor: "middle", size: 10, className: "tick")
        }
        let yTicks = logY ? Self.logTicks(y0, y1) : Self.ticks(y0, y1)
        for t in yTicks {
            svg.line(left - 4, py(t), left, py(t), stroke: "#444444")
            svg.line(left, py(t), right, py(t), stroke: "#eeeeee")
            svg.text(
                logY ? Self.exponentLabel(t) : Self.label(t), x: left - 6, y: py(t) + 3, anchor: "end", size: 10,
                className: "tick")
        }
        if !logY && y0 < 0 && y1 > 0 { svg.line(left, py(0), right, py(0), stroke: "#bbbbbb") }
        svg.text(xLabel, x: (left + right) / 2, y: bottom + 32, anchor: "middle", size: 11, className: "axis-label")
        svg.text(yLabel, x: x + 14, y: (top + bottom) / 2, anchor: "middle", size: 11, rotate: true, className: "axis-label")
        for s in series {
            let points = zip(s.x, s.y).map { (a, b) -> (Double, Double) in
                (logY && !(b > 0)) ? (.nan, .nan) : (px(a), py(b))
            }
            svg.path(points, stroke: s.color, dash: s.dash)
        }
        let entries = legend ?? series.map { LegendEntry(name: $0.name, color: $0.color, dash: $0.dash) }
        if !entries.isEmpty {
            svg.element(
                "rect",
                [
                    ("x", SVGDocument.number(right - 116)), ("y", SVGDocument.number(top + 3)), ("width", "110"),
                    ("height", SVGDocument.number(Double(entries.count) * 14 + 4)), ("fill", "#ffffff"),
                    ("fill-opacity", "0.85"), ("stroke", "#cccccc"),
                ])
        }
        for (k, e) in entries.enumerated() {
            let ly = top + 12 + Double(k) * 14
            svg.open("g", [("class", "legend-entry")])
            svg.element(
                "path",
                [
                    ("d", "M\(SVGDocument.number(right - 110)) \(SVGDocument.number(ly - 3)) h22"), ("stroke", e.color),
                    ("stroke-width", "2"), ("fill", "none"),
                ] + (e.dash.map { [("stroke-dasharray", $0)] } ?? []))
            svg.text(e.name, x: right - 84, y: ly, size: 10)
            svg.close("g")
        }
        svg.close("g")
    }

    /// About five round ticks in [a, b].
    static func ticks(_ a: Double, _ b: Double) -> [Double] {
        let raw = (b - a) / 5
        guard raw > 0, raw.isFinite else { return [a] }
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? raw
        var out: [Double] = []
        var t = ceil(a / step) * step
        while t <= b + step * 1e-9 && out.count < 50 {
            out.append(abs(t) < step * 1e-9 ? 0 : t)
            t += step
        }
        return out
    }

    /// Decades in [a, b].
    static func logTicks(_ a: Double, _ b: Double) -> [Double] {
        let (lo, hi) = (Int(floor(log10(a))), Int(ceil(log10(b))))
        let stride = max(1, (hi - lo + 6) / 7)
        return Swift.stride(from: lo, through: hi, by: stride).map { pow(10, Double($0)) }
    }

    static func label(_ v: Double) -> String {
        if v == v.rounded() && abs(v) < 1e6 { return String(Int(v)) }
        // Three significant digits, fixed point.
        let decimals = min(8, max(0, 2 - Int(floor(log10(abs(v))))))
        var scale = 1
        for _ in 0..<decimals { scale *= 10 }
        let n = Int((abs(v) * Double(scale)).rounded())
        var digits = String(n)
        if decimals > 0 {
            digits = String(repeating: "0", count: max(0, decimals + 1 - digits.count)) + digits
            digits.insert(".", at: digits.index(digits.endIndex, offsetBy: -decimals))
            while digits.hasSuffix("0") { digits.removeLast() }
            if digits.hasSuffix(".") { digits.removeLast() }
        }
        return (v < 0 ? "-" : "") + digits
    }

    static func exponentLabel(_ v: Double) -> String { "1e" + String(Int(log10(v).rounded())) }
}
