/// What strain gradients need around the kernels: which structures can have them, and their
/// per-structure sums.
enum StrainSupport {
    /// A strain deforms the cell along periodic axes and the positions everywhere; with some
    /// axes periodic and others open (a slab, a wire) the open axes' cell vectors have no
    /// defined deformation (featomic refuses them too). Fully periodic structures and
    /// molecules (no periodic axis; positions only) are accepted.
    static func check(_ structures: [Structure]) throws(FeaturizationError) {
        for (s, structure) in structures.enumerated() {
            let (a, b, c) = structure.pbc
            guard a == b && b == c else {
                throw .structure(
                    StructureError(
                        structure: s, field: "pbc",
                        message: "strain gradients need pbc all true or all false, not mixed"))
            }
        }
    }

    /// Per-structure strain rows: the sums of their atoms' rows.
    static func sumOverStructures(_ perAtom: FeatureMatrix, into result: inout FeatureMatrix, rowStart: [Int]) {
        guard let values = perAtom.strainValues else { return }
        let width = 9 * perAtom.columnCount
        let structures = rowStart.count - 1
        var out = [Double](repeating: 0, count: structures * width)
        for s in 0..<structures {
            for row in rowStart[s]..<rowStart[s + 1] {
                for k in 0..<width { out[s * width + k] += values[row * width + k] }
            }
        }
        result.strainSamples = Labels(names: ["sample"], values: (0..<Int32(structures)).map { $0 })
        result.strainValues = out
    }
}
