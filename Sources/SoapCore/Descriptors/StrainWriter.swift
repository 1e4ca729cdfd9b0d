/// Strain gradient rows: ∂X/∂ε_ab of one centre's row from the expansion's strain
/// derivatives (SphericalExpansion.strainGradient), written as 9 rows (a·3+b) of `columns`.
extension DescriptorWriter {
    /// Call after writeValues (which leaves Cᵀ and the contractions' intermediates in place).
    func writeStrain(to out: UnsafeMutablePointer<Double>) {
        let S = expansion.strainGradient
        let size = expansion.size
        if multispectrum != nil || type == .bispectrum {
            writeStrainBySpecies(to: out)
            return
        }
        switch type {
        case .sphericalExpansion, .radialSpectrum:
            for ab in 0..<9 {
                writeExpansionRow(S + ab * size, to: out + ab * columns)
            }
        case .powerSpectrum:
            for ab in 0..<9 { writePowerSpectrumStrain(S + ab * size, to: out + ab * columns) }
        case .bispectrum, .multispectrum:
            preconditionFailure("handled above")
        }
    }

    /// The spherical expansion's column order (group, l, m, n) of a full-channel block.
    private func writeExpansionRow(_ C: UnsafeMutablePointer<Double>, to out: UnsafeMutablePointer<Double>) {
        let lm = (outputL + 1) * (outputL + 1)
        for g in 0..<groups {
            let groupBase = out + g * K * lm
            for l in 0...outputL {
                let m2 = 2 * l + 1
                let block = C + channels * l * l + g * K * m2
                let dst = groupBase + K * l * l
                for k in 0..<K {
                    for m in 0..<m2 { dst[m * K + k] = block[k * m2 + m] }
                }
            }
        }
    }

    /// ∂P = f Σ_m (∂C_a C_b + C_a ∂C_b), in the power spectrum's column order.
    private func writePowerSpectrumStrain(_ dC: UnsafeMutablePointer<Double>, to out: UnsafeMutablePointer<Double>) {
        let C = expansion.coefficients
        var col = 0
        for (p, (g1, g2)) in pairs.enumerated() {
            for l in 0...L {
                let m2 = 2 * l + 1
                let block = C + channels * l * l
                let dBlock = dC + channels * l * l
                let f = factors[p * (L + 1) + l]
                for n1 in 0..<K {
                    let a = block + (g1 * K + n1) * m2
                    let da = dBlock + (g1 * K + n1) * m2
                    for n2 in 0..<K {
                        let b = block + (g2 * K + n2) * m2
                        let db = dBlock + (g2 * K + n2) * m2
                        var dot = 0.0
                        for m in 0..<m2 { dot += da[m] * b[m] + a[m] * db[m] }
                        out[col] = f * dot
                        col += 1
                    }
                }
            }
        }
    }

    /// Bispectrum and multispectrum (λ-SOAP): their derivative kernels take one species'
    /// K channels at a time, and are linear in them; the strain row sums over channel groups.
    private func writeStrainBySpecies(to out: UnsafeMutablePointer<Double>) {
        let e = expansion
        let S = e.strainGradient
        out.update(repeating: 0, count: 9 * columns)
        // Per channel group (a species, or all of them in a fitted "mixed" basis).
        for group in 0..<groups {
            let q0 = group * K
            for ab in 0..<9 {
                // This species' channels of ∂C/∂ε_ab, laid out like a neighbour's block.
                for l in 0...L {
                    let m2 = 2 * l + 1
                    (strainBlock + K * l * l).update(from: S + ab * e.size + channels * l * l + q0 * m2, count: K * m2)
                }
                if let engine = multispectrum {
                    engine.computeDerivatives(density: transposed, dC: strainBlock, q0: q0)
                    engine.writeRow(from: engine.derivatives, to: strainRow)
                } else {
                    bispectrum!.writeGradient(
                        dC: strainBlock, q0: q0, C: e.coefficients, CT: transposed, to: strainRow)
                }
                let dst = out + ab * columns
                for c in 0..<columns { dst[c] += strainRow[c] }
            }
        }
    }
}
