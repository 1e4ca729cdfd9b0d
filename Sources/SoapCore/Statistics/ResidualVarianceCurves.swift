/// Residual variance (thesis eq. 2.12) as a function of the number of radial functions
/// kept per l, read from a dataset's statistics alone: for the primitive basis (its first
/// q functions, in the GTO order) and for the separate and mixed contractions (their
/// leading q eigenvectors). The contracted curves are computed exactly as
/// `OptimalBasis.fit` computes its `residualVariance`, so a basis fitted with the same
/// options holds the same numbers.
public struct ResidualVarianceCurves: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        /// The first q primitive functions of each neighbour species.
        case primitive
        case separate
        case mixed
    }

    /// One curve: residual variance after keeping 1, 2, … functions at one l, over the
    /// environments of one centre species (`centerType`) or of all (nil). Centre-specific
    /// curves come per (centre species, l) and then, with `centerType` nil, per l pooled over
    /// the centre species: the curve a centre-specific basis reports for that l.
    public struct Curve: Sendable, Equatable {
        public let centerType: Int?
        public let l: Int
        public let residualVariance: [Double]
    }

    public let kind: Kind
    public let centerSpecific: Bool
    public let curves: [Curve]
    /// Over every l (and centre species): 1 − Σ kept(q) / Σ variance.
    public let total: [Double]

    /// The curves of `statistics`; the errors are those of a fit with the same options.
    public static func compute(
        _ statistics: DatasetStatistics, kind: Kind, centerSpecific: Bool
    ) throws(OptimalBasis.FitError) -> ResidualVarianceCurves {
        guard statistics.totalCenters > 0 else { throw .emptyDataset }
        if centerSpecific, let empty = statistics.centers.firstIndex(of: 0) {
            throw .noCenters(species: statistics.species[empty])
        }
        let S = statistics.species.count
        let N = statistics.radialCount
        let n = kind == .mixed ? S * N : N
        let centerBlocks: [[Int]?] = centerSpecific ? statistics.species.indices.map { [$0] } : [nil]
        var curves: [Curve] = []
        var keptAll = [Double](repeating: 0, count: n)
        var totalAll = 0.0
        // Per l over every centre species: what a centre-specific basis reports per l.
        var keptByL = [[Double]](repeating: [Double](repeating: 0, count: n), count: statistics.maxAngular + 1)
        var totalByL = [Double](repeating: 0, count: statistics.maxAngular + 1)
        for (cb, slots) in centerBlocks.enumerated() {
            for l in 0...statistics.maxAngular {
                let matrices =
                    kind == .mixed
                    ? [statistics.joint(l: l, centerSlots: slots)]
                    : (0..<S).map { statistics.block(l: l, species: $0, centerSlots: slots) }
                var captured: [[Double]] = []
                var total = 0.0
                for matrix in matrices {
                    switch kind {
                    case .primitive:
                        captured.append((0..<n).map { matrix[$0 * n + $0] })
                    case .separate, .mixed:
                        let rows: [Double]
                        do { (rows, _) = try OptimalBasis.pcaRows(matrix, n: n) } catch {
                            throw .decomposition("\(error)")
                        }
                        captured.append((0..<n).map { r in OptimalBasis.quadraticForm(matrix, rows, row: r, n: n) })
                    }
                    total += (0..<n).reduce(0.0) { $0 + matrix[$1 * n + $1] }
                }
                var curve: [Double] = []
                for q in 1...n {
                    let kept = captured.reduce(0.0) { $0 + $1.prefix(q).reduce(0, +) }
                    curve.append(total > 0 ? min(1, max(0, 1 - kept / total)) : 0)
                    keptAll[q - 1] += kept
                    keptByL[l][q - 1] += kept
                }
                totalAll += total
                totalByL[l] += total
                curves.append(
                    Curve(centerType: centerSpecific ? statistics.species[cb] : nil, l: l, residualVariance: curve))
            }
        }
        if centerSpecific {
            for l in 0...statistics.maxAngular {
                let pooled = keptByL[l].map { totalByL[l] > 0 ? min(1, max(0, 1 - $0 / totalByL[l])) : 0 }
                curves.append(Curve(centerType: nil, l: l, residualVariance: pooled))
            }
        }
        let total = keptAll.map { totalAll > 0 ? min(1, max(0, 1 - $0 / totalAll)) : 0 }
        return ResidualVarianceCurves(kind: kind, centerSpecific: centerSpecific, curves: curves, total: total)
    }
}
