import FastJSON
import SoapCore
import SoapStorage

/// The bodies of POST /v1/datasets and POST /v1/datasets/{id}/structures (pure: no storage,
/// no computation; the fuzzers call these too).
extension DatasetService {
    /// The body of POST /v1/datasets: primitive hypers and species.
    static func decodeDataset(_ value: JSONValue, limits: RequestLimits) throws(ServiceError) -> (SoapHypers, [Int], Bool) {
        let root = try Field.object(value, "")
        try Field.allowOnly(root, ["descriptor", "keep_structures"], at: "")
        let keep = try root["keep_structures"].map { v throws(ServiceError) in try Field.bool(v, "/keep_structures") } ?? false
        let descriptor = try Field.object(try Field.required(root, "descriptor", at: ""), "/descriptor")
        try Field.allowOnly(descriptor, ["species", "hypers"], at: "/descriptor")
        let hypers = try HypersDecoder(limits: limits)
            .decode(try Field.required(descriptor, "hypers", at: "/descriptor"), radialOnly: false, at: "/descriptor/hypers")
        let species = try FeatureRequestDecoder(limits: limits)
            .decodeSpecies(try Field.required(descriptor, "species", at: "/descriptor"))
        return (hypers, species, keep)
    }

    /// The body of POST /v1/datasets/{id}/structures: structures (decoded, and as sent, to
    /// keep) and optional targets.
    static func decodeBatch(_ value: JSONValue, limits: RequestLimits) throws(ServiceError) -> (
        [Structure], [Double]?, JSONValue?
    ) {
        let root = try Field.object(value, "")
        try Field.allowOnly(root, ["structures", "targets"], at: "")
        let structures = try FeatureRequestDecoder(limits: limits)
            .decodeStructures(try Field.required(root, "structures", at: ""))
        let targets = try root["targets"].map { v throws(ServiceError) in try Self.decodeTargets(v, count: structures.count) }
        return (structures, targets, root["structures"])
    }

    /// One finite number per structure.
    static func decodeTargets(_ value: JSONValue, count: Int) throws(ServiceError) -> [Double] {
        guard case .array(let items) = value else {
            throw ServiceError(.invalid, pointer: "/targets", "expected an array of numbers, one per structure")
        }
        guard items.count == count else {
            throw ServiceError(.invalid, pointer: "/targets", "expected \(count) targets (one per structure), got \(items.count)")
        }
        var out: [Double] = []
        out.reserveCapacity(count)
        for (k, item) in items.enumerated() {
            guard let x = item.doubleValue, x.isFinite else {
                throw ServiceError(.invalid, pointer: "/targets/\(k)", "expected a finite number")
            }
            out.append(x)
        }
        return out
    }
}
