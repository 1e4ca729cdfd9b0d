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
    /// Cᵀ of the current centre, per l-block.
    let transposed: UnsafeMutablePointer<Double>
    /// Scratch for the per-pair power spectrum gradient: X (3 × K × channels) and u, v (4 × channels).
    let pairProduct: UnsafeMutablePointer<Double>
    let projections: UnsafeMutablePointer<Double>
    /// Scratch of the strain rows (StrainWriter.swift): one species' ∂C block and one row.
    let strainBlock: UnsafeMutablePointer<Double>
    let strainRow: UnsafeMutablePointer<Double>
    /// Owns the three buffers above.
    private let memory = BufferArena()
    var pairsOfBlock: [[Int]] = []
    var order: [Int] = []
    /// Tables and scratch of the bispectrum contraction (bispectrum only).
    let bispectrum: BispectrumContraction?

    /// Whether writeGradients follows each writeValues (the bispectrum then keeps its T).
    let keepIntermediates: Bool

    /// The NICE iteration (multispectrum and λ-SOAP only).
    let multispectrum: MultispectrumEngine?

    init(
        type: DescriptorType, expansion: SphericalExpansion, columns: Int, gradients: Bool = false,
        plan: MultispectrumPlan? = nil
    ) {
        self.type = type
        keepIntermediates = gradients
        self.expansion = expansion
        self.columns = columns
        L = expansion.L
        K = expansion.K
        channels = expansion.channels
        groups = expansion.basis.groupCount
        outputL = type == .radialSpectrum ? 0 : L
        pairs = ColumnLayout.groupPairs(groups)
        var f: [Double] = []
        for (g1, g2) in pairs {
            let kappa = g1 == g2 ? 1.0 : 2.0.squareRoot()
            for l in 0...L { f.append(kappa * (l % 2 == 0 ? 1 : -1) / Double(2 * l + 1).squareRoot()) }
        }
        factors = f
        transposed = memory.allocate(count: expansion.size)
        pairProduct = memory.allocate(count: 3 * expansion.K * channels)
        projections = memory.allocate(count: 4 * channels)
        strainBlock = memory.allocate(count: expansion.neighborSize)
        strainRow = memory.allocate(count: columns)
        bispectrum =
            type == .bispectrum
            ? BispectrumContraction(maxAngular: L, radialCount: K, channels: channels) : nil
        precondition(bispectrum.map { $0.columns == columns } ?? true)
        if let plan { multispectrum = MultispectrumEngine(plan: plan, radialCount: K) } else { multispectrum = nil }
        precondition(plan.map { $0.columns == columns } ?? true)
    }

    /// How the expansion must keep its gradients for this descriptor.
    var gradientMode: SphericalExpansion.GradientMode {
        type == .powerSpectrum && multispectrum == nil ? .pairs : .coefficients
    }

    func writeValues(to out: UnsafeMutablePointer<Double>) {
        let C = expansion.coefficients
        if let engine = multispectrum {
            transposeCoefficients()
            engine.computeValues(density: transposed)
            engine.writeRow(from: engine.values, to: out)
            return
        }
        switch type {
        case .multispectrum:
            preconditionFailure("a multispectrum writer has an engine")
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
        case .bispectrum:
            transposeCoefficients()
            bispectrum!.writeValues(C: C, CT: transposed, to: out, keepT: keepIntermediates)
        }
    }

    /// Gradient entries of one row: the centre and every neighbour atom, by atom index.
    func writeGradients(
        center i: Int, row: Int, structure: Int, values: UnsafeMutablePointer<Double>,
        labels: UnsafeMutablePointer<Int32>
    ) {
        // Entry order: atoms ascending; −1 stands for the centre's own block.
        order.removeAll(keepingCapacity: true)
        order.append(-1)
        order.append(contentsOf: expansion.gradientAtoms.indices)
        let atoms = expansion.gradientAtoms
        order.sort { (a, b) in (a < 0 ? i : atoms[a]) < (b < 0 ? i : atoms[b]) }
        for (e, block) in order.enumerated() {
            let atom = block < 0 ? i : atoms[block]
            labels[3 * e] = Int32(row)
            labels[3 * e + 1] = Int32(structure)
            labels[3 * e + 2] = Int32(atom)
        }
        if let engine = multispectrum {
            writeMultispectrumGradients(engine, values: values)
            return
        }
        if type == .powerSpectrum {
            writePowerSpectrumGradients(values: values)
            return
        }
        if type == .bispectrum {
            writeBispectrumGradients(values: values)
            return
        }
        for (e, block) in order.enumerated() {
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
                let dst = out + d * columns
                if rowGroups.count < groups { dst.update(repeating: 0, count: columns) }
                scatterExpansion(source + d * stride, rowGroups: rowGroups, stride: rowGroups.count * K, to: dst)
            }
        }
    }

    /// Power spectrum gradients of one row from the expansion's per-pair
    /// factors; the centre's own entry is minus the sum of the others
    /// (P depends on relative positions only).
    private func writePowerSpectrumGradients(values: UnsafeMutablePointer<Double>) {
        transposeCoefficients()
        let blocks = expansion.gradientAtoms.count
        if pairsOfBlock.count < blocks { pairsOfBlock += Array(repeating: [], count: blocks - pairsOfBlock.count) }
        for b in 0..<blocks { pairsOfBlock[b].removeAll(keepingCapacity: true) }
        for p in 0..<expansion.pairCount { pairsOfBlock[Int(expansion.pairBlock[p])].append(p) }
        let selfEntry = order.firstIndex(of: -1)!
        let selfOut = values + selfEntry * 3 * columns
        selfOut.update(repeating: 0, count: 3 * columns)
        for (e, block) in order.enumerated() where block >= 0 {
            let out = values + e * 3 * columns
            powerSpectrumGradientFromPairs(block: block, pairs: pairsOfBlock[block][...], to: out)
            for k in 0..<(3 * columns) { selfOut[k] -= out[k] }
        }
    }

    /// Bispectrum gradients of one row; the centre's own entry is minus the sum of the others, as for P.
    private func writeBispectrumGradients(values: UnsafeMutablePointer<Double>) {
        let contraction = bispectrum!
        writeGradientsByNeighbor(values: values) { dC, q0, out in
            contraction.writeGradient(dC: dC, q0: q0, C: expansion.coefficients, CT: transposed, to: out)
        }
    }

    /// Multispectrum (or λ-SOAP) gradients of one row, forward through every order for each
    /// neighbour and direction.
    private func writeMultispectrumGradients(_ engine: MultispectrumEngine, values: UnsafeMutablePointer<Double>) {
        writeGradientsByNeighbor(values: values) { dC, q0, out in
            engine.computeDerivatives(density: transposed, dC: dC, q0: q0)
            engine.writeRow(from: engine.derivatives, to: out)
        }
    }

    /// For each neighbour entry and direction, `row(dC, q0, out)` writes the derivative of the
    /// row from that neighbour's coefficient derivatives dC (channels from q0); the centre's
    /// own entry is minus the sum of the others (translation invariance).
    private func writeGradientsByNeighbor(
        values: UnsafeMutablePointer<Double>,
        _ row: (UnsafeMutablePointer<Double>, Int, UnsafeMutablePointer<Double>) -> Void
    ) {
        let e = expansion
        let selfEntry = order.firstIndex(of: -1)!
        let selfOut = values + selfEntry * 3 * columns
        selfOut.update(repeating: 0, count: 3 * columns)
        for (entry, block) in order.enumerated() where block >= 0 {
            let out = values + entry * 3 * columns
            let q0 = e.slotOffset[e.gradientSlots[block]]
            let source = e.neighborGradients + block * 3 * e.neighborSize
            for d in 0..<3 { row(source + d * e.neighborSize, q0, out + d * columns) }
            for k in 0..<(3 * columns) { selfOut[k] -= out[k] }
        }
    }

    /// Copies an expansion laid out [l-block: rows × (2l+1)] whose rows are
    /// the channel groups `rowGroups`, into (group, l, m, n) columns.
    private func scatterExpansion(
        _ C: UnsafeMutablePointer<Double>, rowGroups: Range<Int>, stride rowsPerL: Int,
        to out: UnsafeMutablePointer<Double>
    ) {
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

    /// Writes the (pair, l) columns of ∂P for one direction, where X holds
    /// ∂C·Cᵀ for the rows of `rowGroups`: ∂P[(a,n1),(b,n2)] = X[a n1, b n2] + X[b n2, a n1].
    private func emitPowerSpectrumGradient(
        _ X: UnsafeMutablePointer<Double>, l: Int, rowGroups: Range<Int>,
        to out: UnsafeMutablePointer<Double>
    ) {
        let gLo = rowGroups.lowerBound
        let gHi = rowGroups.upperBound
        let ch = channels
        for pi in 0..<pairs.count {
            let (g1, g2) = pairs[pi]
            let f = factors[pi * (L + 1) + l]
            let dst = out + (pi * (L + 1) + l) * K * K
            let first = g1 >= gLo && g1 < gHi
            let second = g2 >= gLo && g2 < gHi
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

    /// ∂P/∂r_u for one neighbour atom u, from its images' rank-2 factors:
    /// X_d[k, q] = Σ_images A_k r̂_d (Y·C_q) + B_k (G_d·C_q), per l.
    private func powerSpectrumGradientFromPairs(block: Int, pairs list: ArraySlice<Int>, to out: UnsafeMutablePointer<Double>) {
        let e = expansion
        let ch = channels
        let lm = e.lm
        let LK = (L + 1) * K
        let g = e.slotOffset[e.gradientSlots[block]] / K
        let stride = K * ch
        let X = pairProduct
        let u = projections
        let v = projections + ch
        for l in 0...L {
            let m2 = 2 * l + 1
            let ct = transposed + ch * l * l
            // X for this l, three directions: [d][K × ch].
            X.update(repeating: 0, count: 3 * stride)
            for p in list {
                let y = e.pairY + p * lm + l * l
                let gp = e.pairG + p * 3 * lm + l * l
                // u = Y_l · C_lᵀ, v_d = G_d,l · C_lᵀ (each ch long).
                for q in 0..<ch {
                    u[q] = 0
                    v[q] = 0
                    v[ch + q] = 0
                    v[2 * ch + q] = 0
                }
                for m in 0..<m2 {
                    let c = ct + m * ch
                    let ym = y[m]
                    let gx = gp[m]
                    let gy = gp[lm + m]
                    let gz = gp[2 * lm + m]
                    for q in 0..<ch {
                        let cq = c[q]
                        u[q] += ym * cq
                        v[q] += gx * cq
                        v[ch + q] += gy * cq
                        v[2 * ch + q] += gz * cq
                    }
                }
                let a = e.pairA + p * LK + l * K
                let b = e.pairB + p * LK + l * K
                for d in 0..<3 {
                    let rd = e.pairDirection[3 * p + d]
                    let vd = v + d * ch
                    let xd = X + d * stride
                    for k in 0..<K {
                        let ak = a[k] * rd
                        let bk = b[k]
                        let x = xd + k * ch
                        for q in 0..<ch { x[q] += ak * u[q] + bk * vd[q] }
                    }
                }
            }
            for d in 0..<3 {
                emitPowerSpectrumGradient(X + d * stride, l: l, rowGroups: g..<(g + 1), to: out + d * columns)
            }
        }
    }

    /// Cᵀ per l-block ((2l+1) × channels), for the gradient products.
    private func transposeCoefficients() {
        SphericalExpansion.transposePerL(expansion.coefficients, maxAngular: L, channels: channels, into: transposed)
    }
}
