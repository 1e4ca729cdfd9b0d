import FastJSON
import SoapCore

/// featomic 0.6 radial bases → RadialBasis: `Gto` and `Tabulated` entries of a
/// TensorProduct `radial` or of an Explicit basis's `by_angular`, within the
/// request limits (functions per l, spline points).
struct RadialBasisDecoder {
    var limits: RequestLimits
    /// The cutoff radius a `Gto`'s optional `radius` must repeat.
    var radius: Double

    func decode(_ value: JSONValue, at p: String) throws(ServiceError) -> RadialBasis {
        let radial = try Field.object(value, p)
        let type = try HypersDecoder(limits: limits).typeName(
            radial, at: p, supported: ["Gto", "Tabulated", "LaplacianEigenstate", "SphericalBessel"])
        if type == "Tabulated" { return .tabulated(try decodeTabulated(radial, at: p)) }
        try Field.allowOnly(radial, ["type", "max_radial", "radius"], at: p)
        let maxRadial = try Field.integer(try Field.required(radial, "max_radial", at: p), "\(p)/max_radial")
        guard maxRadial >= 0, maxRadial <= limits.maxRadial, maxRadial < limits.maxRadialFunctionsPerL else {
            throw ServiceError(
                .invalid, pointer: "\(p)/max_radial",
                "must be between 0 and \(min(limits.maxRadial, limits.maxRadialFunctionsPerL - 1))")
        }
        if let r = radial["radius"] {
            let rr = try Field.number(r, "\(p)/radius")
            guard rr == radius else {
                throw ServiceError(.invalid, pointer: "\(p)/radius", "must equal cutoff.radius (\(radius)) if given")
            }
        }
        switch type {
        case "LaplacianEigenstate": return .laplacianEigenstate(maxRadial: maxRadial)
        case "SphericalBessel": return .sphericalBessel(maxRadial: maxRadial)
        default: return .gto(maxRadial: maxRadial)
        }
    }

    /// soapd's ragged LE basis: `{"type": "LaplacianEigenstate", "max_radial", "max_angular"?}`.
    func decodeLaplacianEigenstate(_ basis: JSONObject, at p: String) throws(ServiceError) -> RadialBasisSet {
        try Field.allowOnly(basis, ["type", "max_radial", "max_angular", "spline_accuracy"], at: p)
        let maxRadial = try Field.integer(try Field.required(basis, "max_radial", at: p), "\(p)/max_radial")
        guard maxRadial >= 0, maxRadial <= limits.maxRadial, maxRadial < limits.maxRadialFunctionsPerL else {
            throw ServiceError(
                .invalid, pointer: "\(p)/max_radial",
                "must be between 0 and \(min(limits.maxRadial, limits.maxRadialFunctionsPerL - 1))")
        }
        var maxAngular: Int? = nil
        if let a = basis["max_angular"] {
            let l = try Field.integer(a, "\(p)/max_angular")
            guard l >= 0, l <= limits.maxAngular else {
                throw ServiceError(.invalid, pointer: "\(p)/max_angular", "must be between 0 and \(limits.maxAngular)")
            }
            maxAngular = l
        }
        let set = RadialBasisSet.laplacianEigenstate(
            cutoff: radius, maxRadial: maxRadial, maxAngular: maxAngular, limit: limits.maxAngular + 1)
        guard set.byAngular.count <= limits.maxAngular + 1 else {
            throw ServiceError(
                .invalid, pointer: "\(p)/max_radial",
                "the basis reaches beyond l = \(limits.maxAngular) (max_angular limit); give a max_angular")
        }
        return set
    }

    /// `by_angular`: {"l": radial, ...}; l not listed have no functions.
    func decodeExplicit(_ value: JSONValue, at p: String) throws(ServiceError) -> RadialBasisSet {
        let object = try Field.object(value, p)
        var byL: [Int: RadialBasis] = [:]
        // In l order (then the rest), so that the first error found is always the same one.
        let keys = object.keys.sorted { (Int($0) ?? .max, $0) < (Int($1) ?? .max, $1) }
        for key in keys {
            let at = "\(p)/\(Field.escape(key))"
            guard let l = Int(key), l >= 0, String(l) == key else {
                throw ServiceError(.invalid, pointer: at, "keys must be angular channels l = 0, 1, 2, ...")
            }
            guard l <= limits.maxAngular else {
                throw ServiceError(.invalid, pointer: at, "l must be between 0 and \(limits.maxAngular)")
            }
            byL[l] = try decode(object[key]!, at: at)
        }
        guard let top = byL.keys.max() else { throw ServiceError(.invalid, pointer: p, "must list at least one l") }
        return RadialBasisSet(form: .explicit, byAngular: (0...top).map { byL[$0] })
    }

    private func decodeTabulated(_ radial: JSONObject, at p: String) throws(ServiceError) -> TabulatedRadial {
        guard radial["max_radial"] == nil else {
            throw ServiceError(.invalid, pointer: "\(p)/type", "a Tabulated radial integral takes points, not max_radial")
        }
        try Field.allowOnly(radial, ["type", "points"], at: p)
        let points = try Field.array(try Field.required(radial, "points", at: p), "\(p)/points")
        guard points.count <= limits.maxSplinePoints else {
            throw ServiceError(
                .invalid, pointer: "\(p)/points",
                "has \(points.count) points; at most \(limits.maxSplinePoints) (max_spline_points)")
        }
        var positions: [Double] = []
        var values: [[Double]] = []
        var derivatives: [[Double]] = []
        positions.reserveCapacity(points.count)
        for (k, point) in points.enumerated() {
            let at = "\(p)/points/\(k)"
            let o = try Field.object(point, at)
            try Field.allowOnly(o, ["position", "values", "derivatives"], at: at)
            positions.append(try Field.number(try Field.required(o, "position", at: at), "\(at)/position"))
            values.append(try numbers(try Field.required(o, "values", at: at), at: "\(at)/values"))
            derivatives.append(try numbers(try Field.required(o, "derivatives", at: at), at: "\(at)/derivatives"))
        }
        do {
            // Field names relative to the hypers, then re-rooted at this entry.
            let t = try TabulatedRadial(positions: positions, values: values, derivatives: derivatives, field: "")
            return t
        } catch {
            throw ServiceError(.invalid, pointer: "\(p)\(error.field)", error.message)
        }
    }

    private func numbers(_ value: JSONValue, at p: String) throws(ServiceError) -> [Double] {
        let array = try Field.array(value, p)
        guard array.count <= limits.maxRadialFunctionsPerL else {
            throw ServiceError(
                .invalid, pointer: p,
                "has \(array.count) radial functions; at most \(limits.maxRadialFunctionsPerL) (max_radial_functions_per_l)")
        }
        var out: [Double] = []
        out.reserveCapacity(array.count)
        for (k, x) in array.enumerated() { out.append(try Field.number(x, "\(p)/\(k)")) }
        return out
    }
}
