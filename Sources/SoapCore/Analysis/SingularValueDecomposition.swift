import CLapack

/// Thin singular value decomposition A = U diag(S) Vᵀ of a row-major matrix, through
/// LAPACK's divide-and-conquer `dgesdd` (the routine numpy and scipy call), so that
/// rank decisions on small singular values agree with them.
public struct SingularValueDecomposition: Sendable {
    /// rows × k, row-major (k = min(rows, columns)).
    public let u: DenseMatrix
    /// k singular values, descending.
    public let s: [Double]
    /// k × columns, row-major.
    public let vt: DenseMatrix

    public enum Failure: Error, Equatable { case lapack(Int32) }

    public init(_ a: DenseMatrix) throws(Failure) {
        let (m, n) = (a.rows, a.columns)
        let k = min(m, n)
        guard k > 0 else {
            u = DenseMatrix(rows: m, columns: 0)
            s = []
            vt = DenseMatrix(rows: 0, columns: n)
            return
        }
        // Row-major A is column-major Aᵀ (n × m) = U' S V'ᵀ, so A = V' S U'ᵀ: LAPACK's VT'
        // (column-major k × m) is A's U row-major (m × k), and its U' (column-major n × k)
        // is A's Vᵀ row-major (k × n).
        _ = BLAS.ready
        var work = a.values
        var sv = [Double](repeating: 0, count: k)
        var uPrime = [Double](repeating: 0, count: n * k)
        var vtPrime = [Double](repeating: 0, count: k * m)
        var iwork = [Int32](repeating: 0, count: 8 * k)
        var (rows, cols) = (Int32(n), Int32(m))
        var (lda, ldu, ldvt) = (Int32(n), Int32(n), Int32(k))
        var info: Int32 = 0
        var query = 0.0
        var lwork: Int32 = -1
        dgesdd_("S", &rows, &cols, &work, &lda, &sv, &uPrime, &ldu, &vtPrime, &ldvt, &query, &lwork, &iwork, &info)
        guard info == 0 else { throw .lapack(info) }
        lwork = Int32(query)
        var scratch = [Double](repeating: 0, count: Int(lwork))
        dgesdd_("S", &rows, &cols, &work, &lda, &sv, &uPrime, &ldu, &vtPrime, &ldvt, &scratch, &lwork, &iwork, &info)
        guard info == 0 else { throw .lapack(info) }
        u = DenseMatrix(rows: m, columns: k, values: vtPrime)
        s = sv
        vt = DenseMatrix(rows: k, columns: n, values: uPrime)
    }
}
