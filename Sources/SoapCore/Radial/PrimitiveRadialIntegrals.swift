/// The exact (unsplined) radial integrals of the hypers' primitive basis — GTO,
/// Explicit, Tabulated, Laplacian eigenstates, spherical Bessel — in the
/// expansion's padded layout: K = `radialCount` outputs per l, those at n ≥ n_l
/// zero. What fitted bases are contracted from (OptimalBasis.splineTables).
public struct PrimitiveRadialIntegrals: Sendable {
    enum Channel: Sendable {
        case empty
        case gto(GtoRadialBasis)
        case tabulated(TabulatedRadial)
        case bessel(BesselRadialIntegral)
    }
    let channels: [Channel]
    public let radialCount: Int

    public init(_ hypers: SoapHypers) throws {
        radialCount = hypers.radialCount
        guard let set = hypers.radialBases else {
            let gto = try GtoRadialBasis(
                cutoff: hypers.cutoff, densityWidth: hypers.densityWidth, count: hypers.radialCount,
                maxAngular: hypers.maxAngular)
            channels = Array(repeating: .gto(gto), count: hypers.maxAngular + 1)
            return
        }
        var channels: [Channel] = []
        for (l, radial) in set.byAngular.enumerated() {
            switch radial {
            case .none: channels.append(.empty)
            case .gto(let maxRadial)?:
                channels.append(
                    .gto(
                        try GtoRadialBasis(
                            cutoff: hypers.cutoff, densityWidth: hypers.densityWidth, count: maxRadial + 1, maxAngular: l)))
            case .tabulated(let t)?: channels.append(.tabulated(t))
            case .laplacianEigenstate(let maxRadial)?, .sphericalBessel(let maxRadial)?:
                var order = 0
                if case .laplacianEigenstate = radial { order = l }
                channels.append(
                    .bessel(
                        BesselRadialIntegral(
                            cutoff: hypers.cutoff, densityWidth: hypers.densityWidth, order: order, channel: l,
                            count: maxRadial + 1)))
            }
        }
        self.channels = channels
    }

    /// I_nl(r) and its derivative for n < K (zero beyond n_l), at values[n], derivatives[n].
    public func evaluate(
        l: Int, at r: Double, values: UnsafeMutablePointer<Double>, derivatives: UnsafeMutablePointer<Double>
    ) {
        values.update(repeating: 0, count: radialCount)
        derivatives.update(repeating: 0, count: radialCount)
        switch channels[l] {
        case .empty: break
        case .gto(let gto): gto.radialIntegrals(at: r, l: l, values: values, derivatives: derivatives)
        case .tabulated(let t): t.evaluate(r, values: values, derivatives: derivatives)
        case .bessel(let b): b.radialIntegrals(at: r, values: values, derivatives: derivatives)
        }
    }

    /// The radial basis function R_nl(r), or nil when only its integrals are known
    /// (Tabulated) or n ≥ n_l.
    public func function(l: Int, n: Int, at r: Double) -> Double? {
        switch channels[l] {
        case .empty, .tabulated: return nil
        case .gto(let gto): return n < gto.count ? gto.function(n, at: r) : nil
        case .bessel(let b): return n < b.count ? b.function(n, at: r) : nil
        }
    }
}
