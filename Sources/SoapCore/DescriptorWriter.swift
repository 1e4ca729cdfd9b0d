/// Turns one centre's expansion (and its gradients) into a descriptor row
/// (and gradient entries), in the column order of ColumnLayout.
final class DescriptorWriter {
    let type: DescriptorType
    let expansion: SphericalExpansion
    let columns: Int
    let L: Int, K: Int, channels: Int, groups: Int
    /// Highest l written: 0 for the radial spectrum.
    let outputL: Int
    let pairs: [(Int, Int)]
    /// κ (−1)^l / √(2l+1) per (pair, l): featomic's power spectrum normalisation.
    let factors: [Double]
    /// Scratch for X = ∂C · Cᵀ, channels × channels.
    let product: UnsafeMutablePointer<Double>
    var order: [Int] = []

    init(type: DescriptorType, expansion: SphericalExpansion, columns: Int) {
        self.type = type
        self.expansion = expansion
        self.columns = columns
        L = expansion.L; K = expansion.K; channels = expansion.channels
        groups = expansion.basis.groupCount
        outputL = type == .radialSpectrum ? 0 : L
        pairs = ColumnLayout.groupPairs(groups)
        var f: [Double] = []
        for (g1, g2) in pairs {
            let kappa = g1 == g2 ? 1.0 : 2.0.squareRoot()
            for l in 0...L { f.append(kappa * (l % 2 == 0 ? 1 : -1) / Double(2 * l + 1).squareRoot()) }
        }
        factors = f
        product = .allocate(capacity: max(1, channels * channels))
    }

    deinit { product.deallocate() }

    func writeValues(to out: UnsafeMutablePointer<Double>) {
        let C = expansion.coefficients
        switch type {
        case .sphericalExpansion, .radialSpectrum:
            scatterExpansion(C, rowGroups: 0..<groups, stride: channels, to: out)
        case .powerSpectrum:
            var col = 0
            for (p, (g1, g2)) in pairs.enumerated() {
                for l in 0...L {
                    let m2 = 2 * l + 1
                    let block = C + channels * l * l
                    let f = factors[p * (L + 1) + l]
                    for n1 in 0..<K {
                        let a = block + (g1 * K + n1) * m2
                        for n2 in 0..<K {
                            let b = block + (g2 * K + n2) * m2
                            var dot = 0.0
                            for m in 0..<m2 { dot += a[m] * b[m] }
                            out[col] = f * dot
                            col += 1
                        }
                    }
                }
            }
        }
    }

    /// Gradient entries of one row: the centre and every neighbour atom, by atom index.
    func writeGradients(center i: Int, row: Int, structure: Int, values: UnsafeMutablePointer<Double>,
                        labels: UnsafeMutablePointer<Int32>) {
        // Entry order: atoms ascending; −1 stands for the centre's own block.
        order.removeAll(keepingCapacity: true)
        order.append(-1)
        order.append(contentsOf: expansion.gradientAtoms.indices)
        let atoms = expansion.gradientAtoms
        order.sort { (a, b) in (a < 0 ? i : atoms[a]) < (b < 0 ? i : atoms[b]) }
        for (e, block) in order.enumerated() {
            let atom = block < 0 ? i : atoms[block]
            labels[3 * e] = Int32(row); labels[3 * e + 1] = Int32(structure); labels[3 * e + 2] = Int32(atom)
            let out = values + e * 3 * columns
            let source: UnsafeMutablePointer<Double>
            let rowGroups: Range<Int>
            let stride: Int
            if block < 0 {
                source = expansion.selfGradient
                rowGroups = 0..<groups
                stride = expansion.size
            } else {
                source = expansion.neighborGradients + block * 3 * expansion.neighborSize
                let g = expansion.slotOffset[expansion.gradientSlots[block]] / K
                rowGroups = g..<(g + 1)
                stride = expansion.neighborSize
            }
            for d in 0..<3 {
                let dC = source + d * stride
                let dst = out + d * columns
                switch type {
                case .sphericalExpansion, .radialSpectrum:
                    scatterExpansion(dC, rowGroups: rowGroups, stride: rowGroups.count * K, to: dst)
                case .powerSpectrum:
                    powerSpectrumGradient(dC, rowGroups: rowGroups, to: dst)
                }
            }
        }
    }

    /// Copies an expansion laid out [l-block: rows × (2l+1)] whose rows are
    /// the channel groups `rowGroups`, into (group, l, m, n) columns.
    private func scatterExpansion(_ C: UnsafeMutablePointer<Double>, rowGroups: Range<Int>, stride rowsPerL: Int,
                                  to out: UnsafeMutablePointer<Double>) {
        let lm = (outputL + 1) * (outputL + 1)
        for (local, g) in rowGroups.enumerated() {
            let groupBase = out + g * K * lm
            for l in 0...outputL {
                let m2 = 2 * l + 1
                let block = C + rowsPerL * l * l + local * K * m2
                let dst = groupBase + K * l * l
                for k in 0..<K {
                    for m in 0..<m2 { dst[m * K + k] = block[k * m2 + m] }
                }
            }
        }
    }

    /// ∂P/∂r for one direction: with X = ∂C Cᵀ (rows of ∂C only in
    /// `rowGroups`), ∂P[(a,n1),(b,n2)] = X[a n1, b n2] + X[b n2, a n1].
    private func powerSpectrumGradient(_ dC: UnsafeMutablePointer<Double>, rowGroups: Range<Int>,
                                       to out: UnsafeMutablePointer<Double>) {
        let C = expansion.coefficients
        let rowsX = rowGroups.count * K
        let X = product
        let gLo = rowGroups.lowerBound
        var col = 0
        // Columns are pair-major, then l; compute X per l once and fill all pairs.
        for l in 0...L {
            let m2 = 2 * l + 1
            let block = C + channels * l * l
            let dBlock = dC + rowsX * l * l
            for p in 0..<rowsX {
                let a = dBlock + p * m2
                for q in 0..<channels {
                    let b = block + q * m2
                    var dot = 0.0
                    for m in 0..<m2 { dot += a[m] * b[m] }
                    X[p * channels + q] = dot
                }
            }
            for (pi, (g1, g2)) in pairs.enumerated() {
                let f = factors[pi * (L + 1) + l]
                col = (pi * (L + 1) + l) * K * K
                let first = rowGroups.contains(g1), second = rowGroups.contains(g2)
                if !first && !second {
                    continue  // already zero
                }
                for n1 in 0..<K {
                    for n2 in 0..<K {
                        var v = 0.0
                        if first { v += X[((g1 - gLo) * K + n1) * channels + g2 * K + n2] }
                        if second { v += X[((g2 - gLo) * K + n2) * channels + g1 * K + n1] }
                        out[col + n1 * K + n2] = f * v
                    }
                }
            }
        }
    }
}
