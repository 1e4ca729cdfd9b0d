import FastJSON
import SoapHTTP

/// GET /health, GET /metrics and GET /v1/info: the service's own state, no database needed.
extension Application {
    /// GET /health: the service accepts work.
    func health(_ request: HTTPRequest) -> HTTPResponse {
        HTTPResponse(
            status: 200, contentType: "application/json",
            body: Array("{\"status\":\"ok\",\"version\":\"\(Self.version)\"}".utf8))
    }

    /// GET /metrics: Prometheus text exposition 0.0.4.
    func metricsText(_ request: HTTPRequest) -> HTTPResponse {
        HTTPResponse(
            status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8",
            body: Array(renderMetrics().utf8))
    }

    /// GET /v1/info: the version and the request limits of this configuration, so that a
    /// client can split large inputs into requests the server accepts.
    func info(_ request: HTTPRequest) -> HTTPResponse {
        let c = configuration
        var w = JSONWriter(capacity: 512)
        w.beginObject()
        w.key("version")
        w.string(Self.version)
        w.key("limits")
        w.beginObject()
        for (name, value) in [
            ("max_structures", c.maxStructures), ("max_atoms_per_structure", c.maxAtomsPerStructure),
            ("max_atoms_total", c.maxAtomsTotal), ("max_pairs_per_structure", c.maxPairsPerStructure),
            ("max_body_bytes", c.maxBodyBytes), ("max_output_values", c.maxOutputValues),
            ("max_gradient_values", c.maxGradientValues), ("max_angular", c.maxAngular), ("max_radial", c.maxRadial),
            ("job_max_structures", c.jobMaxStructures),
        ] {
            w.key(name)
            w.integer(value)
        }
        w.key("compute_timeout_seconds")
        w.number(c.computeTimeoutSeconds)
        w.endObject()
        w.endObject()
        return json(200, w.bytes)
    }

    func renderMetrics() -> String {
        let stats = serverStats.current()
        let cache = features.splineCache.statistics
        return metrics.render(
            gauges: [
                ("soapd_http_open_connections", "Open client connections.", Double(stats?.openConnections ?? 0)),
                ("soapd_queue_depth", "Requests waiting for a compute worker.", Double(stats?.queuedRequests ?? 0)),
                ("soapd_requests_running", "Requests being computed.", Double(stats?.runningRequests ?? 0)),
                ("soapd_spline_cache_entries", "Spline tables held in memory.", Double(cache.entries)),
            ],
            counters: [
                ("soapd_spline_cache_hits_total", "Spline table lookups served from the cache.", Double(cache.hits)),
                ("soapd_spline_cache_misses_total", "Spline tables built.", Double(cache.misses)),
                (
                    "soapd_http_rejected_requests_total", "Requests refused because the queue was full.",
                    Double(stats?.rejectedRequests ?? 0)
                ),
                (
                    "soapd_http_rejected_connections_total", "Connections refused at the connection limit.",
                    Double(stats?.rejectedConnections ?? 0)
                ),
            ])
    }
}

/// GET /ready: whether this replica should be sent new work (issue 16).
extension Application {
    /// 200 while serving; 503 from SIGTERM on (draining), so a load balancer stops sending.
    func ready(_ request: HTTPRequest) -> HTTPResponse {
        if draining.load(ordering: .relaxed) {
            var r = Self.problem(status: 503, title: "Service unavailable", detail: "draining: this replica is shutting down")
            r.headers["Retry-After"] = "1"
            return r
        }
        return HTTPResponse(status: 200, contentType: "application/json", body: Array("{\"status\":\"ready\"}".utf8))
    }
}
