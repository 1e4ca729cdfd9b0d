/// A ragged radial basis (n_l < K for some l) is expanded as if every l had K
/// functions, the missing ones identically zero; every descriptor is computed
/// on that padded layout and then keeps only the columns whose every (l, n)
/// has n < n_l — featomic's columns, in the same order.
enum RaggedColumns {
    /// The columns to keep, or nil when the labels carry no radial index (a projected
    /// multispectrum: padding adds nothing to it) or every column stays.
    static func kept(_ properties: Labels, sizes: [Int]) -> [Int]? {
        let names = properties.names
        // Each radial index with the angular index it belongs to (none: the radial spectrum, l = 0).
        var pairs: [(n: Int, l: Int?)] = []
        for (i, name) in names.enumerated() {
            if name == "n" {
                pairs.append((i, names.firstIndex(of: "l")))
            } else if name.hasPrefix("n_") {
                let own = names.firstIndex(of: "l_" + name.dropFirst(2))
                pairs.append((i, own ?? names.firstIndex(of: "l")))
            }
        }
        guard !pairs.isEmpty else { return nil }
        let width = names.count
        var keep: [Int] = []
        keep.reserveCapacity(properties.count)
        for c in 0..<properties.count {
            let base = c * width
            var ok = true
            for (n, l) in pairs {
                let angular = l.map { Int(properties.values[base + $0]) } ?? 0
                if Int(properties.values[base + n]) >= sizes[angular] {
                    ok = false
                    break
                }
            }
            if ok { keep.append(c) }
        }
        return keep.count == properties.count ? nil : keep
    }

    /// The inverse of `select` for one row-major array: `values` (rows × kept columns) placed in
    /// rows of `width` padded columns, zero in the padding (a VJP's output gradient).
    static func scatter(_ values: [Double], rows: Int, columns keep: [Int], into width: Int) -> [Double] {
        var out = [Double](repeating: 0, count: rows * width)
        for r in 0..<rows {
            for (k, c) in keep.enumerated() { out[r * width + c] = values[r * keep.count + k] }
        }
        return out
    }

    /// The matrix restricted to `columns` (values, position and strain gradients).
    static func select(_ m: FeatureMatrix, columns keep: [Int]) -> FeatureMatrix {
        let old = m.columnCount
        let new = keep.count
        var properties = Labels(names: m.properties.names)
        properties.values.reserveCapacity(new * m.properties.names.count)
        for c in keep { properties.values += m.properties[c] }
        func gather(_ values: [Double], rows: Int) -> [Double] {
            var out = [Double](repeating: 0, count: rows * new)
            values.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    for r in 0..<rows {
                        let from = src.baseAddress! + r * old
                        let to = dst.baseAddress! + r * new
                        for (k, c) in keep.enumerated() { to[k] = from[c] }
                    }
                }
            }
            return out
        }
        var result = m
        result.properties = properties
        result.values = gather(m.values, rows: m.rowCount)
        if let g = m.gradientValues { result.gradientValues = gather(g, rows: old == 0 ? 0 : g.count / old) }
        if let s = m.strainValues { result.strainValues = gather(s, rows: old == 0 ? 0 : s.count / old) }
        return result
    }
}
