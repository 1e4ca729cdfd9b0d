import Synchronization

/// Clebsch–Gordan coefficients for featomic's real spherical harmonics
/// (docs/conventions.md §11), for all l1, l2 ≤ maxAngular and |l1−l2| ≤ L ≤ l1+l2.
///
/// The complex (Condon–Shortley) coefficients come from Racah's formula; the
/// real ones are
///
///   C^{LM}_{l1 m1, l2 m2} = Re or Im of Σ W^L_{MM'} ⟨l1 m1' l2 m2'|L M'⟩ W*^{l1}_{m1 m1'} W*^{l2}_{m2 m2'}
///
/// with W the complex→real matrix of each l (Y_real = W Y_complex), the real
/// part when l1+l2+L is even and the imaginary part otherwise.
///
/// Storage is sparse: only the non-zero (m1, m2, M) of each (l1, l2, L), in
/// contiguous arrays indexed through `range(l1, l2, L)`, sorted by (M, m1, m2).
/// Tables are immutable once built; `shared(maxAngular:)` builds each size once.
public final class ClebschGordan: Sendable {
    public let maxAngular: Int
    /// Per entry: m1, m2 and M (signed, −l…l) and the coefficient.
    public let m1: [Int32]
    public let m2: [Int32]
    public let mL: [Int32]
    public let values: [Double]
    /// Entry offsets of each (l1, l2, L): [tripleIndex] ..< [tripleIndex + 1].
    private let offsets: [Int]

    /// The largest l the tables support: beyond it the factorial ratios in
    /// Racah's formula leave the range of Double.
    public static let supportedMaxAngular = 20

    public init(maxAngular: Int) {
        precondition(maxAngular >= 0)
        guard maxAngular <= Self.supportedMaxAngular else {
            fatalError("ClebschGordan: maxAngular \(maxAngular) above \(Self.supportedMaxAngular)")
        }
        self.maxAngular = maxAngular
        let L = maxAngular
        var m1: [Int32] = []
        var m2: [Int32] = []
        var mL: [Int32] = []
        var values: [Double] = []
        var offsets = [0]
        offsets.reserveCapacity((L + 1) * (L + 1) * (2 * L + 1) + 1)
        for l1 in 0...L {
            for l2 in 0...L {
                for big in 0...(2 * L) {
                    if big >= abs(l1 - l2) && big <= l1 + l2 {
                        Self.appendRealCoefficients(l1, l2, big, m1: &m1, m2: &m2, mL: &mL, values: &values)
                    }
                    offsets.append(values.count)
                }
            }
        }
        self.m1 = m1
        self.m2 = m2
        self.mL = mL
        self.values = values
        self.offsets = offsets
    }

    /// Entries of (l1, l2, L); empty outside the triangle |l1−l2| ≤ L ≤ l1+l2.
    @inlinable
    public func range(_ l1: Int, _ l2: Int, _ L: Int) -> Range<Int> {
        guard L >= abs(l1 - l2) && L <= l1 + l2 else { return 0..<0 }
        let t = tripleIndex(l1, l2, L)
        return offsetStart(t)..<offsetStart(t + 1)
    }

    @usableFromInline func tripleIndex(_ l1: Int, _ l2: Int, _ L: Int) -> Int {
        precondition(l1 >= 0 && l1 <= maxAngular && l2 >= 0 && l2 <= maxAngular && L >= 0 && L <= 2 * maxAngular)
        return (l1 * (maxAngular + 1) + l2) * (2 * maxAngular + 1) + L
    }

    @usableFromInline func offsetStart(_ t: Int) -> Int { offsets[t] }

    /// One coefficient by search (tests and set-up only, not for hot loops).
    public func coefficient(_ l1: Int, _ mu1: Int, _ l2: Int, _ mu2: Int, _ L: Int, _ M: Int) -> Double {
        guard L >= abs(l1 - l2) && L <= l1 + l2 else { return 0 }
        for e in range(l1, l2, L) where Int(m1[e]) == mu1 && Int(m2[e]) == mu2 && Int(mL[e]) == M { return values[e] }
        return 0
    }

    // MARK: shared tables

    private static let cache = Mutex<[ClebschGordan]>([])

    /// Tables covering `maxAngular`, built once per process and shared by all threads.
    public static func shared(maxAngular: Int) -> ClebschGordan {
        cache.withLock { tables in
            if let t = tables.first(where: { $0.maxAngular >= maxAngular }) { return t }
            // Built under the lock: a few ms at most, and never twice.
            let t = ClebschGordan(maxAngular: maxAngular)
            tables.append(t)
            return t
        }
    }

    // MARK: construction

    /// Complex Clebsch–Gordan ⟨l1 m1 l2 m2 | L M⟩ (Condon–Shortley), by Racah's formula.
    ///
    /// The alternating sum is written as Σ_k (−1)^k C(N,k) C(P,a−k) C(Q,b−k) / (N! P! Q!)
    /// with N = l1+l2−L, P = L+l1−l2, Q = L−l1+l2, a = l1−m1, b = l2+m2: its terms
    /// are integers, summed exactly (each term ≤ 2^(l1+l2+L)), so no digits are
    /// lost to the cancellation that the factorial form suffers at large l.
    public static func complex(_ l1: Int, _ mu1: Int, _ l2: Int, _ mu2: Int, _ L: Int, _ M: Int) -> Double {
        guard mu1 + mu2 == M, abs(mu1) <= l1, abs(mu2) <= l2, abs(M) <= L,
            L >= abs(l1 - l2), L <= l1 + l2
        else { return 0 }
        let n = l1 + l2 - L
        let p = L + l1 - l2
        let q = L - l1 + l2
        let a = l1 - mu1
        let b = l2 + mu2
        var exact: Int64 = 0
        var overflow = false
        var approximate = 0.0
        let kLow = max(0, a - p, b - q)
        let kHigh = min(n, a, b)
        if kLow <= kHigh {
            for k in kLow...kHigh {
                let (t1, o1) = binomial(n, k).multipliedReportingOverflow(by: binomial(p, a - k))
                let (t2, o2) = t1.multipliedReportingOverflow(by: binomial(q, b - k))
                let signed = k % 2 == 0 ? t2 : -t2
                let (s, o3) = exact.addingReportingOverflow(signed)
                overflow = overflow || o1 || o2 || o3
                exact = s
                approximate +=
                    (k % 2 == 0 ? 1.0 : -1.0) * Double(binomial(n, k)) * Double(binomial(p, a - k))
                    * Double(binomial(q, b - k))
            }
        }
        let sum = overflow ? approximate : Double(exact)
        if sum == 0 { return 0 }
        // sqrt((2L+1) (L+M)!(L−M)!(l1−m1)!(l1+m1)!(l2−m2)!(l2+m2)! / ((l1+l2+L+1)! N! P! Q!))
        let f = factorials
        let ratio =
            Double(2 * L + 1) * (f[L + M] * f[L - M]) / f[l1 + l2 + L + 1]
            * (f[l1 - mu1] * f[l1 + mu1]) / (f[n] * f[p]) * (f[l2 - mu2] * f[l2 + mu2]) / f[q]
        return sum * ratio.squareRoot()
    }

    /// k! for k ≤ 170 (the largest finite in Double).
    static let factorials: [Double] = {
        var f = [1.0]
        for i in 1...170 { f.append(f[i - 1] * Double(i)) }
        return f
    }()

    /// Binomial coefficient C(n, k), exactly for n ≤ 60 (C(n, k)·n fits in Int64).
    static func binomial(_ n: Int, _ k: Int) -> Int64 {
        guard k >= 0 && k <= n else { return 0 }
        let k = min(k, n - k)
        var c: Int64 = 1
        if k > 0 { for i in 1...k { c = c * Int64(n - k + i) / Int64(i) } }  // exact at every step
        return c
    }

    /// Row m of W^l: Y_real^m = Σ_k w_k Y_complex^{m_k}, k < count (at most two terms).
    /// m > 0: (Y^{−m} + (−1)^m Y^m)/√2; m < 0: i (Y^m − (−1)^m Y^{−m})/√2; m = 0: Y^0.
    struct WRow {
        var count: Int
        var m: (Int, Int)
        var re: (Double, Double)
        var im: (Double, Double)
        func term(_ k: Int) -> (m: Int, re: Double, im: Double) { k == 0 ? (m.0, re.0, im.0) : (m.1, re.1, im.1) }
    }

    static func realFromComplex(_ m: Int) -> WRow {
        let h = 0.5.squareRoot()
        let sign = m % 2 == 0 ? 1.0 : -1.0
        if m > 0 { return WRow(count: 2, m: (-m, m), re: (h, sign * h), im: (0, 0)) }
        if m < 0 { return WRow(count: 2, m: (m, -m), re: (0, 0), im: (h, -sign * h)) }
        return WRow(count: 1, m: (0, 0), re: (1, 0), im: (0, 0))
    }

    private static func appendRealCoefficients(
        _ l1: Int, _ l2: Int, _ L: Int, m1: inout [Int32], m2: inout [Int32],
        mL: inout [Int32], values: inout [Double]
    ) {
        let takeReal = (l1 + l2 + L) % 2 == 0
        let d2 = 2 * l2 + 1
        // Complex coefficients of this (l1, l2, L) once, indexed by (m1', m2'); M' = m1' + m2'.
        var complexCG = [Double](repeating: 0, count: (2 * l1 + 1) * d2)
        for p in -l1...l1 {
            for q in -l2...l2 where abs(p + q) <= L { complexCG[(p + l1) * d2 + q + l2] = complex(l1, p, l2, q, L, p + q) }
        }
        for M in -L...L {
            let wL = realFromComplex(M)
            for a in -l1...l1 {
                let w1 = realFromComplex(a)
                for b in -l2...l2 {
                    let w2 = realFromComplex(b)
                    var re = 0.0
                    var im = 0.0
                    for i in 0..<w1.count {
                        let (p, r1, i1) = w1.term(i)
                        for j in 0..<w2.count {
                            let (q, r2, i2) = w2.term(j)
                            let cg = complexCG[(p + l1) * d2 + q + l2]
                            if cg == 0 { continue }
                            for k in 0..<wL.count {
                                let (mm, rL, iL) = wL.term(k)
                                guard mm == p + q else { continue }
                                // W^L · conj(W^l1) · conj(W^l2), times the complex CG.
                                let (xr, xi) = (r1 * r2 - i1 * i2, -(r1 * i2 + i1 * r2))  // conj(w1 w2)
                                re += cg * (rL * xr - iL * xi)
                                im += cg * (rL * xi + iL * xr)
                            }
                        }
                    }
                    let v = takeReal ? re : im
                    // The other part cancels exactly in exact arithmetic; rounding
                    // leaves ~1e-17 where a coefficient is structurally zero.
                    if abs(v) > 1e-13 {
                        m1.append(Int32(a))
                        m2.append(Int32(b))
                        mL.append(Int32(M))
                        values.append(v)
                    }
                }
            }
        }
    }
}
