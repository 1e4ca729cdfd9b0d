/// The expansion's share of a vector–Jacobian product: given Ḡ = ∂E/∂C for one centre (laid
/// out like `coefficients`), each pair's force ∂E/∂r_ij = Σ Ḡ · ∂C/∂r_ij, added to the
/// neighbour (+) and the centre (−), and its strain share (∂E/∂r_ij)_a (r_ij)_b. A second pass
/// over the centre's pairs re-evaluates splines and harmonics instead of storing them, so
/// nothing grows with the pair count.
extension SphericalExpansion {
    /// `positions`: 3 per atom of the structure (or nil), `strain`: 9 (or nil).
    func contractPairs(
        center i: Int, slotOfAtom: UnsafePointer<Int32>, list: NeighborList, adjoint: UnsafePointer<Double>,
        positions: UnsafeMutablePointer<Double>?, strain: UnsafeMutablePointer<Double>?
    ) {
        let centerSlot = Int(slotOfAtom[i])
        let slotTable = pairTable + centerSlot * slotCount
        let hypers = basis.hypers
        list.neighbor.withUnsafeBufferPointer { neighbors in
            list.vectors.withUnsafeBufferPointer { vectors in
                list.distances.withUnsafeBufferPointer { distances in
                    for p in list.start[i]..<list.start[i + 1] {
                        let j = Int(neighbors[p])
                        // The centre's own images move with it: only the strain sees them.
                        if j == i && strain == nil { continue }
                        let r = distances[p]
                        let invR = 1 / r
                        let v = (vectors[3 * p], vectors[3 * p + 1], vectors[3 * p + 2])
                        let x = v.0 * invR
                        let y = v.1 * invR
                        let z = v.2 * invR
                        let offset = slotOffset[Int(slotOfAtom[j])]
                        slotTable[Int(slotOfAtom[j])].evaluate(r, values: radial, derivatives: radialDerivative)
                        harmonics.evaluate(x: x, y: y, z: z, values: ylm, gradients: ylmGradient, scratch: &shScratch)
                        let (w, dw) = hypers.pairWeight(r)
                        var f = (0.0, 0.0, 0.0)
                        for l in 0...L {
                            let m2 = 2 * l + 1
                            let block = adjoint + channels * l * l + offset * m2
                            let yl = ylm + l * l
                            let gx = ylmGradient + l * l
                            let gy = ylmGradient + lm + l * l
                            let gz = ylmGradient + 2 * lm + l * l
                            let rl = radial + l * K
                            let drl = radialDerivative + l * K
                            for k in 0..<K {
                                let row = block + k * m2
                                var s0 = 0.0
                                var sx = 0.0
                                var sy = 0.0
                                var sz = 0.0
                                for m in 0..<m2 {
                                    let g = row[m]
                                    s0 += g * yl[m]
                                    sx += g * gx[m]
                                    sy += g * gy[m]
                                    sz += g * gz[m]
                                }
                                // ∂/∂r [w R Y] = (w R)' r̂ Y + (w R / r) G.
                                let a = (dw * rl[k] + w * drl[k]) * s0
                                let c = w * rl[k] * invR
                                f.0 += a * x + c * sx
                                f.1 += a * y + c * sy
                                f.2 += a * z + c * sz
                            }
                        }
                        if let positions, j != i {
                            positions[3 * j] += f.0
                            positions[3 * j + 1] += f.1
                            positions[3 * j + 2] += f.2
                            positions[3 * i] -= f.0
                            positions[3 * i + 1] -= f.1
                            positions[3 * i + 2] -= f.2
                        }
                        if let strain {
                            strain[0] += f.0 * v.0
                            strain[1] += f.0 * v.1
                            strain[2] += f.0 * v.2
                            strain[3] += f.1 * v.0
                            strain[4] += f.1 * v.1
                            strain[5] += f.1 * v.2
                            strain[6] += f.2 * v.0
                            strain[7] += f.2 * v.1
                            strain[8] += f.2 * v.2
                        }
                    }
                }
            }
        }
    }
}
