/// The spherical expansion of one centre's neighbour density, and what its
/// derivatives with respect to the neighbours' positions need: the one kernel
/// every descriptor and every radial basis goes through.
///
/// Coefficients are stored l-block by l-block: block l is a
/// (channels × (2l+1)) row-major matrix starting at channels·l², so the
/// power spectrum of one l is a small Gram matrix over contiguous rows.
///
/// Gradients come in two forms, kept only for the centre being processed:
/// - `.coefficients`: ∂C/∂r_u per neighbour atom u (its periodic images
///   summed), with the K channels of u's species, laid out
///   [direction][l-block of K × (2l+1)], plus the centre's own block
///   (minus their sum, by translation invariance). The spherical expansion
///   and radial spectrum are these blocks.
/// - `.pairs`: per neighbour image, the factors of its rank-2 derivative
///   ∂(w R_lk Y_lm)/∂r_d = A_lk r̂_d Y_lm + B_lk G_d,lm with A = (wR)', B = wR/r.
///   The power spectrum contracts them with C directly (half the work of
///   forming ∂C first).
final class SphericalExpansion {
    enum GradientMode { case none, coefficients, pairs }

    let basis: ExpansionBasis
    let L: Int
    let K: Int
    let channels: Int
    /// (L+1)² · channels
    let size: Int
    /// (L+1)² · K: size of one neighbour's gradient block per direction
    let neighborSize: Int
    let lm: Int
    let harmonics: SphericalHarmonics
    var shScratch: SphericalHarmonics.Scratch
    /// Owns every buffer below.
    private let memory = BufferArena()

    let coefficients: UnsafeMutablePointer<Double>
    let radial: UnsafeMutablePointer<Double>
    let radialDerivative: UnsafeMutablePointer<Double>
    let ylm: UnsafeMutablePointer<Double>
    let ylmGradient: UnsafeMutablePointer<Double>

    /// Atoms with a gradient block for the current centre, in first-seen
    /// order, and their species slots.
    var gradientAtoms: [Int] = []
    var gradientSlots: [Int] = []
    /// Per structure atom: its block index for the current centre, or −1.
    var blockOfAtom: [Int32] = []

    // .coefficients mode
    var neighborGradients: UnsafeMutablePointer<Double>
    var neighborCapacity: Int
    let selfGradient: UnsafeMutablePointer<Double>

    // .pairs mode: per image p (j ≠ i), in neighbour-list order.
    var pairCount = 0
    var pairCapacity: Int
    var pairBlock: [Int32] = []
    var pairA: UnsafeMutablePointer<Double>  // [p][(L+1)·K]
    var pairB: UnsafeMutablePointer<Double>  // [p][(L+1)·K]
    var pairDirection: UnsafeMutablePointer<Double>  // [p][3]
    var pairY: UnsafeMutablePointer<Double>  // [p][lm]
    var pairG: UnsafeMutablePointer<Double>  // [p][3][lm]

    /// Per (centre slot, neighbour slot): the spline table; per neighbour slot: its first
    /// channel (no ARC in the loop).
    let pairTable: UnsafeMutablePointer<SplineView>
    let slotCount: Int
    let slotOffset: UnsafeMutablePointer<Int>

    /// With `strain`: ∂C/∂ε_ab = Σ_pairs (∂C/∂r_ij)_a (r_ij)_b over every image pair, the
    /// centre's own images included; laid out [a·3+b][coefficients] (see StrainGradient.swift).
    let strainGradient: UnsafeMutablePointer<Double>

    init(basis: ExpansionBasis) {
        self.basis = basis
        L = basis.maxAngular
        K = basis.radialCount
        channels = basis.channelCount
        lm = (L + 1) * (L + 1)
        size = lm * channels
        neighborSize = lm * K
        harmonics = SphericalHarmonics(maxAngular: L)
        shScratch = SphericalHarmonics.Scratch(maxAngular: L)
        coefficients = memory.allocate(count: size)
        radial = memory.allocate(count: (L + 1) * K)
        radialDerivative = memory.allocate(count: (L + 1) * K)
        // A ragged basis's table never writes its padding: it stays zero.
        radial.initialize(repeating: 0, count: (L + 1) * K)
        radialDerivative.initialize(repeating: 0, count: (L + 1) * K)
        ylm = memory.allocate(count: lm)
        ylmGradient = memory.allocate(count: 3 * lm)
        neighborCapacity = 64
        neighborGradients = memory.allocate(count: neighborCapacity * 3 * neighborSize)
        selfGradient = memory.allocate(count: 3 * size)
        pairCapacity = 0
        pairA = memory.allocate(count: 1)
        pairB = memory.allocate(count: 1)
        pairDirection = memory.allocate(count: 1)
        pairY = memory.allocate(count: 1)
        pairG = memory.allocate(count: 1)
        let slots = basis.species.count
        slotCount = slots
        pairTable = memory.allocate(count: slots * slots)
        slotOffset = memory.allocate(count: slots)
        for p in 0..<(slots * slots) {
            pairTable.advanced(by: p).initialize(to: basis.tables[basis.tableOfPair[p]].view)
        }
        for a in 0..<slots { slotOffset[a] = basis.channelOffset[a] }
        strainGradient = memory.allocate(count: 9 * size)
    }

    /// Expands the density around `center` of a structure.
    /// `slotOfAtom` maps each atom to its species slot.
    func compute(
        center i: Int, slotOfAtom: UnsafePointer<Int32>, atomCount: Int, list: NeighborList, gradients mode: GradientMode,
        strain: Bool = false
    ) {
        let C = coefficients
        C.update(repeating: 0, count: size)
        if strain { strainGradient.update(repeating: 0, count: 9 * size) }
        let centerSlot = Int(slotOfAtom[i])
        let slotTable = pairTable + centerSlot * slotCount
        // The central atom's own density: l = 0, its own species, through the table at r = 0.
        slotTable[centerSlot].evaluate(0, values: radial, derivatives: nil)
        let selfWeight = basis.centerAtomWeight * SphericalExpansion.y00
        let selfOffset = slotOffset[centerSlot]
        for k in 0..<K { C[selfOffset + k] += selfWeight * radial[k] }

        if mode != .none {
            if blockOfAtom.count < atomCount { blockOfAtom = [Int32](repeating: -1, count: atomCount) }
            gradientAtoms.removeAll(keepingCapacity: true)
            gradientSlots.removeAll(keepingCapacity: true)
            pairCount = 0
            pairBlock.removeAll(keepingCapacity: true)
            if mode == .pairs { ensurePairCapacity(list.start[i + 1] - list.start[i]) }
        }
        let hypers = basis.hypers
        let LK = (L + 1) * K
        list.neighbor.withUnsafeBufferPointer { neighbors in
            list.vectors.withUnsafeBufferPointer { vectors in
                list.distances.withUnsafeBufferPointer { distances in
                    for p in list.start[i]..<list.start[i + 1] {
                        let j = Int(neighbors[p])
                        let r = distances[p]
                        let invR = 1 / r
                        let x = vectors[3 * p] * invR
                        let y = vectors[3 * p + 1] * invR
                        let z = vectors[3 * p + 2] * invR
                        let slot = Int(slotOfAtom[j])
                        let offset = slotOffset[slot]
                        // Images of the centre itself move with it: no gradient.
                        let withGradient = mode != .none && j != i
                        let derivatives = withGradient || strain
                        slotTable[slot].evaluate(r, values: radial, derivatives: derivatives ? radialDerivative : nil)
                        harmonics.evaluate(
                            x: x, y: y, z: z, values: ylm, gradients: derivatives ? ylmGradient : nil,
                            scratch: &shScratch)
                        let (w, dw) = hypers.pairWeight(r)
                        for l in 0...L {
                            let m2 = 2 * l + 1
                            let y = ylm + l * l
                            let block = C + channels * l * l + offset * m2
                            let rl = radial + l * K
                            for k in 0..<K {
                                let g = w * rl[k]
                                let row = block + k * m2
                                for m in 0..<m2 { row[m] += g * y[m] }
                            }
                        }
                        if strain {
                            addStrain(
                                offset: offset, weight: w, weightDerivative: dw, invR: invR,
                                vector: (vectors[3 * p], vectors[3 * p + 1], vectors[3 * p + 2]))
                        }
                        guard withGradient else { continue }
                        // Block of neighbour atom j (all its images share it).
                        var b = Int(blockOfAtom[j])
                        if b < 0 {
                            b = gradientAtoms.count
                            blockOfAtom[j] = Int32(b)
                            gradientAtoms.append(j)
                            gradientSlots.append(slot)
                            if mode == .coefficients {
                                ensureNeighborCapacity(b + 1)
                                (neighborGradients + b * 3 * neighborSize).update(repeating: 0, count: 3 * neighborSize)
                            }
                        }
                        if mode == .pairs {
                            let q = pairCount
                            pairCount += 1
                            pairBlock.append(Int32(b))
                            let a = pairA + q * LK
                            let bb = pairB + q * LK
                            for e in 0..<LK {
                                a[e] = dw * radial[e] + w * radialDerivative[e]
                                bb[e] = w * radial[e] * invR
                            }
                            pairDirection[3 * q] = x
                            pairDirection[3 * q + 1] = y
                            pairDirection[3 * q + 2] = z
                            (pairY + q * lm).update(from: ylm, count: lm)
                            (pairG + q * 3 * lm).update(from: ylmGradient, count: 3 * lm)
                            continue
                        }
                        let dst = neighborGradients + b * 3 * neighborSize
                        let dir = (x, y, z)
                        for d in 0..<3 {
                            let rd = d == 0 ? dir.0 : (d == 1 ? dir.1 : dir.2)
                            let gy = ylmGradient + d * lm
                            let out = dst + d * neighborSize
                            for l in 0...L {
                                let m2 = 2 * l + 1
                                let y = ylm + l * l
                                let gyl = gy + l * l
                                let rl = radial + l * K
                                let drl = radialDerivative + l * K
                                let blockOut = out + K * l * l
                                for k in 0..<K {
                                    // ∂/∂r_j [w R Y] = (w R)' r̂_d Y + w R ∂_d Y, with ∂_d Y = G_d / r.
                                    let a = (dw * rl[k] + w * drl[k]) * rd
                                    let c = w * rl[k] * invR
                                    let row = blockOut + k * m2
                                    for m in 0..<m2 { row[m] += a * y[m] + c * gyl[m] }
                                }
                            }
                        }
                    }
                }
            }
        }
        guard mode != .none else { return }
        for j in gradientAtoms { blockOfAtom[j] = -1 }
        guard mode == .coefficients else { return }
        // Centre's own gradient: −Σ over neighbour atoms, into their channel ranges.
        selfGradient.update(repeating: 0, count: 3 * size)
        for (b, slot) in gradientSlots.enumerated() {
            let offset = slotOffset[slot]
            let src = neighborGradients + b * 3 * neighborSize
            for d in 0..<3 {
                for l in 0...L {
                    let m2 = 2 * l + 1
                    let from = src + d * neighborSize + K * l * l
                    let to = selfGradient + d * size + channels * l * l + offset * m2
                    for e in 0..<(K * m2) { to[e] -= from[e] }
                }
            }
        }
    }

    private func ensureNeighborCapacity(_ blocks: Int) {
        guard blocks > neighborCapacity else { return }
        var capacity = neighborCapacity
        while capacity < blocks { capacity *= 2 }
        neighborGradients = memory.reallocate(
            neighborGradients, count: capacity * 3 * neighborSize, keeping: neighborCapacity * 3 * neighborSize)
        neighborCapacity = capacity
    }

    private func ensurePairCapacity(_ pairs: Int) {
        guard pairs > pairCapacity else { return }
        let capacity = max(pairs, 2 * pairCapacity, 32)
        let LK = (L + 1) * K
        // The contents are per centre: nothing to keep.
        pairA = memory.reallocate(pairA, count: capacity * LK)
        pairB = memory.reallocate(pairB, count: capacity * LK)
        pairDirection = memory.reallocate(pairDirection, count: capacity * 3)
        pairY = memory.reallocate(pairY, count: capacity * lm)
        pairG = memory.reallocate(pairG, count: capacity * 3 * lm)
        pairCapacity = capacity
    }

    static let y00 = 0.28209479177387814  // 1/√(4π)

    /// Cᵀ per l-block ((2l+1) × channels) of an expansion (or of its gradient for `channels`
    /// rows) laid out [l]: channels × (2l+1), both blocks at channels·l².
    static func transposePerL(
        _ C: UnsafePointer<Double>, maxAngular L: Int, channels: Int,
        into out: UnsafeMutablePointer<Double>
    ) {
        for l in 0...L {
            let m2 = 2 * l + 1
            let src = C + channels * l * l
            let dst = out + channels * l * l
            for q in 0..<channels { for m in 0..<m2 { dst[m * channels + q] = src[q * m2 + m] } }
        }
    }
}
