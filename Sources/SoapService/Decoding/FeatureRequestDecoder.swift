import FastJSON
import SoapCore

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
        let (gradients, strain) = try Self.decodeGradients(root["gradients"])
        let structures = try decodeStructures(try Field.required(root, "structures", at: ""))
        var request = FeatureRequest(
            structures: structures, type: type, species: species, hypers: hypers, basisID: basisID,
            level: level, gradients: gradients, options: options)
        request.strain = strain
        return request
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
