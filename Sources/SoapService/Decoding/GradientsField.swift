import FastJSON

extension FeatureRequestDecoder {
    /// `gradients`: a boolean (true: positions), or a list naming `"positions"` and/or
    /// `"strain"` (each at most once). Returns (positions, strain).
    static func decodeGradients(_ value: JSONValue?) throws(ServiceError) -> (Bool, Bool) {
        guard let value else { return (false, false) }
        if case .bool(let b) = value { return (b, false) }
        guard case .array(let items) = value else {
            throw ServiceError(
                .invalid, pointer: "/gradients",
                "expected true, false or a list of \"positions\" and \"strain\", got \(Field.describe(value))")
        }
        var positions = false
        var strain = false
        for (k, item) in items.enumerated() {
            let name = try Field.string(item, "/gradients/\(k)")
            switch name {
            case "positions" where !positions: positions = true
            case "strain" where !strain: strain = true
            case "positions", "strain":
                throw ServiceError(.invalid, pointer: "/gradients/\(k)", "\"\(name)\" is listed twice")
            default:
                throw ServiceError(
                    .invalid, pointer: "/gradients/\(k)", "expected \"positions\" or \"strain\", got \"\(name)\"")
            }
        }
        return (positions, strain)
    }
}
