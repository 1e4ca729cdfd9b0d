import SoapHTTP

/// Media types of requests and responses: the JSON body check (415) and the choice of a
/// response format from `Accept` (406 when none fits).
extension Application {
    /// 415 unless the body is declared JSON (a missing Content-Type on an empty body is let through to 400/422).
    static func requireJSONBody(_ request: HTTPRequest) -> HTTPResponse? {
        let type = request.headers["Content-Type"].map { mediaType($0) } ?? ""
        if type == "application/json" || (type.isEmpty && request.body.isEmpty) { return nil }
        return problem(
            status: 415, title: "Unsupported media type",
            detail: "send the body as application/json (optionally with Content-Encoding: gzip)")
    }

    /// The lower-cased media type without parameters.
    static func mediaType(_ header: String) -> String {
        String(header.split(separator: ";", maxSplits: 1).first ?? "").trimmingSpaces().lowercased()
    }

    /// Whether Accept names `type` itself with a non-zero q (wildcards do not count: the
    /// replica formats are only sent to those who ask for them by name).
    static func asksFor(_ type: String, _ request: HTTPRequest) -> Bool {
        guard let accept = request.headers["Accept"] else { return false }
        return accept.split(separator: ",").contains { item in
            let parts = item.split(separator: ";")
            guard String(parts.first ?? "").trimmingSpaces().lowercased() == type else { return false }
            return !parts.dropFirst().contains { p in
                let kv = p.split(separator: "=", maxSplits: 1)
                return kv.count == 2 && kv[0].trimmingSpaces().lowercased() == "q" && (Double(kv[1].trimmingSpaces()) ?? 0) <= 0
            }
        }
    }

    /// The offered format the Accept header prefers (by q, then by our order), or nil for 406.
    static func negotiate(_ accept: String?, offered: [FeatureFormat]) -> FeatureFormat? {
        guard let accept, !accept.trimmingSpaces().isEmpty else { return offered.first }
        var best: (FeatureFormat, Double, Int)? = nil
        for item in accept.split(separator: ",") {
            let parts = item.split(separator: ";")
            let type = String(parts.first ?? "").trimmingSpaces().lowercased()
            var q = 1.0
            for p in parts.dropFirst() {
                let kv = p.split(separator: "=", maxSplits: 1)
                if kv.count == 2, kv[0].trimmingSpaces().lowercased() == "q" { q = Double(kv[1].trimmingSpaces()) ?? 0 }
            }
            guard q > 0 else { continue }
            for (rank, format) in offered.enumerated() {
                let matches =
                    type == format.rawValue || type == "*/*" || (type == "application/*")
                    || (type == "application/octet-stream" && format == .npz)
                if matches, best == nil || q > best!.1 || (q == best!.1 && rank < best!.2) { best = (format, q, rank) }
            }
        }
        return best?.0
    }
}
