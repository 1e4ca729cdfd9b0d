import FastJSON

/// GET /: the service at a glance, server-rendered HTML and CSS with a few lines of plain
/// JavaScript (a job's progress bar polls GET /v1/jobs/{id}). Every value from storage or
/// configuration is HTML-escaped.
struct StatusPage {
    var version: String
    var limits: [(String, String)]
    var datasets: [DatasetListing]
    var bases: [JSONValue]
    var jobs: [JSONValue]

    static func escape(_ text: String) -> String { SVGDocument.escape(text) }

    /// `/path?…` with the escaped, percent-encoded id segment.
    static func path(_ prefix: String, _ id: String, _ suffix: String = "") -> String {
        let safe = !id.isEmpty && id.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
        return escape(prefix + (safe ? id : "invalid") + suffix)
    }

    /// A JSON scalar as plain text (integral numbers without ".0").
    static func text(_ v: JSONValue) -> String {
        switch v {
        case .number(let x) where x == x.rounded() && abs(x) < 1e15: return String(Int(x))
        case .number(let x): return String(x)
        case .string(let s): return s
        case .bool(let b): return b ? "true" : "false"
        default: return String(decoding: JSON.serialize(v), as: UTF8.self)
        }
    }

    func render() -> String {
        var h = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <link rel="icon" href="data:,">
            <title>soapd \(Self.escape(version))</title>
            <style>
            body { font-family: system-ui, sans-serif; margin: 0; color: #222; background: #f6f7f9; }
            header { background: #243447; color: #fff; padding: 12px 24px; }
            header h1 { margin: 0; font-size: 20px; }
            main { padding: 12px 24px; max-width: 1200px; }
            section { background: #fff; border: 1px solid #dde; border-radius: 6px; padding: 12px 16px; margin: 12px 0; }
            h2 { font-size: 17px; margin: 4px 0 10px; }
            table { border-collapse: collapse; width: 100%; font-size: 13px; }
            th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eee; vertical-align: top; }
            code { font-size: 12px; }
            .plot { max-width: 100%; height: auto; border: 1px solid #eee; background: #fff; display: block; margin: 6px 0; }
            .limits td:first-child { font-family: monospace; }
            progress { width: 160px; }
            .empty { color: #777; font-style: italic; }
            </style></head><body>
            <header><h1>soapd <span id="version">\(Self.escape(version))</span></h1></header>
            <main>

            """
        h += "<section id=\"datasets\"><h2>Datasets</h2>"
        if datasets.isEmpty { h += "<p class=\"empty\">No datasets yet.</p>" }
        for d in datasets {
            h += "<div class=\"dataset\" id=\"dataset-\(Self.escape(d.id))\">"
            h += "<table><tr><th>id</th><th>structures</th><th>centres</th><th>species</th><th>version</th><th>plot</th></tr>"
            h += "<tr><td><code>\(Self.escape(d.id))</code></td><td class=\"structures\">\(d.structures)</td>"
            h += "<td>\(Self.escape(d.centersJSON))</td><td>\(Self.escape(d.speciesJSON))</td><td>\(d.version)</td>"
            let plot = Self.path("/v1/datasets/", d.id, "/residual-variance.svg")
            h += "<td><a href=\"\(plot)\">residual variance (SVG)</a></td></tr></table>"
            if d.structures > 0 {
                h +=
                    "<img class=\"plot rv-plot\" src=\"\(plot)\" alt=\"residual variance of dataset \(Self.escape(d.id))\" width=\"620\" height=\"400\">"
            }
            h += "</div>"
        }
        h += "</section>\n<section id=\"bases\"><h2>Bases</h2>"
        if bases.isEmpty { h += "<p class=\"empty\">No fitted bases yet.</p>" }
        for b in bases {
            let id = b["id"]?.stringValue ?? ""
            let options =
                (b["options"]?.objectValue.map { o in
                    o.keys.map { k in "\(k): " + (o[k].map(Self.text) ?? "") }.joined(separator: ", ")
                }) ?? ""
            let dataset = b["dataset"]?["id"]?.stringValue ?? ""
            h +=
                "<div class=\"basis\" id=\"basis-\(Self.escape(id))\"><table><tr><th>id</th><th>dataset</th><th>options</th></tr>"
            h += "<tr><td><code>\(Self.escape(id))</code></td><td><code>\(Self.escape(dataset))</code></td>"
            h += "<td><code>\(Self.escape(options))</code></td></tr></table>"
            h +=
                "<img class=\"plot basis-plot\" src=\"\(Self.path("/v1/bases/", id, "/plot.svg"))\" alt=\"radial functions of basis \(Self.escape(id))\">"
            h += "</div>"
        }
        h += "</section>\n<section id=\"jobs\"><h2>Jobs</h2>"
        if jobs.isEmpty { h += "<p class=\"empty\">No jobs.</p>" }
        if !jobs.isEmpty {
            h += "<table><tr><th>id</th><th>state</th><th>progress</th><th>result</th></tr>"
            for j in jobs {
                let id = j["id"]?.stringValue ?? ""
                let state = j["state"]?.stringValue ?? ""
                let done = j["progress"]?["structures_done"]?.intValue ?? 0
                let total = j["progress"]?["structures_total"]?.intValue ?? 0
                h += "<tr class=\"job\" data-job=\"\(Self.escape(id))\"><td><code>\(Self.escape(id))</code></td>"
                h += "<td class=\"state\">\(Self.escape(state))</td>"
                h += "<td><progress class=\"job-progress\" max=\"\(max(total, 1))\" value=\"\(done)\"></progress> "
                h += "<span class=\"count\">\(done)/\(total)</span></td>"
                let result = Self.path("/v1/jobs/", id, "/result")
                h +=
                    "<td class=\"result\">"
                    + (state == "succeeded" ? "<a href=\"\(result)\">JSON</a>" : "") + "</td></tr>"
            }
            h += "</table>"
        }
        h += "</section>\n<section id=\"configuration\"><h2>Configuration limits</h2><table class=\"limits\">"
        for (k, v) in limits { h += "<tr><td>\(Self.escape(k))</td><td>\(Self.escape(v))</td></tr>" }
        h += "</table></section>\n</main>\n"
        // Live progress: running and queued jobs poll their status once a second.
        h += """
            <script>
            for (const row of document.querySelectorAll("tr.job")) {
              const tick = async () => {
                const state = row.querySelector(".state").textContent;
                if (state !== "queued" && state !== "running") return;
                const r = await fetch("/v1/jobs/" + encodeURIComponent(row.dataset.job), {credentials: "same-origin"});
                if (!r.ok) return;
                const j = await r.json(), p = row.querySelector("progress");
                p.max = Math.max(j.progress.structures_total, 1); p.value = j.progress.structures_done;
                row.querySelector(".count").textContent = j.progress.structures_done + "/" + j.progress.structures_total;
                row.querySelector(".state").textContent = j.state;
                setTimeout(tick, 1000);
              };
              tick();
            }
            </script>
            </body></html>

            """
        return h
    }
}
