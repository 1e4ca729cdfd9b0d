import FastJSON
import SoapHTTP

/// GET /: the web page (issue 15). Under the same read-token rules as the API; a browser
/// opens `/?token=READ_TOKEN` once and gets the token back as a cookie (HttpOnly,
/// SameSite=Strict, Path=/) that stands for a read token on GET routes only.
extension Application {
    static let tokenCookie = "soapd_token"

    /// GET /.
    func statusPage(_ request: HTTPRequest) -> HTTPResponse {
        var page = StatusPage(version: Self.version, limits: pageLimits(), datasets: [], bases: [], jobs: [])
        do throws(ServiceError) {
            if let datasets { page.datasets = try datasets.listDatasets(limit: 100, offset: 0) }
            if let bases, case .array(let list)? = try? JSON.parse(try bases.listBases(limit: 100, offset: 0))["bases"] {
                page.bases = list
            }
            if let jobs, case .array(let list)? = try? JSON.parse(try jobs.list(limit: 100, offset: 0, state: nil))["jobs"] {
                page.jobs = list
            }
        } catch {
            return Self.problem(error)
        }
        var r = HTTPResponse(status: 200, contentType: "text/html; charset=utf-8", body: Array(page.render().utf8))
        r.headers["Content-Security-Policy"] =
            "default-src 'self'; img-src 'self' data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"
        r.headers["Cache-Control"] = "no-store"
        return r
    }

    /// The limits shown on the page (those of GET /v1/info, and the analysis bound).
    func pageLimits() -> [(String, String)] {
        let c = configuration
        return [
            ("max_structures", c.maxStructures), ("max_atoms_per_structure", c.maxAtomsPerStructure),
            ("max_atoms_total", c.maxAtomsTotal), ("max_body_bytes", c.maxBodyBytes),
            ("max_output_values", c.maxOutputValues), ("max_angular", c.maxAngular), ("max_radial", c.maxRadial),
            ("job_max_structures", c.jobMaxStructures), ("analysis_max_values", c.analysisMaxValues),
        ].map { ($0.0, String($0.1)) } + [("compute_timeout_seconds", String(c.computeTimeoutSeconds))]
    }

    /// `GET /?token=T` with a valid read or write token: 303 to `/` with the token as a cookie.
    /// nil when the request is not one.
    func tokenLogin(_ request: HTTPRequest, template: String) -> HTTPResponse? {
        guard template == "/", request.method == "GET" || request.method == "HEAD", let token = request.query["token"] else {
            return nil
        }
        guard !token.isEmpty, token.count <= 512,
            token.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-._~+/=".contains($0)) }),
            authorization.decide(authorization.access(required: .read), authorization: "Bearer " + token) == .allowed
        else {
            return Self.problem(status: 401, title: "Unauthorized", detail: "the token is not a read or write token")
        }
        var r = HTTPResponse(status: 303)
        r.headers["Location"] = "/"
        r.headers["Set-Cookie"] = "\(Self.tokenCookie)=\(token); Path=/; HttpOnly; SameSite=Strict"
        r.headers["Cache-Control"] = "no-store"
        return r
    }

    /// The cookie's token as an Authorization value, for GET/HEAD of read (or open) routes
    /// only: a cookie never authorises a change of state.
    static func cookieAuthorization(_ request: HTTPRequest, permission: Authorization.Access) -> String? {
        guard permission != .write, request.method == "GET" || request.method == "HEAD",
            let cookies = request.headers["Cookie"]
        else { return nil }
        for part in cookies.split(separator: ";") {
            let pair = String(part).trimmingSpaces()
            if pair.hasPrefix(tokenCookie + "=") { return "Bearer " + pair.dropFirst(tokenCookie.count + 1) }
        }
        return nil
    }
}
