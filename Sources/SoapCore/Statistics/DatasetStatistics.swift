import CLapack

/// Rotation-invariant, uncentred covariance of the spherical expansion over
/// a dataset (thesis eq. 2.1 and 2.6), kept as sums so that batches merge by
/// addition, exactly: for each centre species and each l,
///
///   G^l[(a n), (a' n')] = Σ_i Σ_m c^i_{a n l m} c^i_{a' n' l m}
///
/// over the joint (species, n) channels. The per-species (a, l) blocks of
/// the separate contraction are its diagonal blocks.
public struct DatasetStatistics: Sendable, Equatable {
    public let species: [Int]
    public let maxAngular: Int
    /// Primitive radial functions per species (N).
    public let radialCount: Int
    public var structures: Int = 0
    public var neighbors: Int = 0
    /// Centres of each species slot.
    public var centers: [Int]
    /// [centre slot][l][(S·N)²], row-major.
    public var gram: [Double]

    /// Supervised part, for PCovR (l = 0), over the structures that came with a target y:
    /// each structure's l = 0 features x[(c, a, n)] = Σ_{centres i of slot c} c^i_{a n 0 0}
    /// (D = S·S·N of them), kept as sums: XᵀX (D², row-major), Xᵀy (D), yᵀy and the count.
    /// Empty until the first batch with targets.
    public var targetStructures: Int = 0
    public var targetSquares: Double = 0
    public var targetCross: [Double] = []
    public var targetGram: [Double] = []
    public var targetFeatureCount: Int { species.count * species.count * radialCount }

    public init(species: [Int], maxAngular: Int, radialCount: Int) {
        self.species = species
        self.maxAngular = maxAngular
        self.radialCount = radialCount
        centers = Array(repeating: 0, count: species.count)
        gram = [Double](repeating: 0, count: species.count * (maxAngular + 1) * Self.blockSize(species.count, radialCount))
    }

    /// Restores statistics from their stored parts; nil when the sizes disagree.
    public init?(
        species: [Int], maxAngular: Int, radialCount: Int, structures: Int, neighbors: Int,
        centers: [Int], gram: [Double]
    ) {
        self.init(species: species, maxAngular: maxAngular, radialCount: radialCount)
        guard centers.count == species.count, gram.count == self.gram.count else { return nil }
        self.structures = structures
        self.neighbors = neighbors
        self.centers = centers
        self.gram = gram
    }

    static func blockSize(_ s: Int, _ n: Int) -> Int { (s * n) * (s * n) }
    public var channels: Int { species.count * radialCount }

    /// Adds another accumulator over the same species and basis.
    public mutating func add(_ other: DatasetStatistics) {
        precondition(other.species == species && other.maxAngular == maxAngular && other.radialCount == radialCount)
        structures += other.structures
        neighbors += other.neighbors
        if other.targetStructures > 0 {
            let d = targetFeatureCount
            if targetGram.isEmpty {
                targetGram = [Double](repeating: 0, count: d * d)
                targetCross = [Double](repeating: 0, count: d)
            }
            targetStructures += other.targetStructures
            targetSquares += other.targetSquares
            for k in targetCross.indices { targetCross[k] += other.targetCross[k] }
            for k in targetGram.indices { targetGram[k] += other.targetGram[k] }
        }
        for k in centers.indices { centers[k] += other.centers[k] }
        for k in gram.indices { gram[k] += other.gram[k] }
    }

    /// The joint (S·N)² matrix of one l, for the centres of `centerSlots`.
    public func joint(l: Int, centerSlots: [Int]? = nil) -> [Double] {
        let size = Self.blockSize(species.count, radialCount)
        var out = [Double](repeating: 0, count: size)
        for c in centerSlots ?? Array(species.indices) {
            let base = (c * (maxAngular + 1) + l) * size
            for k in 0..<size { out[k] += gram[base + k] }
        }
        return out
    }

    /// The N² block of neighbour species slot a, one l.
    public func block(l: Int, species a: Int, centerSlots: [Int]? = nil) -> [Double] {
        let joint = joint(l: l, centerSlots: centerSlots)
        let n = radialCount
        let ch = channels
        var out = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { out[i * n + j] = joint[(a * n + i) * ch + a * n + j] } }
        return out
    }

    public var totalCenters: Int { centers.reduce(0, +) }

    /// Restores the supervised part; false when the sizes disagree.
    public mutating func setTargets(structures: Int, squares: Double, cross: [Double], gram: [Double]) -> Bool {
        let d = targetFeatureCount
        guard structures >= 0, cross.count == d, gram.count == d * d else { return false }
        targetStructures = structures
        targetSquares = squares
        targetCross = cross
        targetGram = gram
        return true
    }
}

extension Featurizer {
    /// Accumulates the expansion covariance of `structures` (primitive basis) and, when
    /// `targets` (one per structure) are given, the supervised sums for PCovR.
    public func statistics(
        _ structures: [Structure], basis: ExpansionBasis,
        targets: [Double]? = nil
    ) throws(FeaturizationError) -> DatasetStatistics {
        precondition(targets == nil || targets!.count == structures.count)
        let clock = Deadline(seconds: timeLimit)
        let prepared = try prepareStructures(structures, basis: basis)
        // Each centre's l = 0 channels, by global atom index, for the structure sums of the targets.
        var atomBase = [Int](repeating: 0, count: structures.count + 1)
        for s in structures.indices { atomBase[s + 1] = atomBase[s] + structures[s].count }
        var atomL0 = [Double](repeating: 0, count: targets == nil ? 0 : atomBase[structures.count] * basis.channelCount)
        let L = basis.maxAngular
        let K = basis.radialCount
        let S = basis.species.count
        let ch = basis.channelCount
        let chunks = Self.centerChunks(structures, size: 16)
        let workers = max(1, min(threads, chunks.count))
        var partial = [DatasetStatistics](
            repeating: DatasetStatistics(species: basis.species, maxAngular: L, radialCount: K),
            count: workers)
        partial.withUnsafeMutableBufferPointer { out in
            atomL0.withUnsafeMutableBufferPointer { l0 in
                let out = out
                let l0 = l0
                Parallel.run(chunks: chunks.count, threads: workers, executor: executor) { worker, next in
                    let expansion = SphericalExpansion(basis: basis)
                    var local = DatasetStatistics(species: basis.species, maxAngular: L, radialCount: K)
                    let block = ch * ch
                    local.gram.withUnsafeMutableBufferPointer { g in
                        while !clock.expired(), let c = next() {
                            let (s, first, end) = chunks[c]
                            prepared.slots[s].withUnsafeBufferPointer { slotOfAtom in
                                for i in first..<end {
                                    expansion.compute(
                                        center: i, slotOfAtom: slotOfAtom.baseAddress!, atomCount: structures[s].count,
                                        list: prepared.lists[s], gradients: .none)
                                    let center = Int(slotOfAtom[i])
                                    local.centers[center] += 1
                                    local.neighbors += prepared.lists[s].start[i + 1] - prepared.lists[s].start[i]
                                    if !l0.isEmpty {
                                        (l0.baseAddress! + (atomBase[s] + i) * ch).update(from: expansion.coefficients, count: ch)
                                    }
                                    // G_l += C_l C_lᵀ (symmetric: upper triangle, mirrored below).
                                    for l in 0...L {
                                        let m2 = 2 * l + 1
                                        let C = expansion.coefficients + ch * l * l
                                        let G = g.baseAddress! + (center * (L + 1) + l) * block
                                        for p in 0..<ch {
                                            let a = C + p * m2
                                            for q in p..<ch {
                                                let b = C + q * m2
                                                var dot = 0.0
                                                for m in 0..<m2 { dot += a[m] * b[m] }
                                                G[p * ch + q] += dot
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    out[worker] = local
                }
            }
        }
        try clock.check()
        var total = DatasetStatistics(species: basis.species, maxAngular: L, radialCount: K)
        for p in partial { total.add(p) }
        // Mirror the upper triangles.
        for blockIndex in 0..<(S * (L + 1)) {
            let base = blockIndex * ch * ch
            for p in 0..<ch { for q in 0..<p { total.gram[base + p * ch + q] = total.gram[base + q * ch + p] } }
        }
        total.structures = structures.count
        if let targets {
            // X: one row of (centre slot, channel) sums per structure; then XᵀX through BLAS.
            let d = total.targetFeatureCount
            var x = [Double](repeating: 0, count: structures.count * d)
            for s in structures.indices {
                prepared.slots[s].withUnsafeBufferPointer { slotOfAtom in
                    for i in 0..<structures[s].count {
                        let row = s * d + Int(slotOfAtom[i]) * ch
                        let atom = (atomBase[s] + i) * ch
                        for p in 0..<ch { x[row + p] += atomL0[atom + p] }
                    }
                }
            }
            total.targetGram = [Double](repeating: 0, count: d * d)
            total.targetCross = [Double](repeating: 0, count: d)
            // XᵀX, added onto the zeros just filled in.
            if !structures.isEmpty {
                x.withUnsafeBufferPointer { x in
                    total.targetGram.withUnsafeMutableBufferPointer { g in
                        Gram.add(x.baseAddress!, rows: structures.count, columns: d, into: g.baseAddress!)
                    }
                }
            }
            for s in structures.indices {
                for p in 0..<d { total.targetCross[p] += x[s * d + p] * targets[s] }
                total.targetSquares += targets[s] * targets[s]
            }
            total.targetStructures = structures.count
        }
        return total
    }
}
