import FastJSON
import SoapCore

/// A decoded POST /v1/features body (contract.md).
public struct FeatureRequest: Sendable {
    public var structures: [Structure]
    public var type: DescriptorType
    public var species: [Int]
    /// Primitive hypers, or nil when the descriptor names a fitted basis.
    public var hypers: SoapHypers?
    public var basisID: String?
    public var level: SampleLevel
    public var gradients: Bool
    /// Multispectrum body order and λ-SOAP's λ (the contraction is resolved with the basis).
    public var options = DescriptorOptions()
}

/// Limits on what a client controls in one request (from Config).
public struct RequestLimits: Sendable {
    public var maxStructures = 100_000
    public var maxAtomsPerStructure = 100_000
    public var maxAtomsTotal = 1_000_000
    public var maxAngular = 12
    public var maxRadial = 30
    public var minSplineAccuracy = 1e-12
    /// Highest multispectrum correlation_order a request may ask for.
    public var maxCorrelationOrder = 4
    public init() {}
}

/// JSON → FeatureRequest, with every error naming its field.
public struct FeatureRequestDecoder: Sendable {
    public var limits: RequestLimits
    public init(limits: RequestLimits = .init()) { self.limits = limits }

    public func decode(_ body: JSONValue) throws(ServiceError) -> FeatureRequest {
        let root = try Field.object(body, "")
        try Field.allowOnly(root, ["structures", "descriptor", "per", "gradients"], at: "")
        let descriptor = try Field.object(try Field.required(root, "descriptor", at: ""), "/descriptor")
        try Field.allowOnly(
            descriptor, ["type", "species", "hypers", "basis_id", "correlation_order", "o3_lambda"],
            at: "/descriptor")
        let typeName = try Field.string(try Field.required(descriptor, "type", at: "/descriptor"), "/descriptor/type")
        guard let type = DescriptorType(rawValue: typeName) else {
            throw ServiceError(
                .invalid, pointer: "/descriptor/type",
                "unknown descriptor type '\(typeName)'; expected one of "
                    + DescriptorType.allCases.map(\.rawValue).joined(separator: ", "))
        }
        var hypers: SoapHypers? = nil
        var basisID: String? = nil
        var species: [Int] = []
        switch (descriptor["hypers"], descriptor["basis_id"]) {
        case (.some, .some):
            throw ServiceError(.invalid, pointer: "/descriptor", "give either hypers or basis_id, not both")
        case (nil, nil):
            throw ServiceError(.invalid, pointer: "/descriptor/hypers", "is required (or basis_id)")
        case (let h?, nil):
            hypers = try HypersDecoder(limits: limits).decode(h, radialOnly: type == .radialSpectrum, at: "/descriptor/hypers")
            species = try decodeSpecies(try Field.required(descriptor, "species", at: "/descriptor"))
        case (nil, let id?):
            basisID = try Field.string(id, "/descriptor/basis_id")
            if let s = descriptor["species"] { species = try decodeSpecies(s) }
        }
        var options = DescriptorOptions()
        if let order = descriptor["correlation_order"] {
            guard type == .multispectrum else {
                throw ServiceError(
                    .invalid, pointer: "/descriptor/correlation_order", "applies to descriptor type multispectrum only")
            }
            options.correlationOrder = try Field.integer(
                order, "/descriptor/correlation_order",
                in: 2...max(2, limits.maxCorrelationOrder))
        }
        if let lambda = descriptor["o3_lambda"] {
            guard type == .powerSpectrum else {
                throw ServiceError(
                    .invalid, pointer: "/descriptor/o3_lambda", "applies to descriptor type power_spectrum only (λ-SOAP)")
            }
            let l = try Field.integer(lambda, "/descriptor/o3_lambda")
            // The upper bound (2·max_angular) is checked with the basis, under the same pointer.
            guard l >= 0 && l <= 2 * limits.maxAngular else {
                throw ServiceError(
                    .invalid, pointer: "/descriptor/o3_lambda", "must be an integer from 0 to 2·max_angular, not \(l)")
            }
            options.lambda = l
        }
        var level = SampleLevel.atom
        if let per = root["per"] {
            let name = try Field.string(per, "/per")
            guard let l = SampleLevel(rawValue: name) else {
                throw ServiceError(.invalid, pointer: "/per", "expected \"atom\" or \"structure\", got \"\(name)\"")
            }
            level = l
        }
        var gradients = false
        if let g = root["gradients"] { gradients = try Field.bool(g, "/gradients") }
        let structures = try decodeStructures(try Field.required(root, "structures", at: ""))
        return FeatureRequest(
            structures: structures, type: type, species: species, hypers: hypers, basisID: basisID,
            level: level, gradients: gradients, options: options)
    }

    func decodeSpecies(_ value: JSONValue) throws(ServiceError) -> [Int] {
        let items = try Field.array(value, "/descriptor/species")
        guard !items.isEmpty else {
            throw ServiceError(.invalid, pointer: "/descriptor/species", "must list at least one atomic number")
        }
        var species: [Int] = []
        for (k, item) in items.enumerated() {
            let z = try Field.integer(item, "/descriptor/species/\(k)")
            guard Elements.isKnown(z) else {
                throw ServiceError(
                    .invalid, pointer: "/descriptor/species/\(k)", "\(z) is not an atomic number (1…\(Elements.symbols.count))")
            }
            guard !species.contains(z) else {
                throw ServiceError(.invalid, pointer: "/descriptor/species/\(k)", "\(z) is listed twice")
            }
            species.append(z)
        }
        return species.sorted()
    }

    public func decodeStructures(_ value: JSONValue, at base: String = "/structures") throws(ServiceError) -> [Structure] {
        let items = try Field.array(value, base)
        guard items.count <= limits.maxStructures else {
            throw ServiceError(.tooLarge, pointer: base, "\(items.count) structures, above the limit of \(limits.maxStructures)")
        }
        var structures: [Structure] = []
        structures.reserveCapacity(items.count)
        var atoms = 0
        for (index, item) in items.enumerated() {
            let s = try decodeStructure(item, at: "\(base)/\(index)")
            atoms += s.count
            guard atoms <= limits.maxAtomsTotal else {
                throw ServiceError(.tooLarge, pointer: base, "more than \(limits.maxAtomsTotal) atoms in one request")
            }
            // Numeric validity (finite, non-singular cell…) is checked once, by the Featurizer.
            structures.append(s)
        }
        return structures
    }

    public func decodeStructure(_ value: JSONValue, at p: String) throws(ServiceError) -> Structure {
        let o = try Field.object(value, p)
        try Field.allowOnly(o, ["numbers", "symbols", "positions", "cell", "pbc"], at: p)
        var numbers: [Int] = []
        switch (o["numbers"], o["symbols"]) {
        case (.some, .some):
            throw ServiceError(.invalid, pointer: p, "give either numbers or symbols, not both")
        case (nil, nil):
            throw ServiceError(.invalid, pointer: "\(p)/numbers", "is required (or symbols)")
        case (let n?, nil):
            let items = try Field.array(n, "\(p)/numbers")
            numbers.reserveCapacity(items.count)
            for (k, item) in items.enumerated() {
                let z = try Field.integer(item, "\(p)/numbers/\(k)")
                guard Elements.isKnown(z) else {
                    throw ServiceError(
                        .invalid, pointer: "\(p)/numbers/\(k)", "\(z) is not an atomic number (1…\(Elements.symbols.count))")
                }
                numbers.append(z)
            }
        case (nil, let s?):
            let items = try Field.array(s, "\(p)/symbols")
            for (k, item) in items.enumerated() {
                let symbol = try Field.string(item, "\(p)/symbols/\(k)")
                guard let z = Elements.number(of: symbol) else {
                    throw ServiceError(.invalid, pointer: "\(p)/symbols/\(k)", "unknown element symbol '\(symbol.prefix(16))'")
                }
                numbers.append(z)
            }
        }
        guard numbers.count <= limits.maxAtomsPerStructure else {
            throw ServiceError(.tooLarge, pointer: p, "\(numbers.count) atoms, above the limit of \(limits.maxAtomsPerStructure)")
        }
        let rows = try Field.array(try Field.required(o, "positions", at: p), "\(p)/positions")
        guard rows.count == numbers.count else {
            throw ServiceError(.invalid, pointer: "\(p)/positions", "has \(rows.count) rows for \(numbers.count) atoms")
        }
        var positions = [Double](repeating: 0, count: 3 * rows.count)
        for (i, row) in rows.enumerated() {
            try Field.vector3(row, "\(p)/positions/\(i)", into: &positions, at: 3 * i)
        }
        var cell: [Double]? = nil
        if let c = o["cell"], !c.isNull {
            let cellRows = try Field.array(c, "\(p)/cell")
            guard cellRows.count == 3 else { throw ServiceError(.invalid, pointer: "\(p)/cell", "must be 3 rows of 3 numbers") }
            var m = [Double](repeating: 0, count: 9)
            for (r, row) in cellRows.enumerated() { try Field.vector3(row, "\(p)/cell/\(r)", into: &m, at: 3 * r) }
            cell = m
        }
        var pbc: (Bool, Bool, Bool)? = nil
        if let b = o["pbc"], !b.isNull {
            switch b {
            case .bool(let v): pbc = (v, v, v)
            default:
                let flags = try Field.array(b, "\(p)/pbc")
                guard flags.count == 3 else { throw ServiceError(.invalid, pointer: "\(p)/pbc", "must be 3 booleans") }
                pbc = (
                    try Field.bool(flags[0], "\(p)/pbc/0"), try Field.bool(flags[1], "\(p)/pbc/1"),
                    try Field.bool(flags[2], "\(p)/pbc/2")
                )
            }
        }
        return Structure(numbers: numbers, positions: positions, cell: cell, pbc: pbc)
    }
}

/// Typed access to JSON fields with errors that point at them.
/// (Pointers are autoclosures: built only for an error, not for each of a request's
/// numbers.)
enum Field {
    static func describe(_ v: JSONValue) -> String {
        switch v {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    static func object(_ v: JSONValue, _ p: @autoclosure () -> String) throws(ServiceError) -> JSONObject {
        guard case .object(let o) = v else {
            throw ServiceError(.invalid, pointer: p(), "expected an object, got \(describe(v))")
        }
        return o
    }

    static func array(_ v: JSONValue, _ p: @autoclosure () -> String) throws(ServiceError) -> [JSONValue] {
        guard case .array(let a) = v else { throw ServiceError(.invalid, pointer: p(), "expected an array, got \(describe(v))") }
        return a
    }

    static func string(_ v: JSONValue, _ p: @autoclosure () -> String) throws(ServiceError) -> String {
        guard case .string(let s) = v else { throw ServiceError(.invalid, pointer: p(), "expected a string, got \(describe(v))") }
        return s
    }

    static func bool(_ v: JSONValue, _ p: @autoclosure () -> String) throws(ServiceError) -> Bool {
        guard case .bool(let b) = v else {
            throw ServiceError(.invalid, pointer: p(), "expected true or false, got \(describe(v))")
        }
        return b
    }

    static func number(_ v: JSONValue, _ p: @autoclosure () -> String) throws(ServiceError) -> Double {
        guard case .number(let x) = v else { throw ServiceError(.invalid, pointer: p(), "expected a number, got \(describe(v))") }
        guard x.isFinite else { throw ServiceError(.invalid, pointer: p(), "must be finite") }
        return x
    }

    static func integer(_ v: JSONValue, _ p: @autoclosure () -> String) throws(ServiceError) -> Int {
        let x = try number(v, p())
        guard x == x.rounded(), abs(x) < 1e15 else { throw ServiceError(.invalid, pointer: p(), "expected an integer, got \(x)") }
        return Int(x)
    }

    static func integer(_ v: JSONValue, _ p: @autoclosure () -> String, in range: ClosedRange<Int>) throws(ServiceError) -> Int {
        let x = try integer(v, p())
        guard range.contains(x) else {
            throw ServiceError(
                .invalid, pointer: p(), "must be an integer from \(range.lowerBound) to \(range.upperBound), not \(x)")
        }
        return x
    }

    static func required(_ o: JSONObject, _ key: String, at p: String) throws(ServiceError) -> JSONValue {
        guard let v = o[key] else { throw ServiceError(.invalid, pointer: "\(p)/\(key)", "is required") }
        return v
    }

    /// Unknown keys are refused: a misspelt option must not be silently ignored.
    static func allowOnly(_ o: JSONObject, _ keys: Set<String>, at p: String) throws(ServiceError) {
        for key in o.keys where !keys.contains(key) {
            throw ServiceError(
                .invalid, pointer: "\(p)/\(escape(key))",
                "unknown field '\(key.prefix(64))'; expected one of " + keys.sorted().joined(separator: ", "))
        }
    }

    static func vector3(
        _ v: JSONValue, _ p: @autoclosure () -> String, into out: inout [Double],
        at offset: Int
    ) throws(ServiceError) {
        guard case .array(let a) = v, a.count == 3 else {
            throw ServiceError(.invalid, pointer: p(), "expected 3 numbers")
        }
        for k in 0..<3 {
            guard case .number(let x) = a[k] else {
                throw ServiceError(.invalid, pointer: "\(p())/\(k)", "expected a number, got \(describe(a[k]))")
            }
            guard x.isFinite else { throw ServiceError(.invalid, pointer: "\(p())/\(k)", "must be finite") }
            out[offset + k] = x
        }
    }

    /// RFC 6901 escaping of one reference token.
    static func escape(_ token: String) -> String {
        token.replacingOccurrences("~", "~0").replacingOccurrences("/", "~1")
    }
}

extension String {
    /// Every occurrence of `target` replaced, matched on UTF-8 bytes. (Not on Characters:
    /// a "~" or "/" followed by a combining mark is one grapheme cluster with it, and a
    /// multi-character target cannot be a Character at all.)
    func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        let source = Array(utf8)
        let pattern = Array(target.utf8)
        guard !pattern.isEmpty, source.count >= pattern.count else { return self }
        var out: [UInt8] = []
        out.reserveCapacity(source.count)
        var i = 0
        while i < source.count {
            if source[i] == pattern[0], source.count - i >= pattern.count,
                source[i..<(i + pattern.count)].elementsEqual(pattern)
            {
                out.append(contentsOf: replacement.utf8)
                i += pattern.count
            } else {
                out.append(source[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
