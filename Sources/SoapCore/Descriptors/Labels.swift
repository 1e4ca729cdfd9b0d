/// Integer labels of rows or columns: `values` is row-major, `names.count` per entry.
public struct Labels: Equatable, Sendable {
    public var names: [String]
    public var values: [Int32]
    public init(names: [String], values: [Int32] = []) {
        self.names = names
        self.values = values
    }
    public var count: Int { names.isEmpty ? 0 : values.count / names.count }
    public subscript(entry: Int) -> ArraySlice<Int32> { values[(entry * names.count)..<((entry + 1) * names.count)] }

    /// Per-atom rows: (structure, atom) for every atom in order, and each row's atomic number.
    public static func atoms(of structures: [Structure]) -> (samples: Labels, centerTypes: [Int32]) {
        let rows = structures.reduce(0) { $0 + $1.count }
        var samples = Labels(names: ["structure", "atom"])
        samples.values.reserveCapacity(2 * rows)
        var centerTypes = [Int32]()
        centerTypes.reserveCapacity(rows)
        for (s, structure) in structures.enumerated() {
            for i in 0..<structure.count {
                samples.values.append(Int32(s))
                samples.values.append(Int32(i))
                centerTypes.append(Int32(structure.numbers[i]))
            }
        }
        return (samples, centerTypes)
    }
}
