/// Why a computation was refused; each case names what to fix.
public enum FeaturizationError: Error, Equatable, Sendable, CustomStringConvertible {
    case structure(StructureError)
    /// An atom whose type is not in `species`.
    case unknownSpecies(structure: Int, atom: Int, number: Int)
    case invalidSpecies(String)
    case tooManyPairs(structure: Int, estimate: Int, limit: Int)
    case outputTooLarge(values: Int, limit: Int)
    /// A max_angular beyond what a descriptor supports (the bispectrum's CG tables).
    case maxAngularTooLarge(type: DescriptorType, maxAngular: Int, limit: Int)
    /// The computation ran past its deadline and was stopped.
    case deadlineExceeded(seconds: Double)
    /// The output alone would exceed the memory budget.
    case overBudget(bytes: Int, limit: Int)
    /// The output fits the budget, but not beside what other computations hold now.
    case budgetBusy(bytes: Int, available: Int)
    /// Multispectrum or λ-SOAP options that cannot be used with this basis.
    case multispectrum(MultispectrumError)
    /// A vector–Jacobian product's output gradient that is not rows × columns of the features.
    case outputGradientShape(rows: Int, columns: Int, count: Int)
    /// A NaN or infinite entry in an output gradient.
    case outputGradientNotFinite(row: Int, column: Int)

    public var description: String {
        switch self {
        case .structure(let e): return e.description
        case .unknownSpecies(let s, let a, let z):
            return "structures/\(s)/numbers/\(a): atomic number \(z) is not in descriptor.species"
        case .invalidSpecies(let m): return "descriptor/species: \(m)"
        case .tooManyPairs(let s, let e, let l):
            return "structures/\(s): about \(e) neighbour pairs within the cutoff, above the limit of \(l)"
        case .outputTooLarge(let v, let l): return "the output would hold \(v) numbers, above the limit of \(l)"
        case .maxAngularTooLarge(let t, let m, let l): return "\(t.rawValue) supports max_angular up to \(l), not \(m)"
        case .deadlineExceeded(let s): return "the computation took longer than \(s) s and was stopped"
        case .overBudget(let b, let l): return "the output needs \(b) bytes, above the memory budget of \(l)"
        case .budgetBusy(let b, let a): return "the output needs \(b) bytes; \(a) are free in the memory budget now"
        case .multispectrum(let e): return e.description
        case .outputGradientShape(let r, let c, let n):
            return "output_gradient: expected \(r) rows × \(c) columns, got \(n) numbers"
        case .outputGradientNotFinite(let r, let c): return "output_gradient/\(r)/\(c): not a finite number"
        }
    }
}
