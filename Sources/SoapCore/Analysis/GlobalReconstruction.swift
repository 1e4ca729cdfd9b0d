import Foundation

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
    public static func measure(source x: DenseMatrix, target y: DenseMatrix) throws(Failure) -> Result {
        precondition(x.rows == y.rows)
        let n = x.rows
        guard n >= 4 else { throw .tooFewSamples(n) }
        let p = LegacyPermutation.permutation(n, seed: seed)
        let nTest = (n + 1) / 2
        let test = Array(p[0..<nTest])
        let train = Array(p[nTest..<(nTest + n / 2)])
        guard let (xTrain, xTest) = standardised(x, train: train, test: test) else { throw .constant(source: true) }
        guard let (yTrain, yTest) = standardised(y, train: train, test: test) else { throw .constant(source: false) }
        let (w, best, kept) = try ridge(xTrain, yTrain)
        let predictedTest = xTest.multiplied(by: w)
        let gfre = (frobeniusSquared(predictedTest, minus: yTest) / Double(test.count)).squareRoot()
        // Orthogonal Procrustes of X_train (padded) onto its prediction (padded).
        let width = max(x.columns, y.columns)
        let xPad = xTrain.padded(toColumns: width)
        let predictedTrain = xTrain.multiplied(by: w).padded(toColumns: width)
        let q: DenseMatrix
        do {
            let svd = try SingularValueDecomposition(xPad.transposed.multiplied(by: predictedTrain))
            q = svd.u.multiplied(by: svd.vt)
        } catch { throw .decomposition }
        let rotated = xTest.padded(toColumns: width).multiplied(by: q)
        let gfrd = (frobeniusSquared(predictedTest.padded(toColumns: width), minus: rotated) / Double(test.count)).squareRoot()
        return Result(
            gfre: gfre, gfrd: gfrd, trainIndices: train, testIndices: test, bestAlphaIndex: best,
            singularValuesKept: kept)
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
    static func ridge(_ x: DenseMatrix, _ y: DenseMatrix) throws(Failure) -> (DenseMatrix, Int, Int) {
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
            let score12 = -rmse(x2.multiplied(by: weights(svd1, kept: n1, y1)), y2)
            let score21 = -rmse(x1.multiplied(by: weights(svd2, kept: n2, y2)), y1)
            let loss = (score12 + score21) / 2
            if loss > bestLoss {
                bestLoss = loss
                bestIndex = k
            }
        }
        let cutoff = alphas[bestIndex] * largest
        let kept = min(whole.s.count, whole.s.filter { $0 > cutoff }.count)
        return (weights(whole, kept: kept, y), bestIndex, kept)
    }

    /// W = V[:, :k] S[:k]⁻¹ U[:, :k]ᵀ Y.
    static func weights(_ svd: SingularValueDecomposition, kept k: Int, _ y: DenseMatrix) -> DenseMatrix {
        let rows = svd.u.rows
        var ut = DenseMatrix(rows: k, columns: rows)  // S⁻¹ Uᵀ, first k rows
        for r in 0..<k { for i in 0..<rows { ut.values[r * rows + i] = svd.u[i, r] / svd.s[r] } }
        var v = DenseMatrix(rows: svd.vt.columns, columns: k)
        for r in 0..<k { for j in 0..<svd.vt.columns { v.values[j * k + r] = svd.vt[r, j] } }
        return v.multiplied(by: ut.multiplied(by: y))
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
