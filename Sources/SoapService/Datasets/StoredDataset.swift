import FastJSON
import SoapCore
import SoapStorage

/// A dataset record's stored columns read back (definition, statistics) and written
/// (targets blob, centre counts, species list); shared by the dataset and basis services.
enum StoredDataset {
    /// The primitive hypers and species a dataset was created with.
    static func definition(_ record: DatasetRecord) throws(ServiceError) -> (SoapHypers, [Int]) {
        do {
            let hypers = try HypersDecoder(limits: RequestLimits()).decode(
                try JSON.parse(record.hypersJSON), radialOnly: false, at: "")
            guard case .array(let items) = try JSON.parse(record.speciesJSON) else { throw ServiceError(.internal, "species") }
            return (hypers, items.compactMap { $0.doubleValue.map { Int($0) } })
        } catch {
            throw ServiceError(.internal, "stored dataset \(record.id) is damaged")
        }
    }

    static func statistics(_ record: DatasetRecord, hypers: SoapHypers, species: [Int]) -> DatasetStatistics? {
        var centers = Array(repeating: 0, count: species.count)
        if case .object(let o)? = try? JSON.parse(record.centersJSON) {
            for (k, z) in species.enumerated() { centers[k] = o[String(z)]?.doubleValue.map { Int($0) } ?? 0 }
        }
        guard
            var s = DatasetStatistics(
                species: species, maxAngular: hypers.maxAngular, radialCount: hypers.radialCount,
                structures: record.structures, neighbors: record.neighbors, centers: centers,
                gram: record.statistics)
        else { return nil }
        if let blob = record.targets {
            // [structures, yᵀy, Xᵀy (D), XᵀX (D²)] as little-endian doubles.
            let d = s.targetFeatureCount
            guard blob.count == 8 * (2 + d + d * d), let v = try? DoubleBlob.decode(blob) else { return nil }
            guard
                s.setTargets(
                    structures: Int(v[0]), squares: v[1], cross: Array(v[2..<(2 + d)]),
                    gram: Array(v[(2 + d)...]))
            else { return nil }
        }
        return s
    }

    static func targetsBlob(_ s: DatasetStatistics) -> [UInt8]? {
        guard s.targetStructures > 0 else { return nil }
        return DoubleBlob.encode([Double(s.targetStructures), s.targetSquares] + s.targetCross + s.targetGram)
    }

    /// The first little-endian double of a blob (the count of a targets blob).
    static func firstDouble(_ blob: [UInt8]) -> Double {
        guard blob.count >= 8 else { return 0 }
        return (try? DoubleBlob.decode(Array(blob.prefix(8))))?.first ?? 0
    }

    static func intArray(_ values: [Int]) -> String { "[" + values.map(String.init).joined(separator: ",") + "]" }

    static func centersJSON(_ s: DatasetStatistics) -> String {
        "{" + s.species.enumerated().map { "\"\($0.element)\":\(s.centers[$0.offset])" }.joined(separator: ",") + "}"
    }
}
