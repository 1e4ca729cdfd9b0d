/// One atomic structure as flat arrays (structure of arrays).
public struct Structure: Sendable, Equatable {
    /// Atomic numbers.
    public var numbers: [Int]
    /// Cartesian positions, 3 per atom.
    public var positions: [Double]
    /// Lattice vectors as rows (A, B, C), row-major 3×3, or nil for a molecule.
    public var cell: [Double]?
    /// Periodicity along A, B, C.
    public var pbc: (Bool, Bool, Bool)

    public init(numbers: [Int], positions: [Double], cell: [Double]? = nil, pbc: (Bool, Bool, Bool)? = nil) {
        self.numbers = numbers
        self.positions = positions
        self.cell = cell
        self.pbc = pbc ?? (cell == nil ? (false, false, false) : (true, true, true))
    }

    public var count: Int { numbers.count }
    public var isPeriodic: Bool { pbc.0 || pbc.1 || pbc.2 }

    public static func == (a: Structure, b: Structure) -> Bool {
        a.numbers == b.numbers && a.positions == b.positions && a.cell == b.cell && a.pbc == b.pbc
    }

    /// Checks what the numerics rely on; errors name the structure index and field.
    public func validate(index: Int) throws(StructureError) {
        func fail(_ field: String, _ message: String) -> StructureError {
            StructureError(structure: index, field: field, message: message)
        }
        guard positions.count == 3 * numbers.count else {
            throw fail("positions", "has \(positions.count / 3) rows for \(numbers.count) atoms")
        }
        for (atom, z) in numbers.enumerated() where !Elements.isKnown(z) {
            throw fail("numbers/\(atom)", "\(z) is not an element (1…\(Elements.symbols.count))")
        }
        for (k, x) in positions.enumerated() where !x.isFinite {
            throw fail("positions/\(k / 3)/\(k % 3)", "is not a finite number")
        }
        if let cell {
            guard cell.count == 9 else { throw fail("cell", "must be 3 rows of 3 numbers") }
            for (k, x) in cell.enumerated() where !x.isFinite {
                throw fail("cell/\(k / 3)/\(k % 3)", "is not a finite number")
            }
            if isPeriodic {
                let volume = abs(Geometry.determinant(cell))
                let scale = Geometry.rowNorm(cell, 0) * Geometry.rowNorm(cell, 1) * Geometry.rowNorm(cell, 2)
                guard volume > 1e-10 * max(scale, 1e-300) else {
                    throw fail("cell", "is singular (zero volume), but pbc is set")
                }
            }
        } else if isPeriodic {
            throw fail("pbc", "is periodic along an axis but no cell is given")
        }
    }
}

/// An invalid structure; `field` is a path below `structures/<structure>`.
public struct StructureError: Error, Equatable, Sendable, CustomStringConvertible {
    public var structure: Int
    public var field: String
    public var message: String
    public init(structure: Int, field: String, message: String) {
        self.structure = structure
        self.field = field
        self.message = message
    }
    public var description: String { "structures/\(structure)/\(field): \(message)" }
}

/// Small 3×3 helpers (row-major).
public enum Geometry {
    public static func determinant(_ m: [Double]) -> Double {
        m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) + m[2] * (m[3] * m[7] - m[4] * m[6])
    }

    public static func rowNorm(_ m: [Double], _ row: Int) -> Double {
        (m[3 * row] * m[3 * row] + m[3 * row + 1] * m[3 * row + 1] + m[3 * row + 2] * m[3 * row + 2]).squareRoot()
    }

    /// Inverse of a non-singular 3×3 matrix.
    public static func inverse(_ m: [Double]) -> [Double] {
        let det = determinant(m)
        let c: [Double] = [
            m[4] * m[8] - m[5] * m[7], m[2] * m[7] - m[1] * m[8], m[1] * m[5] - m[2] * m[4],
            m[5] * m[6] - m[3] * m[8], m[0] * m[8] - m[2] * m[6], m[2] * m[3] - m[0] * m[5],
            m[3] * m[7] - m[4] * m[6], m[1] * m[6] - m[0] * m[7], m[0] * m[4] - m[1] * m[3],
        ]
        return c.map { $0 / det }
    }
}
