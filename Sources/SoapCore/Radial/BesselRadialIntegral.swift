#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// The radial integrals of a Gaussian atom density (width s) on the spherical
/// Bessel functions R_n(r) = O_n j_ℓ(z_ℓn r/rc), 0 ≤ r ≤ rc, of the Laplacian
/// eigenstate (ℓ = l) and SphericalBessel (ℓ = 0) bases — what featomic's Python
/// `SoapSpliner` tabulates (scripts/fixtures/native_bases.md):
///
///   I_nl(d) = 4π (πs²)^{-3/4} ∫_0^rc r² R_n(r) [e^{−z} i_l(z)] e^{−(r−d)²/2s²} dr,  z = r d/s²,
///   dI_nl/dd = (4π (πs²)^{-3/4} ∫_0^rc r³ R_n [e^{−z} i_l'(z)] e^{−(r−d)²/2s²} dr − d I_nl) / s²,
///
/// by Gauss–Legendre quadrature on [0, rc]; O_n = √(2/rc³)/|j_{ℓ+1}(z_ℓn)| makes
/// the functions orthonormal with weight r² (they are orthogonal already).
public struct BesselRadialIntegral: Sendable {
    public let cutoff: Double
    public let densityWidth: Double
    /// Order ℓ of the Bessel functions and angular channel l of the density's i_l.
    public let order: Int
    public let channel: Int
    public let zeros: [Double]
    public let norms: [Double]
    let quadrature: GaussLegendre
    /// w_q r_q² R_n(r_q), at [n · nodes + q].
    let weightedBasis: [Double]

    public init(cutoff: Double, densityWidth: Double, order: Int, channel: Int, count: Int, nodes: Int = 400) {
        self.cutoff = cutoff
        self.densityWidth = densityWidth
        self.order = order
        self.channel = channel
        zeros = SphericalBesselFunctions.zeros(order, count: count)
        let scale = (2 / (cutoff * cutoff * cutoff)).squareRoot()
        norms = zeros.map { scale / abs(SphericalBesselFunctions.j(order + 1, $0)) }
        quadrature = GaussLegendre(points: nodes, from: 0, to: cutoff)
        var basis = [Double](repeating: 0, count: count * nodes)
        for n in 0..<count {
            for q in 0..<nodes {
                let r = quadrature.nodes[q]
                basis[n * nodes + q] =
                    quadrature.weights[q] * r * r * norms[n] * SphericalBesselFunctions.j(order, zeros[n] * r / cutoff)
            }
        }
        weightedBasis = basis
    }

    public var count: Int { zeros.count }

    /// The orthonormal radial function R_n(r) (for plotting and checks).
    public func function(_ n: Int, at r: Double) -> Double {
        r > cutoff ? 0 : norms[n] * SphericalBesselFunctions.j(order, zeros[n] * r / cutoff)
    }

    /// I_nl(d) and dI_nl/dd for every n, at values[n], derivatives[n].
    public func radialIntegrals(
        at d: Double, values: UnsafeMutablePointer<Double>, derivatives: UnsafeMutablePointer<Double>
    ) {
        let s2 = densityWidth * densityWidth
        let prefactor = 4 * Double.pi * pow(Double.pi * s2, -0.75)
        let nodes = quadrature.nodes.count
        let l = channel
        var a = [Double](repeating: 0, count: nodes)
        var b = [Double](repeating: 0, count: nodes)
        for q in 0..<nodes {
            let r = quadrature.nodes[q]
            let z = r * d / s2
            let gauss = exp(-(r - d) * (r - d) / (2 * s2))
            let il = SphericalBesselFunctions.scaledI(l, z)
            // i_l'(z) = i_{l+1}(z) + (l/z) i_l(z); i_1'(0) = 1/3, i_l'(0) = 0 otherwise.
            let dil = z == 0 ? (l == 1 ? 1.0 / 3 : 0) : SphericalBesselFunctions.scaledI(l + 1, z) + Double(l) / z * il
            a[q] = il * gauss
            b[q] = r * dil * gauss
        }
        for n in 0..<count {
            var v = 0.0
            var dv = 0.0
            for q in 0..<nodes {
                let w = weightedBasis[n * nodes + q]
                v += w * a[q]
                dv += w * b[q]
            }
            let value = prefactor * v
            values[n] = value
            derivatives[n] = (prefactor * dv - d * value) / s2
        }
    }
}
