import FastJSON
import SoapCore

/// featomic 0.6 hyper-parameter JSON → SoapHypers, for the subset soapd
/// supports. Anything else is refused with the option it does not support.
struct HypersDecoder {
    var limits: RequestLimits

    func decode(_ value: JSONValue, radialOnly: Bool, at p: String) throws(ServiceError) -> SoapHypers {
        let root = try Field.object(value, p)
        try Field.allowOnly(root, ["cutoff", "density", "basis"], at: p)

        // cutoff
        let cutoff = try Field.object(try Field.required(root, "cutoff", at: p), "\(p)/cutoff")
        try Field.allowOnly(cutoff, ["radius", "smoothing"], at: "\(p)/cutoff")
        let radius = try Field.number(try Field.required(cutoff, "radius", at: "\(p)/cutoff"), "\(p)/cutoff/radius")
        let smoothingJSON = try Field.object(try Field.required(cutoff, "smoothing", at: "\(p)/cutoff"), "\(p)/cutoff/smoothing")
        let smoothingType = try typeName(smoothingJSON, at: "\(p)/cutoff/smoothing", supported: ["ShiftedCosine", "Step"])
        let smoothing: CutoffSmoothing
        if smoothingType == "Step" {
            try Field.allowOnly(smoothingJSON, ["type"], at: "\(p)/cutoff/smoothing")
            smoothing = .step
        } else {
            try Field.allowOnly(smoothingJSON, ["type", "width"], at: "\(p)/cutoff/smoothing")
            smoothing = .shiftedCosine(
                width: try Field.number(
                    try Field.required(smoothingJSON, "width", at: "\(p)/cutoff/smoothing"), "\(p)/cutoff/smoothing/width"))
        }

        // density
        let density = try Field.object(try Field.required(root, "density", at: p), "\(p)/density")
        let densityType = try typeName(density, at: "\(p)/density", supported: ["Gaussian", "DiracDelta"])
        let atomDensity: AtomDensity = densityType == "DiracDelta" ? .diracDelta : .gaussian
        var width = 0.0
        if atomDensity == .gaussian {
            try Field.allowOnly(density, ["type", "width", "scaling", "center_atom_weight"], at: "\(p)/density")
            width = try Field.number(try Field.required(density, "width", at: "\(p)/density"), "\(p)/density/width")
        } else {
            // A Gaussian's field on a DiracDelta: the type is what is wrong.
            guard density["width"] == nil else {
                throw ServiceError(.invalid, pointer: "\(p)/density/type", "a DiracDelta density has no width (Gaussian has)")
            }
            try Field.allowOnly(density, ["type", "scaling", "center_atom_weight"], at: "\(p)/density")
        }
        var scaling = RadialScaling.none
        if let s = density["scaling"], !s.isNull {
            let sp = "\(p)/density/scaling"
            let sj = try Field.object(s, sp)
            _ = try typeName(sj, at: sp, supported: ["Willatt2018"])
            try Field.allowOnly(sj, ["type", "rate", "scale", "exponent"], at: sp)
            scaling = .willatt2018(
                rate: try Field.number(try Field.required(sj, "rate", at: sp), "\(sp)/rate"),
                scale: try Field.number(try Field.required(sj, "scale", at: sp), "\(sp)/scale"),
                exponent: try Field.number(try Field.required(sj, "exponent", at: sp), "\(sp)/exponent"))
        }
        var centerWeight = 1.0
        if let w = density["center_atom_weight"] { centerWeight = try Field.number(w, "\(p)/density/center_atom_weight") }

        // basis
        let bp = "\(p)/basis"
        let basis = try Field.object(try Field.required(root, "basis", at: p), bp)
        var maxAngular = 0
        var basisType = "TensorProduct"
        if radialOnly && basis["type"] == nil {
            // featomic's radial spectrum takes {radial, spline_accuracy} only.
            try Field.allowOnly(basis, ["radial", "spline_accuracy"], at: bp)
        } else {
            basisType = try typeName(basis, at: bp, supported: ["TensorProduct", "Explicit", "LaplacianEigenstate"])
            if basisType == "LaplacianEigenstate" {
                // Its keys are checked by RadialBasisDecoder.
            } else if basisType == "Explicit" {
                guard basis["max_angular"] == nil, basis["radial"] == nil else {
                    throw ServiceError(
                        .invalid, pointer: "\(bp)/type", "an Explicit basis takes by_angular, not max_angular and radial")
                }
                try Field.allowOnly(basis, ["type", "by_angular", "spline_accuracy"], at: bp)
            } else {
                try Field.allowOnly(basis, ["type", "max_angular", "radial", "spline_accuracy"], at: bp)
                maxAngular = try Field.integer(try Field.required(basis, "max_angular", at: bp), "\(bp)/max_angular")
                guard maxAngular >= 0, maxAngular <= limits.maxAngular else {
                    throw ServiceError(.invalid, pointer: "\(bp)/max_angular", "must be between 0 and \(limits.maxAngular)")
                }
            }
            if radialOnly { maxAngular = 0 }  // only l = 0 is needed
        }
        let radialDecoder = RadialBasisDecoder(limits: limits, radius: radius)
        var radialSet: RadialBasisSet? = nil
        var maxRadial = 0
        if basisType == "Explicit" || basisType == "LaplacianEigenstate" {
            let set =
                basisType == "Explicit"
                ? try radialDecoder.decodeExplicit(try Field.required(basis, "by_angular", at: bp), at: "\(bp)/by_angular")
                : try radialDecoder.decodeLaplacianEigenstate(basis, at: bp)
            radialSet = radialOnly ? RadialBasisSet(form: .explicit, byAngular: [set.byAngular[0]]) : set
            if radialOnly && set.byAngular[0] == nil {
                throw ServiceError(.invalid, pointer: "\(bp)/by_angular", "the radial spectrum needs an entry for l = 0")
            }
        } else {
            let radial = try radialDecoder.decode(try Field.required(basis, "radial", at: bp), at: "\(bp)/radial")
            switch radial {
            case .gto(let n): maxRadial = n  // the original TensorProduct of GTOs
            default: radialSet = .tensorProduct(radial, maxAngular: maxAngular)
            }
        }
        var accuracy: Double? = 1e-8
        if let a = basis["spline_accuracy"] {
            if a.isNull {
                accuracy = nil
            } else {
                let v = try Field.number(a, "\(bp)/spline_accuracy")
                guard v >= limits.minSplineAccuracy else {
                    throw ServiceError(.invalid, pointer: "\(bp)/spline_accuracy", "must be at least \(limits.minSplineAccuracy)")
                }
                accuracy = v
            }
        }
        var hypers = SoapHypers(
            cutoff: radius, smoothing: smoothing, densityWidth: width, scaling: scaling,
            centerAtomWeight: centerWeight, maxAngular: maxAngular, maxRadial: maxRadial,
            splineAccuracy: accuracy)
        if let radialSet {
            hypers = hypers.withRadialBases(radialSet, density: atomDensity)
        } else if atomDensity != .gaussian {
            hypers.density = atomDensity
        }
        do { try hypers.validate() } catch {
            throw ServiceError(.invalid, pointer: "\(p)/\(error.field)", error.message)
        }
        return hypers
    }

    func typeName(_ o: JSONObject, at p: String, supported: [String]) throws(ServiceError) -> String {
        let name = try Field.string(try Field.required(o, "type", at: p), "\(p)/type")
        guard supported.contains(name) else {
            throw ServiceError(
                .invalid, pointer: "\(p)/type",
                "unsupported option '\(name.prefix(64))'; soapd supports " + supported.joined(separator: ", "))
        }
        return name
    }
}
