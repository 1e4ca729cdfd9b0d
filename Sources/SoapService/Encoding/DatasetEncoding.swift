import FastJSON
import SoapCore
import SoapStorage

/// The JSON of a dataset (POST /v1/datasets, GET /v1/datasets/{id}) and of the list (GET /v1/datasets).
extension DatasetService {
    func datasetJSON(_ r: DatasetRecord, matrices: Bool, duplicate: Bool = false) -> [UInt8] {
        var w = JSONWriter(capacity: 1024 + (matrices ? r.statistics.count * 22 : 0))
        w.beginObject()
        w.key("id")
        w.string(r.id)
        w.key("structures")
        w.integer(r.structures)
        w.key("centers")
        w.raw(Array(r.centersJSON.utf8))
        w.key("neighbors")
        w.integer(r.neighbors)
        w.key("targets")
        w.integer(r.targets.map { Int(StoredDataset.firstDouble($0)) } ?? 0)
        w.key("species")
        w.raw(Array(r.speciesJSON.utf8))
        w.key("hypers")
        w.raw(Array(r.hypersJSON.utf8))
        w.key("version")
        w.integer(r.version)
        w.key("keep_structures")
        w.bool(r.keepStructures)
        if duplicate {
            w.key("duplicate")
            w.bool(true)
        }
        if matrices, let (hypers, species) = try? StoredDataset.definition(r) {
            let ch = species.count * hypers.radialCount
            w.key("matrices")
            w.beginObject()
            w.key("layout")
            w.string("[center_type][l][(neighbor_type, n)][(neighbor_type, n)]")
            w.key("shape")
            w.intArray([species.count, hypers.maxAngular + 1, ch, ch])
            w.key("values")
            w.doubleArray(r.statistics)
            w.endObject()
        }
        w.endObject()
        return w.bytes
    }

    static func listJSON(_ list: [DatasetListing], limit: Int, offset: Int) -> [UInt8] {
        var w = JSONWriter(capacity: 512 * (list.count + 1))
        w.beginObject()
        w.key("datasets")
        w.beginArray()
        for d in list {
            w.beginObject()
            w.key("id")
            w.string(d.id)
            w.key("structures")
            w.integer(d.structures)
            w.key("centers")
            w.raw(Array(d.centersJSON.utf8))
            w.key("neighbors")
            w.integer(d.neighbors)
            w.key("species")
            w.raw(Array(d.speciesJSON.utf8))
            w.key("hypers")
            w.raw(Array(d.hypersJSON.utf8))
            w.key("version")
            w.integer(d.version)
            w.endObject()
        }
        w.endArray()
        w.key("limit")
        w.integer(limit)
        w.key("offset")
        w.integer(offset)
        w.endObject()
        return w.bytes
    }
}
