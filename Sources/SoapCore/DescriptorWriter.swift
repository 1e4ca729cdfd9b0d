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
    /// Cᵀ of the current centre, per l-block.
    let transposed: UnsafeMutablePointer<Double>
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
        transposed = .allocate(capacity: max(1, expansion.size))
    }

    deinit { product.deallocate(); transposed.deallocate() }

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
        if type == .powerSpectrum { transposeCoefficients() }
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
                    if rowGroups.count < groups { dst.update(repeating: 0, count: columns) }
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
    /// X is built as rows of ∂C times the transposed C (`transposed`, filled
    /// once per centre), so the inner loop runs over contiguous channels.
    private func powerSpectrumGradient(_ dC: UnsafeMutablePointer<Double>, rowGroups: Range<Int>,
                                       to out: UnsafeMutablePointer<Double>) {
        let rowsX = rowGroups.count * K
        let X = product
        let gLo = rowGroups.lowerBound, gHi = rowGroups.upperBound
        let ch = channels
        for l in 0...L {
            let m2 = 2 * l + 1
            let ct = transposed + ch * l * l
            let dBlock = dC + rowsX * l * l
            for p in 0..<rowsX {
                let a = dBlock + p * m2
                let x = X + p * ch
                let a0 = a[0]
                for q in 0..<ch { x[q] = a0 * ct[q] }
                var m = 1
                while m < m2 {
                    let am = a[m]
                    let c = ct + m * ch
                    for q in 0..<ch { x[q] += am * c[q] }
                    m += 1
                }
            }
            for pi in 0..<pairs.count {
                let (g1, g2) = pairs[pi]
                let f = factors[pi * (L + 1) + l]
                let dst = out + (pi * (L + 1) + l) * K * K
                let first = g1 >= gLo && g1 < gHi, second = g2 >= gLo && g2 < gHi
                if first && second {
                    let x1 = X + (g1 - gLo) * K * ch + g2 * K
                    let x2 = X + (g2 - gLo) * K * ch + g1 * K
                    for n1 in 0..<K {
                        for n2 in 0..<K { dst[n1 * K + n2] = f * (x1[n1 * ch + n2] + x2[n2 * ch + n1]) }
                    }
                } else if first {
                    let x1 = X + (g1 - gLo) * K * ch + g2 * K
                    for n1 in 0..<K {
                        for n2 in 0..<K { dst[n1 * K + n2] = f * x1[n1 * ch + n2] }
                    }
                } else if second {
                    let x2 = X + (g2 - gLo) * K * ch + g1 * K
                    for n1 in 0..<K {
                        for n2 in 0..<K { dst[n1 * K + n2] = f * x2[n2 * ch + n1] }
                    }
                } else {
                    dst.update(repeating: 0, count: K * K)
                }
            }
        }
    }

    /// Cᵀ per l-block ((2l+1) × channels), for the gradient products.
    private func transposeCoefficients() {
        let C = expansion.coefficients
        for l in 0...L {
            let m2 = 2 * l + 1
            let src = C + channels * l * l, dst = transposed + channels * l * l
            for q in 0..<channels {
                for m in 0..<m2 { dst[m * channels + q] = src[q * m2 + m] }
            }
        }
    }
}
