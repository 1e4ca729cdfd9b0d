#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// The global feature-space reconstruction error and distortion (GFRE, GFRD; Goscinski et
/// al. 2021) with scikit-matter's definitions and defaults
/// (`skmatter.metrics.global_reconstruction_error` / `_distortion`): a shuffled half split
/// (seed 0x5F3759DF), both matrices standardised on the train rows (centred, divided by
/// √(Σ column variances)), a ridge regression from source to target by truncated SVD whose
/// relative cutoff is chosen by 2-fold cross-validation over 20 values, then
///   GFRE = ‖Y_test − X_test W‖_F / √n_test,
///   GFRD = ‖X_test W − X_test Q‖_F / √n_test, Q the orthogonal Procrustes map of X_train
/// onto X_train W.
/// skmatter raises for GFRD when the source is wider than the target; here the target side
/// is padded with zero columns instead (what skmatter returns for the zero-padded target).
public enum GlobalReconstruction {
    public static let seed: UInt32 = 0x5F37_59DF
    /// numpy.geomspace(1e-9, 0.9, 20): 10^linspace(log10 1e-9, log10 0.9), ends exact.
    public static let alphas: [Double] = (0..<20).map { k in
        let (a, b) = (log10(1e-9), log10(0.9))
        return k == 0 ? 1e-9 : k == 19 ? 0.9 : pow(10, Double(k) * ((b - a) / 19) + a)
    }

    public enum Failure: Error, Equatable {
        /// Fewer than 4 rows: the split and its 2 folds would leave a part empty.
        case tooFewSamples(Int)
        /// The train rows of one matrix do not vary (skmatter's scaler refuses them).
        case constant(source: Bool)
        case decomposition
        /// `shouldStop` said so between two steps (the time limit).
        case stopped
    }

    public struct Result: Sendable, Equatable {
        public let gfre: Double
        public let gfrd: Double
        /// Intermediates, for tests against scikit-matter.
        public let trainIndices: [Int]
        public let testIndices: [Int]
        public let bestAlphaIndex: Int
        public let singularValuesKept: Int
    }

    /// How well `source` (X) reconstructs `target` (Y), over the same rows.
    /// Above `procrustesFullLimit` columns GFRD's d × d Procrustes problem is solved in the
    /// spans of the train rows instead (`thinProcrustesDistortion`), at O(n²d) not O(d³).
    /// `shouldStop` is asked between the steps (scaling, the ridge's folds and fit, GFRD).
    public static func measure(
        source x: DenseMatrix, target y: DenseMatrix, procrustesFullLimit: Int = 1000,
        shouldStop: () -> Bool = { false }
    ) throws(Failure) -> Result {
        precondition(x.rows == y.rows)
        let n = x.rows
        guard n >= 4 else { throw .tooFewSamples(n) }
        let p = LegacyPermutation.permutation(n, seed: seed)
        let nTest = (n + 1) / 2
        let test = Array(p[0..<nTest])
        let train = Array(p[nTest..<(nTest + n / 2)])
        guard let (xTrain, xTest) = standardised(x, train: train, test: test) else { throw .constant(source: true) }
        guard let (yTrain, yTest) = standardised(y, train: train, test: test) else { throw .constant(source: false) }
        if shouldStop() { throw .stopped }
        let (model, best, kept) = try ridge(xTrain, yTrain)
        if shouldStop() { throw .stopped }
        let predictedTest = model.predict(xTest)
        let gfre = (frobeniusSquared(predictedTest, minus: yTest) / Double(test.count)).squareRoot()
        let predictedTrain = model.predict(xTrain)
        let width = max(x.columns, y.columns)
        if shouldStop() { throw .stopped }
        let distortion: Double
        if width <= procrustesFullLimit {
            // Orthogonal Procrustes of X_train (padded) onto its prediction (padded), as skmatter.
            let q: DenseMatrix
            do {
                let svd = try SingularValueDecomposition(
                    xTrain.padded(toColumns: width).transposed.multiplied(by: predictedTrain.padded(toColumns: width)))
                q = svd.u.multiplied(by: svd.vt)
            } catch { throw .decomposition }
            let rotated = xTest.padded(toColumns: width).multiplied(by: q)
            distortion = frobeniusSquared(predictedTest.padded(toColumns: width), minus: rotated)
        } else {
            distortion = try thinProcrustesDistortion(
                xTrain: xTrain, predictedTrain: predictedTrain, xTest: xTest, predictedTest: predictedTest)
        }
        let gfrd = (distortion / Double(test.count)).squareRoot()
        return Result(
            gfre: gfre, gfrd: gfrd, trainIndices: train, testIndices: test, bestAlphaIndex: best,
            singularValuesKept: kept)
    }

    /// Σ_i ‖x_i W − x_i Q‖² over the test rows with Q the Procrustes map restricted to the
    /// train rows' spans: X_train = U_x S_x V_xᵀ, Ŷ_train = U_y S_y V_yᵀ, C = S_x U_xᵀ U_y S_y =
    /// U_c Σ V_cᵀ, and x Q = (x V_x U_c) V_cᵀ V_yᵀ plus a part orthogonal to the target span
    /// that keeps the rest of ‖x‖ (Q is orthogonal). Equal to the full problem when the
    /// completion of Q outside the spans does not matter (the source no wider than the
    /// train rows); otherwise a deterministic choice of that arbitrary completion.
    static func thinProcrustesDistortion(
        xTrain: DenseMatrix, predictedTrain: DenseMatrix, xTest: DenseMatrix, predictedTest: DenseMatrix
    ) throws(Failure) -> Double {
        func span(_ m: DenseMatrix) throws(Failure) -> (u: DenseMatrix, s: [Double], v: DenseMatrix) {
            let svd: SingularValueDecomposition
            do { svd = try SingularValueDecomposition(m) } catch { throw .decomposition }
            let tol = Double(max(m.rows, m.columns)) * Double.ulpOfOne * (svd.s.first ?? 0)
            let r = svd.s.filter { $0 > tol }.count
            var u = DenseMatrix(rows: m.rows, columns: r)
            for i in 0..<m.rows { for k in 0..<r { u.values[i * r + k] = svd.u[i, k] } }
            var v = DenseMatrix(rows: m.columns, columns: r)
            for k in 0..<r { for j in 0..<m.columns { v.values[j * r + k] = svd.vt[k, j] } }
            return (u, Array(svd.s.prefix(r)), v)
        }
        let (ux, sx, vx) = try span(xTrain)
        let (uy, sy, vy) = try span(predictedTrain)
        var c = ux.transposed.multiplied(by: uy)
        for i in 0..<c.rows { for j in 0..<c.columns { c.values[i * c.columns + j] *= sx[i] * sy[j] } }
        let svd: SingularValueDecomposition
        do { svd = try SingularValueDecomposition(c) } catch { throw .decomposition }
        let a = xTest.multiplied(by: vx).multiplied(by: svd.u)  // n_test × t
        let mapped = a.multiplied(by: svd.vt).multiplied(by: vy.transposed)  // n_test × d_Y
        var total = frobeniusSquared(predictedTest, minus: mapped)
        for i in 0..<xTest.rows {
            var norm = 0.0
            for j in 0..<xTest.columns { norm += xTest[i, j] * xTest[i, j] }
            var kept = 0.0
            for k in 0..<a.columns { kept += a[i, k] * a[i, k] }
            total += max(0, norm - kept)
        }
        return total
    }

    /// skmatter's `StandardFlexibleScaler` fitted on the train rows: (train, test) scaled, or
    /// nil when the train rows' variance sum is below 1e-12.
    static func standardised(_ m: DenseMatrix, train: [Int], test: [Int]) -> (DenseMatrix, DenseMatrix)? {
        var a = m.selectingRows(train)
        var b = m.selectingRows(test)
        let d = m.columns
        var mean = [Double](repeating: 0, count: d)
        for i in 0..<a.rows { for j in 0..<d { mean[j] += a.values[i * d + j] } }
        for j in 0..<d { mean[j] /= Double(a.rows) }
        var variance = 0.0
        for j in 0..<d {
            var v = 0.0
            for i in 0..<a.rows {
                let e = a.values[i * d + j] - mean[j]
                v += e * e
            }
            variance += v / Double(a.rows)
        }
        guard variance >= 1e-12 else { return nil }
        let scale = variance.squareRoot()
        for i in 0..<a.rows { for j in 0..<d { a.values[i * d + j] = (a.values[i * d + j] - mean[j]) / scale } }
        for i in 0..<b.rows { for j in 0..<d { b.values[i * d + j] = (b.values[i * d + j] - mean[j]) / scale } }
        return (a, b)
    }

    /// skmatter's `Ridge2FoldCV` (relative alphas, cutoff regularisation, RMSE scoring, no
    /// intercept): the weights, the chosen alpha's index and the singular values kept.
    static func ridge(_ x: DenseMatrix, _ y: DenseMatrix) throws(Failure) -> (Ridge, Int, Int) {
        let m = x.rows
        let q = LegacyPermutation.permutation(m, seed: seed)
        let first = (m + 1) / 2
        let fold2 = q[0..<first].sorted()
        let fold1 = q[first...].sorted()
        let (x1, y1, x2, y2) = (x.selectingRows(fold1), y.selectingRows(fold1), x.selectingRows(fold2), y.selectingRows(fold2))
        let svd1: SingularValueDecomposition
        let svd2: SingularValueDecomposition
        let whole: SingularValueDecomposition
        do {
            svd1 = try SingularValueDecomposition(x1)
            svd2 = try SingularValueDecomposition(x2)
            whole = try SingularValueDecomposition(x)
        } catch { throw .decomposition }
        let rcond = Double(max(m, x.columns)) * Double.ulpOfOne
        let largest = max(svd1.s.first ?? 0, svd2.s.first ?? 0)
        var bestIndex = 0
        var bestLoss = -Double.infinity
        for (k, alpha) in alphas.enumerated() {
            let cutoff = alpha * largest
            let n1 = min(svd1.s.filter { $0 > rcond }.count, svd1.s.filter { $0 > cutoff }.count)
            let n2 = min(svd2.s.filter { $0 > rcond }.count, svd2.s.filter { $0 > cutoff }.count)
            let score12 = -rmse(Ridge(svd1, kept: n1, y1).predict(x2), y2)
            let score21 = -rmse(Ridge(svd2, kept: n2, y2).predict(x1), y1)
            let loss = (score12 + score21) / 2
            if loss > bestLoss {
                bestLoss = loss
                bestIndex = k
            }
        }
        let cutoff = alphas[bestIndex] * largest
        let kept = min(whole.s.count, whole.s.filter { $0 > cutoff }.count)
        return (Ridge(whole, kept: kept, y), bestIndex, kept)
    }

    /// The truncated-SVD ridge W = V[:, :k] S[:k]⁻¹ U[:, :k]ᵀ Y, kept factored (V_k, S_k,
    /// U_kᵀ Y) so that a wide d_X × d_Y matrix is never formed.
    struct Ridge {
        let v: DenseMatrix  // d_X × k
        let s: [Double]
        let z: DenseMatrix  // k × d_Y

        init(_ svd: SingularValueDecomposition, kept k: Int, _ y: DenseMatrix) {
            let rows = svd.u.rows
            var ut = DenseMatrix(rows: k, columns: rows)
            for r in 0..<k { for i in 0..<rows { ut.values[r * rows + i] = svd.u[i, r] } }
            var v = DenseMatrix(rows: svd.vt.columns, columns: k)
            for r in 0..<k { for j in 0..<svd.vt.columns { v.values[j * k + r] = svd.vt[r, j] } }
            self.v = v
            s = Array(svd.s.prefix(k))
            z = ut.multiplied(by: y)
        }

        /// X W.
        func predict(_ x: DenseMatrix) -> DenseMatrix {
            var p = x.multiplied(by: v)
            for i in 0..<p.rows { for r in 0..<p.columns { p.values[i * p.columns + r] /= s[r] } }
            return p.multiplied(by: z)
        }
    }

    /// Mean over target columns of the root mean squared error over rows.
    static func rmse(_ predicted: DenseMatrix, _ y: DenseMatrix) -> Double {
        let (n, d) = (y.rows, y.columns)
        var total = 0.0
        for j in 0..<d {
            var sum = 0.0
            for i in 0..<n {
                let e = predicted.values[i * d + j] - y.values[i * d + j]
                sum += e * e
            }
            total += (sum / Double(n)).squareRoot()
        }
        return total / Double(d)
    }

    static func frobeniusSquared(_ a: DenseMatrix, minus b: DenseMatrix) -> Double {
        var sum = 0.0
        for k in a.values.indices {
            let e = a.values[k] - b.values[k]
            sum += e * e
        }
        return sum
    }
}
