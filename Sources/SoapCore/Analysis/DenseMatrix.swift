import CLapack

/// A row-major matrix of doubles: the samples × features tables the analysis routines
/// (selection, reconstruction measures) read.
public struct DenseMatrix: Sendable, Equatable {
    public let rows: Int
    public let columns: Int
    /// rows × columns values, row after row.
    public var values: [Double]

    public init(rows: Int, columns: Int, values: [Double]) {
        precondition(values.count == rows * columns)
        self.rows = rows
        self.columns = columns
        self.values = values
    }

    public init(rows: Int, columns: Int) {
        self.init(rows: rows, columns: columns, values: [Double](repeating: 0, count: rows * columns))
    }

    public subscript(i: Int, j: Int) -> Double {
        get { values[i * columns + j] }
        set { values[i * columns + j] = newValue }
    }

    public var transposed: DenseMatrix {
        var out = DenseMatrix(rows: columns, columns: rows)
        for i in 0..<rows { for j in 0..<columns { out.values[j * rows + i] = values[i * columns + j] } }
        return out
    }

    /// The rows at `indices`, in that order.
    public func selectingRows(_ indices: [Int]) -> DenseMatrix {
        var out: [Double] = []
        out.reserveCapacity(indices.count * columns)
        for i in indices { out += values[(i * columns)..<((i + 1) * columns)] }
        return DenseMatrix(rows: indices.count, columns: columns, values: out)
    }

    /// The first `count` columns (all rows).
    public func leadingColumns(_ count: Int) -> DenseMatrix {
        var out = DenseMatrix(rows: rows, columns: count)
        for i in 0..<rows { for j in 0..<min(count, columns) { out.values[i * count + j] = values[i * columns + j] } }
        return out
    }

    /// This matrix with zero columns appended up to `count` columns.
    public func padded(toColumns count: Int) -> DenseMatrix {
        guard count > columns else { return self }
        var out = DenseMatrix(rows: rows, columns: count)
        for i in 0..<rows { for j in 0..<columns { out.values[i * count + j] = values[i * columns + j] } }
        return out
    }

    /// self · other.
    public func multiplied(by other: DenseMatrix) -> DenseMatrix {
        precondition(columns == other.rows)
        var out = DenseMatrix(rows: rows, columns: other.columns)
        guard rows > 0, other.columns > 0, columns > 0 else { return out }
        values.withUnsafeBufferPointer { a in
            other.values.withUnsafeBufferPointer { b in
                out.values.withUnsafeMutableBufferPointer { c in
                    // Row-major C = A B is column-major Cᵀ = Bᵀ Aᵀ.
                    _ = BLAS.ready
                    var (m, n, k) = (Int32(other.columns), Int32(rows), Int32(columns))
                    var (one, zero) = (1.0, 0.0)
                    var (lda, ldb, ldc) = (m, k, m)
                    dgemm_("N", "N", &m, &n, &k, &one, b.baseAddress!, &lda, a.baseAddress!, &ldb, &zero, c.baseAddress!, &ldc)
                }
            }
        }
        return out
    }

    /// True when every value is finite.
    public var isFinite: Bool { values.allSatisfy { $0.isFinite } }
}
