import Synchronization

/// The bispectrum (ν = 3, λ = 0, σ = +1) as featomic's DensityCorrelations
/// computes it (docs/conventions.md §11):
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
        var i1: [Int32] = []
        var i2: [Int32] = []
        var i3: [Int32] = []
        var coefficient: [Double] = []
        for t in triples {
            let d1 = 2 * t.l1 + 1
            let d2 = 2 * t.l2 + 1
            let d3 = 2 * t.l3 + 1
            // Coupling of (l3 μ) with (l3 m3) to (0 0), from the tables rather than
            // its closed form (−1)^l/√(2l+1) δ, so both factors share one convention.
            var zero = [Double](repeating: 0, count: d3 * d3)
            for e in cg.range(t.l3, t.l3, 0) {
                zero[(Int(cg.m1[e]) + t.l3) * d3 + Int(cg.m2[e]) + t.l3] = cg.values[e]
            }
            var dense = [Double](repeating: 0, count: d1 * d2 * d3)
            for e in cg.range(t.l1, t.l2, t.l3) {
                let a = Int(cg.m1[e]) + t.l1
                let b = Int(cg.m2[e]) + t.l2
                let mu = Int(cg.mL[e]) + t.l3
                for c in 0..<d3 { dense[(c * d1 + a) * d2 + b] += cg.values[e] * zero[mu * d3 + c] }
            }
            // Ordered by m3, then m1, m2: the contraction accumulates per m3 row.
            for c in 0..<d3 {
                for a in 0..<d1 {
                    for b in 0..<d2 where dense[(c * d1 + a) * d2 + b] != 0 {
                        i1.append(Int32(a))
                        i2.append(Int32(b))
                        i3.append(Int32(c))
                        coefficient.append(dense[(c * d1 + a) * d2 + b])
                    }
                }
            }
            start.append(coefficient.count)
        }
        entryStart = start
        self.i1 = i1
        self.i2 = i2
        self.i3 = i3
        self.coefficient = coefficient
    }
}
