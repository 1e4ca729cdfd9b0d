import FastJSON
import SoapCore
import SoapStorage

/// A dataset's statistics as a document (`application/x-soapd-statistics`, JSON, format
/// version 1; issue 16): the descriptor they were accumulated for (primitive hypers and
/// species), the counts, the sums (XᵀX per centre slot and l; the PCovR sums over the
/// structures that came with targets) and the dataset version they are of. Statistics are
/// sums, so documents of shards merge by addition (DatasetService.mergeStatistics). Numbers
/// are written in shortest round-trip form: a document read back holds the same doubles.
enum StatisticsDocument {
    static let mediaType = "application/x-soapd-statistics"
    static let formatVersion = 1

    static func encode(_ record: DatasetRecord, _ s: DatasetStatistics) -> [UInt8] {
        var w = JSONWriter(capacity: 64 + 24 * (s.gram.count + s.targetGram.count))
        w.beginObject()
        w.key("format_version")
        w.integer(formatVersion)
        w.key("dataset_id")
        w.string(record.id)
        w.key("dataset_version")
        w.integer(record.version)
        w.key("descriptor")
        w.beginObject()
        w.key("hypers")
        w.raw(Array(record.hypersJSON.utf8))
        w.key("species")
        w.intArray(s.species)
        w.endObject()
        w.key("structures")
        w.integer(s.structures)
        w.key("neighbors")
        w.integer(s.neighbors)
        w.key("centers")
        w.intArray(s.centers)
        w.key("gram")
        w.doubleArray(s.gram)
        w.key("targets")
        if s.targetStructures > 0 {
            w.beginObject()
            w.key("structures")
            w.integer(s.targetStructures)
            w.key("squares")
            w.number(s.targetSquares)
            w.key("cross")
            w.doubleArray(s.targetCross)
            w.key("gram")
            w.doubleArray(s.targetGram)
            w.endObject()
        } else {
            w.raw(Array("null".utf8))
        }
        w.endObject()
        return w.bytes
    }

    /// The statistics of a document, checked against the dataset's descriptor (422 with a
    /// pointer to what differs or is damaged).
    static func decode(_ value: JSONValue, hypers: SoapHypers, hypersJSON: String, species: [Int]) throws(ServiceError)
        -> DatasetStatistics
    {
        guard case .object(let o) = value else { throw ServiceError(.invalid, "a statistics document is a JSON object") }
        guard o["format_version"]?.doubleValue == Double(formatVersion) else {
            throw ServiceError(
                .invalid, pointer: "/format_version", "statistics document format version must be \(formatVersion)")
        }
        guard case .object(let descriptor)? = o["descriptor"], let hypersValue = descriptor["hypers"],
            let speciesValue = descriptor["species"]?.arrayValue
        else { throw ServiceError(.invalid, pointer: "/descriptor", "required: {\"hypers\", \"species\"}") }
        let theirs: SoapHypers
        do {
            theirs = try HypersDecoder(limits: RequestLimits()).decode(hypersValue, radialOnly: false, at: "/descriptor/hypers")
        } catch { throw ServiceError(.invalid, pointer: "/descriptor/hypers", "not primitive hypers: \(error)") }
        guard HypersEncoder.json(theirs) == hypersJSON else {
            throw ServiceError(
                .invalid, pointer: "/descriptor/hypers", "the statistics were accumulated with other hypers than this dataset's")
        }
        guard speciesValue.map({ $0.doubleValue.map { Int($0) } ?? -1 }) == species else {
            throw ServiceError(
                .invalid, pointer: "/descriptor/species", "the statistics are over other species than this dataset's")
        }
        func count(_ key: String, in object: JSONObject, at pointer: String) throws(ServiceError) -> Int {
            guard let x = object[key]?.doubleValue, x >= 0, x == x.rounded(), x < 1e15 else {
                throw ServiceError(.invalid, pointer: pointer, "a non-negative integer")
            }
            return Int(x)
        }
        func doubles(_ key: String, in object: JSONObject, at pointer: String) throws(ServiceError) -> [Double] {
            guard let items = object[key]?.arrayValue else {
                throw ServiceError(.invalid, pointer: pointer, "an array of numbers")
            }
            var out: [Double] = []
            out.reserveCapacity(items.count)
            for (k, item) in items.enumerated() {
                guard let x = item.doubleValue, x.isFinite else {
                    throw ServiceError(.invalid, pointer: "\(pointer)/\(k)", "a finite number")
                }
                out.append(x)
            }
            return out
        }
        guard let centersValue = o["centers"]?.arrayValue, centersValue.count == species.count else {
            throw ServiceError(.invalid, pointer: "/centers", "one count per species")
        }
        var centers: [Int] = []
        for (k, c) in centersValue.enumerated() {
            guard let x = c.doubleValue, x >= 0, x == x.rounded(), x < 1e15 else {
                throw ServiceError(.invalid, pointer: "/centers/\(k)", "a non-negative integer")
            }
            centers.append(Int(x))
        }
        guard
            var s = DatasetStatistics(
                species: species, maxAngular: hypers.maxAngular, radialCount: hypers.radialCount,
                structures: try count("structures", in: o, at: "/structures"),
                neighbors: try count("neighbors", in: o, at: "/neighbors"), centers: centers,
                gram: try doubles("gram", in: o, at: "/gram"))
        else { throw ServiceError(.invalid, pointer: "/gram", "not the size of this dataset's statistics") }
        if case .object(let t)? = o["targets"] {
            guard
                s.setTargets(
                    structures: try count("structures", in: t, at: "/targets/structures"),
                    squares: t["squares"]?.doubleValue ?? .nan,
                    cross: try doubles("cross", in: t, at: "/targets/cross"),
                    gram: try doubles("gram", in: t, at: "/targets/gram")),
                s.targetSquares.isFinite
            else { throw ServiceError(.invalid, pointer: "/targets", "not the size of this dataset's PCovR sums") }
        } else if let t = o["targets"], t != .null {
            throw ServiceError(.invalid, pointer: "/targets", "an object or null")
        }
        return s
    }
}
