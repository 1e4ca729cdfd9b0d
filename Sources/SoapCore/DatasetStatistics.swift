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

    public init(species: [Int], maxAngular: Int, radialCount: Int) {
        self.species = species; self.maxAngular = maxAngular; self.radialCount = radialCount
        centers = Array(repeating: 0, count: species.count)
        gram = [Double](repeating: 0, count: species.count * (maxAngular + 1) * Self.blockSize(species.count, radialCount))
    }

    /// Restores statistics from their stored parts; nil when the sizes disagree.
    public init?(species: [Int], maxAngular: Int, radialCount: Int, structures: Int, neighbors: Int,
                 centers: [Int], gram: [Double]) {
        self.init(species: species, maxAngular: maxAngular, radialCount: radialCount)
        guard centers.count == species.count, gram.count == self.gram.count else { return nil }
        self.structures = structures; self.neighbors = neighbors; self.centers = centers; self.gram = gram
    }

    static func blockSize(_ s: Int, _ n: Int) -> Int { (s * n) * (s * n) }
    public var channels: Int { species.count * radialCount }

    /// Adds another accumulator over the same species and basis.
    public mutating func add(_ other: DatasetStatistics) {
        precondition(other.species == species && other.maxAngular == maxAngular && other.radialCount == radialCount)
        structures += other.structures
        neighbors += other.neighbors
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
        let n = radialCount, ch = channels
        var out = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { out[i * n + j] = joint[(a * n + i) * ch + a * n + j] } }
        return out
    }

    public var totalCenters: Int { centers.reduce(0, +) }
}

extension Featurizer {
    /// Accumulates the expansion covariance of `structures` (primitive basis).
    public func statistics(_ structures: [Structure], basis: ExpansionBasis) throws(FeaturizationError) -> DatasetStatistics {
        let prepared = try prepareStructures(structures, basis: basis)
        let L = basis.maxAngular, K = basis.radialCount, S = basis.species.count
        let ch = basis.channelCount
        let chunks = Self.centerChunks(structures, size: 16)
        let workers = max(1, min(threads, chunks.count))
        var partial = [DatasetStatistics](repeating: DatasetStatistics(species: basis.species, maxAngular: L, radialCount: K),
                                          count: workers)
        partial.withUnsafeMutableBufferPointer { out in
            let out = out
            Parallel.run(chunks: chunks.count, threads: workers) { worker, next in
                let expansion = SphericalExpansion(basis: basis)
                var local = DatasetStatistics(species: basis.species, maxAngular: L, radialCount: K)
                let block = ch * ch
                local.gram.withUnsafeMutableBufferPointer { g in
                    while let c = next() {
                        let (s, first, end) = chunks[c]
                        prepared.slots[s].withUnsafeBufferPointer { slotOfAtom in
                            for i in first..<end {
                                expansion.compute(center: i, slotOfAtom: slotOfAtom.baseAddress!, atomCount: structures[s].count,
                                                  list: prepared.lists[s], gradients: .none)
                                let center = Int(slotOfAtom[i])
                                local.centers[center] += 1
                                local.neighbors += prepared.lists[s].start[i + 1] - prepared.lists[s].start[i]
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
        var total = DatasetStatistics(species: basis.species, maxAngular: L, radialCount: K)
        for p in partial { total.add(p) }
        // Mirror the upper triangles.
        for blockIndex in 0..<(S * (L + 1)) {
            let base = blockIndex * ch * ch
            for p in 0..<ch { for q in 0..<p { total.gram[base + p * ch + q] = total.gram[base + q * ch + p] } }
        }
        total.structures = structures.count
        return total
    }
}
