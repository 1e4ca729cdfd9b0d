import CLapack
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Dense symmetric eigen-decomposition through LAPACK's divide-and-conquer `dsyevd`.
public enum SymmetricEigen {
    public enum Failure: Error, Equatable { case lapack(info: Int32), notSquare, notPositiveDefinite }

    /// Eigenvalues in ascending order and the eigenvectors as the columns of a
    /// row-major n×n matrix: `vectors[i * n + k]` is component i of vector k.
    public static func decompose(_ matrix: [Double], n: Int) throws -> (values: [Double], vectors: [Double]) {
        guard matrix.count == n * n else { throw Failure.notSquare }
        if n == 0 { return ([], []) }
        // Row-major symmetric == column-major symmetric; the output columns
        // (column-major) are eigenvectors, which we transpose back to row-major.
        var a = matrix
        var w = [Double](repeating: 0, count: n)
        var nn = Int32(n), lda = Int32(n), info: Int32 = 0
        var lwork: Int32 = -1, liwork: Int32 = -1
        var workQuery = 0.0
        var iworkQuery: Int32 = 0
        var jobz = Int8(UInt8(ascii: "V")), uplo = Int8(UInt8(ascii: "U"))
        dsyevd_(&jobz, &uplo, &nn, &a, &lda, &w, &workQuery, &lwork, &iworkQuery, &liwork, &info)
        guard info == 0 else { throw Failure.lapack(info: info) }
        lwork = Int32(workQuery.rounded(.up))
        liwork = iworkQuery
        var work = [Double](repeating: 0, count: Int(lwork))
        var iwork = [Int32](repeating: 0, count: Int(liwork))
        dsyevd_(&jobz, &uplo, &nn, &a, &lda, &w, &work, &lwork, &iwork, &liwork, &info)
        guard info == 0 else { throw Failure.lapack(info: info) }
        var vectors = [Double](repeating: 0, count: n * n)
        for k in 0..<n { for i in 0..<n { vectors[i * n + k] = a[k * n + i] } }
        return (w, vectors)
    }

    /// S^p for a symmetric positive definite S (p = -1/2 gives Löwdin orthonormalisation).
    public static func power(_ matrix: [Double], n: Int, exponent p: Double) throws -> [Double] {
        let (values, vectors) = try decompose(matrix, n: n)
        // A power of a singular (or numerically indefinite) matrix is not defined.
        guard values.allSatisfy({ $0 > 1e-300 }) || p > 0 else { throw Failure.notPositiveDefinite }
        var result = [Double](repeating: 0, count: n * n)
        for k in 0..<n {
            let f = pow(values[k], p)
            for i in 0..<n {
                let vik = vectors[i * n + k] * f
                for j in 0..<n { result[i * n + j] += vik * vectors[j * n + k] }
            }
        }
        return result
    }
}

