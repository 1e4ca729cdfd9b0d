/// The routes a service answers, checked once when built: every (method, template) has one
/// row, no two templates can match the same path, and HEAD is never listed (it goes with
/// GET). Dispatch, `Allow`, authorization and the openapi check all read this table.
struct RouteTable: Sendable {
    let routes: [Route]
    /// The templates in table order, each once (the order paths are matched in).
    let paths: [String]

    /// What a request's method and path come to.
    enum Resolution {
        /// The row to answer with, and the path's `{id}` segment ("" when none).
        case matched(Route, id: String)
        /// The path matches `template`, whose rows allow `allow` (HEAD included with GET).
        case methodNotAllowed(template: String, allow: [String])
        case notFound
    }

    /// The table of `routes`; stops the process when `RouteTable.problems` finds any (a
    /// table is written in code, so this fires on the first start after a bad edit).
    init(_ routes: [Route]) {
        let problems = Self.problems(routes)
        precondition(problems.isEmpty, "route table: " + problems.joined(separator: "; "))
        self.routes = routes
        paths = Self.uniqueTemplates(routes)
    }

    /// What is wrong with a table: a method other than GET, POST, PUT, PATCH or DELETE; a
    /// template that is not "/"-separated literals and `{id}`; two rows for one method and
    /// template (two handlers for one route); two templates that could match one path.
    static func problems(_ routes: [Route]) -> [String] {
        var problems: [String] = []
        var seen = Set<String>()
        for route in routes {
            if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(route.method) {
                problems.append("\(route.method) \(route.template): method must be GET, POST, PUT, PATCH or DELETE")
            }
            let segments = route.template.split(separator: "/", omittingEmptySubsequences: false)
            if route.template != "/" && !route.template.hasPrefix("/")
                || route.template != "/"
                    && segments.dropFirst().contains(where: { $0.isEmpty || ($0.contains("{") && $0 != "{id}") })
            {
                problems.append("\(route.method) \(route.template): a template is /-separated literals and {id}")
            }
            if !seen.insert(route.method + " " + route.template).inserted {
                problems.append("\(route.method) \(route.template): listed twice")
            }
        }
        let templates = uniqueTemplates(routes)
        for (k, a) in templates.enumerated() {
            for b in templates[(k + 1)...] where overlap(a, b) {
                problems.append("\(a) and \(b) match the same paths")
            }
        }
        return problems
    }

    /// The templates in table order, each once.
    static func uniqueTemplates(_ routes: [Route]) -> [String] {
        var seen = Set<String>()
        return routes.map(\.template).filter { seen.insert($0).inserted }
    }

    /// Whether some path matches both templates.
    static func overlap(_ a: String, _ b: String) -> Bool {
        let x = a.split(separator: "/", omittingEmptySubsequences: false)
        let y = b.split(separator: "/", omittingEmptySubsequences: false)
        return x.count == y.count && zip(x, y).allSatisfy { $0 == $1 || $0 == "{id}" || $1 == "{id}" }
    }

    /// Every template with its methods, in table order (HEAD not listed; it goes with GET).
    var templates: [(path: String, methods: [String])] {
        paths.map { template in
            (template, routes.filter { $0.template == template }.map(\.method))
        }
    }

    /// The row of a method on a template, if the table has one.
    func route(method: String, template: String) -> Route? {
        routes.first { $0.method == method && $0.template == template }
    }

    /// The row for a method (HEAD as GET) and a percent-decoded path.
    func resolve(method: String, path: String) -> Resolution {
        let method = method == "HEAD" ? "GET" : method
        guard let (template, id) = match(path) else { return .notFound }
        if let route = route(method: method, template: template) { return .matched(route, id: id ?? "") }
        let methods = routes.filter { $0.template == template }.map(\.method)
        return .methodNotAllowed(template: template, allow: methods.contains("GET") ? methods + ["HEAD"] : methods)
    }

    /// The template matching a path and its `{id}` segment (1 to 128 characters), if any.
    func match(_ path: String) -> (template: String, id: String?)? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        for template in paths {
            let segments = template.split(separator: "/", omittingEmptySubsequences: false)
            guard segments.count == parts.count else { continue }
            var id: String? = nil
            var matches = true
            for (t, p) in zip(segments, parts) {
                if t == "{id}" {
                    guard !p.isEmpty, p.count <= 128 else {
                        matches = false
                        break
                    }
                    id = String(p)
                } else if t != p {
                    matches = false
                    break
                }
            }
            if matches { return (template, id) }
        }
        return nil
    }
}
