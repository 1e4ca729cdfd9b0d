import Synchronization

/// The bispectrum (ν = 3, λ = 0, σ = +1) as featomic's DensityCorrelations
/// computes it (CONVENTIONS.md §11):
///
///   B[l1 l2 l3; q1 q2 q3] = Σ_{m1 m2 μ m3} C^{l3 μ}_{l1 m1, l2 m2} C^{00}_{l3 μ, l3 m3} c_{q1 l1 m1} c_{q2 l2 m2} c_{q3 l3 m3}
///
/// for l1 ≤ l2 ≤ l3 ≤ L, |l1−l2| ≤ l3 ≤ l1+l2, l1+l2+l3 even, and every
/// ordered triple of channels q = (neighbour type, n).
final class BispectrumTables: Sendable {
    struct Triple: Sendable { let l1: Int, l2: Int, l3: Int }
    let triples: [Triple]
    /// Entries of triple t: entryStart[t] ..< entryStart[t+1]. Per entry the
    /// component indices m+l of the three factors and the product of the two
    /// real CG coefficients, zeros left out.
    let entryStart: [Int]
    let i1: [Int32], i2: [Int32], i3: [Int32]
    let coefficient: [Double]

    /// featomic's kept (l1, l2, l3), in its (lexicographic) column order.
    static func triples(maxAngular L: Int) -> [Triple] {
        var t: [Triple] = []
        for l1 in 0...L {
            for l2 in l1...L {
                for l3 in l2...min(L, l1 + l2) where (l1 + l2 + l3) % 2 == 0 { t.append(Triple(l1: l1, l2: l2, l3: l3)) }
            }
        }
        return t
    }

    private static let cache = Mutex<[Int: BispectrumTables]>([:])

    /// Built once per l_max (every worker of every request shares them).
    static func shared(maxAngular L: Int) -> BispectrumTables {
        cache.withLock { tables in
            if let t = tables[L] { return t }
            let t = BispectrumTables(maxAngular: L)
            tables[L] = t
            return t
        }
    }

    private init(maxAngular L: Int) {
        let cg = ClebschGordan.shared(maxAngular: L)
        triples = Self.triples(maxAngular: L)
        var start = [0]
        var i1: [Int32] = [], i2: [Int32] = [], i3: [Int32] = [], coefficient: [Double] = []
        for t in triples {
            let d1 = 2 * t.l1 + 1, d2 = 2 * t.l2 + 1, d3 = 2 * t.l3 + 1
            // Coupling of (l3 μ) with (l3 m3) to (0 0), from the tables rather than
            // its closed form (−1)^l/√(2l+1) δ, so both factors share one convention.
            var zero = [Double](repeating: 0, count: d3 * d3)
            for e in cg.range(t.l3, t.l3, 0) {
                zero[(Int(cg.m1[e]) + t.l3) * d3 + Int(cg.m2[e]) + t.l3] = cg.values[e]
            }
            var dense = [Double](repeating: 0, count: d1 * d2 * d3)
            for e in cg.range(t.l1, t.l2, t.l3) {
                let a = Int(cg.m1[e]) + t.l1, b = Int(cg.m2[e]) + t.l2, mu = Int(cg.mL[e]) + t.l3
                for c in 0..<d3 { dense[(c * d1 + a) * d2 + b] += cg.values[e] * zero[mu * d3 + c] }
            }
            // Ordered by m3, then m1, m2: the contraction accumulates per m3 row.
            for c in 0..<d3 {
                for a in 0..<d1 {
                    for b in 0..<d2 where dense[(c * d1 + a) * d2 + b] != 0 {
                        i1.append(Int32(a)); i2.append(Int32(b)); i3.append(Int32(c))
                        coefficient.append(dense[(c * d1 + a) * d2 + b])
                    }
                }
            }
            start.append(coefficient.count)
        }
        entryStart = start
        self.i1 = i1; self.i2 = i2; self.i3 = i3; self.coefficient = coefficient
    }
}

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
    let e1: UnsafeMutablePointer<Int32>, e2: UnsafeMutablePointer<Int32>, e3: UnsafeMutablePointer<Int32>
    let coefficient: UnsafeMutablePointer<Double>
    let tripleL: UnsafeMutablePointer<Int>  // l1, l2, l3 per triple
    /// T of the values, per triple: channels × (2l3+1) × channels at tStart[t].
    let tValues: UnsafeMutablePointer<Double>
    let tStart: [Int]
    /// T of one gradient term: channels × (2L+1) × channels at most.
    let tScratch: UnsafeMutablePointer<Double>
    /// ∂c of one neighbour and direction, transposed per l ((2l+1) × K at K·l²).
    let gradientTransposed: UnsafeMutablePointer<Double>

    init(maxAngular: Int, radialCount: Int, channels: Int) {
        tables = BispectrumTables.shared(maxAngular: maxAngular)
        L = maxAngular; K = radialCount; self.channels = channels
        let ch3 = channels * channels * channels
        var starts: [Int] = [], ts: [Int] = []
        var col = 0, tOffset = 0
        for t in tables.triples {
            starts.append(col); col += ch3
            ts.append(tOffset); tOffset += channels * (2 * t.l3 + 1) * channels
        }
        columnStart = starts; columns = col; tStart = ts
        let n = tables.coefficient.count
        entryStart = .allocate(capacity: tables.entryStart.count)
        entryStart.initialize(from: tables.entryStart, count: tables.entryStart.count)
        e1 = .allocate(capacity: max(1, n)); e1.initialize(from: tables.i1, count: n)
        e2 = .allocate(capacity: max(1, n)); e2.initialize(from: tables.i2, count: n)
        e3 = .allocate(capacity: max(1, n)); e3.initialize(from: tables.i3, count: n)
        coefficient = .allocate(capacity: max(1, n)); coefficient.initialize(from: tables.coefficient, count: n)
        tripleL = .allocate(capacity: 3 * tables.triples.count)
        for (k, t) in tables.triples.enumerated() { tripleL[3 * k] = t.l1; tripleL[3 * k + 1] = t.l2; tripleL[3 * k + 2] = t.l3 }
        tValues = .allocate(capacity: max(1, tOffset))
        tScratch = .allocate(capacity: max(1, channels * (2 * maxAngular + 1) * channels))
        gradientTransposed = .allocate(capacity: max(1, (maxAngular + 1) * (maxAngular + 1) * radialCount))
    }

    deinit {
        entryStart.deallocate(); e1.deallocate(); e2.deallocate(); e3.deallocate(); coefficient.deallocate()
        tripleL.deallocate(); tValues.deallocate(); tScratch.deallocate(); gradientTransposed.deallocate()
    }

    /// Step 1: T[r1, m3, r2] = Σ_e coef_e · X1[r1, m1_e] · X2ᵀ[m2_e, r2], for n1 rows of X1
    /// (row stride d1) and n2 columns of X2ᵀ (row stride n2).
    @inline(__always)
    private func coupleFirstTwo(_ t: Int, x1: UnsafePointer<Double>, n1: Int, x2t: UnsafePointer<Double>, n2: Int,
                                into T: UnsafeMutablePointer<Double>) {
        let d1 = 2 * tripleL[3 * t] + 1, d3 = 2 * tripleL[3 * t + 2] + 1
        let first = entryStart[t], end = entryStart[t + 1]
        T.update(repeating: 0, count: n1 * d3 * n2)
        for r1 in 0..<n1 {
            let row = x1 + r1 * d1
            let tRow = T + r1 * d3 * n2
            for e in first..<end {
                let a = coefficient[e] * row[Int(e1[e])]
                if a == 0 { continue }  // a zero component (e.g. the self term's l > 0)
                let src = x2t + Int(e2[e]) * n2
                let dst = tRow + Int(e3[e]) * n2
                for r2 in 0..<n2 { dst[r2] += a * src[r2] }
            }
        }
    }

    /// Step 2: out[(q1₀+r1)·ch² + (q2₀+r2)·ch + q3₀ + r3] += Σ_{m3} T[r1, m3, r2] · X3ᵀ[m3, r3].
    /// With `assign` the n3-long segments are overwritten instead: each is
    /// then written once while it sits in L1, with no separate zeroing pass
    /// over a row that is often larger than L2.
    @inline(__always)
    private func coupleThird(_ t: Int, T: UnsafePointer<Double>, n1: Int, q1: Int, n2: Int, q2: Int,
                             x3t: UnsafePointer<Double>, n3: Int, q3: Int, out: UnsafeMutablePointer<Double>,
                             assign: Bool = false) {
        let d3 = 2 * tripleL[3 * t + 2] + 1
        let ch = channels
        for r1 in 0..<n1 {
            let tRow = T + r1 * d3 * n2
            for r2 in 0..<n2 {
                let dst = out + ((q1 + r1) * ch + q2 + r2) * ch + q3
                if assign { dst.update(repeating: 0, count: n3) }
                for m in 0..<d3 {
                    let w = tRow[m * n2 + r2]
                    if w == 0 { continue }
                    let src = x3t + m * n3
                    for r3 in 0..<n3 { dst[r3] += w * src[r3] }
                }
            }
        }
    }

    /// One centre's row. `C` is the expansion ([l]: channels × (2l+1)),
    /// `CT` its per-l transpose ([l]: (2l+1) × channels). Keeps T for gradients.
    func writeValues(C: UnsafePointer<Double>, CT: UnsafePointer<Double>, to out: UnsafeMutablePointer<Double>) {
        let ch = channels
        for t in 0..<tables.triples.count {
            let l1 = tripleL[3 * t], l2 = tripleL[3 * t + 1], l3 = tripleL[3 * t + 2]
            let T = tValues + tStart[t]
            if l1 == l2 {
                writeSymmetricTriple(t, x: C + ch * l1 * l1, xt: CT + ch * l1 * l1, x3t: CT + ch * l3 * l3, T: T,
                                     out: out + columnStart[t])
                continue
            }
            coupleFirstTwo(t, x1: C + ch * l1 * l1, n1: ch, x2t: CT + ch * l2 * l2, n2: ch, into: T)
            // Full channel ranges: every column of the triple is assigned once.
            coupleThird(t, T: T, n1: ch, q1: 0, n2: ch, q2: 0, x3t: CT + ch * l3 * l3, n3: ch, q3: 0,
                        out: out + columnStart[t], assign: true)
        }
    }

    /// A triple with l1 = l2, half the work: its coefficients are symmetric in
    /// (m1, m2) (even l1+l2+l3), so T[q1, m3, q2] and B[q1, q2, q3] are
    /// symmetric in (q1, q2). Computes q2 ≥ q1 and mirrors.
    private func writeSymmetricTriple(_ t: Int, x: UnsafePointer<Double>, xt: UnsafePointer<Double>,
                                      x3t: UnsafePointer<Double>, T: UnsafeMutablePointer<Double>,
                                      out: UnsafeMutablePointer<Double>) {
        let d1 = 2 * tripleL[3 * t] + 1, d3 = 2 * tripleL[3 * t + 2] + 1
        let ch = channels
        let first = entryStart[t], end = entryStart[t + 1]
        T.update(repeating: 0, count: ch * d3 * ch)
        for r1 in 0..<ch {
            let row = x + r1 * d1
            let tRow = T + r1 * d3 * ch
            for e in first..<end {
                let a = coefficient[e] * row[Int(e1[e])]
                if a == 0 { continue }
                let src = xt + Int(e2[e]) * ch
                let dst = tRow + Int(e3[e]) * ch
                for r2 in r1..<ch { dst[r2] += a * src[r2] }
            }
        }
        // The full T is kept for the gradients' third term.
        for r1 in 0..<ch {
            for m in 0..<d3 {
                let from = T + (r1 * d3 + m) * ch
                for r2 in (r1 + 1)..<ch { T[(r2 * d3 + m) * ch + r1] = from[r2] }
            }
        }
        for r1 in 0..<ch {
            let tRow = T + r1 * d3 * ch
            for r2 in r1..<ch {
                let dst = out + (r1 * ch + r2) * ch
                dst.update(repeating: 0, count: ch)
                for m in 0..<d3 {
                    let w = tRow[m * ch + r2]
                    if w == 0 { continue }
                    let src = x3t + m * ch
                    for r3 in 0..<ch { dst[r3] += w * src[r3] }
                }
                if r2 != r1 { (out + (r2 * ch + r1) * ch).update(from: dst, count: ch) }
            }
        }
    }

    /// ∂B/∂r_u (one direction) for a neighbour u whose K channels start at
    /// `q0`, given ∂c of those channels ([l]: K × (2l+1)). Needs the T of the
    /// last `writeValues`. `out` (one row of columns) is overwritten.
    func writeGradient(dC: UnsafePointer<Double>, q0: Int, C: UnsafePointer<Double>, CT: UnsafePointer<Double>,
                       to out: UnsafeMutablePointer<Double>) {
        let ch = channels
        let dCT = gradientTransposed
        for l in 0...L {
            let m2 = 2 * l + 1
            let src = dC + K * l * l, dst = dCT + K * l * l
            for k in 0..<K { for m in 0..<m2 { dst[m * K + k] = src[k * m2 + m] } }
        }
        out.update(repeating: 0, count: columns)
        for t in 0..<tables.triples.count {
            let l1 = tripleL[3 * t], l2 = tripleL[3 * t + 1], l3 = tripleL[3 * t + 2]
            let base = out + columnStart[t]
            // ∂c in the first factor: rows q1 ∈ u's channels.
            coupleFirstTwo(t, x1: dC + K * l1 * l1, n1: K, x2t: CT + ch * l2 * l2, n2: ch, into: tScratch)
            coupleThird(t, T: tScratch, n1: K, q1: q0, n2: ch, q2: 0, x3t: CT + ch * l3 * l3, n3: ch, q3: 0, out: base)
            // In the second: q2 ∈ u's channels.
            coupleFirstTwo(t, x1: C + ch * l1 * l1, n1: ch, x2t: dCT + K * l2 * l2, n2: K, into: tScratch)
            coupleThird(t, T: tScratch, n1: ch, q1: 0, n2: K, q2: q0, x3t: CT + ch * l3 * l3, n3: ch, q3: 0, out: base)
            // In the third: the values' T against ∂cᵀ, q3 ∈ u's channels.
            coupleThird(t, T: tValues + tStart[t], n1: ch, q1: 0, n2: ch, q2: 0, x3t: dCT + K * l3 * l3, n3: K, q3: q0,
                        out: base)
        }
    }
}
