import FastJSON
import SoapCore
import SoapService
import SoapStorage

#if canImport(Glibc)
    import Glibc
    import Foundation
#else
    import Darwin
#endif

extension CommandLineTool {
    /// Offline fitting: a dataset from files, its statistics, a fitted basis in the database.
    ///   soapd fit --database DB --descriptor FILE --structures FILE[,FILE…] [--contraction separate|mixed]
    ///             (--q-max N | --residual-variance X) [--method pca|pcovr] [--gamma G]
    ///             [--center-specific true|false] [--threads N]
    ///             [--multispectrum-order NU --multispectrum-features K]
    /// FILE for --descriptor holds {"species": [...], "hypers": {...}}; each structures file
    /// holds {"structures": [...], "targets": [...]?} (added as one batch). With a
    /// multispectrum order the dataset keeps its structures and the contraction of orders
    /// 2…NU (K features per (λ, σ) block) is fitted on them. Prints the basis summary (with its id).
    static func fit(_ options: Options) {
        options.allowOnly([
            "database", "descriptor", "structures", "contraction", "q-max", "residual-variance",
            "method", "gamma", "center-specific", "threads", "multispectrum-order",
            "multispectrum-features",
        ])
        guard let path = options.string("database"), let descriptor = options.string("descriptor"),
            let structures = options.string("structures")
        else {
            fail("fit needs --database PATH --descriptor FILE --structures FILE[,FILE…]", code: 2)
        }
        var settings = FeatureServiceSettings()
        if let t = options.int("threads") { settings.threads = t }
        let features = FeatureService(settings: settings)
        do {
            try FileSystem.createDirectories(forFile: path)
            let database = try Database(path: path)
            let datasets = DatasetService(database: database, features: features)
            let bases = BasisService(database: database, features: features)
            let definition = try FileIO.read(descriptor)
            let order = options.int("multispectrum-order")
            let budget = options.int("multispectrum-features")
            guard (order == nil) == (budget == nil) else {
                fail("--multispectrum-order and --multispectrum-features go together", code: 2)
            }
            let keep = order != nil ? ",\"keep_structures\":true}" : "}"
            let created = try datasets.createDataset(Array("{\"descriptor\":".utf8) + definition + Array(keep.utf8))
            guard case .object(let o) = try JSON.parse(created), let id = o["id"]?.stringValue else { fail("no dataset id") }
            for file in structures.split(separator: ",") {
                let batch = try datasets.addStructures(
                    datasetID: id, body: try FileIO.read(String(file)), idempotencyKey: String(file))
                fputs("soapd fit: added \(file): " + String(decoding: batch.prefix(200), as: UTF8.self) + "\n", stderr)
            }
            // The POST /v1/bases body, written (not spliced) so every flag value is JSON-escaped.
            func number(_ flag: String) -> Double? {
                guard let text = options.string(flag) else { return nil }
                guard let x = Double(text) else { fail("--\(flag) must be a number, not \(text)", code: 2) }
                return x
            }
            var w = JSONWriter(capacity: 256)
            w.beginObject()
            w.key("dataset_id")
            w.string(id)
            w.key("contraction")
            w.string(options.string("contraction") ?? "separate")
            if let q = options.int("q-max") {
                w.key("q_max")
                w.integer(q)
            }
            if let rv = number("residual-variance") {
                w.key("residual_variance")
                w.number(rv)
            }
            if let method = options.string("method") {
                w.key("method")
                w.string(method)
            }
            if let gamma = number("gamma") {
                w.key("gamma")
                w.number(gamma)
            }
            if let specific = options.string("center-specific") {
                guard specific == "true" || specific == "false" else { fail("--center-specific is true or false", code: 2) }
                w.key("center_specific")
                w.bool(specific == "true")
            }
            if let order, let budget {
                w.key("multispectrum")
                w.beginObject()
                w.key("correlation_order")
                w.integer(order)
                w.key("max_features_per_order")
                w.integer(budget)
                w.endObject()
            }
            w.endObject()
            let (summary, _, _) = try bases.fit(w.bytes)
            try FileIO.write([summary, [10]], to: "-")
        } catch let error as ServiceError {
            fail(error.description)
        } catch {
            fail("\(error)")
        }
    }
}
