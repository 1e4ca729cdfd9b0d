import SoapHTTP

/// The fitted-basis routes (thesis chapter 2), JSON in and out.
extension Application {
    /// POST /v1/bases: 201 when fitted now, 200 when the same fit was already stored.
    func fitBasis(_ request: HTTPRequest) -> HTTPResponse {
        answer(bases, jsonBody: request) { bases throws(ServiceError) in
            let (body, created, newID) = try bases.fit(request.body)
            var r = json(created ? 201 : 200, body)
            r.headers["Location"] = "/v1/bases/" + newID
            return r
        }
    }

    /// GET /v1/bases?limit&offset.
    func listBases(_ request: HTTPRequest) -> HTTPResponse {
        answer(bases) { bases throws(ServiceError) in
            let (limit, offset) = try Self.page(request)
            return json(200, try bases.listBases(limit: limit, offset: offset))
        }
    }

    /// GET /v1/bases/{id}[?radial_functions=points]; with `Accept: application/x-soapd-basis`
    /// the document another replica stores (PUT), fetched from a peer when not stored here.
    func getBasis(_ request: HTTPRequest, id: String) -> HTTPResponse {
        answer(bases) { bases throws(ServiceError) in
            let askPeers = request.headers[PeerDirectory.requestHeader] == nil
            if Self.asksFor(BasisTransfer.mediaType, request) {
                return HTTPResponse(
                    status: 200, contentType: BasisTransfer.mediaType, body: try bases.document(id, askPeers: askPeers))
            }
            var points: Int? = nil
            if let p = request.query["radial_functions"] {
                guard let n = Int(p), (2...2000).contains(n) else {
                    throw ServiceError(.invalid, "radial_functions must be a number of grid points from 2 to 2000")
                }
                points = n
            }
            return json(200, try bases.basis(id, radialPoints: points, askPeers: askPeers))
        }
    }

    /// PUT /v1/bases/{id}: a basis document from another replica; 201 stored, 200 already here.
    func putBasis(_ request: HTTPRequest, id: String) -> HTTPResponse {
        answer(bases) { bases throws(ServiceError) in
            let type = Self.mediaType(request.headers["Content-Type"] ?? "")
            guard type == BasisTransfer.mediaType || type == "application/octet-stream" else {
                return Self.problem(
                    status: 415, title: "Unsupported media type",
                    detail: "send the basis as \(BasisTransfer.mediaType) (GET /v1/bases/{id} with that Accept)")
            }
            let (summary, created) = try bases.store(document: request.body, id: id)
            var r = json(created ? 201 : 200, summary)
            r.headers["Location"] = "/v1/bases/" + id
            return r
        }
    }

    /// DELETE /v1/bases/{id}.
    func deleteBasis(_ request: HTTPRequest, id: String) -> HTTPResponse {
        answer(bases) { bases throws(ServiceError) in
            try bases.deleteBasis(id)
            return HTTPResponse(status: 204)
        }
    }
}
