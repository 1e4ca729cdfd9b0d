/// Strain (cell) derivatives of the expansion.
///
/// Under the homogeneous deformation r → (1 + ε) r of every position and of the cell, each
/// pair vector r_ij moves by ε r_ij, so ∂C/∂ε_ab = Σ_pairs (∂C/∂r_ij)_a (r_ij)_b. Every
/// image pair counts, the centre's own periodic images included (their vectors are cell
/// vectors, which the deformation stretches). A structure without a cell deforms its
/// positions only; the sum is the same.
extension SphericalExpansion {
    /// Adds one pair's share to `strainGradient`; `radial`, `radialDerivative`, `ylm` and
    /// `ylmGradient` hold the pair's values. `offset` is the neighbour species' first channel.
    func addStrain(
        offset: Int, weight w: Double, weightDerivative dw: Double, invR: Double,
        vector v: (Double, Double, Double)
    ) {
        let rhat = (v.0 * invR, v.1 * invR, v.2 * invR)
        let gx = ylmGradient
        let gy = ylmGradient + lm
        let gz = ylmGradient + 2 * lm
        for l in 0...L {
            let m2 = 2 * l + 1
            let base = channels * l * l + offset * m2
            let rl = radial + l * K
            let drl = radialDerivative + l * K
            for k in 0..<K {
                // ∂/∂r [w R Y] = (w R)' r̂ Y + (w R / r) G.
                let a = dw * rl[k] + w * drl[k]
                let c = w * rl[k] * invR
                let row = base + k * m2
                for m in 0..<m2 {
                    let lmIndex = l * l + m
                    let y = a * ylm[lmIndex]
                    let tx = y * rhat.0 + c * gx[lmIndex]
                    let ty = y * rhat.1 + c * gy[lmIndex]
                    let tz = y * rhat.2 + c * gz[lmIndex]
                    let s = strainGradient + row + m
                    s[0] += tx * v.0
                    s[size] += tx * v.1
                    s[2 * size] += tx * v.2
                    s[3 * size] += ty * v.0
                    s[4 * size] += ty * v.1
                    s[5 * size] += ty * v.2
                    s[6 * size] += tz * v.0
                    s[7 * size] += tz * v.1
                    s[8 * size] += tz * v.2
                }
            }
        }
    }
}
