import SoapHTTP

/// Header and query parameters shared by several routes.
extension Application {
    /// The Idempotency-Key header, if sent: 1 to 255 characters.
    static func idempotencyKey(_ request: HTTPRequest) throws(ServiceError) -> String? {
        let key = request.headers["Idempotency-Key"]
        if let key, key.isEmpty || key.count > 255 {
            throw ServiceError(.invalid, "Idempotency-Key must be 1 to 255 characters")
        }
        return key
    }

    /// `limit` (1…1000, default 100) and `offset` (≥ 0) of a listing.
    static func page(_ request: HTTPRequest) throws(ServiceError) -> (limit: Int, offset: Int) {
        let limit = request.query["limit"].map { Int($0) ?? -1 } ?? 100
        let offset = request.query["offset"].map { Int($0) ?? -1 } ?? 0
        guard (1...1000).contains(limit), offset >= 0 else {
            throw ServiceError(.invalid, "limit must be 1 to 1000 and offset non-negative")
        }
        return (limit, offset)
    }
}
