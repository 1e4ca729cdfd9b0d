import FastJSON
import SoapCore

/// SoapHypers → featomic 0.6 JSON, written in a fixed key order so the text
/// is canonical (it is hashed into basis ids and stored with datasets).
enum HypersEncoder {
    static func write(_ h: SoapHypers, to w: inout JSONWriter) {
        w.beginObject()
        w.key("cutoff")
        w.beginObject()
        w.key("radius")
        w.number(h.cutoff)
        w.key("smoothing")
        w.beginObject()
        switch h.smoothing {
        case .shiftedCosine(let width):
            w.key("type")
            w.string("ShiftedCosine")
            w.key("width")
            w.number(width)
        case .step:
            w.key("type")
            w.string("Step")
        }
        w.endObject()
        w.endObject()
        w.key("density")
        w.beginObject()
        w.key("type")
        if h.density == .diracDelta {
            w.string("DiracDelta")
        } else {
            w.string("Gaussian")
            w.key("width")
            w.number(h.densityWidth)
        }
        if case .willatt2018(let c, let r0, let m) = h.scaling {
            w.key("scaling")
            w.beginObject()
            w.key("type")
            w.string("Willatt2018")
            w.key("rate")
            w.number(c)
            w.key("scale")
            w.number(r0)
            w.key("exponent")
            w.number(m)
            w.endObject()
        }
        w.key("center_atom_weight")
        w.number(h.centerAtomWeight)
        w.endObject()
        w.key("basis")
        w.beginObject()
        w.key("type")
        if let set = h.radialBases, case .laplacianEigenstate(let maxRadial, let maxAngular) = set.form {
            w.string("LaplacianEigenstate")
            w.key("max_radial")
            w.integer(maxRadial)
            if let maxAngular {
                w.key("max_angular")
                w.integer(maxAngular)
            }
        } else if let set = h.radialBases, set.form == .explicit {
            w.string("Explicit")
            w.key("by_angular")
            w.beginObject()
            for (l, radial) in set.byAngular.enumerated() {
                guard let radial else { continue }
                w.key(String(l))
                writeRadial(radial, to: &w)
            }
            w.endObject()
        } else {
            w.string("TensorProduct")
            w.key("max_angular")
            w.integer(h.maxAngular)
            w.key("radial")
            let radial: RadialBasis? = h.radialBases?.byAngular.first ?? nil
            writeRadial(radial ?? .gto(maxRadial: h.maxRadial), to: &w)
        }
        w.key("spline_accuracy")
        if let a = h.splineAccuracy { w.number(a) } else { w.null() }
        w.endObject()
        w.endObject()
    }

    static func writeRadial(_ radial: RadialBasis, to w: inout JSONWriter) {
        w.beginObject()
        w.key("type")
        switch radial {
        case .gto(let maxRadial):
            w.string("Gto")
            w.key("max_radial")
            w.integer(maxRadial)
        case .laplacianEigenstate(let maxRadial):
            w.string("LaplacianEigenstate")
            w.key("max_radial")
            w.integer(maxRadial)
        case .sphericalBessel(let maxRadial):
            w.string("SphericalBessel")
            w.key("max_radial")
            w.integer(maxRadial)
        case .tabulated(let t):
            w.string("Tabulated")
            w.key("points")
            w.beginArray()
            let k = t.functionCount
            for (p, position) in t.positions.enumerated() {
                w.beginObject()
                w.key("position")
                w.number(position)
                for (name, numbers) in [("values", t.values), ("derivatives", t.derivatives)] {
                    w.key(name)
                    w.beginArray()
                    for n in 0..<k { w.number(numbers[p * k + n]) }
                    w.endArray()
                }
                w.endObject()
            }
            w.endArray()
        }
        w.endObject()
    }

    static func json(_ h: SoapHypers) -> String {
        var w = JSONWriter(capacity: 512)
        write(h, to: &w)
        return String(decoding: w.bytes, as: UTF8.self)
    }
}
