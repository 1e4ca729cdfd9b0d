/// Deterministic CUR selection as scikit-matter's `CUR` (k = 1, recompute every pick):
/// each pick is the index with the largest leverage score π — the squared component of the
/// leading singular vector (left vector for rows, right vector for columns) of the working
/// matrix — after which the working matrix loses its component along the picked row or
/// column (orthogonalisation), so the next pick brings something new. Nothing is centred.
public enum CURSelection {
    public enum Axis: Sendable { case rows, columns }

    /// The picks in order and the score π that won each pick; `shouldStop` is asked before each.
    public static func select(
        _ x: DenseMatrix, axis: Axis, count: Int, tolerance: Double = 1e-12, shouldStop: () -> Bool = { false }
    ) throws(AnalysisError) -> (indices: [Int], scores: [Double]) {
        var work = x
        let n = axis == .rows ? x.rows : x.columns
        precondition(count <= n)
        var selected = [Bool](repeating: false, count: n)
        var indices: [Int] = []
        var scores: [Double] = []
        while indices.count < count {
            if shouldStop() { throw .stopped }
            let svd: SingularValueDecomposition
            do { svd = try SingularValueDecomposition(work) } catch { throw .decomposition }
            var pi = [Double](repeating: 0, count: n)
            if !svd.s.isEmpty {
                for i in 0..<n {
                    let v = axis == .rows ? svd.u[i, 0] : svd.vt[0, i]
                    pi[i] = v * v
                }
            }
            var best = -1
            for i in 0..<n where !selected[i] && (best < 0 || pi[i] > pi[best]) { best = i }
            indices.append(best)
            scores.append(pi[best])
            selected[best] = true
            orthogonalise(&work, axis: axis, against: best, tolerance: tolerance)
        }
        return (indices, scores)
    }

    /// Columns: X ← X − v (vᵀ X) with v the picked column normalised; rows: X ← X − (X r) rᵀ
    /// with r the picked row normalised (skmatter's `X_orthogonalizer`).
    static func orthogonalise(_ x: inout DenseMatrix, axis: Axis, against c: Int, tolerance: Double) {
        let (m, d) = (x.rows, x.columns)
        switch axis {
        case .columns:
            var v = (0..<m).map { x[$0, c] }
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            if norm > tolerance { v = v.map { $0 / norm } }
            var projection = [Double](repeating: 0, count: d)  // vᵀ X
            for i in 0..<m { for j in 0..<d { projection[j] += v[i] * x.values[i * d + j] } }
            for i in 0..<m { for j in 0..<d { x.values[i * d + j] -= v[i] * projection[j] } }
        case .rows:
            var r = (0..<d).map { x[c, $0] }
            let norm = r.reduce(0) { $0 + $1 * $1 }.squareRoot()
            if norm > tolerance { r = r.map { $0 / norm } }
            for i in 0..<m {
                var dot = 0.0  // (X r)_i
                for j in 0..<d { dot += x.values[i * d + j] * r[j] }
                for j in 0..<d { x.values[i * d + j] -= dot * r[j] }
            }
        }
    }
}
