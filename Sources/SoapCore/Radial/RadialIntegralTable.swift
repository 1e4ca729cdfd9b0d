/// The spline table of a primitive radial basis set (any `RadialBasisSet`):
/// one segment per l holding that l's n_l radial integrals, placed at l·K in
/// the expansion's (L+1)·K layout (K = the largest n_l), so a ragged basis
/// leaves its padding outputs untouched (zero) and the kernel stays the same.
///
/// - `Gto` entries: featomic's per-l spline of the exact Gaussian-density
///   integral, over that l's own GTO basis (§5), refined to `spline_accuracy`;
/// - `Tabulated` entries on featomic's uniform grid over [0, rc]: the points
///   themselves (the same Hermite spline featomic evaluates); on any other grid,
///   the piecewise Hermite function re-tabulated to the accuracy.
enum RadialIntegralTable {
    static func build(_ hypers: SoapHypers, _ set: RadialBasisSet) throws -> RadialSplineTable {
        let K = hypers.radialCount
        let cutoff = hypers.cutoff
        let accuracy = hypers.effectiveSplineAccuracy
        // One l per task: a Laplacian-eigenstate segment costs a quadrature per grid point.
        var results = [Result<(intervals: Int, points: [Double], error: Double), any Error>?](
            repeating: nil, count: set.byAngular.count)
        results.withUnsafeMutableBufferPointer { out in
            let out = out
            Parallel.run(chunks: set.byAngular.count, threads: Featurizer.defaultThreads) { _, next in
                while let l = next() {
                    out[l] = Result {
                        try segment(l: l, radial: set.byAngular[l], hypers: hypers, cutoff: cutoff, accuracy: accuracy)
                    }
                }
            }
        }
        let parts = try results.map { try $0!.get() }
        var segments: [RadialSplineTable.Segment] = []
        var data: [Double] = []
        for (l, part) in parts.enumerated() {
            let count = set.byAngular[l]?.count ?? 0
            segments.append(.init(first: l * K, count: count, intervals: part.intervals, offset: data.count))
            data += part.points
        }
        let table = RadialSplineTable(
            cutoff: cutoff, segments: segments, data: data, maxValueError: parts.map(\.error).max() ?? 0,
            outputCount: set.byAngular.count * K)
        guard table.points.allSatisfy(\.isFinite) else { throw ExpansionBasis.NumericalFailure.nonFiniteRadialIntegrals }
        return table
    }

    private static func segment(
        l: Int, radial: RadialBasis?, hypers: SoapHypers, cutoff: Double, accuracy: Double
    ) throws -> (intervals: Int, points: [Double], error: Double) {
        switch radial {
        case .none:
            return (1, [], 0)
        case .tabulated(let t)?:
            if t.isUniformGrid(cutoff: cutoff) { return (t.positions.count - 1, t.segmentData, 0) }
            let (intervals, points, error) = RadialSplineTable.refine(
                cutoff: cutoff, size: t.functionCount, accuracy: accuracy, maxIntervals: 1 << 15
            ) { r, v, d in t.evaluate(r, values: v, derivatives: d) }
            return (intervals, points, error)
        case .laplacianEigenstate(let maxRadial)?, .sphericalBessel(let maxRadial)?:
            let order: Int
            if case .laplacianEigenstate = radial { order = l } else { order = 0 }
            let bessel = BesselRadialIntegral(
                cutoff: cutoff, densityWidth: hypers.densityWidth, order: order, channel: l, count: maxRadial + 1)
            let (intervals, points, error) = RadialSplineTable.refine(
                cutoff: cutoff, size: maxRadial + 1, accuracy: accuracy, maxIntervals: 1 << 15
            ) { r, v, d in bessel.radialIntegrals(at: r, values: v, derivatives: d) }
            return (intervals, points, error)
        case .gto(let maxRadial)?:
            let gto = try GtoRadialBasis(
                cutoff: cutoff, densityWidth: hypers.densityWidth, count: maxRadial + 1, maxAngular: l)
            let (intervals, points, error) = RadialSplineTable.refine(
                cutoff: cutoff, size: maxRadial + 1, accuracy: accuracy, maxIntervals: 1 << 15
            ) { r, v, d in gto.radialIntegrals(at: r, l: l, values: v, derivatives: d) }
            return (intervals, points, error)
        }
    }
}
