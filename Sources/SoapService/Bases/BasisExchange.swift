import SoapStorage

/// Bases travelling between replicas by content id (issue 16): sent as a BasisTransfer
/// document, received after its checks, fetched from peers when a request names a basis
/// this replica has not stored.
extension BasisService {
    /// GET /v1/bases/{id} as `application/x-soapd-basis`; from a peer when not stored here
    /// and `askPeers` (false when a peer is asking: replicas do not ask each other in circles).
    public func document(_ id: String, askPeers: Bool) throws(ServiceError) -> [UInt8] {
        guard let record = try record(id, askPeers: askPeers) else {
            throw ServiceError(.notFound, "no basis \(id.prefix(80))")
        }
        return try BasisTransfer.encode(record)
    }

    /// PUT /v1/bases/{id}: stores a document after its checks. Returns the summary and
    /// whether it was stored now (false: this very basis was already here). 409 when
    /// another payload is stored under the id (the stored one stays).
    public func store(document bytes: [UInt8], id: String) throws(ServiceError) -> (summary: [UInt8], created: Bool) {
        let record = try BasisTransfer.decode(bytes, id: id)
        let created = try keep(record)
        return (Array(record.summaryJSON.utf8), created)
    }

    /// The stored record of `id`; when absent and `askPeers`, the first acceptable one a
    /// peer sends, stored before it is returned; nil when found nowhere.
    func record(_ id: String, askPeers: Bool) throws(ServiceError) -> BasisRecord? {
        if let stored = try storage({ try bases.get(id) }) { return stored }
        guard askPeers, !peers.isEmpty else { return nil }
        let fetched = try peers.fetchBasis(id) { bytes throws(ServiceError) in try BasisTransfer.decode(bytes, id: id) }
        guard let fetched else { return nil }
        try keep(fetched)
        return try storage({ try bases.get(id) }) ?? fetched
    }

    /// Stores a checked record; true if inserted, false if the same payload was there.
    @discardableResult
    private func keep(_ record: BasisRecord) throws(ServiceError) -> Bool {
        if let existing = try storage({ try bases.get(record.id) }) {
            guard existing.payload == record.payload else {
                throw ServiceError(.conflict, "another basis is stored under \(record.id.prefix(80))")
            }
            return false
        }
        if try storage({ try bases.put(record) }) { return true }
        // Stored meanwhile (a concurrent PUT or fetch): the same check against that one.
        guard let existing = try storage({ try bases.get(record.id) }), existing.payload == record.payload else {
            throw ServiceError(.conflict, "another basis is stored under \(record.id.prefix(80))")
        }
        return false
    }
}
