#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// featomic's GTO radial basis, Löwdin-orthonormalised over [0, ∞)
/// (docs/conventions.md §5), and the exact radial integral of a Gaussian atom
/// density projected on it (§7). Used to fill spline tables, never per neighbour.
public struct GtoRadialBasis: Sendable {
    public let cutoff: Double
    public let densityWidth: Double
    public let count: Int
    public let maxAngular: Int
    /// σ_k = rc · max(√k, 1) / N
    public let widths: [Double]
    /// N_k, normalising r^k e^{-r²/2σ_k²} on [0, ∞) with measure r² dr.
    public let norms: [Double]
    /// S^{-1/2}, row-major count × count.
    public let orthonormalizer: [Double]
    /// The r-independent part of ln J_kl, at [l * count + k].
    let logPrefactors: [Double]

    public init(cutoff: Double, densityWidth: Double, count: Int, maxAngular: Int) throws {
        self.cutoff = cutoff
        self.densityWidth = densityWidth
        self.count = count
        self.maxAngular = maxAngular
        let n = count
        widths = (0..<n).map { k in cutoff * max(Double(k).squareRoot(), 1) / Double(n) }
        norms = (0..<n).map { k in
            let s = cutoff * max(Double(k).squareRoot(), 1) / Double(n)
            return (2 / (pow(s, Double(2 * k + 3)) * tgamma(Double(k) + 1.5))).squareRoot()
        }
        var overlap = [Double](repeating: 0, count: n * n)
        for k in 0..<n {
            for j in 0..<n {
                let beta = 0.5 / (widths[k] * widths[k]) + 0.5 / (widths[j] * widths[j])
                let e = Double(k + j + 3) / 2
                // Computed in logs: Γ and β^e overflow for large bases.
                let logS = log(norms[k]) + log(norms[j]) + lgamma(e) - log(2) - e * log(beta)
                overlap[k * n + j] = exp(logS)
            }
        }
        orthonormalizer = try SymmetricEigen.power(overlap, n: n, exponent: -0.5)
        let sigma2 = densityWidth * densityWidth
        let alpha = 0.5 / sigma2
        var prefactors = [Double](repeating: 0, count: (maxAngular + 1) * n)
        for l in 0...maxAngular {
            for k in 0..<n {
                let beta = 0.5 / (widths[k] * widths[k])
                let a = Double(k + l + 3) / 2
                prefactors[l * n + k] =
                    0.75 * log(Double.pi / sigma2) + lgamma(a) - lgamma(Double(l) + 1.5)
                    - a * log(alpha + beta) + log(norms[k])
            }
        }
        logPrefactors = prefactors
    }

    /// The primitive radial functions φ_k(r) (for plotting and checks).
    public func primitive(_ k: Int, at r: Double) -> Double {
        norms[k] * pow(r, Double(k)) * exp(-r * r / (2 * widths[k] * widths[k]))
    }

    /// Orthonormal radial function R_n(r) = Σ_k (S^{-1/2})_nk φ_k(r).
    public func function(_ n: Int, at r: Double) -> Double {
        var sum = 0.0
        for k in 0..<count { sum += orthonormalizer[n * count + k] * primitive(k, at: r) }
        return sum
    }

    /// I_nl(r) and dI_nl/dr for every l ≤ maxAngular and n < count, written as
    /// values[l * count + n] (the layout of a RadialSplineTable).
    public func radialIntegrals(at r: Double, values: UnsafeMutablePointer<Double>, derivatives: UnsafeMutablePointer<Double>) {
        for l in 0...maxAngular {
            radialIntegrals(at: r, l: l, values: values + l * count, derivatives: derivatives + l * count)
        }
    }

    /// I_nl(r) and dI_nl/dr for one l, written as values[n].
    public func radialIntegrals(
        at r: Double, l: Int, values: UnsafeMutablePointer<Double>,
        derivatives: UnsafeMutablePointer<Double>
    ) {
        let n = count
        let alpha = 0.5 / (densityWidth * densityWidth)
        // Primitive integrals J_kl(r), then the orthonormalising contraction.
        var j = [Double](repeating: 0, count: n)
        var dj = [Double](repeating: 0, count: n)
        do {
            let b = Double(l) + 1.5
            for k in 0..<n {
                let beta = 0.5 / (widths[k] * widths[k])
                let a = Double(k + l + 3) / 2
                let logPrefactor = logPrefactors[l * n + k]
                if r == 0 {
                    j[k] = l == 0 ? exp(logPrefactor) : 0
                    dj[k] = l == 1 ? exp(logPrefactor) * alpha : 0
                    continue
                }
                let z = alpha * alpha * r * r / (alpha + beta)
                let (logF, zRatio) = SpecialFunctions.logHyp1F1WithDerivative(a: a, b: b, z: z)
                let value = exp(logPrefactor - alpha * r * r + Double(l) * log(alpha * r) + logF)
                // dJ/dr = J (l/r − 2αr) + J · (z F'/F) · (dz/dr)/z, with dz/dr = 2z/r.
                j[k] = value
                dj[k] = value * (Double(l) / r - 2 * alpha * r + 2 * zRatio / r)
            }
            for nn in 0..<n {
                var v = 0.0
                var d = 0.0
                for k in 0..<n {
                    let u = orthonormalizer[nn * n + k]
                    v += u * j[k]
                    d += u * dj[k]
                }
                values[nn] = v
                derivatives[nn] = d
            }
        }
    }
}
