import CLapack

#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// The system BLAS as soapd uses it. soapd parallelises above BLAS (its own threads call it
/// concurrently), so a threaded BLAS — OpenBLAS's pthread build, which Debian's alternatives
/// give `libblas.so.3` when it is installed — must run each call on the calling thread, or
/// its pool and ours oversubscribe the cores. Reference BLAS has no threads to limit.
public enum BLAS {
    /// Touched before BLAS calls; the first touch limits OpenBLAS to the calling thread.
    static let ready: Bool = {
        guard let symbol = dlsym(nil, "openblas_set_num_threads") else { return false }
        unsafeBitCast(symbol, to: (@convention(c) (Int32) -> Void).self)(1)
        return true
    }()

    /// What the process runs on, for the start-up log: OpenBLAS's configuration or "reference".
    public static var description: String {
        _ = ready
        guard let symbol = dlsym(nil, "openblas_get_config"),
            let text = unsafeBitCast(symbol, to: (@convention(c) () -> UnsafePointer<CChar>?).self)()
        else {
            return "reference BLAS/LAPACK"
        }
        return String(cString: text)
    }
}

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

/// Gram matrices through BLAS.
enum Gram {
    /// G += Xᵀ X for X of `rows` × `columns` (row-major); G is symmetric, so its layout does not matter.
    static func add(_ x: UnsafePointer<Double>, rows: Int, columns n: Int, into g: UnsafeMutablePointer<Double>) {
        guard n > 0 else { return }
        _ = BLAS.ready
        // Column-major, X row-major is Xᵀ (n × rows): G += (Xᵀ)(Xᵀ)ᵀ.
        var transA = Int8(UInt8(ascii: "N"))
        var transB = Int8(UInt8(ascii: "T"))
        var m = Int32(n)
        var k = Int32(rows)
        var ld = Int32(n)
        var one = 1.0
        dgemm_(&transA, &transB, &m, &m, &k, &one, x, &ld, x, &ld, &one, g, &ld)
    }
}

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
