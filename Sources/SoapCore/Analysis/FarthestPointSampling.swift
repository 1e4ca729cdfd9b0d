/// Farthest point sampling as scikit-matter's `FPS` (`sample_selection.FPS` on the rows,
/// `feature_selection.FPS` on the columns): each pick is the point farthest (in squared
/// Euclidean distance, through the Gram expansion ‖x_i‖² + ‖x_s‖² − 2 x_i·x_s) from those
/// already picked; the lowest index wins an exact tie. Nothing is centred or scaled.
public enum FarthestPointSampling {
    /// The picks in order and, for each, its squared distance to the earlier picks when it
    /// was picked (+∞ for the initial ones: skmatter's `get_select_distance()`). `shouldStop`
    /// is asked before each pick.
    public static func select(
        rows x: DenseMatrix, count: Int, initial: [Int] = [0], shouldStop: () -> Bool = { false }
    ) throws(AnalysisError) -> (indices: [Int], hausdorff: [Double]) {
        let n = x.rows
        let d = x.columns
        precondition(count <= n && initial.allSatisfy { $0 >= 0 && $0 < n })
        var norms = [Double](repeating: 0, count: n)
        for i in 0..<n { for k in 0..<d { norms[i] += x.values[i * d + k] * x.values[i * d + k] } }
        var distance = [Double](repeating: .infinity, count: n)
        var selected = [Bool](repeating: false, count: n)
        var indices: [Int] = []
        var atSelect: [Double] = []
        func pick(_ s: Int) {
            indices.append(s)
            atSelect.append(distance[s])
            selected[s] = true
            for i in 0..<n {
                var dot = 0.0
                for k in 0..<d { dot += x.values[i * d + k] * x.values[s * d + k] }
                distance[i] = min(distance[i], norms[i] + norms[s] - 2 * dot)
            }
        }
        for s in initial.prefix(count) { pick(s) }
        while indices.count < count {
            if shouldStop() { throw .stopped }
            var best = -1
            for i in 0..<n where !selected[i] && (best < 0 || distance[i] > distance[best]) { best = i }
            pick(best)
        }
        return (indices, atSelect)
    }
}
