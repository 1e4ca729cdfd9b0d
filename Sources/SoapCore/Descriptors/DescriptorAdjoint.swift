/// The adjoint of a descriptor row with respect to its centre's expansion: Ḡ = gᵀ ∂X/∂C for
/// one row's output gradient g, laid out like the coefficients. The vector–Jacobian product
/// (VectorJacobianProduct.swift) then needs only Ḡ · ∂C/∂r per pair, never ∂X/∂r.
extension DescriptorWriter {
    /// Call after writeValues (which leaves Cᵀ and the contractions' intermediates in place).
    func coefficientAdjoint(_ g: UnsafePointer<Double>, into adjoint: UnsafeMutablePointer<Double>) {
        let C = expansion.coefficients
        adjoint.update(repeating: 0, count: expansion.size)
        if multispectrum != nil || type == .bispectrum {
            adjointBySpecies(g, into: adjoint)
            return
        }
        switch type {
        case .sphericalExpansion, .radialSpectrum:
            // The transpose of the copy into (group, l, m, n) columns.
            let lm = (outputL + 1) * (outputL + 1)
            for group in 0..<groups {
                let groupBase = g + group * K * lm
                for l in 0...outputL {
                    let m2 = 2 * l + 1
                    let block = adjoint + channels * l * l + group * K * m2
                    let src = groupBase + K * l * l
                    for k in 0..<K {
                        for m in 0..<m2 { block[k * m2 + m] = src[m * K + k] }
                    }
                }
            }
        case .powerSpectrum:
            // P = f Σ_m C_a,m C_b,m: Ḡ_a += f g C_b, Ḡ_b += f g C_a.
            var col = 0
            for (p, (g1, g2)) in pairs.enumerated() {
                for l in 0...L {
                    let m2 = 2 * l + 1
                    let block = C + channels * l * l
                    let adjointBlock = adjoint + channels * l * l
                    let f = factors[p * (L + 1) + l]
                    for n1 in 0..<K {
                        let a = block + (g1 * K + n1) * m2
                        let da = adjointBlock + (g1 * K + n1) * m2
                        for n2 in 0..<K {
                            let w = f * g[col]
                            col += 1
                            if w == 0 { continue }
                            let b = block + (g2 * K + n2) * m2
                            let db = adjointBlock + (g2 * K + n2) * m2
                            for m in 0..<m2 {
                                da[m] += w * b[m]
                                db[m] += w * a[m]
                            }
                        }
                    }
                }
            }
        case .bispectrum, .multispectrum:
            preconditionFailure("handled above")
        }
    }

    /// Bispectrum and multispectrum (λ-SOAP): Ḡ_c = g · ∂X/∂C_c through their forward
    /// derivative kernels, one unit coefficient at a time (one species' K channels each).
    private func adjointBySpecies(_ g: UnsafePointer<Double>, into adjoint: UnsafeMutablePointer<Double>) {
        let e = expansion
        strainBlock.update(repeating: 0, count: e.neighborSize)
        // Per channel group (a species, or all of them in a fitted "mixed" basis).
        for group in 0..<groups {
            let q0 = group * K
            for l in 0...L {
                let m2 = 2 * l + 1
                for k in 0..<K {
                    for m in 0..<m2 {
                        let unit = K * l * l + k * m2 + m
                        strainBlock[unit] = 1
                        if let engine = multispectrum {
                            engine.computeDerivatives(density: transposed, dC: strainBlock, q0: q0)
                            engine.writeRow(from: engine.derivatives, to: strainRow)
                        } else {
                            bispectrum!.writeGradient(
                                dC: strainBlock, q0: q0, C: e.coefficients, CT: transposed, to: strainRow)
                        }
                        strainBlock[unit] = 0
                        var dot = 0.0
                        for c in 0..<columns { dot += g[c] * strainRow[c] }
                        adjoint[channels * l * l + (q0 + k) * m2 + m] = dot
                    }
                }
            }
        }
    }
}
