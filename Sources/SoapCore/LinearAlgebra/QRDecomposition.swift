import CLapack

/// Orthonormalisation through LAPACK's Householder QR (dgeqrf + dorgqr).
public enum QRDecomposition {
    /// Q of A = QR for a row-major n×k matrix A (k ≤ n), as a row-major n×k matrix: its
    /// columns are orthonormal and the first j span the first j columns of A whenever those
    /// are independent. Rank-deficient A still gives an orthonormal Q.
    public static func orthonormalColumns(_ matrix: [Double], rows n: Int, columns k: Int) throws -> [Double] {
        precondition(matrix.count == n * k && k <= n)
        _ = BLAS.ready
        if k == 0 { return [] }
        // Column-major copy for Fortran.
        var a = [Double](repeating: 0, count: n * k)
        for i in 0..<n { for j in 0..<k { a[j * n + i] = matrix[i * k + j] } }
        var m = Int32(n)
        var cols = Int32(k)
        var lda = Int32(n)
        var info: Int32 = 0
        var tau = [Double](repeating: 0, count: k)
        var query = 0.0
        var lwork: Int32 = -1
        dgeqrf_(&m, &cols, &a, &lda, &tau, &query, &lwork, &info)
        guard info == 0 else { throw SymmetricEigen.Failure.lapack(info: info) }
        lwork = max(Int32(query.rounded(.up)), 1)
        var work = [Double](repeating: 0, count: Int(lwork))
        dgeqrf_(&m, &cols, &a, &lda, &tau, &work, &lwork, &info)
        guard info == 0 else { throw SymmetricEigen.Failure.lapack(info: info) }
        var kk = Int32(k)
        lwork = -1
        dorgqr_(&m, &cols, &kk, &a, &lda, &tau, &query, &lwork, &info)
        guard info == 0 else { throw SymmetricEigen.Failure.lapack(info: info) }
        lwork = max(Int32(query.rounded(.up)), 1)
        work = [Double](repeating: 0, count: Int(lwork))
        dorgqr_(&m, &cols, &kk, &a, &lda, &tau, &work, &lwork, &info)
        guard info == 0 else { throw SymmetricEigen.Failure.lapack(info: info) }
        var q = [Double](repeating: 0, count: n * k)
        for i in 0..<n { for j in 0..<k { q[i * k + j] = a[j * n + i] } }
        return q
    }
}
