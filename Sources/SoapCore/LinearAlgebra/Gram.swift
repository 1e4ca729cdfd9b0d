import CLapack

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
