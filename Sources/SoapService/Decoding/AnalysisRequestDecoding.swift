import FastJSON
import SoapCore

/// A decoded POST /v1/analysis/select body.
struct SelectionRequest {
    enum Method: String { case fps, cur }
    enum Source {
        case values(DenseMatrix)
        case features(FeatureRequest)
    }
    var method: Method
    /// true: pick rows (samples); false: pick columns (features).
    var samples: Bool
    var count: Int
    var source: Source
    var initial: [Int]?
}

/// A decoded POST /v1/analysis/gfre body: two descriptors over the same structures.
struct ReconstructionRequest {
    enum Structures {
        case inline(JSONValue)
        case dataset(String)
    }
    var a: JSONValue
    var b: JSONValue
    var structures: Structures
    var per: JSONValue
}

/// Decoding of the analysis routes' bodies; errors point at the field.
enum AnalysisRequestDecoding {
    static func selection(_ body: JSONValue, limits: RequestLimits, maxValues: Int) throws(ServiceError) -> SelectionRequest {
        let root = try Field.object(body, "")
        try Field.allowOnly(root, ["method", "axis", "n", "features", "values", "initial"], at: "")
        let methodName = try Field.string(try Field.required(root, "method", at: ""), "/method")
        guard let method = SelectionRequest.Method(rawValue: methodName) else {
            throw ServiceError(.invalid, pointer: "/method", "expected fps or cur")
        }
        let axis = try Field.string(root["axis"] ?? .string("samples"), "/axis")
        guard axis == "samples" || axis == "features" else {
            throw ServiceError(.invalid, pointer: "/axis", "expected samples or features")
        }
        let count = try Field.integer(try Field.required(root, "n", at: ""), "/n")
        guard count >= 1 else { throw ServiceError(.invalid, pointer: "/n", "must be at least 1") }
        let source: SelectionRequest.Source
        switch (root["features"], root["values"]) {
        case (.some, .some): throw ServiceError(.invalid, pointer: "", "give either features or values, not both")
        case (nil, nil): throw ServiceError(.invalid, pointer: "/values", "is required (or features)")
        case (let f?, nil): source = .features(try features(f, at: "/features", limits: limits))
        case (nil, let v?): source = .values(try matrix(v, at: "/values", maxValues: maxValues))
        }
        var initial: [Int]? = nil
        if let value = root["initial"] {
            guard method == .fps else {
                throw ServiceError(.invalid, pointer: "/initial", "only FPS takes an initial selection")
            }
            switch value {
            case .array(let items):
                guard !items.isEmpty else { throw ServiceError(.invalid, pointer: "/initial", "must list at least one index") }
                var list: [Int] = []
                for (k, item) in items.enumerated() {
                    let i = try Field.integer(item, "/initial/\(k)")
                    guard i >= 0, !list.contains(i) else {
                        throw ServiceError(.invalid, pointer: "/initial/\(k)", "must be a new non-negative index")
                    }
                    list.append(i)
                }
                initial = list
            default:
                let i = try Field.integer(value, "/initial")
                guard i >= 0 else { throw ServiceError(.invalid, pointer: "/initial", "must be a non-negative index") }
                initial = [i]
            }
        }
        return SelectionRequest(method: method, samples: axis == "samples", count: count, source: source, initial: initial)
    }

    static func reconstruction(_ body: JSONValue) throws(ServiceError) -> ReconstructionRequest {
        let root = try Field.object(body, "")
        try Field.allowOnly(root, ["a", "b", "structures", "dataset_id", "per"], at: "")
        let a = try Field.required(root, "a", at: "")
        let b = try Field.required(root, "b", at: "")
        _ = try Field.object(a, "/a")
        _ = try Field.object(b, "/b")
        let structures: ReconstructionRequest.Structures
        switch (root["structures"], root["dataset_id"]) {
        case (.some, .some): throw ServiceError(.invalid, pointer: "", "give either structures or dataset_id, not both")
        case (nil, nil): throw ServiceError(.invalid, pointer: "/structures", "is required (or dataset_id)")
        case (let s?, nil): structures = .inline(s)
        case (nil, let id?): structures = .dataset(try Field.string(id, "/dataset_id"))
        }
        let per = root["per"] ?? .string("structure")
        return ReconstructionRequest(a: a, b: b, structures: structures, per: per)
    }

    /// A /v1/features body inside another body (pointers prefixed); no gradients.
    static func features(_ value: JSONValue, at base: String, limits: RequestLimits) throws(ServiceError) -> FeatureRequest {
        let request: FeatureRequest
        do { request = try FeatureRequestDecoder(limits: limits).decode(value) } catch {
            throw ServiceError(error.kind, pointer: base + error.pointer, error.message)
        }
        guard !request.gradients else {
            throw ServiceError(.invalid, pointer: base + "/gradients", "the analysis routes read values only")
        }
        return request
    }

    /// Rows of numbers, all of one length, finite; at most `maxValues` of them.
    static func matrix(_ value: JSONValue, at base: String, maxValues: Int) throws(ServiceError) -> DenseMatrix {
        let rows = try Field.array(value, base)
        guard !rows.isEmpty else { throw ServiceError(.invalid, pointer: base, "the matrix is empty") }
        var values: [Double] = []
        var width = -1
        for (i, row) in rows.enumerated() {
            let items = try Field.array(row, "\(base)/\(i)")
            if width < 0 {
                width = items.count
                guard width > 0 else { throw ServiceError(.invalid, pointer: "\(base)/0", "the matrix has no columns") }
                guard rows.count * width <= maxValues else {
                    throw ServiceError(
                        .tooLarge, pointer: base,
                        "\(rows.count) × \(width) values, above the limit of \(maxValues) (analysis_max_values)")
                }
                values.reserveCapacity(rows.count * width)
            }
            guard items.count == width else {
                throw ServiceError(.invalid, pointer: "\(base)/\(i)", "has \(items.count) values; row 0 has \(width)")
            }
            for (j, item) in items.enumerated() {
                let x = try Field.number(item, "\(base)/\(i)/\(j)")
                // Squared distances and SVDs of larger numbers overflow.
                guard abs(x) <= 1e100 else {
                    throw ServiceError(.invalid, pointer: "\(base)/\(i)/\(j)", "must be between -1e100 and 1e100")
                }
                values.append(x)
            }
        }
        return DenseMatrix(rows: rows.count, columns: width, values: values)
    }
}
