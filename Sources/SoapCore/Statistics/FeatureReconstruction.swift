import CLapack

/// How well one feature matrix is reconstructed linearly from another (the global
/// feature-space reconstruction error of the thesis, §2.2.2, without a train/test split).
public enum FeatureReconstruction {
    /// ‖T − P_B T‖²_F / ‖T‖²_F, with P_B the orthogonal projector onto the span of B's
    /// columns; T (rows × t) and B (rows × b) row-major. With `centered`, both have their
    /// column means removed first (so a constant offset is not counted as information).
    /// Directions of B with eigenvalue below `tolerance` × the largest are treated as absent.
    public static func residualVariance(
        target: [Double], targetColumns t: Int, basis: [Double], basisColumns b: Int,
        rows n: Int, centered: Bool = true, tolerance: Double = 1e-10
    ) throws -> Double {
        precondition(target.count == n * t && basis.count == n * b)
        _ = BLAS.ready
        var x = target
        var y = basis
        if centered {
            center(&x, rows: n, columns: t)
            center(&y, rows: n, columns: b)
        }
        let total = x.reduce(0) { $0 + $1 * $1 }
        guard total > 0 else { return 0 }
        guard b > 0 else { return 1 }
        // BᵀB (b × b) and BᵀT (b × t), column-major views of the row-major matrices.
        var gram = [Double](repeating: 0, count: b * b)
        var cross = [Double](repeating: 0, count: b * t)
        var tn = Int8(UInt8(ascii: "N"))
        var tt = Int8(UInt8(ascii: "T"))
        var bb = Int32(b)
        var tc = Int32(t)
        var rows = Int32(n)
        var one = 1.0
        var zero = 0.0
        // BᵀB, added onto the zeros of `gram`.
        Gram.add(y, rows: n, columns: b, into: &gram)
        // Column-major (t × b) result = Xᵀ... we want BᵀT as b × t row-major = column-major t × b = Tᵀ B.
        dgemm_(&tn, &tt, &tc, &bb, &rows, &one, x, &tc, y, &bb, &zero, &cross, &tc)
        let (values, vectors) = try SymmetricEigen.decompose(gram, n: b)
        let top = values.last ?? 0
        // Z = Vᵀ BᵀT, as column-major t × b: (TᵀB) V, V row-major (so transposed for Fortran).
        var z = [Double](repeating: 0, count: t * b)
        dgemm_(&tn, &tt, &tc, &bb, &bb, &one, cross, &tc, vectors, &bb, &zero, &z, &tc)
        var captured = 0.0
        for k in 0..<b where values[k] > tolerance * top {
            var s = 0.0
            for j in 0..<t { s += z[k * t + j] * z[k * t + j] }
            captured += s / values[k]
        }
        return max(0, 1 - captured / total)
    }

    static func center(_ m: inout [Double], rows n: Int, columns c: Int) {
        guard n > 0 else { return }
        var mean = [Double](repeating: 0, count: c)
        for r in 0..<n { for j in 0..<c { mean[j] += m[r * c + j] } }
        for j in 0..<c { mean[j] /= Double(n) }
        for r in 0..<n { for j in 0..<c { m[r * c + j] -= mean[j] } }
    }
}
