extension Application {
    /// Every route the service answers: method, path template, the permission it needs and
    /// its handler. openapi.yaml lists exactly these (a test checks); metrics label requests
    /// by template. To add a route, add a row here and its handler next to its kin.
    static let routeTable = RouteTable([
        Route("GET", "/", .read) { app, request, _ in app.statusPage(request) },
        Route("GET", "/health", .open) { app, request, _ in app.health(request) },
        Route("GET", "/metrics", .open) { app, request, _ in app.metricsText(request) },
        Route("GET", "/v1/info", .read) { app, request, _ in app.info(request) },
        Route("POST", "/v1/features", .read) { app, request, _ in app.postFeatures(request) },
        Route("POST", "/v1/features/vjp", .read) { app, request, _ in app.postFeaturesVJP(request) },
        Route("GET", "/v1/datasets", .read) { app, request, _ in app.listDatasets(request) },
        Route("POST", "/v1/datasets", .write) { app, request, _ in app.createDataset(request) },
        Route("GET", "/v1/datasets/{id}", .read) { app, request, id in app.getDataset(request, id: id) },
        Route("POST", "/v1/datasets/{id}/structures", .write) { app, request, id in
            app.addDatasetStructures(request, id: id)
        },
        Route("GET", "/v1/datasets/{id}/residual-variance", .read) { app, request, id in
            app.datasetResidualVariance(request, id: id)
        },
        Route("GET", "/v1/datasets/{id}/residual-variance.svg", .read) { app, request, id in
            app.residualVariancePlot(request, id: id)
        },
        Route("GET", "/v1/bases", .read) { app, request, _ in app.listBases(request) },
        Route("POST", "/v1/bases", .write) { app, request, _ in app.fitBasis(request) },
        Route("GET", "/v1/bases/{id}", .read) { app, request, id in app.getBasis(request, id: id) },
        Route("GET", "/v1/bases/{id}/plot.svg", .read) { app, request, id in app.basisPlot(request, id: id) },
        Route("DELETE", "/v1/bases/{id}", .write) { app, request, id in app.deleteBasis(request, id: id) },
        Route("POST", "/v1/analysis/select", .read) { app, request, _ in app.postSelect(request) },
        Route("POST", "/v1/analysis/gfre", .read) { app, request, _ in app.postReconstruction(request) },
        Route("GET", "/v1/jobs", .read) { app, request, _ in app.listJobs(request) },
        Route("POST", "/v1/jobs", .write) { app, request, _ in app.submitJob(request) },
        Route("GET", "/v1/jobs/{id}", .read) { app, request, id in app.getJob(request, id: id) },
        Route("DELETE", "/v1/jobs/{id}", .write) { app, request, id in app.deleteJob(request, id: id) },
        Route("GET", "/v1/jobs/{id}/result", .read) { app, request, id in app.jobResult(request, id: id) },
        // Scale-out (issue 16): readiness, bases by content id, mergeable dataset statistics.
        Route("GET", "/ready", .open) { app, request, _ in app.ready(request) },
        Route("PUT", "/v1/bases/{id}", .write) { app, request, id in app.putBasis(request, id: id) },
        Route("GET", "/v1/datasets/{id}/statistics", .read) { app, request, id in
            app.getDatasetStatistics(request, id: id)
        },
        Route("POST", "/v1/datasets/{id}/statistics", .write) { app, request, id in
            app.mergeDatasetStatistics(request, id: id)
        },
    ])

    /// Every route's path template and methods (HEAD goes with GET), from `routeTable`.
    public static var routes: [(path: String, methods: [String])] { routeTable.templates }
}
