import CLapack

#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// Dense symmetric eigen-decomposition through LAPACK's divide-and-conquer `dsyevd`.
public enum SymmetricEigen {
    public enum Failure: Error, Equatable {
        case lapack(info: Int32)
        case notSquare
        case notPositiveDefinite
    }

    /// Eigenvalues in ascending order and the eigenvectors as the columns of a
    /// row-major n×n matrix: `vectors[i * n + k]` is component i of vector k.
    public static func decompose(_ matrix: [Double], n: Int) throws -> (values: [Double], vectors: [Double]) {
        _ = BLAS.ready
        guard matrix.count == n * n else { throw Failure.notSquare }
        if n == 0 { return ([], []) }
        // Row-major symmetric == column-major symmetric; the output columns
        // (column-major) are eigenvectors, which we transpose back to row-major.
        var a = matrix
        var w = [Double](repeating: 0, count: n)
        var nn = Int32(n)
        var lda = Int32(n)
        var info: Int32 = 0
        var lwork: Int32 = -1
        var liwork: Int32 = -1
        var workQuery = 0.0
        var iworkQuery: Int32 = 0
        var jobz = Int8(UInt8(ascii: "V"))
        var uplo = Int8(UInt8(ascii: "U"))
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
        return compose(values, vectors, n: n) { pow($0, p) }
    }

    /// S^p for each exponent, on the range of a symmetric positive semi-definite S from one
    /// decomposition: eigenvalues up to `relativeCutoff` × the largest are left out, so a
    /// negative p gives a pseudo-inverse power.
    public static func rangePowers(
        _ matrix: [Double], n: Int, exponents: [Double],
        relativeCutoff: Double = 1e-12
    ) throws -> [[Double]] {
        let (values, vectors) = try decompose(matrix, n: n)
        let floor = relativeCutoff * (values.last ?? 0)
        return exponents.map { p in compose(values, vectors, n: n) { $0 > floor ? pow($0, p) : 0 } }
    }

    /// Σ_k f(λ_k) v_k v_kᵀ.
    private static func compose(_ values: [Double], _ vectors: [Double], n: Int, _ f: (Double) -> Double) -> [Double] {
        var result = [Double](repeating: 0, count: n * n)
        for k in 0..<n {
            let fk = f(values[k])
            guard fk != 0 else { continue }
            for i in 0..<n {
                let vik = vectors[i * n + k] * fk
                for j in 0..<n { result[i * n + j] += vik * vectors[j * n + k] }
            }
        }
        return result
    }
}
