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
