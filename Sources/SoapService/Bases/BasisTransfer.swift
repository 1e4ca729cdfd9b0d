import FastJSON
import SoapStorage

/// The travelling form of a stored basis, `application/x-soapd-basis` (issue 16): what a
/// replica sends another so that both serve the same basis under the same content id.
///
///     "SOAPDBX\n"                    8 bytes
///     format version                 UInt32, little-endian (1)
///     header length h                UInt32, little-endian
///     header                         h bytes of JSON: {"format_version", "id", "dataset_id",
///                                    "options", "summary", "identity_bytes", "payload_bytes"}
///     identity                       the bytes whose SHA-256 is the id (hypers, species,
///                                    options, statistics: what the fit was computed from)
///     payload                        the stored basis (BasisCodec)
///
/// A receiver checks the framing (exact length: a truncated document is refused), the id
/// (SHA-256 of the identity), that the payload decodes and that it was fitted for the
/// identity's hypers, species and options. The payload's numbers are a deterministic
/// function of the identity; they are not recomputed (peers authenticate with a token).
enum BasisTransfer {
    static let mediaType = "application/x-soapd-basis"
    static let magic = Array("SOAPDBX\n".utf8)
    static let formatVersion: UInt32 = 1
    /// Largest header accepted (the summary and options are a few kilobytes).
    static let maxHeaderBytes = 1 << 20

    /// The document of a stored basis; a basis stored before identities were kept cannot travel.
    static func encode(_ record: BasisRecord) throws(ServiceError) -> [UInt8] {
        guard let identity = record.identity else {
            throw ServiceError(
                .conflict,
                "basis \(record.id.prefix(80)) was stored before this version kept what its id hashes; fit it again to send it")
        }
        var w = JSONWriter(capacity: 1024 + record.summaryJSON.utf8.count)
        w.beginObject()
        w.key("format_version")
        w.integer(Int(formatVersion))
        w.key("id")
        w.string(record.id)
        w.key("dataset_id")
        if let d = record.datasetID { w.string(d) } else { w.raw(Array("null".utf8)) }
        w.key("options")
        w.raw(Array(record.optionsJSON.utf8))
        w.key("summary")
        w.raw(Array(record.summaryJSON.utf8))
        w.key("identity_bytes")
        w.integer(identity.count)
        w.key("payload_bytes")
        w.integer(record.payload.count)
        w.endObject()
        let header = w.bytes
        var out = magic
        out.reserveCapacity(16 + header.count + identity.count + record.payload.count)
        withUnsafeBytes(of: formatVersion.littleEndian) { out += $0 }
        withUnsafeBytes(of: UInt32(header.count).littleEndian) { out += $0 }
        out += header
        out += identity
        out += record.payload
        return out
    }

    /// The record a document holds, after every check; `id` is the one it must have. The
    /// record has no dataset (the receiver need not have it; the summary still names it).
    static func decode(_ bytes: [UInt8], id: String) throws(ServiceError) -> BasisRecord {
        func refuse(_ message: String) -> ServiceError { ServiceError(.invalid, message) }
        guard bytes.count >= 16, Array(bytes[0..<8]) == magic else {
            throw refuse("not a soapd basis document (\(mediaType) starts with \"SOAPDBX\\n\")")
        }
        let version = uint32(bytes, at: 8)
        guard version == formatVersion else {
            throw refuse("basis document format version \(version); this server reads version \(formatVersion)")
        }
        let headerLength = Int(uint32(bytes, at: 12))
        guard headerLength <= maxHeaderBytes, 16 + headerLength <= bytes.count else {
            throw refuse("truncated basis document: its header needs \(headerLength) bytes")
        }
        guard case .object(let header)? = try? JSON.parse(Array(bytes[16..<(16 + headerLength)])),
            header["format_version"]?.doubleValue == Double(formatVersion),
            let documentID = header["id"]?.stringValue,
            case .object? = header["options"], case .object? = header["summary"],
            let identityBytes = header["identity_bytes"]?.doubleValue.map({ Int($0) }), identityBytes > 0,
            let payloadBytes = header["payload_bytes"]?.doubleValue.map({ Int($0) }), payloadBytes > 0
        else { throw refuse("the basis document's header is damaged") }
        let expected = 16 + headerLength + identityBytes + payloadBytes
        guard bytes.count == expected else {
            throw refuse(
                bytes.count < expected
                    ? "truncated basis document: \(bytes.count) bytes of \(expected)"
                    : "basis document has \(bytes.count - expected) bytes after its end")
        }
        guard documentID == id else { throw refuse("the document holds basis \(documentID.prefix(80)), not \(id.prefix(80))") }
        let identity = Array(bytes[(16 + headerLength)..<(16 + headerLength + identityBytes)])
        let payload = Array(bytes[(16 + headerLength + identityBytes)...])
        var hash = SHA256()
        hash.update(identity)
        guard SHA256.hex(hash.finalize()) == id else {
            throw refuse("content hash mismatch: the document's identity does not hash to \(id.prefix(80))")
        }
        guard let (fitted, _, _) = BasisCodec.decode(payload) else { throw refuse("the basis payload is damaged") }
        let optionsJSON = JSON.serialize(header["options"]!)
        let summaryJSON = JSON.serialize(header["summary"]!)
        // The payload was fitted for what the id names: its hypers, species and options
        // open the identity, in the order BasisService.fit hashes them.
        let storedOptions = BasisService.optionsJSON(
            method: fitted.method, contraction: fitted.contraction, centerSpecific: fitted.centerSpecific,
            q: fitted.q, threshold: nil)
        let prefix = Array(HypersEncoder.json(fitted.hypers).utf8) + Array(StoredDataset.intArray(fitted.species).utf8)
        guard identity.starts(with: prefix), identityOptionsMatch(identity, after: prefix.count, fitted: storedOptions)
        else { throw refuse("the basis payload was not fitted for the identity its id hashes") }
        return BasisRecord(
            id: id, datasetID: nil, optionsJSON: String(decoding: optionsJSON, as: UTF8.self),
            summaryJSON: String(decoding: summaryJSON, as: UTF8.self), payload: payload, identity: identity)
    }

    /// Whether the options object after the identity's hypers and species agrees with the
    /// payload's fit (method, contraction, centre-specific, q_max; the threshold is not in a payload).
    private static func identityOptionsMatch(_ identity: [UInt8], after start: Int, fitted: String) -> Bool {
        // The options object is flat JSON: it ends at the first "}".
        guard let end = identity[start...].firstIndex(of: UInt8(ascii: "}")),
            case .object(let inIdentity)? = try? JSON.parse(Array(identity[start...end])),
            case .object(let inPayload)? = try? JSON.parse(Array(fitted.utf8))
        else { return false }
        for key in ["method", "contraction", "center_specific", "q_max", "gamma"] where inPayload[key] != nil {
            guard inIdentity[key] == inPayload[key] else { return false }
        }
        return true
    }

    private static func uint32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << (8 * UInt32($1)) }
    }
}
