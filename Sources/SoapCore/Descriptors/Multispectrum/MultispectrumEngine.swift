import CLapack

/// One worker's evaluation of a plan for one centre at a time: values of every
/// order, and their derivatives for one neighbour and direction at a time
/// (forward mode: d x^{(k+1)} = C(dx^{(k)} ⊗ c) + C(x^{(k)} ⊗ dc), with dc non-zero
/// only on the moving neighbour's channels).
final class MultispectrumEngine {
    let plan: MultispectrumPlan
    let L: Int, K: Int, channels: Int
    /// Flattened per-block data (no ARC in the loops).
    let blockCount: Int
    let blockOffset: UnsafeMutablePointer<Int>  // values offset
    let blockLambda: UnsafeMutablePointer<Int>
    let blockCountOf: UnsafeMutablePointer<Int>  // features after projection
    let blockRaw: UnsafeMutablePointer<Int>
    let orderStart: [Int]  // first block of each order (index k − 1), plus end
    /// Pieces: input block (global index; order-1 blocks are the density), l, offset, CG range.
    let pieceStart: UnsafeMutablePointer<Int>  // per block, into the piece arrays
    let pieceInput: UnsafeMutablePointer<Int>
    let pieceL: UnsafeMutablePointer<Int>
    let pieceOffset: UnsafeMutablePointer<Int>
    let pieceCG: UnsafeMutablePointer<Int>  // start, end
    /// CG entries (signed m; the loops add each factor's l), shared tables flattened.
    let cgM1: UnsafeMutablePointer<Int32>, cgM2: UnsafeMutablePointer<Int32>, cgMu: UnsafeMutablePointer<Int32>
    let cgValue: UnsafeMutablePointer<Double>
    let projections: [UnsafeMutablePointer<Double>?]

    /// Values of orders ≥ 2, [block]: (2λ+1) × count, component-major.
    let values: UnsafeMutablePointer<Double>
    /// Their derivatives for the current neighbour and direction.
    let derivatives: UnsafeMutablePointer<Double>
    /// The raw (unprojected) block being built.
    let raw: UnsafeMutablePointer<Double>
    /// dc of the current neighbour, transposed per l ((2l+1) × K at K·l²).
    let densityDerivative: UnsafeMutablePointer<Double>
    /// Owns every buffer above.
    private let memory = BufferArena()

    init(plan: MultispectrumPlan, radialCount: Int) {
        self.plan = plan
        L = plan.maxAngular
        K = radialCount
        channels = plan.channels
        let cg = ClebschGordan.shared(maxAngular: plan.couplingMaxAngular)
        var offsets: [Int] = []
        var lambdas: [Int] = []
        var counts: [Int] = []
        var raws: [Int] = []
        var starts: [Int] = [0]
        var inputs: [Int] = []
        var ls: [Int] = []
        var pieceOffsets: [Int] = []
        var ranges: [Int] = []
        var projections: [UnsafeMutablePointer<Double>?] = []
        var orderStart: [Int] = []
        var size = 0
        var global = 0
        for (k, blocks) in plan.orders.enumerated() {
            orderStart.append(global)
            for block in blocks {
                lambdas.append(block.lambda)
                counts.append(block.count)
                raws.append(block.raw)
                if k == 0 {
                    offsets.append(-1)  // the density itself (transposed expansion)
                } else {
                    offsets.append(size)
                    size += block.count * block.dimension
                }
                for piece in block.pieces {
                    inputs.append(orderStart[k - 1] + piece.input)
                    ls.append(piece.l)
                    pieceOffsets.append(piece.offset)
                    let input = plan.orders[k - 1][piece.input]
                    let r = cg.range(input.lambda, piece.l, block.lambda)
                    ranges.append(r.lowerBound)
                    ranges.append(r.upperBound)
                }
                starts.append(inputs.count)
                if let p = block.projection {
                    projections.append(memory.copy(p))
                } else {
                    projections.append(nil)
                }
                global += 1
            }
        }
        orderStart.append(global)
        self.orderStart = orderStart
        blockCount = global
        blockOffset = memory.copy(offsets)
        blockLambda = memory.copy(lambdas)
        blockCountOf = memory.copy(counts)
        blockRaw = memory.copy(raws)
        pieceStart = memory.copy(starts)
        pieceInput = memory.copy(inputs)
        pieceL = memory.copy(ls)
        pieceOffset = memory.copy(pieceOffsets)
        pieceCG = memory.copy(ranges)
        self.projections = projections
        values = memory.allocate(count: size)
        derivatives = memory.allocate(count: size)
        raw = memory.allocate(count: plan.rawScratchSize)
        densityDerivative = memory.allocate(count: (L + 1) * (L + 1) * radialCount)
        cgValue = memory.copy(cg.values)
        // Signed m of each entry; the loops shift by the piece's l to component indices.
        cgM1 = memory.copy(cg.m1)
        cgM2 = memory.copy(cg.m2)
        cgMu = memory.copy(cg.mL)
    }

    /// The values (component-major) of block b for the centre: the density for order 1.
    @inline(__always)
    private func blockValues(_ b: Int, density CT: UnsafePointer<Double>) -> UnsafePointer<Double> {
        let offset = blockOffset[b]
        if offset < 0 {
            let l = blockLambda[b]
            return CT + channels * l * l
        }
        return UnsafePointer(values + offset)
    }

    /// All orders for one centre, from its transposed expansion CT ([l]: (2l+1) × channels),
    /// handing each raw block of the plan's last order to `rawBlock` (the fitter's plans end
    /// at the order being fitted).
    func computeValues(
        density CT: UnsafePointer<Double>,
        rawBlock: ((_ block: Int, _ raw: UnsafePointer<Double>) -> Void)? = nil
    ) {
        let final = plan.order
        guard final >= 2 else { return }
        for b in orderStart[1]..<orderStart[final] {
            let d = 2 * blockLambda[b] + 1
            let count = blockCountOf[b]
            let rawCount = blockRaw[b]
            let projection = projections[b]
            let target = projection == nil ? values + blockOffset[b] : raw
            target.update(repeating: 0, count: d * rawCount)
            for p in pieceStart[b]..<pieceStart[b + 1] {
                let input = pieceInput[p]
                let x = blockValues(input, density: CT)
                let n1 = blockCountOf[input]
                let l1 = blockLambda[input]
                let l = pieceL[p]
                couple(
                    x: x, n1: n1, l1: l1, c: CT + channels * l * l, l: l, cWidth: channels, qFirst: 0,
                    lambda: blockLambda[b], entries: pieceCG[2 * p]..<pieceCG[2 * p + 1],
                    into: target + pieceOffset[p], stride: rawCount)
            }
            if let rawBlock, b >= orderStart[final - 1] { rawBlock(b, UnsafePointer(target)) }
            if let projection {
                project(raw, rows: d, rawCount: rawCount, projection, count: count, into: values + blockOffset[b])
            }
        }
    }

    /// out[μ][f1·ch + q] += Σ_e C_e x[m1][f1] c[m2][q − qFirst], q ∈ qFirst ..< qFirst + cWidth.
    @inline(__always)
    private func couple(
        x: UnsafePointer<Double>, n1: Int, l1: Int, c: UnsafePointer<Double>, l: Int, cWidth: Int,
        qFirst: Int, lambda: Int, entries: Range<Int>, into out: UnsafeMutablePointer<Double>, stride: Int
    ) {
        let ch = channels
        for e in entries {
            let coefficient = cgValue[e]
            let xRow = x + (Int(cgM1[e]) + l1) * n1
            let cRow = c + (Int(cgM2[e]) + l) * cWidth
            let oRow = out + (Int(cgMu[e]) + lambda) * stride + qFirst
            for f in 0..<n1 {
                let a = coefficient * xRow[f]
                if a == 0 { continue }
                SIMDKernels.axpy(a, cRow, oRow + f * ch, cWidth)
            }
        }
    }

    /// out (rows × count) = raw (rows × rawCount) · Uᵀ, U count × rawCount (row-major).
    private func project(
        _ raw: UnsafePointer<Double>, rows: Int, rawCount: Int, _ u: UnsafePointer<Double>, count: Int,
        into out: UnsafeMutablePointer<Double>
    ) {
        guard count > 0 else { return }
        guard rawCount > 0 else {
            out.update(repeating: 0, count: rows * count)
            return
        }
        _ = BLAS.ready
        // Column-major view: out is count × rows = Uᵀᵀ… i.e. C = Aᵀ B with A = Uᵀ (rawCount × count), B = rawᵀ.
        var transA = Int8(UInt8(ascii: "T"))
        var transB = Int8(UInt8(ascii: "N"))
        var m = Int32(count)
        var n = Int32(rows)
        var k = Int32(rawCount)
        var lda = Int32(rawCount)
        var ldb = Int32(rawCount)
        var ldc = Int32(count)
        var one = 1.0
        var zero = 0.0
        dgemm_(&transA, &transB, &m, &n, &k, &one, u, &lda, raw, &ldb, &zero, out, &ldc)
    }

    /// Derivatives of every order for one neighbour and direction, whose K channels start at
    /// q0, from dC ([l]: K × (2l+1)); needs the values of this centre.
    func computeDerivatives(density CT: UnsafePointer<Double>, dC: UnsafePointer<Double>, q0: Int) {
        let dCT = densityDerivative
        SphericalExpansion.transposePerL(dC, maxAngular: L, channels: K, into: dCT)
        guard plan.order >= 2 else { return }
        for b in orderStart[1]..<orderStart[plan.order] {
            let lambda = blockLambda[b]
            let d = 2 * lambda + 1
            let rawCount = blockRaw[b]
            let projection = projections[b]
            let target = projection == nil ? derivatives + blockOffset[b] : raw
            target.update(repeating: 0, count: d * rawCount)
            for p in pieceStart[b]..<pieceStart[b + 1] {
                let input = pieceInput[p]
                let n1 = blockCountOf[input]
                let l1 = blockLambda[input]
                let l = pieceL[p]
                let entries = pieceCG[2 * p]..<pieceCG[2 * p + 1]
                let out = target + pieceOffset[p]
                // The previous order's derivative with the density.
                if blockOffset[input] < 0 {
                    // Order 1: dx is dc ((2l1+1) × K), non-zero on rows f1 = q0 ..< q0 + K only: its
                    // K rows start q0 rows (q0·channels) into the piece.
                    couple(
                        x: dCT + K * l1 * l1, n1: K, l1: l1, c: CT + channels * l * l, l: l, cWidth: channels,
                        qFirst: q0 * channels, lambda: lambda, entries: entries, into: out, stride: rawCount)
                } else {
                    couple(
                        x: derivatives + blockOffset[input], n1: n1, l1: l1, c: CT + channels * l * l, l: l,
                        cWidth: channels, qFirst: 0, lambda: lambda, entries: entries, into: out, stride: rawCount)
                }
                // The previous order's values with dc (u's channels only).
                couple(
                    x: blockValues(input, density: CT), n1: n1, l1: l1, c: dCT + K * l * l, l: l, cWidth: K,
                    qFirst: q0, lambda: lambda, entries: entries, into: out, stride: rawCount)
            }
            if let projection {
                project(raw, rows: d, rawCount: rawCount, projection, count: blockCountOf[b], into: derivatives + blockOffset[b])
            }
        }
    }

    /// One output row from the target blocks (`source`: values or derivatives): per block,
    /// per feature, its 2λ+1 components (m fastest).
    func writeRow(from source: UnsafePointer<Double>, to out: UnsafeMutablePointer<Double>) {
        var col = 0
        for b in orderStart[plan.order - 1]..<orderStart[plan.order] {
            let d = 2 * blockLambda[b] + 1
            let count = blockCountOf[b]
            let block = source + blockOffset[b]
            if d == 1 {
                (out + col).update(from: block, count: count)
                col += count
                continue
            }
            for f in 0..<count {
                for mu in 0..<d { out[col + mu] = block[mu * count + f] }
                col += d
            }
        }
    }
}
