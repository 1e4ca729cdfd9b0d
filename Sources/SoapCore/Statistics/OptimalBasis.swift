#if canImport(Glibc)
    import Glibc
#endif

/// How a fitted basis contracts the primitive channels (thesis §2.1).
public enum Contraction: String, Sendable, CaseIterable {
    /// Per neighbour species and l: U^{a,l} (q × N), eq. 2.2.
    case separate
    /// Jointly over (species, n) per l: U^l (q × S·N), eq. 2.7.
    case mixed
}

/// How the contraction is chosen (thesis §2.1 and eq. 2.11).
public enum FitMethod: Sendable, Equatable {
    /// Principal components of the expansion covariance, every l.
    case pca
    /// Principal covariates regression for l = 0 (PCA for l > 0): `gamma` = 1 is PCA,
    /// `gamma` → 0 keeps the directions that best predict the dataset's targets.
    case pcovr(gamma: Double)

    public var name: String {
        switch self {
        case .pca: return "pca"
        case .pcovr: return "pcovr"
        }
    }
}

/// A data-driven radial basis: the leading eigenvectors of the dataset's
/// expansion covariance, evaluated through splines of the contracted radial
/// integrals c_ql(r) = Σ_n U_qn I_nl(r) (eq. 2.4, 2.10) at the cost of a
/// primitive basis of size q. A centre-specific basis has its own contraction
/// for the environments of each centre species.
public struct OptimalBasis: Sendable {
    public let hypers: SoapHypers
    public let species: [Int]
    public let contraction: Contraction
    public let method: FitMethod
    public let centerSpecific: Bool
    /// Contracted functions per l (and per species for `separate`).
    public let q: Int
    /// Per l, for each centre block (one, or one per centre species when centre-specific):
    /// separate → S blocks of q × N; mixed → q × S·N (row-major).
    public let projections: [[Double]]
    /// Per l, for each centre block: separate → S blocks of N eigenvalues; mixed → S·N;
    /// descending. For PCovR at l = 0, those of the mixed PCovR matrix.
    public let eigenvalues: [[Double]]
    /// Per l: residual variance after keeping 1, 2, … functions (eq. 2.12).
    public let residualVariance: [[Double]]

    public enum FitError: Error, Equatable, CustomStringConvertible {
        case emptyDataset
        case tooManyFunctions(requested: Int, available: Int)
        case invalidThreshold
        case invalidGamma
        case noTargets
        case noCenters(species: Int)
        case decomposition(String)
        public var description: String {
            switch self {
            case .emptyDataset: return "the dataset has no centres yet"
            case .tooManyFunctions(let q, let n): return "q_max \(q) is larger than the \(n) primitive functions available"
            case .invalidThreshold: return "residual_variance must be between 0 and 1"
            case .invalidGamma: return "gamma must be between 0 and 1"
            case .noTargets: return "PCovR needs targets: add structures with \"targets\" to the dataset"
            case .noCenters(let z):
                return "the dataset has no centres of species \(z), so a centre-specific basis cannot be fitted for it"
            case .decomposition(let m): return "eigen-decomposition failed: \(m)"
            }
        }
    }

    /// Fits by PCA, or PCovR at l = 0. Give `q`, or a residual-variance threshold (the
    /// smallest q reaching it in every l is used).
    public static func fit(
        _ statistics: DatasetStatistics, hypers: SoapHypers, contraction: Contraction,
        centerSpecific: Bool = false, method: FitMethod = .pca,
        q requested: Int?, residualVariance threshold: Double? = nil
    ) throws(FitError) -> OptimalBasis {
        guard statistics.totalCenters > 0 else { throw .emptyDataset }
        let S = statistics.species.count
        let N = statistics.radialCount
        let L = statistics.maxAngular
        let n = contraction == .separate ? N : S * N
        if let threshold, !(threshold >= 0 && threshold < 1) { throw .invalidThreshold }
        var regression: Regression?
        if case .pcovr(let gamma) = method {
            guard gamma >= 0 && gamma <= 1 else { throw .invalidGamma }
            guard statistics.targetStructures > 0 else { throw .noTargets }
            regression = try Regression(statistics, centerSpecific: centerSpecific)
        }
        let centerBlocks: [[Int]?] = centerSpecific ? statistics.species.indices.map { [$0] } : [nil]
        if centerSpecific, let empty = statistics.centers.firstIndex(of: 0) {
            throw .noCenters(species: statistics.species[empty])
        }
        var vectorsPerL: [[[Double]]] = []  // [l][block] orthonormal rows, leading first
        var valuesPerL: [[Double]] = []
        var curves: [[Double]] = []
        for l in 0...L {
            var blocks: [[Double]] = []
            var values: [Double] = []
            var captured: [[Double]] = []  // per block: variance kept by each row
            var total = 0.0
            for (cb, slots) in centerBlocks.enumerated() {
                let matrices =
                    contraction == .separate
                    ? (0..<S).map { statistics.block(l: l, species: $0, centerSlots: slots) }
                    : [statistics.joint(l: l, centerSlots: slots)]
                for (k, matrix) in matrices.enumerated() {
                    let rows: [Double]
                    let lambdas: [Double]
                    do {
                        if l == 0, case .pcovr(let gamma) = method, let regression {
                            let first = (centerSpecific ? cb * S * N : 0) + (contraction == .separate ? k * N : 0)
                            (rows, lambdas) = try pcovrRows(
                                matrix, n: n, gamma: gamma,
                                direction: regression.direction(first: first, count: n))
                        } else {
                            (rows, lambdas) = try pcaRows(matrix, n: n)
                        }
                    } catch {
                        throw .decomposition("\(error)")
                    }
                    blocks.append(rows)
                    values += lambdas
                    captured.append((0..<n).map { r in quadraticForm(matrix, rows, row: r, n: n) })
                    total += (0..<n).reduce(0.0) { $0 + matrix[$1 * n + $1] }
                }
            }
            // Residual variance after keeping q functions (of each block).
            var curve: [Double] = []
            for q in 1...n {
                let kept = captured.reduce(0.0) { $0 + $1.prefix(q).reduce(0, +) }
                curve.append(total > 0 ? min(1, max(0, 1 - kept / total)) : 0)
            }
            vectorsPerL.append(blocks)
            valuesPerL.append(values)
            curves.append(curve)
        }
        var q = requested ?? 0
        if let threshold {
            q = curves.map { curve in (curve.firstIndex { $0 <= threshold } ?? (n - 1)) + 1 }.max() ?? 1
        }
        guard q >= 1, q <= n else { throw .tooManyFunctions(requested: q, available: n) }
        let projections = vectorsPerL.map { blocks in blocks.flatMap { Array($0.prefix(q * n)) } }
        return OptimalBasis(
            hypers: hypers, species: statistics.species, contraction: contraction, method: method,
            centerSpecific: centerSpecific, q: q, projections: projections, eigenvalues: valuesPerL,
            residualVariance: curves)
    }

    /// Eigenvectors of a covariance block as rows, by descending eigenvalue.
    /// `keep`, given the descending eigenvalues, says how many leading rows to build (all
    /// by default): a truncation of a large block need not copy every eigenvector.
    static func pcaRows(_ matrix: [Double], n: Int, keep: ([Double]) -> Int = { $0.count }) throws -> ([Double], [Double]) {
        let (ascending, vectors) = try SymmetricEigen.decompose(matrix, n: n)
        let lambdas = (0..<n).map { max(ascending[n - 1 - $0], 0) }  // descending
        let count = min(max(keep(lambdas), 0), n)
        var rows = [Double](repeating: 0, count: count * n)
        for r in 0..<count {
            let k = n - 1 - r
            for i in 0..<n { rows[r * n + i] = vectors[i * n + k] }
        }
        fixSigns(&rows, n: n)
        return (rows, lambdas)
    }

    /// Feature-space PCovR for one block (Helfrecht et al. 2020): with C normalised to unit
    /// trace and u = C^{1/2} w carrying the block's share of the explained target variance,
    /// K = γ C + (1 − γ) u uᵀ; its eigenvectors V map back through C^{-1/2} to projectors
    /// P = C^{-1/2} V, whose orthonormalised columns are the rows of U (eq. 2.11). γ = 1 gives
    /// PCA; γ → 0 puts the regression direction w first.
    static func pcovrRows(
        _ covariance: [Double], n: Int, gamma: Double,
        direction: (w: [Double], weight: Double)
    ) throws -> ([Double], [Double]) {
        let trace = (0..<n).reduce(0.0) { $0 + covariance[$1 * n + $1] }
        guard trace > 0 else { return try pcaRows(covariance, n: n) }
        let c = covariance.map { $0 / trace }
        let powers = try SymmetricEigen.rangePowers(c, n: n, exponents: [0.5, -0.5])
        let root = powers[0]
        let inverseRoot = powers[1]
        var u = [Double](repeating: 0, count: n)
        for i in 0..<n { for j in 0..<n { u[i] += root[i * n + j] * direction.w[j] } }
        let norm = u.reduce(0) { $0 + $1 * $1 }.squareRoot()
        if norm > 0 {
            let f = direction.weight.squareRoot() / norm
            for i in 0..<n { u[i] *= f }
        }
        // γ = 0 exactly leaves all but one direction arbitrary; a trace of PCA orders them.
        let g = max(gamma, 1e-9)
        var k = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { k[i * n + j] = g * c[i * n + j] + (1 - g) * u[i] * u[j] } }
        let (kValues, kVectors) = try SymmetricEigen.decompose(k, n: n)
        // P = C^{-1/2} V, columns by descending eigenvalue.
        var p = [Double](repeating: 0, count: n * n)
        for col in 0..<n {
            let kk = n - 1 - col
            for i in 0..<n {
                var sum = 0.0
                for j in 0..<n { sum += inverseRoot[i * n + j] * kVectors[j * n + kk] }
                p[i * n + col] = sum
            }
        }
        let q = try QRDecomposition.orthonormalColumns(p, rows: n, columns: n)
        var rows = [Double](repeating: 0, count: n * n)
        for r in 0..<n { for i in 0..<n { rows[r * n + i] = q[i * n + r] } }
        fixSigns(&rows, n: n)
        return (rows, (0..<n).map { max(kValues[n - 1 - $0], 0) })
    }

    /// Deterministic signs: each row's largest component positive.
    static func fixSigns(_ rows: inout [Double], n: Int) {
        for r in 0..<(rows.count / max(n, 1)) {
            var big = 0.0
            for i in 0..<n where abs(rows[r * n + i]) > abs(big) { big = rows[r * n + i] }
            if big < 0 { for i in 0..<n { rows[r * n + i] = -rows[r * n + i] } }
        }
    }

    /// u_r C u_rᵀ for row r of `rows`.
    static func quadraticForm(_ matrix: [Double], _ rows: [Double], row r: Int, n: Int) -> Double {
        var total = 0.0
        for i in 0..<n {
            var s = 0.0
            for j in 0..<n { s += matrix[i * n + j] * rows[r * n + j] }
            total += rows[r * n + i] * s
        }
        return total
    }

    /// The least-squares fit of the targets on the structures' l = 0 features (uncentred,
    /// like the covariance), and each block's share of the variance it explains.
    struct Regression {
        let weights: [Double]
        let gram: [Double]
        let dimension: Int
        let explained: Double  // uncentred R² of the fit

        init(_ s: DatasetStatistics, centerSpecific: Bool) throws(FitError) {
            let ch = s.channels
            let full = s.targetFeatureCount
            // Without centre-specific contractions, the features of all centre types add up.
            let d = centerSpecific ? full : ch
            var a = [Double](repeating: 0, count: d * d)
            var b = [Double](repeating: 0, count: d)
            for i in 0..<full {
                let ii = centerSpecific ? i : i % ch
                b[ii] += s.targetCross[i]
                for j in 0..<full { a[ii * d + (centerSpecific ? j : j % ch)] += s.targetGram[i * full + j] }
            }
            // w = A⁺ b (A may be singular: absent species).
            let inverse: [Double]
            do { inverse = try SymmetricEigen.rangePowers(a, n: d, exponents: [-1])[0] } catch {
                throw .decomposition("\(error)")
            }
            var w = [Double](repeating: 0, count: d)
            for i in 0..<d { for j in 0..<d { w[i] += inverse[i * d + j] * b[j] } }
            weights = w
            gram = a
            dimension = d
            let predicted = zip(w, b).reduce(0.0) { $0 + $1.0 * $1.1 }  // ŷᵀŷ = wᵀAw = wᵀb
            explained = s.targetSquares > 0 ? min(1, max(0, predicted / s.targetSquares)) : 0
        }

        /// The weights of features first..<first+count, and their share of the explained variance.
        func direction(first: Int, count: Int) -> (w: [Double], weight: Double) {
            func energy(_ lo: Int, _ n: Int) -> Double {
                var e = 0.0
                for i in lo..<(lo + n) { for j in lo..<(lo + n) { e += weights[i] * gram[i * dimension + j] * weights[j] } }
                return e
            }
            let w = Array(weights[first..<(first + count)])
            // Shares over the blocks of this size that tile the features.
            let blocks = stride(from: 0, to: dimension, by: count).map { energy($0, count) }
            let all = blocks.reduce(0, +)
            return (w, all > 0 ? explained * energy(first, count) / all : 0)
        }
    }

    public init(
        hypers: SoapHypers, species: [Int], contraction: Contraction, method: FitMethod = .pca,
        centerSpecific: Bool = false, q: Int, projections: [[Double]],
        eigenvalues: [[Double]], residualVariance: [[Double]]
    ) {
        self.hypers = hypers
        self.species = species
        self.contraction = contraction
        self.method = method
        self.centerSpecific = centerSpecific
        self.q = q
        self.projections = projections
        self.eigenvalues = eigenvalues
        self.residualVariance = residualVariance
    }

    /// Number of centre blocks: one contraction per centre species, or one shared.
    public var centerBlocks: Int { centerSpecific ? species.count : 1 }

    /// Row q of the contraction for neighbour species slot a and one l, over n, in the
    /// environments of centre block `center` (0 unless centre-specific).
    public func coefficients(l: Int, center: Int = 0, species a: Int, q row: Int) -> ArraySlice<Double> {
        let N = hypers.radialCount
        let S = species.count
        let blockBase = center * q * S * N  // both layouts hold q·S·N numbers per centre block
        switch contraction {
        case .separate:
            let base = blockBase + (a * q + row) * N
            return projections[l][base..<(base + N)]
        case .mixed:
            let base = blockBase + row * S * N + a * N
            return projections[l][base..<(base + N)]
        }
    }

    /// Spline tables of the contracted radial integrals, one per (centre block, neighbour
    /// species), at index block·S + a.
    public func splineTables() throws -> [RadialSplineTable] {
        let primitiveIntegrals = try PrimitiveRadialIntegrals(hypers)
        let N = hypers.radialCount
        let Q = q
        let S = species.count
        return (0..<(centerBlocks * S)).map { index in
            let (center, a) = (index / S, index % S)
            return RadialSplineTable(
                cutoff: hypers.cutoff, segmentSizes: Array(repeating: Q, count: hypers.maxAngular + 1),
                accuracy: hypers.effectiveSplineAccuracy
            ) { l, r, values, derivatives in
                var primitive = [Double](repeating: 0, count: 2 * N)
                primitive.withUnsafeMutableBufferPointer { p in
                    primitiveIntegrals.evaluate(l: l, at: r, values: p.baseAddress!, derivatives: p.baseAddress! + N)
                }
                for row in 0..<Q {
                    let u = coefficients(l: l, center: center, species: a, q: row)
                    var v = 0.0
                    var d = 0.0
                    for (k, c) in u.enumerated() {
                        v += c * primitive[k]
                        d += c * primitive[N + k]
                    }
                    values[row] = v
                    derivatives[row] = d
                }
            }
        }
    }

    /// The expansion basis the featurizer runs with (same kernel as a primitive basis of size q).
    public func expansionBasis(tables: [RadialSplineTable]) -> ExpansionBasis {
        let S = species.count
        // Around a centre of slot c, a neighbour of slot a uses table (c or 0)·S + a.
        let tableOfPair = (0..<(S * S)).map { p in (centerSpecific ? p / S : 0) * S + p % S }
        switch contraction {
        case .separate:
            return ExpansionBasis(
                maxAngular: hypers.maxAngular, radialCount: q, species: species, tables: tables,
                tableOfPair: tableOfPair, channelOffset: (0..<S).map { $0 * q },
                groupCount: S, groupTypes: species, centerAtomWeight: hypers.centerAtomWeight, hypers: hypers)
        case .mixed:
            // Every neighbour adds into the same q channels through its species' table (eq. 2.10).
            return ExpansionBasis(
                maxAngular: hypers.maxAngular, radialCount: q, species: species, tables: tables,
                tableOfPair: tableOfPair, channelOffset: Array(repeating: 0, count: S),
                groupCount: 1, groupTypes: nil, centerAtomWeight: hypers.centerAtomWeight, hypers: hypers)
        }
    }

    /// A Tabulated primitive basis has radial integrals but no radial functions to draw.
    public struct RadialFunctionsUnavailable: Error {}

    /// R_aql(r) = Σ_n U_qn R_n(r) (eq. 2.5) for plotting, at `points` radii in [0, rc].
    public func radialFunctions(points: Int) throws -> (r: [Double], values: [Double]) {
        let functions = try PrimitiveRadialIntegrals(hypers)
        let grid = (0..<points).map { hypers.cutoff * Double($0) / Double(max(points - 1, 1)) }
        // [l][point][n]; a ragged basis's padding functions are zero. Tabulated bases give
        // only their integrals: no functions to draw.
        let primitive = try (0...hypers.maxAngular).map { l in
            try grid.map { r in
                try (0..<hypers.radialCount).map { n in
                    guard let f = functions.function(l: l, n: n, at: r) else {
                        if hypers.radialSizes[l] <= n { return 0.0 }
                        throw RadialFunctionsUnavailable()
                    }
                    return f
                }
            }
        }
        var values: [Double] = []  // [centre block][species][l][q][point]
        for center in 0..<centerBlocks {
            for a in species.indices {
                for l in 0...hypers.maxAngular {
                    for row in 0..<q {
                        let u = Array(coefficients(l: l, center: center, species: a, q: row))
                        for p in grid.indices { values.append(zip(u, primitive[l][p]).reduce(0) { $0 + $1.0 * $1.1 }) }
                    }
                }
            }
        }
        return (grid, values)
    }
}
