/// Bispectrum values and position gradients of one centre, from its
/// spherical expansion. Columns are (triple, q1, q2, q3) with q3 fastest, so
/// every inner loop runs over contiguous channels.
///
/// Per triple the contraction goes in two steps:
///   T[q1, m3, q2] = Σ_{(m1,m2,m3) ∈ CG} coef · c_{q1 m1} · cᵀ_{m2 q2}     (sparse in CG)
///   B[q1, q2, q3] = Σ_{m3} T[q1, m3, q2] · cᵀ_{m3 q3}
/// The gradient with respect to neighbour u changes only u's K channels, so
/// ∂B is the same two steps with ∂c in place of one factor at a time; the
/// third factor's term reuses the T of the values.
final class BispectrumContraction {
    let tables: BispectrumTables
    let L: Int, K: Int, channels: Int
    let columns: Int
    /// First column of each triple.
    let columnStart: [Int]
    /// Per entry (flattened tables, no ARC in the loops).
    let entryStart: UnsafeMutablePointer<Int>
    let e1: UnsafeMutablePointer<Int32>, e2: UnsafeMutablePointer<Int32>
    let coefficient: UnsafeMutablePointer<Double>
    /// Entries of triple t with m3 = m (entries are sorted by m3), relative to
    /// entryStart[t]: runStart[runOffset[t] + m] ..< runStart[runOffset[t] + m + 1].
    let runStart: UnsafeMutablePointer<Int>
    let runOffset: [Int]
    let tripleL: UnsafeMutablePointer<Int>  // l1, l2, l3 per triple
    /// T of the values, per triple: channels × (2l3+1) × channels, in triple order.
    let tValues: UnsafeMutablePointer<Double>
    /// T of one gradient term: channels × (2L+1) × channels at most.
    let tScratch: UnsafeMutablePointer<Double>
    /// coef · X1[r1, m1] of the current row, per entry of one triple.
    let scaled: UnsafeMutablePointer<Double>
    /// ∂c of one neighbour and direction, transposed per l ((2l+1) × K at K·l²).
    let gradientTransposed: UnsafeMutablePointer<Double>
    /// Values without gradients: the expansion restricted to its non-zero
    /// channels (C, Cᵀ) and the triples' columns over them, before scattering.
    let activeChannel: UnsafeMutablePointer<Int>
    /// Per channel: its position among the active ones, or −1.
    let compactIndex: UnsafeMutablePointer<Int>
    let compactC: UnsafeMutablePointer<Double>, compactCT: UnsafeMutablePointer<Double>
    let compactOut: UnsafeMutablePointer<Double>
    /// Owns every buffer above.
    private let memory = BufferArena()

    init(maxAngular: Int, radialCount: Int, channels: Int) {
        tables = BispectrumTables.shared(maxAngular: maxAngular)
        L = maxAngular
        K = radialCount
        self.channels = channels
        let ch3 = channels * channels * channels
        var starts: [Int] = []
        var runOffsets: [Int] = []
        var runs: [Int] = []
        var col = 0
        var tSize = 0
        var maxEntries = 1
        for (k, t) in tables.triples.enumerated() {
            starts.append(col)
            col += ch3
            tSize += channels * (2 * t.l3 + 1) * channels
            let first = tables.entryStart[k]
            let end = tables.entryStart[k + 1]
            maxEntries = max(maxEntries, end - first)
            runOffsets.append(runs.count)
            var e = first
            for m in 0...(2 * t.l3 + 1) {
                while e < end && Int(tables.i3[e]) < m { e += 1 }
                runs.append(e - first)
            }
        }
        columnStart = starts
        columns = col
        runOffset = runOffsets
        entryStart = memory.copy(tables.entryStart)
        e1 = memory.copy(tables.i1)
        e2 = memory.copy(tables.i2)
        coefficient = memory.copy(tables.coefficient)
        runStart = memory.copy(runs)
        tripleL = memory.allocate(count: 3 * tables.triples.count)
        for (k, t) in tables.triples.enumerated() {
            tripleL[3 * k] = t.l1
            tripleL[3 * k + 1] = t.l2
            tripleL[3 * k + 2] = t.l3
        }
        tValues = memory.allocate(count: tSize)
        tScratch = memory.allocate(count: channels * (2 * maxAngular + 1) * channels)
        scaled = memory.allocate(count: maxEntries)
        gradientTransposed = memory.allocate(count: (maxAngular + 1) * (maxAngular + 1) * radialCount)
        let lm = (maxAngular + 1) * (maxAngular + 1)
        activeChannel = memory.allocate(count: channels)
        compactIndex = memory.allocate(count: channels)
        compactC = memory.allocate(count: channels * lm)
        compactCT = memory.allocate(count: channels * lm)
        compactOut = memory.allocate(count: columns)
    }

    /// Step 1: T[r1, m3, r2] = Σ_e coef_e · X1[r1, m1_e] · X2ᵀ[m2_e, r2], for n1 rows of X1
    /// (row stride d1) and the columns r2 of X2ᵀ (row stride n2); `fromDiagonal`: only r2 ≥ r1.
    /// Entries of one m3 form a run: its sum over 8 columns stays in registers.
    @inline(__always)
    private func coupleFirstTwo(
        _ t: Int, x1: UnsafePointer<Double>, n1: Int, x2t: UnsafePointer<Double>, n2: Int,
        into T: UnsafeMutablePointer<Double>, fromDiagonal: Bool = false
    ) {
        let d1 = 2 * tripleL[3 * t] + 1
        let d3 = 2 * tripleL[3 * t + 2] + 1
        let first = entryStart[t]
        let count = entryStart[t + 1] - first
        let coef = coefficient + first
        let i1 = e1 + first
        let i2 = e2 + first
        let runs = runStart + runOffset[t]
        let a = scaled
        for r1 in 0..<n1 {
            let row = x1 + r1 * d1
            let tRow = T + r1 * d3 * n2
            var any = false
            for e in 0..<count {
                a[e] = coef[e] * row[Int(i1[e])]
                any = any || a[e] != 0
            }
            guard any else {  // an all-zero row (e.g. a species absent around this centre)
                tRow.update(repeating: 0, count: d3 * n2)
                continue
            }
            let range = fromDiagonal ? r1..<n2 : 0..<n2
            for m in 0..<d3 {
                SIMDKernels.combineRows(
                    weights: a, rows: i2, range: runs[m]..<runs[m + 1], x: x2t, stride: n2,
                    columns: range, into: tRow + m * n2)
            }
        }
    }

    /// Step 2: out[(q1₀+r1)·ch² + (q2₀+r2)·ch + q3₀ + r3] (+)= Σ_{m3} T[r1, m3, r2] · X3ᵀ[m3, r3],
    /// with `ch` the output's channel count. With `assign` the segments are
    /// overwritten: each is written once, with no zeroing pass over the row.
    @inline(__always)
    private func coupleThird(
        _ t: Int, T: UnsafePointer<Double>, n1: Int, q1: Int, n2: Int, q2: Int,
        x3t: UnsafePointer<Double>, n3: Int, q3: Int, out: UnsafeMutablePointer<Double>,
        ch: Int, assign: Bool = false
    ) {
        let d3 = 2 * tripleL[3 * t + 2] + 1
        for r1 in 0..<n1 {
            SIMDKernels.transposedProduct(
                T + r1 * d3 * n2, stride: n2, rows: 0..<n2, depth: d3, x: x3t, width: n3,
                into: out + ((q1 + r1) * ch + q2) * ch + q3, outStride: ch, assign: assign)
        }
    }

    /// One centre's row. `C` is the expansion ([l]: channels × (2l+1)),
    /// `CT` its per-l transpose ([l]: (2l+1) × channels). With `keepT` the
    /// full T of every triple is kept for `writeGradient`.
    func writeValues(
        C: UnsafePointer<Double>, CT: UnsafePointer<Double>, to out: UnsafeMutablePointer<Double>,
        keepT: Bool
    ) {
        let ch = channels
        var active = 0
        if !keepT {
            // Channels whose coefficients all vanish give zero columns.
            for q in 0..<ch {
                var nonzero = false
                for l in 0...L where !nonzero {
                    let row = C + ch * l * l + q * (2 * l + 1)
                    for m in 0..<(2 * l + 1) where row[m] != 0 { nonzero = true }
                }
                if nonzero {
                    activeChannel[active] = q
                    active += 1
                }
            }
        }
        if keepT || active == ch {
            contractAll(C: C, CT: CT, channels: ch, out: out)
            return
        }
        // Contract over the a active channels only (a³ instead of ch³ per triple), then scatter.
        let a = active
        for l in 0...L {
            let m2 = 2 * l + 1
            for k in 0..<a {
                let q = activeChannel[k]
                for m in 0..<m2 {
                    let v = C[ch * l * l + q * m2 + m]
                    compactC[a * l * l + k * m2 + m] = v
                    compactCT[a * l * l + m * a + k] = v
                }
            }
        }
        contractAll(C: compactC, CT: compactCT, channels: a, out: compactOut)
        // Scatter in one sequential pass, zeros included: the row (1.5 MB for
        // 4 species, K = 6, L = 4) is larger than L2, so zeroing it first and
        // then scattering would stream it through memory twice.
        let index = compactIndex
        for q in 0..<ch { index[q] = -1 }
        for k in 0..<a { index[activeChannel[k]] = k }
        var dst = out
        for t in 0..<tables.triples.count {
            let src = compactOut + t * a * a * a
            for q1 in 0..<ch {
                let k1 = index[q1]
                for q2 in 0..<ch {
                    let k2 = index[q2]
                    if k1 < 0 || k2 < 0 {
                        for q3 in 0..<ch { dst[q3] = 0 }
                    } else {
                        let from = src + (k1 * a + k2) * a
                        for q3 in 0..<ch {
                            let k3 = index[q3]
                            dst[q3] = k3 < 0 ? 0 : from[k3]
                        }
                    }
                    dst += ch
                }
            }
        }
    }

    /// Every triple over `channels` channels into `out` (triple blocks of
    /// channels³), T into tValues.
    private func contractAll(
        C: UnsafePointer<Double>, CT: UnsafePointer<Double>, channels ch: Int,
        out: UnsafeMutablePointer<Double>
    ) {
        var tOffset = 0
        for t in 0..<tables.triples.count {
            let l1 = tripleL[3 * t]
            let l2 = tripleL[3 * t + 1]
            let l3 = tripleL[3 * t + 2]
            let T = tValues + tOffset
            tOffset += ch * (2 * l3 + 1) * ch
            let block = out + t * ch * ch * ch
            if l1 == l2 {
                writeSymmetricTriple(
                    t, x: C + ch * l1 * l1, xt: CT + ch * l1 * l1, x3t: CT + ch * l3 * l3, T: T,
                    channels: ch, out: block)
                continue
            }
            coupleFirstTwo(t, x1: C + ch * l1 * l1, n1: ch, x2t: CT + ch * l2 * l2, n2: ch, into: T)
            // Full channel ranges: every column of the triple is assigned once.
            coupleThird(
                t, T: T, n1: ch, q1: 0, n2: ch, q2: 0, x3t: CT + ch * l3 * l3, n3: ch, q3: 0, out: block,
                ch: ch, assign: true)
        }
    }

    /// A triple with l1 = l2, half the work: its coefficients are symmetric in
    /// (m1, m2) (even l1+l2+l3), so T[q1, m3, q2] and B[q1, q2, q3] are
    /// symmetric in (q1, q2). Computes q2 ≥ q1 and mirrors.
    private func writeSymmetricTriple(
        _ t: Int, x: UnsafePointer<Double>, xt: UnsafePointer<Double>,
        x3t: UnsafePointer<Double>, T: UnsafeMutablePointer<Double>, channels ch: Int,
        out: UnsafeMutablePointer<Double>
    ) {
        let d3 = 2 * tripleL[3 * t + 2] + 1
        coupleFirstTwo(t, x1: x, n1: ch, x2t: xt, n2: ch, into: T, fromDiagonal: true)
        // The full T is kept for the gradients' third term.
        for r1 in 0..<ch {
            for m in 0..<d3 {
                let from = T + (r1 * d3 + m) * ch
                for r2 in (r1 + 1)..<ch { T[(r2 * d3 + m) * ch + r1] = from[r2] }
            }
        }
        for r1 in 0..<ch {
            let block = out + r1 * ch * ch
            SIMDKernels.transposedProduct(
                T + r1 * d3 * ch, stride: ch, rows: r1..<ch, depth: d3, x: x3t, width: ch,
                into: block, outStride: ch, assign: true)
            for r2 in (r1 + 1)..<ch { (out + (r2 * ch + r1) * ch).update(from: block + r2 * ch, count: ch) }
        }
    }

    /// ∂B/∂r_u (one direction) for a neighbour u whose K channels start at
    /// `q0`, given ∂c of those channels ([l]: K × (2l+1)). Needs the T of the
    /// last `writeValues(keepT: true)`. `out` (one row of columns) is overwritten.
    func writeGradient(
        dC: UnsafePointer<Double>, q0: Int, C: UnsafePointer<Double>, CT: UnsafePointer<Double>,
        to out: UnsafeMutablePointer<Double>
    ) {
        let ch = channels
        let dCT = gradientTransposed
        SphericalExpansion.transposePerL(dC, maxAngular: L, channels: K, into: dCT)
        out.update(repeating: 0, count: columns)
        var tOffset = 0
        for t in 0..<tables.triples.count {
            let l1 = tripleL[3 * t]
            let l2 = tripleL[3 * t + 1]
            let l3 = tripleL[3 * t + 2]
            let base = out + columnStart[t]
            // ∂c in the first factor: rows q1 ∈ u's channels.
            coupleFirstTwo(t, x1: dC + K * l1 * l1, n1: K, x2t: CT + ch * l2 * l2, n2: ch, into: tScratch)
            coupleThird(
                t, T: tScratch, n1: K, q1: q0, n2: ch, q2: 0, x3t: CT + ch * l3 * l3, n3: ch, q3: 0, out: base,
                ch: ch)
            // In the second: q2 ∈ u's channels.
            coupleFirstTwo(t, x1: C + ch * l1 * l1, n1: ch, x2t: dCT + K * l2 * l2, n2: K, into: tScratch)
            coupleThird(
                t, T: tScratch, n1: ch, q1: 0, n2: K, q2: q0, x3t: CT + ch * l3 * l3, n3: ch, q3: 0, out: base,
                ch: ch)
            // In the third: the values' T against ∂cᵀ, q3 ∈ u's channels.
            coupleThird(
                t, T: tValues + tOffset, n1: ch, q1: 0, n2: ch, q2: 0, x3t: dCT + K * l3 * l3, n3: K, q3: q0,
                out: base, ch: ch)
            tOffset += ch * (2 * l3 + 1) * ch
        }
    }
}
