/// How a fitted basis contracts the primitive channels (thesis §2.1).
public enum Contraction: String, Sendable, CaseIterable {
    /// Per neighbour species and l: U^{a,l} (q × N), eq. 2.2.
    case separate
    /// Jointly over (species, n) per l: U^l (q × S·N), eq. 2.7.
    case mixed
}

/// A data-driven radial basis: the leading eigenvectors of the dataset's
/// expansion covariance, evaluated through splines of the contracted radial
/// integrals c_ql(r) = Σ_n U_qn I_nl(r) (eq. 2.4, 2.10) at the cost of a
/// primitive basis of size q.
public struct OptimalBasis: Sendable {
    public let hypers: SoapHypers
    public let species: [Int]
    public let contraction: Contraction
    /// Contracted functions per l (and per species for `separate`).
    public let q: Int
    /// Per l: separate → S blocks of q × N; mixed → q × S·N (row-major).
    public let projections: [[Double]]
    /// Per l: separate → S blocks of N eigenvalues; mixed → S·N; descending.
    public let eigenvalues: [[Double]]
    /// Per l: residual variance after keeping 1, 2, … functions (eq. 2.12).
    public let residualVariance: [[Double]]

    public enum FitError: Error, Equatable, CustomStringConvertible {
        case emptyDataset
        case tooManyFunctions(requested: Int, available: Int)
        case invalidThreshold
        case decomposition(String)
        public var description: String {
            switch self {
            case .emptyDataset: return "the dataset has no centres yet"
            case .tooManyFunctions(let q, let n): return "q_max \(q) is larger than the \(n) primitive functions available"
            case .invalidThreshold: return "residual_variance must be between 0 and 1"
            case .decomposition(let m): return "eigen-decomposition failed: \(m)"
            }
        }
    }

    /// Fits by PCA. Give `q`, or a residual-variance threshold (the smallest q
    /// reaching it in every l is used).
    public static func fit(_ statistics: DatasetStatistics, hypers: SoapHypers, contraction: Contraction,
                           q requested: Int?, residualVariance threshold: Double? = nil) throws(FitError) -> OptimalBasis {
        guard statistics.totalCenters > 0 else { throw .emptyDataset }
        let S = statistics.species.count, N = statistics.radialCount, L = statistics.maxAngular
        let available = contraction == .separate ? N : S * N
        if let threshold, !(threshold >= 0 && threshold < 1) { throw .invalidThreshold }
        var vectorsPerL: [[[Double]]] = []   // [l][block] eigenvectors as rows, descending
        var valuesPerL: [[Double]] = []
        var curves: [[Double]] = []
        for l in 0...L {
            var blocks: [[Double]] = []
            var values: [Double] = []
            var perBlock: [[Double]] = []
            let matrices = contraction == .separate ? (0..<S).map { statistics.block(l: l, species: $0) }
                                                    : [statistics.joint(l: l)]
            for matrix in matrices {
                let n = contraction == .separate ? N : S * N
                let (ascending, vectors): ([Double], [Double])
                do { (ascending, vectors) = try SymmetricEigen.decompose(matrix, n: n) } catch {
                    throw .decomposition("\(error)")
                }
                var rows = [Double](repeating: 0, count: n * n)
                var lambdas = [Double](repeating: 0, count: n)
                for r in 0..<n {
                    let k = n - 1 - r   // descending
                    lambdas[r] = max(ascending[k], 0)
                    // Deterministic sign: the largest component positive.
                    var big = 0.0
                    for i in 0..<n where abs(vectors[i * n + k]) > abs(big) { big = vectors[i * n + k] }
                    let sign = big < 0 ? -1.0 : 1.0
                    for i in 0..<n { rows[r * n + i] = sign * vectors[i * n + k] }
                }
                blocks.append(rows)
                perBlock.append(lambdas)
                values += lambdas
            }
            // Residual variance after keeping q functions (of each species, for separate).
            let total = values.reduce(0, +)
            var curve: [Double] = []
            for q in 1...available {
                let kept = perBlock.reduce(0.0) { $0 + $1.prefix(q).reduce(0, +) }
                curve.append(total > 0 ? max(0, 1 - kept / total) : 0)
            }
            vectorsPerL.append(blocks)
            valuesPerL.append(values)
            curves.append(curve)
        }
        var q = requested ?? 0
        if let threshold {
            q = curves.map { curve in (curve.firstIndex { $0 <= threshold } ?? (available - 1)) + 1 }.max() ?? 1
        }
        guard q >= 1, q <= available else { throw .tooManyFunctions(requested: q, available: available) }
        let n = contraction == .separate ? N : S * N
        let projections = vectorsPerL.map { blocks in blocks.flatMap { Array($0.prefix(q * n)) } }
        return OptimalBasis(hypers: hypers, species: statistics.species, contraction: contraction, q: q,
                            projections: projections, eigenvalues: valuesPerL, residualVariance: curves)
    }

    public init(hypers: SoapHypers, species: [Int], contraction: Contraction, q: Int, projections: [[Double]],
                eigenvalues: [[Double]], residualVariance: [[Double]]) {
        self.hypers = hypers; self.species = species; self.contraction = contraction; self.q = q
        self.projections = projections; self.eigenvalues = eigenvalues; self.residualVariance = residualVariance
    }

    /// Row q of the contraction for neighbour species slot a and one l, over n.
    public func coefficients(l: Int, species a: Int, q row: Int) -> ArraySlice<Double> {
        let N = hypers.radialCount
        switch contraction {
        case .separate:
            let base = (a * q + row) * N
            return projections[l][base..<(base + N)]
        case .mixed:
            let base = row * species.count * N + a * N
            return projections[l][base..<(base + N)]
        }
    }

    /// Spline tables of the contracted radial integrals, one per neighbour species.
    public func splineTables() throws -> [RadialSplineTable] {
        let gto = try GtoRadialBasis(cutoff: hypers.cutoff, densityWidth: hypers.densityWidth,
                                     count: hypers.radialCount, maxAngular: hypers.maxAngular)
        let N = hypers.radialCount, Q = q
        return species.indices.map { a in
            RadialSplineTable(cutoff: hypers.cutoff, segmentSizes: Array(repeating: Q, count: hypers.maxAngular + 1),
                              accuracy: hypers.effectiveSplineAccuracy) { l, r, values, derivatives in
                var primitive = [Double](repeating: 0, count: 2 * N)
                primitive.withUnsafeMutableBufferPointer { p in
                    gto.radialIntegrals(at: r, l: l, values: p.baseAddress!, derivatives: p.baseAddress! + N)
                }
                for row in 0..<Q {
                    let u = coefficients(l: l, species: a, q: row)
                    var v = 0.0, d = 0.0
                    for (k, c) in u.enumerated() { v += c * primitive[k]; d += c * primitive[N + k] }
                    values[row] = v
                    derivatives[row] = d
                }
            }
        }
    }

    /// The expansion basis the featurizer runs with (same kernel as a primitive basis of size q).
    public func expansionBasis(tables: [RadialSplineTable]) -> ExpansionBasis {
        let S = species.count
        switch contraction {
        case .separate:
            return ExpansionBasis(maxAngular: hypers.maxAngular, radialCount: q, species: species, tables: tables,
                                  tableOfSpecies: Array(0..<S), channelOffset: (0..<S).map { $0 * q },
                                  groupCount: S, groupTypes: species, centerAtomWeight: hypers.centerAtomWeight, hypers: hypers)
        case .mixed:
            // Every neighbour adds into the same q channels through its species' table (eq. 2.10).
            return ExpansionBasis(maxAngular: hypers.maxAngular, radialCount: q, species: species, tables: tables,
                                  tableOfSpecies: Array(0..<S), channelOffset: Array(repeating: 0, count: S),
                                  groupCount: 1, groupTypes: nil, centerAtomWeight: hypers.centerAtomWeight, hypers: hypers)
        }
    }

    /// R_aql(r) = Σ_n U_qn R_n(r) (eq. 2.5) for plotting, at `points` radii in [0, rc].
    public func radialFunctions(points: Int) throws -> (r: [Double], values: [Double]) {
        let gto = try GtoRadialBasis(cutoff: hypers.cutoff, densityWidth: hypers.densityWidth,
                                     count: hypers.radialCount, maxAngular: 0)
        let grid = (0..<points).map { hypers.cutoff * Double($0) / Double(max(points - 1, 1)) }
        let primitive = grid.map { r in (0..<hypers.radialCount).map { gto.function($0, at: r) } }
        var values: [Double] = []   // [species][l][q][point]
        for a in species.indices {
            for l in 0...hypers.maxAngular {
                for row in 0..<q {
                    let u = Array(coefficients(l: l, species: a, q: row))
                    for p in grid.indices { values.append(zip(u, primitive[p]).reduce(0) { $0 + $1.0 * $1.1 }) }
                }
            }
        }
        return (grid, values)
    }
}
