/// Column layout of each descriptor for a given expansion basis.
enum ColumnLayout {
    static func properties(_ type: DescriptorType, basis: ExpansionBasis, plan: MultispectrumPlan? = nil) -> Labels {
        let K = basis.radialCount
        let L = basis.maxAngular
        let types = basis.groupTypes
        if let plan = plan ?? defaultPlan(type, basis: basis) {
            return multispectrumProperties(plan, basis: basis, equivariant: type == .powerSpectrum)
        }
        var labels: Labels
        switch type {
        case .multispectrum:
            return Labels(names: ["component"])
        case .sphericalExpansion:
            labels = Labels(names: types == nil ? ["l", "m", "n"] : ["neighbor_type", "l", "m", "n"])
            for g in 0..<basis.groupCount {
                for l in 0...L {
                    for m in -l...l {
                        for n in 0..<K {
                            if let types { labels.values.append(Int32(types[g])) }
                            labels.values += [Int32(l), Int32(m), Int32(n)]
                        }
                    }
                }
            }
        case .radialSpectrum:
            labels = Labels(names: types == nil ? ["n"] : ["neighbor_type", "n"])
            for g in 0..<basis.groupCount {
                for n in 0..<K {
                    if let types { labels.values.append(Int32(types[g])) }
                    labels.values.append(Int32(n))
                }
            }
        case .powerSpectrum:
            labels = Labels(
                names: types == nil
                    ? ["l", "n_1", "n_2"]
                    : ["neighbor_1_type", "neighbor_2_type", "l", "n_1", "n_2"])
            for (g1, g2) in groupPairs(basis.groupCount) {
                for l in 0...L {
                    for n1 in 0..<K {
                        for n2 in 0..<K {
                            if let types { labels.values += [Int32(types[g1]), Int32(types[g2])] }
                            labels.values += [Int32(l), Int32(n1), Int32(n2)]
                        }
                    }
                }
            }
        case .bispectrum:
            // featomic's order: (l_1, l_2, k_2, l_3), then the three (type, n) channels, last fastest.
            labels = Labels(
                names: types == nil
                    ? ["l_1", "l_2", "k_2", "l_3", "n_1", "n_2", "n_3"]
                    : [
                        "l_1", "l_2", "k_2", "l_3", "neighbor_1_type", "n_1", "neighbor_2_type", "n_2",
                        "neighbor_3_type", "n_3",
                    ])
            // Each channel's (type, n) or (n), flattened; appended per column without temporaries.
            var channel: [Int32] = []
            for g in 0..<basis.groupCount {
                for n in 0..<K {
                    if let types { channel.append(Int32(types[g])) }
                    channel.append(Int32(n))
                }
            }
            let w = types == nil ? 1 : 2
            let channels = basis.groupCount * K
            let triples = BispectrumTables.triples(maxAngular: L)
            labels.values.reserveCapacity(triples.count * channels * channels * channels * labels.names.count)
            for t in triples {
                for q1 in 0..<channels {
                    for q2 in 0..<channels {
                        for q3 in 0..<channels {
                            labels.values.append(Int32(t.l1))
                            labels.values.append(Int32(t.l2))
                            labels.values.append(Int32(t.l3))
                            labels.values.append(Int32(t.l3))
                            for q in [q1, q2, q3] { for k in 0..<w { labels.values.append(channel[q * w + k]) } }
                        }
                    }
                }
            }
        }
        return labels
    }

    /// Number of columns of `properties(type, basis:)`, without building them.
    static func count(_ type: DescriptorType, basis: ExpansionBasis, plan: MultispectrumPlan? = nil) -> Int {
        let K = basis.radialCount
        let L = basis.maxAngular
        let G = basis.groupCount
        if let plan = plan ?? defaultPlan(type, basis: basis) { return plan.columns }
        switch type {
        case .multispectrum: return 0
        case .sphericalExpansion: return G * (L + 1) * (L + 1) * K
        case .radialSpectrum: return G * K
        case .powerSpectrum: return G * (G + 1) / 2 * (L + 1) * K * K
        case .bispectrum:
            let channels = G * K
            return BispectrumTables.triples(maxAngular: L).count * channels * channels * channels
        }
    }

    /// The multispectrum with default options (ν = 3, untruncated), for callers without options.
    static func defaultPlan(_ type: DescriptorType, basis: ExpansionBasis) -> MultispectrumPlan? {
        guard type == .multispectrum else { return nil }
        return try? MultispectrumPlan(
            maxAngular: basis.maxAngular, channels: basis.channelCount,
            order: DescriptorOptions().correlationOrder)
    }

    /// Multispectrum invariants: their coupling path (l_1, l_2, k_2, l_3, …, k_{ν−1}, l_ν) and
    /// ν channels, or ["component"] after a fitted projection. λ-SOAP (`equivariant`):
    /// o3_lambda, o3_sigma, l_1, l_2, the two channels and m, m fastest.
    static func multispectrumProperties(_ plan: MultispectrumPlan, basis: ExpansionBasis, equivariant: Bool) -> Labels {
        let nu = plan.order
        let targets = plan.orders[nu - 1]
        if targets.contains(where: { $0.projection != nil }) {
            var labels = Labels(names: ["component"])
            for block in targets { for c in 0..<block.count { labels.values.append(Int32(c)) } }
            return labels
        }
        let types = basis.groupTypes
        let K = basis.radialCount
        var names: [String] = equivariant ? ["o3_lambda", "o3_sigma"] : []
        names.append("l_1")
        if nu >= 2 {
            for j in 2...nu {
                names.append("l_\(j)")
                if j < nu { names.append("k_\(j)") }
            }
        }
        for j in 1...nu {
            if types != nil { names.append("neighbor_\(j)_type") }
            names.append("n_\(j)")
        }
        if equivariant { names.append("m") }
        var labels = Labels(names: names)
        let paths = plan.paths(order: nu)
        labels.values.reserveCapacity(plan.columns * names.count)
        var feature = 0
        for block in targets {
            for _ in 0..<block.raw {
                let (ls, qs) = paths[feature]
                feature += 1
                for mu in -block.lambda...block.lambda {
                    if equivariant { labels.values += [Int32(block.lambda), Int32(block.sigma)] }
                    labels.values += ls.dropLast()  // k_ν is the block's λ
                    for q in qs {
                        if let types { labels.values.append(Int32(types[Int(q) / K])) }
                        labels.values.append(q % Int32(K))
                    }
                    if equivariant { labels.values.append(Int32(mu)) }
                }
            }
        }
        return labels
    }

    /// (g1, g2) with g1 ≤ g2, in column order. Species slots are sorted, so
    /// this is featomic's neighbor_1_type ≤ neighbor_2_type.
    static func groupPairs(_ groups: Int) -> [(Int, Int)] {
        var pairs: [(Int, Int)] = []
        for a in 0..<groups { for b in a..<groups { pairs.append((a, b)) } }
        return pairs
    }
}
