/// ∂E/∂positions and ∂E/∂ε for E = Σ G·X: what a model trained on the features needs for
/// forces (−positions) and the virial (−strain), without the Jacobian.
public struct VectorJacobianProduct: Sendable {
    /// (structure, atom) per atom of every structure, in order.
    public var positionSamples: Labels?
    /// atoms × 3: Σ_rows,cols G ∂X/∂r_atom.
    public var positions: [Double]?
    /// ("structure") per structure.
    public var strainSamples: Labels?
    /// structures × 3 × 3: Σ G ∂X/∂ε_ab.
    public var strain: [Double]?
}

extension Featurizer {
    /// The product of `outputGradient` (rows × columns of the descriptor at `level`, row-major)
    /// with the Jacobian of the features, in one pass over centres and their pairs: per centre,
    /// the row's adjoint Ḡ = gᵀ ∂X/∂C, then Ḡ · ∂C/∂r_ij per pair, accumulated per atom and per
    /// structure. Memory: O(atoms + columns) per thread; no gradient row is formed.
    public func vectorJacobianProduct(
        _ structures: [Structure], type: DescriptorType, basis: ExpansionBasis, level: SampleLevel = .atom,
        options: DescriptorOptions = .init(), outputGradient: [Double], outputColumns: Int? = nil,
        positions: Bool, strain: Bool
    ) throws(FeaturizationError) -> VectorJacobianProduct {
        if type == .bispectrum && basis.maxAngular > ClebschGordan.supportedMaxAngular {
            throw .maxAngularTooLarge(type: type, maxAngular: basis.maxAngular, limit: ClebschGordan.supportedMaxAngular)
        }
        if strain { try StrainSupport.check(structures) }
        let plan = try Self.multispectrumPlan(type, basis: basis, options: options, limits: limits)
        let columns = ColumnLayout.count(type, basis: basis, plan: plan)
        // A ragged basis is computed on its padded layout: the caller's columns are the kept ones.
        let kept =
            basis.isRagged
            ? RaggedColumns.kept(ColumnLayout.properties(type, basis: basis, plan: plan), sizes: basis.radialSizes) : nil
        let visible = kept?.count ?? columns
        let atoms = structures.reduce(0) { $0 + $1.count }
        let rows = level == .atom ? atoms : structures.count
        guard Double(rows) * Double(visible) == Double(outputGradient.count), outputColumns ?? visible == visible else {
            throw .outputGradientShape(rows: rows, columns: visible, count: outputGradient.count)
        }
        if let bad = outputGradient.firstIndex(where: { !$0.isFinite }) {
            throw .outputGradientNotFinite(row: bad / max(visible, 1), column: bad % max(visible, 1))
        }
        var outputGradient = outputGradient
        if let kept { outputGradient = RaggedColumns.scatter(outputGradient, rows: rows, columns: kept, into: columns) }
        let clock = Deadline(seconds: timeLimit)
        let prepared = try prepareStructures(structures, basis: basis)
        try clock.check()
        var atomStart = [Int](repeating: 0, count: structures.count + 1)
        for s in structures.indices { atomStart[s + 1] = atomStart[s] + structures[s].count }

        let chunks = Self.centerChunks(structures, size: max(1, min(32, atoms / (threads * 8))))
        let workers = max(1, min(threads, chunks.count))
        // Per worker: its positions (atoms × 3) and strain (structures × 9), summed at the end.
        let positionWidth = positions ? 3 * atoms : 0
        let strainWidth = strain ? 9 * structures.count : 0
        let width = positionWidth + strainWidth
        let sums = UnsafeMutablePointer<Double>.allocate(capacity: max(1, workers * width))
        defer { sums.deallocate() }
        sums.initialize(repeating: 0, count: workers * width)
        outputGradient.withUnsafeBufferPointer { gradient in
            let G = gradient.baseAddress
            Parallel.run(chunks: chunks.count, threads: workers, executor: executor) { worker, next in
                let expansion = SphericalExpansion(basis: basis)
                let writer = DescriptorWriter(
                    type: type, expansion: expansion, columns: columns, gradients: true, plan: plan)
                let row = UnsafeMutablePointer<Double>.allocate(capacity: max(1, columns))
                let adjoint = UnsafeMutablePointer<Double>.allocate(capacity: expansion.size)
                defer {
                    row.deallocate()
                    adjoint.deallocate()
                }
                let mine = sums + worker * width
                while !clock.expired(), let c = next() {
                    let (s, first, end) = chunks[c]
                    prepared.slots[s].withUnsafeBufferPointer { slotOfAtom in
                        for i in first..<end {
                            let g = G! + (level == .atom ? atomStart[s] + i : s) * columns
                            expansion.compute(
                                center: i, slotOfAtom: slotOfAtom.baseAddress!, atomCount: structures[s].count,
                                list: prepared.lists[s], gradients: .none)
                            writer.writeValues(to: row)
                            writer.coefficientAdjoint(g, into: adjoint)
                            expansion.contractPairs(
                                center: i, slotOfAtom: slotOfAtom.baseAddress!, list: prepared.lists[s],
                                adjoint: adjoint, positions: positions ? mine + 3 * atomStart[s] : nil,
                                strain: strain ? mine + positionWidth + 9 * s : nil)
                        }
                    }
                }
            }
        }
        try clock.check()
        for w in 1..<max(1, workers) {
            for k in 0..<width { sums[k] += sums[w * width + k] }
        }
        var result = VectorJacobianProduct()
        if positions {
            var labels = Labels(names: ["structure", "atom"])
            labels.values.reserveCapacity(2 * atoms)
            for (s, structure) in structures.enumerated() {
                for a in 0..<structure.count { labels.values += [Int32(s), Int32(a)] }
            }
            result.positionSamples = labels
            result.positions = Array(UnsafeBufferPointer(start: sums, count: positionWidth))
        }
        if strain {
            result.strainSamples = Labels(names: ["structure"], values: structures.indices.map { Int32($0) })
            result.strain = Array(UnsafeBufferPointer(start: sums + positionWidth, count: strainWidth))
        }
        return result
    }
}
