import Synchronization

/// Counters and a latency histogram per route, in Prometheus text format.
public final class Metrics: Sendable {
    static let bucketBounds: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

    private struct Histogram {
        var buckets = [Int](repeating: 0, count: Metrics.bucketBounds.count)
        var count = 0
        var sum = 0.0
    }
    private struct State {
        var requests: [String: Int] = [:]  // "route|status"
        var latency: [String: Histogram] = [:]  // route
        var atoms = 0
        var structures = 0
    }
    private let state = Mutex(State())

    public init() {}

    public func record(route: String, status: Int, seconds: Double) {
        state.withLock { s in
            s.requests["\(route)|\(status)", default: 0] += 1
            var h = s.latency[route] ?? Histogram()
            for (k, bound) in Self.bucketBounds.enumerated() where seconds <= bound { h.buckets[k] += 1 }
            h.count += 1
            h.sum += seconds
            s.latency[route] = h
        }
    }

    public func recordFeaturized(atoms: Int, structures: Int) {
        state.withLock {
            $0.atoms += atoms
            $0.structures += structures
        }
    }

    /// The exposition text; `gauges` adds live values (queue depth, cache sizes…).
    public func render(
        gauges: [(name: String, help: String, value: Double)],
        counters: [(name: String, help: String, value: Double)]
    ) -> String {
        let s = state.withLock { $0 }
        var out = "# HELP soapd_http_requests_total HTTP requests answered, by route and status.\n"
        out += "# TYPE soapd_http_requests_total counter\n"
        for key in s.requests.keys.sorted() {
            let parts = key.split(separator: "|", maxSplits: 1)
            out += "soapd_http_requests_total{route=\"\(parts[0])\",status=\"\(parts[1])\"} \(s.requests[key]!)\n"
        }
        out += "# HELP soapd_http_request_duration_seconds Time from a request's first byte to its handler's answer.\n"
        out += "# TYPE soapd_http_request_duration_seconds histogram\n"
        for route in s.latency.keys.sorted() {
            let h = s.latency[route]!
            for (k, bound) in Self.bucketBounds.enumerated() {
                out += "soapd_http_request_duration_seconds_bucket{route=\"\(route)\",le=\"\(bound)\"} \(h.buckets[k])\n"
            }
            out += "soapd_http_request_duration_seconds_bucket{route=\"\(route)\",le=\"+Inf\"} \(h.count)\n"
            out += "soapd_http_request_duration_seconds_sum{route=\"\(route)\"} \(h.sum)\n"
            out += "soapd_http_request_duration_seconds_count{route=\"\(route)\"} \(h.count)\n"
        }
        out += "# HELP soapd_atoms_featurized_total Atoms featurized (rows of per-atom work).\n"
        out += "# TYPE soapd_atoms_featurized_total counter\nsoapd_atoms_featurized_total \(s.atoms)\n"
        out += "# HELP soapd_structures_featurized_total Structures featurized.\n"
        out += "# TYPE soapd_structures_featurized_total counter\nsoapd_structures_featurized_total \(s.structures)\n"
        for c in counters {
            out += "# HELP \(c.name) \(c.help)\n# TYPE \(c.name) counter\n\(c.name) \(format(c.value))\n"
        }
        for g in gauges {
            out += "# HELP \(g.name) \(g.help)\n# TYPE \(g.name) gauge\n\(g.name) \(format(g.value))\n"
        }
        return out
    }

    private func format(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(v) }
}
