import FastJSON
import SoapCore

/// POST /v1/features/vjp: the body of /v1/features plus `output_gradient` (rows × columns,
/// shaped like `values`) and `gradients` (a list of "positions" and/or "strain"; default
/// ["positions"]). Answers Σ G·∂X/∂r per atom and Σ G·∂X/∂ε per structure, computed
/// without the Jacobian (SoapCore's VectorJacobianProduct).
extension FeatureService {
    public func vectorJacobianProduct(_ body: [UInt8], threads: Int? = nil) throws(ServiceError) -> [UInt8] {
        try vectorJacobianProduct(request: try parse(body), threads: threads)
    }

    /// `outputGradient` (values, columns) given apart (the CLI's .npy) or nil: from the body.
    public func vectorJacobianProduct(
        request body: JSONValue, outputGradient: (values: [Double], columns: Int)? = nil, threads: Int? = nil
    ) throws(ServiceError) -> [UInt8] {
        let root = try Field.object(body, "")
        let gradient: (values: [Double], columns: Int)
        if let outputGradient {
            gradient = outputGradient
        } else {
            gradient = try Self.decodeOutputGradient(try Field.required(root, "output_gradient", at: ""))
        }
        var (positions, strain) = try FeatureRequestDecoder.decodeGradients(root["gradients"])
        if root["gradients"] == nil { positions = true }
        guard positions || strain else {
            throw ServiceError(.invalid, pointer: "/gradients", "name \"positions\", \"strain\" or both")
        }
        // The rest is a /v1/features body (without gradients).
        let rest = JSONObject(
            uniqueKeysWithValues: root.filter { $0.key != "output_gradient" && $0.key != "gradients" }
                .map { ($0.key, $0.value) })
        let request = try FeatureRequestDecoder(limits: settings.requestLimits).decode(.object(rest))
        let prepared = try prepare(request)
        let product: VectorJacobianProduct
        do {
            var featurizer = interactiveFeaturizer(threads: threads)
            featurizer.memoryBudget = memoryBudget
            product = try featurizer.vectorJacobianProduct(
                request.structures, type: prepared.request.type, basis: prepared.basis, level: request.level,
                options: prepared.options, outputGradient: gradient.values, outputColumns: gradient.columns,
                positions: positions, strain: strain)
        } catch {
            throw ServiceError(error)
        }
        return Self.encode(product)
    }

    /// rows × columns numbers, every row as long as the first.
    static func decodeOutputGradient(_ value: JSONValue) throws(ServiceError) -> (values: [Double], columns: Int) {
        let rows = try Field.array(value, "/output_gradient")
        var values: [Double] = []
        var columns = 0
        for (r, rowValue) in rows.enumerated() {
            let row = try Field.array(rowValue, "/output_gradient/\(r)")
            if r == 0 {
                columns = row.count
                values.reserveCapacity(rows.count * columns)
            } else if row.count != columns {
                throw ServiceError(
                    .invalid, pointer: "/output_gradient/\(r)",
                    "has \(row.count) columns, row 0 has \(columns); output_gradient is rows × columns like values")
            }
            for (c, x) in row.enumerated() {
                guard case .number(let v) = x, v.isFinite else {
                    throw ServiceError(.invalid, pointer: "/output_gradient/\(r)/\(c)", "must be a finite number")
                }
                values.append(v)
            }
        }
        return (values, columns)
    }

    static func encode(_ p: VectorJacobianProduct) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64 * ((p.positions?.count ?? 0) + (p.strain?.count ?? 0)) + 64)
        out.append(UInt8(ascii: "{"))
        if let samples = p.positionSamples, let values = p.positions {
            out += Array("\"positions\":{\"samples\":".utf8)
            FeatureResponseEncoder.appendLabels(samples, to: &out)
            out += Array(",\"values\":[".utf8)
            for a in 0..<(values.count / 3) {
                if a > 0 { out.append(UInt8(ascii: ",")) }
                appendRow(values[(3 * a)..<(3 * a + 3)], to: &out)
            }
            out += Array("]}".utf8)
        }
        if let samples = p.strainSamples, let values = p.strain {
            if p.positions != nil { out.append(UInt8(ascii: ",")) }
            out += Array("\"strain\":{\"samples\":".utf8)
            FeatureResponseEncoder.appendLabels(samples, to: &out)
            out += Array(",\"values\":[".utf8)
            for s in 0..<(values.count / 9) {
                if s > 0 { out.append(UInt8(ascii: ",")) }
                out.append(UInt8(ascii: "["))
                for a in 0..<3 {
                    if a > 0 { out.append(UInt8(ascii: ",")) }
                    appendRow(values[(9 * s + 3 * a)..<(9 * s + 3 * a + 3)], to: &out)
                }
                out.append(UInt8(ascii: "]"))
            }
            out += Array("]}".utf8)
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    private static func appendRow(_ row: ArraySlice<Double>, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "["))
        for (k, x) in row.enumerated() {
            if k > 0 { out.append(UInt8(ascii: ",")) }
            JSONNumberFormat.append(x, to: &out)
        }
        out.append(UInt8(ascii: "]"))
    }
}
