/// A small SVG writer: shapes and text appended in order, every attribute value and text
/// escaped, every coordinate finite (a non-finite one is written as 0, never as "nan").
struct SVGDocument {
    let width: Double
    let height: Double
    private var parts: [String] = []

    init(width: Double, height: Double) {
        self.width = width
        self.height = height
    }

    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    /// A coordinate with two decimals.
    static func number(_ x: Double) -> String {
        guard x.isFinite else { return "0" }
        let r = (x * 100).rounded() / 100
        return r == r.rounded() ? String(Int(r)) : String(r)
    }

    mutating func open(_ tag: String, _ attributes: [(String, String)] = []) {
        parts.append("<\(tag)" + Self.attributes(attributes) + ">")
    }

    mutating func close(_ tag: String) { parts.append("</\(tag)>") }

    mutating func element(_ tag: String, _ attributes: [(String, String)]) {
        parts.append("<\(tag)" + Self.attributes(attributes) + "/>")
    }

    mutating func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, stroke: String, width: Double = 1) {
        element(
            "line",
            [
                ("x1", Self.number(x1)), ("y1", Self.number(y1)), ("x2", Self.number(x2)), ("y2", Self.number(y2)),
                ("stroke", stroke), ("stroke-width", Self.number(width)),
            ])
    }

    mutating func rect(_ x: Double, _ y: Double, _ w: Double, _ h: Double, fill: String, stroke: String = "none") {
        element(
            "rect",
            [
                ("x", Self.number(x)), ("y", Self.number(y)), ("width", Self.number(w)), ("height", Self.number(h)),
                ("fill", fill), ("stroke", stroke),
            ])
    }

    mutating func text(
        _ content: String, x: Double, y: Double, anchor: String = "start", size: Double = 11, rotate: Bool = false,
        className: String? = nil
    ) {
        var a = [("x", Self.number(x)), ("y", Self.number(y)), ("font-size", Self.number(size)), ("text-anchor", anchor)]
        if rotate { a.append(("transform", "rotate(-90 \(Self.number(x)) \(Self.number(y)))")) }
        if let className { a.append(("class", className)) }
        parts.append("<text" + Self.attributes(a) + ">" + Self.escape(content) + "</text>")
    }

    /// A polyline through points (NaN or infinite points break it into pieces).
    mutating func path(_ points: [(Double, Double)], stroke: String, dash: String? = nil, className: String = "series") {
        var d = ""
        var pen = false
        for (x, y) in points {
            guard x.isFinite, y.isFinite else {
                pen = false
                continue
            }
            d += (pen ? " L" : (d.isEmpty ? "M" : " M")) + Self.number(x) + " " + Self.number(y)
            pen = true
        }
        guard !d.isEmpty else { return }
        var a = [("class", className), ("d", d), ("fill", "none"), ("stroke", stroke), ("stroke-width", "1.5")]
        if let dash { a.append(("stroke-dasharray", dash)) }
        element("path", a)
    }

    func render() -> String {
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Self.number(width))\" "
            + "height=\"\(Self.number(height))\" viewBox=\"0 0 \(Self.number(width)) \(Self.number(height))\" "
            + "font-family=\"sans-serif\">\n" + parts.joined(separator: "\n") + "\n</svg>\n"
    }

    private static func attributes(_ list: [(String, String)]) -> String {
        list.map { " \($0.0)=\"\(escape($0.1))\"" }.joined()
    }
}
