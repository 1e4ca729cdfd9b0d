import CLapack

/// Parameters of the descriptors that have some (multispectrum, λ-SOAP).
public struct DescriptorOptions: Sendable, Equatable {
    /// Body order ν of the multispectrum (2 = power spectrum, 3 = bispectrum, …).
    public var correlationOrder: Int
    /// λ-SOAP: the equivariant λ blocks of the power spectrum instead of its invariants.
    public var lambda: Int?
    /// PCA contractions between orders (multispectrum), fitted by `multispectrumContraction`.
    public var contraction: MultispectrumContraction?

    public init(correlationOrder: Int = 3, lambda: Int? = nil, contraction: MultispectrumContraction? = nil) {
        self.correlationOrder = correlationOrder
        self.lambda = lambda
        self.contraction = contraction
    }

    /// The largest body order the multispectrum supports.
    public static let maxCorrelationOrder = 6
}

/// Data-driven truncation of the NICE iteration (thesis §2.1.3): for every
/// order k = 2…ν and every equivariant block (λ, σ) of that order, the
/// leading principal components of the block's rotation-invariant,
/// uncentred covariance Σ_i Σ_μ x_{iμ} x_{iμ}ᵀ. Features of order k are
/// replaced by their projections on these components before being coupled
/// with the density to order k + 1; at order ν the invariant block (0, +1)
/// is projected too, so every order holds at most `maxFeatures` per block.
public struct MultispectrumContraction: Sendable, Equatable {
    public struct Block: Sendable, Equatable {
        public let order: Int
        public let lambda: Int
        public let sigma: Int
        /// Features of the block before the projection.
        public let inputCount: Int
        /// count × inputCount, row-major, orthonormal rows by descending variance.
        public let components: [Double]
        /// Variance captured by each kept component (descending).
        public let eigenvalues: [Double]
        /// Fraction of the block's variance left out.
        public let residualVariance: Double
        public var count: Int { inputCount == 0 ? 0 : components.count / inputCount }

        public init(
            order: Int, lambda: Int, sigma: Int, inputCount: Int, components: [Double], eigenvalues: [Double],
            residualVariance: Double
        ) {
            self.order = order
            self.lambda = lambda
            self.sigma = sigma
            self.inputCount = inputCount
            self.components = components
            self.eigenvalues = eigenvalues
            self.residualVariance = residualVariance
        }
    }

    /// The body order it was fitted for; requests may ask for any ν up to it.
    public let correlationOrder: Int
    public let maxFeatures: Int
    /// The expansion it was fitted on: max_angular and channels (groups × K).
    public let maxAngular: Int
    public let channels: Int
    public let blocks: [Block]

    public init(correlationOrder: Int, maxFeatures: Int, maxAngular: Int, channels: Int, blocks: [Block]) {
        self.correlationOrder = correlationOrder
        self.maxFeatures = maxFeatures
        self.maxAngular = maxAngular
        self.channels = channels
        self.blocks = blocks
    }

    public func block(order: Int, lambda: Int, sigma: Int) -> Block? {
        blocks.first { $0.order == order && $0.lambda == lambda && $0.sigma == sigma }
    }
}

/// Why a multispectrum cannot be computed with these options.
public enum MultispectrumError: Error, Equatable, Sendable, CustomStringConvertible {
    case correlationOrder(Int)
    case lambda(Int)
    case contractionMismatch(String)
    public var description: String {
        switch self {
        case .correlationOrder(let n):
            return "correlation_order must be between 2 and \(DescriptorOptions.maxCorrelationOrder), not \(n)"
        case .lambda(let l): return "o3_lambda must be between 0 and 2·max_angular, not \(l)"
        case .contractionMismatch(let m): return m
        }
    }
}

/// The equivariant blocks of every order of the NICE iteration (thesis eq. 1.18),
///
///   x^{(k+1)}_{(f, q); λμ} = Σ_{m1 m2} C^{λμ}_{λ1 m1, l m2} x^{(k)}_{f; λ1 m1} c_{q; l m2},
///
/// with featomic's real Clebsch–Gordan coefficients (CONVENTIONS.md §11) and
/// σ^{(k+1)} = σ^{(k)} (−1)^{λ1 + l + λ}: σ = +1 are the proper tensors, σ = −1
/// the improper ones; the density (order 1) is σ = +1 for every l.
///
/// At order k < ν only the blocks that can still reach the targets are kept:
/// λ ≤ min(k·L, (ν−k)·L + λ_target), and, pruning backwards, only blocks some
/// needed block of the next order is built from. Up to this pruning the
/// iteration is complete: no coupling that contributes to the targets is left out.
struct MultispectrumPlan: Sendable {
    struct Piece: Sendable {
        /// Block of the previous order, and the density's l.
        let input: Int
        let l: Int
        /// First raw feature of the piece: features (f1, q), q fastest.
        let offset: Int
    }
    struct Block: Sendable {
        let lambda: Int
        let sigma: Int
        /// Features before and after the projection (equal without one).
        let raw: Int
        let count: Int
        let pieces: [Piece]
        /// count × raw, row-major.
        let projection: [Double]?
        var dimension: Int { 2 * lambda + 1 }
    }

    let maxAngular: Int
    let channels: Int
    let order: Int
    /// orders[k − 1]: the blocks of order k (order 1: the density, l = 0…L).
    let orders: [[Block]]
    /// Largest l any coupling uses on either side (for the CG tables).
    let couplingMaxAngular: Int

    /// The multispectrum invariants (targets (0, +1)), or λ-SOAP-like equivariants of
    /// order ν (targets (λ, +1), and (λ, −1) with `bothParities`). `contraction` projects every order it has a block for.
    init(
        maxAngular L: Int, channels: Int, order nu: Int, lambda target: Int = 0, bothParities: Bool = false,
        contraction: MultispectrumContraction? = nil
    ) throws(MultispectrumError) {
        guard nu >= 2 && nu <= DescriptorOptions.maxCorrelationOrder else { throw .correlationOrder(nu) }
        guard target >= 0 && target <= nu * L else { throw .lambda(target) }
        if let c = contraction {
            guard c.maxAngular == L && c.channels == channels else {
                throw .contractionMismatch(
                    "the multispectrum contraction was fitted for max_angular \(c.maxAngular) and \(c.channels) channels")
            }
            guard nu <= c.correlationOrder else {
                throw .contractionMismatch(
                    "the basis' multispectrum contraction was fitted up to correlation_order \(c.correlationOrder), not \(nu)")
            }
        }
        maxAngular = L
        self.channels = channels
        order = nu
        struct Key: Hashable { let lambda: Int, sigma: Int }
        func sorted(_ keys: Set<Key>) -> [Key] {
            keys.sorted { ($0.lambda, -$0.sigma) < ($1.lambda, -$1.sigma) }
        }
        // Forward: which blocks exist at each order within the caps.
        var exists: [[Key]] = [(0...L).map { Key(lambda: $0, sigma: 1) }]
        if nu >= 2 {
            for k in 2...nu {
                let cap = k == nu ? target : min(k * L, (nu - k) * L + target)
                var keys = Set<Key>()
                for input in exists[k - 2] {
                    for l in 0...L {
                        for lambda in abs(input.lambda - l)...(input.lambda + l)
                        where lambda <= cap && (k < nu || lambda == target) {
                            let sigma = (input.lambda + l + lambda) % 2 == 0 ? input.sigma : -input.sigma
                            // The targets: proper (σ = +1) only, unless both are asked for.
                            if k == nu && sigma < 0 && !bothParities { continue }
                            keys.insert(Key(lambda: lambda, sigma: sigma))
                        }
                    }
                }
                exists.append(sorted(keys))
            }
        }
        // Backward: keep what the targets are built from.
        var needed = [Set<Key>](repeating: [], count: nu)
        needed[nu - 1] = Set(exists[nu - 1])
        if nu >= 2 {
            for k in stride(from: nu, through: 2, by: -1) {
                for key in needed[k - 1] {
                    for input in exists[k - 2] {
                        for l in 0...L where abs(input.lambda - l) <= key.lambda && key.lambda <= input.lambda + l {
                            let sigma = (input.lambda + l + key.lambda) % 2 == 0 ? input.sigma : -input.sigma
                            if sigma == key.sigma { needed[k - 2].insert(input) }
                        }
                    }
                }
            }
        }
        // Sizes, pieces (inputs by (λ1, σ1), then l) and projections.
        var orders: [[Block]] = []
        var lMax = L
        for k in 1...nu {
            let keys = sorted(needed[k - 1])
            var blocks: [Block] = []
            for key in keys {
                if k == 1 {
                    blocks.append(
                        Block(lambda: key.lambda, sigma: 1, raw: channels, count: channels, pieces: [], projection: nil))
                    continue
                }
                var pieces: [Piece] = []
                var raw = 0
                for (b, input) in orders[k - 2].enumerated() {
                    for l in 0...L where abs(input.lambda - l) <= key.lambda && key.lambda <= input.lambda + l {
                        let sigma = (input.lambda + l + key.lambda) % 2 == 0 ? input.sigma : -input.sigma
                        guard sigma == key.sigma else { continue }
                        pieces.append(Piece(input: b, l: l, offset: raw))
                        raw += input.count * channels
                        lMax = max(lMax, input.lambda)
                    }
                }
                var count = raw
                var projection: [Double]? = nil
                if let fitted = contraction?.block(order: k, lambda: key.lambda, sigma: key.sigma) {
                    guard fitted.inputCount == raw else {
                        throw .contractionMismatch(
                            "the contraction of order \(k), λ = \(key.lambda), σ = \(key.sigma) expects \(fitted.inputCount) features, not \(raw)"
                        )
                    }
                    count = fitted.count
                    projection = fitted.components
                } else if let c = contraction, c.blocks.contains(where: { $0.order == k }) {
                    throw .contractionMismatch("the contraction has no block for order \(k), λ = \(key.lambda), σ = \(key.sigma)")
                }
                blocks.append(
                    Block(
                        lambda: key.lambda, sigma: key.sigma, raw: raw, count: count, pieces: pieces,
                        projection: projection))
            }
            orders.append(blocks)
        }
        self.orders = orders
        couplingMaxAngular = lMax
    }

    private init(maxAngular: Int, channels: Int, order: Int, orders: [[Block]], couplingMaxAngular: Int) {
        self.maxAngular = maxAngular
        self.channels = channels
        self.order = order
        self.orders = orders
        self.couplingMaxAngular = couplingMaxAngular
    }

    /// Orders 1…k of this plan only (fitting order k needs no buffers for the orders above).
    func prefix(_ k: Int) -> MultispectrumPlan {
        MultispectrumPlan(
            maxAngular: maxAngular, channels: channels, order: k, orders: Array(orders.prefix(k)),
            couplingMaxAngular: couplingMaxAngular)
    }

    /// Output columns: every feature of every target block, times its 2λ+1 components.
    var columns: Int { orders[order - 1].reduce(0) { $0 + $1.count * $1.dimension } }

    /// Doubles of one centre's values (all orders ≥ 2) and of the largest raw block.
    var valueSize: Int { orders.dropFirst().joined().reduce(0) { $0 + $1.count * $1.dimension } }
    var rawScratchSize: Int {
        orders.dropFirst().joined().filter { $0.projection != nil }.map { $0.raw * $0.dimension }.max() ?? 0
    }

    /// Per raw feature of a block: its coupling path, as (l_1, l_2, k_2, l_3, k_3, …, l_k, k_k)
    /// and its channels (q_1, …, q_k). Only for blocks whose inputs are unprojected.
    func paths(order k: Int) -> [(ls: [Int32], qs: [Int32])] {
        // One list per block of order k, concatenated in block order.
        func build(_ k: Int) -> [[(ls: [Int32], qs: [Int32])]] {
            if k == 1 {
                return orders[0].map { b in (0..<channels).map { q in ([Int32(b.lambda)], [Int32(q)]) } }
            }
            let previous = build(k - 1)
            return orders[k - 1].map { block in
                var out: [(ls: [Int32], qs: [Int32])] = []
                out.reserveCapacity(block.raw)
                for piece in block.pieces {
                    for p in previous[piece.input] {
                        for q in 0..<channels {
                            out.append((p.ls + [Int32(piece.l), Int32(block.lambda)], p.qs + [Int32(q)]))
                        }
                    }
                }
                return out
            }
        }
        return build(k).flatMap { $0 }
    }
}

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
                    let buffer = UnsafeMutablePointer<Double>.allocate(capacity: max(1, p.count))
                    buffer.initialize(from: p, count: p.count)
                    projections.append(buffer)
                } else {
                    projections.append(nil)
                }
                global += 1
            }
        }
        orderStart.append(global)
        self.orderStart = orderStart
        blockCount = global
        func copy<T>(_ a: [T]) -> UnsafeMutablePointer<T> {
            let p = UnsafeMutablePointer<T>.allocate(capacity: max(1, a.count))
            p.initialize(from: a, count: a.count)
            return p
        }
        blockOffset = copy(offsets)
        blockLambda = copy(lambdas)
        blockCountOf = copy(counts)
        blockRaw = copy(raws)
        pieceStart = copy(starts)
        pieceInput = copy(inputs)
        pieceL = copy(ls)
        pieceOffset = copy(pieceOffsets)
        pieceCG = copy(ranges)
        self.projections = projections
        values = .allocate(capacity: max(1, size))
        derivatives = .allocate(capacity: max(1, size))
        raw = .allocate(capacity: max(1, plan.rawScratchSize))
        densityDerivative = .allocate(capacity: max(1, (L + 1) * (L + 1) * radialCount))
        cgValue = copy(cg.values)
        // Signed m of each entry; the loops shift by the piece's l to component indices.
        cgM1 = copy(cg.m1)
        cgM2 = copy(cg.m2)
        cgMu = copy(cg.mL)
    }

    deinit {
        blockOffset.deallocate()
        blockLambda.deallocate()
        blockCountOf.deallocate()
        blockRaw.deallocate()
        pieceStart.deallocate()
        pieceInput.deallocate()
        pieceL.deallocate()
        pieceOffset.deallocate()
        pieceCG.deallocate()
        cgM1.deallocate()
        cgM2.deallocate()
        cgMu.deallocate()
        cgValue.deallocate()
        for p in projections { p?.deallocate() }
        values.deallocate()
        derivatives.deallocate()
        raw.deallocate()
        densityDerivative.deallocate()
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
                Self.axpy(a, cRow, oRow + f * ch, cWidth)
            }
        }
    }

    @inline(__always)
    static func axpy(_ a: Double, _ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, _ n: Int) {
        var i = 0
        while i + 8 <= n {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Double>.self)
            let w = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD8<Double>.self)
            UnsafeMutableRawPointer(y + i).storeBytes(of: w + a * v, as: SIMD8<Double>.self)
            i += 8
        }
        while i < n {
            y[i] += a * x[i]
            i += 1
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

/// Why a multispectrum contraction could not be fitted.
public enum MultispectrumFitError: Error, Equatable, Sendable, CustomStringConvertible {
    case featurization(FeaturizationError)
    case noCenters
    case invalidBudget(Int)
    /// A block's covariance would exceed the limit on doubles (raise it or lower the budget).
    case covarianceTooLarge(order: Int, features: Int, limit: Int)
    case decomposition(String)
    public var description: String {
        switch self {
        case .featurization(let e): return e.description
        case .noCenters: return "no structures to fit the multispectrum contraction on"
        case .invalidBudget(let n): return "max_features_per_order must be at least 1, not \(n)"
        case .covarianceTooLarge(let k, let n, let l):
            return
                "the covariance of an order-\(k) block of \(n) features (\(n)² numbers) is above the limit of \(l); lower max_features_per_order"
        case .decomposition(let m): return "eigen-decomposition failed: \(m)"
        }
    }
}

extension Featurizer {
    /// Fits the NICE contractions of orders 2…ν on `structures` (all in memory); see
    /// `MultispectrumFitter` for data that arrive in batches.
    public func multispectrumContraction(
        _ structures: [Structure], basis: ExpansionBasis, correlationOrder nu: Int,
        maxFeatures: Int, maxCovarianceValues: Int = 100_000_000
    )
        throws(MultispectrumFitError) -> MultispectrumContraction
    {
        var fitter = try MultispectrumFitter(
            featurizer: self, basis: basis, correlationOrder: nu, maxFeatures: maxFeatures,
            maxCovarianceValues: maxCovarianceValues)
        while !fitter.isComplete {
            try fitter.add(structures)
            try fitter.finishOrder()
        }
        return fitter.contraction
    }
}

/// Fits the NICE contractions of orders 2…ν, order by order, from data seen in batches: the
/// covariance of each (λ, σ) block of order k is a sum over centres and components,
/// Σ_i Σ_μ x_{iμ} x_{iμ}ᵀ, with the contractions of the orders below k already applied, so
/// it accumulates batch by batch (any split of the data gives the same sums); its leading
/// `maxFeatures` eigenvectors (those above 1e-12 of the largest) become the block's
/// projection. Order k needs the contraction of order k − 1, so the data are passed once per
/// order (ν − 1 passes):
///
///     while !fitter.isComplete { for batch in data { try fitter.add(batch) }; try fitter.finishOrder() }
public struct MultispectrumFitter {
    public let correlationOrder: Int
    public let maxFeatures: Int
    let featurizer: Featurizer
    let basis: ExpansionBasis
    let maxCovarianceValues: Int
    var fitted: [MultispectrumContraction.Block] = []
    /// The order whose covariances are being summed (2…ν).
    public private(set) var order = 2
    /// Centres seen in the current pass.
    public private(set) var centers = 0
    var plan: MultispectrumPlan
    var grams: [[Double]] = []
    /// The featurizer's time limit, over the whole fit (every pass).
    let clock: Deadline

    public init(
        featurizer: Featurizer, basis: ExpansionBasis, correlationOrder nu: Int, maxFeatures: Int,
        maxCovarianceValues: Int = 100_000_000
    ) throws(MultispectrumFitError) {
        guard maxFeatures >= 1 else { throw .invalidBudget(maxFeatures) }
        do { try Featurizer.checkCouplingReach(.multispectrum, maxAngular: basis.maxAngular, order: max(2, nu)) } catch {
            throw .featurization(error)
        }
        (self.featurizer, self.basis, self.correlationOrder, self.maxFeatures) = (featurizer, basis, max(2, nu), maxFeatures)
        self.maxCovarianceValues = maxCovarianceValues
        clock = Deadline(seconds: featurizer.timeLimit)
        plan = try Self.plan(basis: basis, order: 2, nu: max(2, nu), maxFeatures: maxFeatures, fitted: [])
        try startOrder()
    }

    /// True once every order's contraction is fitted.
    public var isComplete: Bool { order > correlationOrder }

    /// The fitted contraction (complete once `isComplete`).
    public var contraction: MultispectrumContraction {
        MultispectrumContraction(
            correlationOrder: correlationOrder, maxFeatures: maxFeatures, maxAngular: basis.maxAngular,
            channels: basis.channelCount, blocks: fitted)
    }

    static func plan(
        basis: ExpansionBasis, order k: Int, nu: Int, maxFeatures: Int,
        fitted: [MultispectrumContraction.Block]
    ) throws(MultispectrumFitError) -> MultispectrumPlan {
        let partial = MultispectrumContraction(
            correlationOrder: nu, maxFeatures: maxFeatures, maxAngular: basis.maxAngular,
            channels: basis.channelCount, blocks: fitted)
        do {
            return try MultispectrumPlan(
                maxAngular: basis.maxAngular, channels: basis.channelCount, order: nu,
                contraction: partial
            ).prefix(k)
        } catch {
            throw .featurization(.multispectrum(error))
        }
    }

    mutating func startOrder() throws(MultispectrumFitError) {
        let blocks = plan.orders[order - 1]
        let sizes = blocks.map(\.raw)
        let total = sizes.reduce(0) { $0 + $1 * $1 }
        // Per worker: its Grams and 32 centres of rows; plus the running sum and the eigen-decomposition.
        let rowsPerWorker = zip(sizes, blocks).reduce(0) { $0 + 32 * $1.0 * (2 * $1.1.lambda + 1) }
        if let worst = sizes.max(),
            Double(total + rowsPerWorker) * Double(featurizer.threads) + Double(total) + 3 * Double(worst * worst)
                > Double(maxCovarianceValues)
        {
            throw .covarianceTooLarge(order: order, features: worst, limit: maxCovarianceValues)
        }
        grams = sizes.map { [Double](repeating: 0, count: $0 * $0) }
        centers = 0
    }

    /// Adds the covariances of one batch's centres to the current order's sums.
    public mutating func add(_ structures: [Structure]) throws(MultispectrumFitError) {
        guard !isComplete else { return }
        let prepared: Featurizer.PreparedStructures
        do { prepared = try featurizer.prepareStructures(structures, basis: basis) } catch { throw .featurization(error) }
        let chunks = Featurizer.centerChunks(structures, size: 8)
        guard !chunks.isEmpty else { return }
        let (k, basis, plan, clock) = (order, basis, plan, clock)
        let L = basis.maxAngular
        let ch = basis.channelCount
        let blocks = plan.orders[k - 1]
        let sizes = blocks.map(\.raw)
        let dims = blocks.map { 2 * $0.lambda + 1 }
        let workers = max(1, min(featurizer.threads, chunks.count))
        var partial = [[[Double]]](repeating: [], count: workers)
        partial.withUnsafeMutableBufferPointer { out in
            let out = out
            Parallel.run(chunks: chunks.count, threads: workers, executor: featurizer.executor) { worker, next in
                let expansion = SphericalExpansion(basis: basis)
                let engine = MultispectrumEngine(plan: plan, radialCount: basis.radialCount)
                let transposed = UnsafeMutablePointer<Double>.allocate(capacity: max(1, expansion.size))
                defer { transposed.deallocate() }
                var local = sizes.map { [Double](repeating: 0, count: $0 * $0) }
                let first = engine.orderStart[k - 1]
                // Rows of up to `batch` centres per block, so each Gram update is one
                // dgemm of depth batch·(2λ+1) instead of one per centre.
                let batch = 32
                var rows = zip(sizes, dims).map { [Double](repeating: 0, count: batch * $1 * $0) }
                var filled = 0
                func flush() {
                    guard filled > 0 else { return }
                    for b in blocks.indices {
                        rows[b].withUnsafeBufferPointer { x in
                            local[b].withUnsafeMutableBufferPointer { g in
                                Gram.add(x.baseAddress!, rows: filled * dims[b], columns: sizes[b], into: g.baseAddress!)
                            }
                        }
                    }
                    filled = 0
                }
                while !clock.expired(), let c = next() {
                    let (s, begin, end) = chunks[c]
                    prepared.slots[s].withUnsafeBufferPointer { slotOfAtom in
                        for i in begin..<end {
                            expansion.compute(
                                center: i, slotOfAtom: slotOfAtom.baseAddress!, atomCount: structures[s].count,
                                list: prepared.lists[s], gradients: .none)
                            SphericalExpansion.transposePerL(
                                expansion.coefficients, maxAngular: L, channels: ch, into: transposed)
                            engine.computeValues(density: transposed) { b, raw in
                                let n = sizes[b - first] * dims[b - first]
                                rows[b - first].withUnsafeMutableBufferPointer { x in
                                    (x.baseAddress! + filled * n).update(from: raw, count: n)
                                }
                            }
                            filled += 1
                            if filled == batch { flush() }
                        }
                    }
                }
                flush()
                out[worker] = local
            }
        }
        do { try clock.check() } catch { throw .featurization(error) }
        for w in partial where !w.isEmpty {
            for b in grams.indices { for e in grams[b].indices { grams[b][e] += w[b][e] } }
        }
        centers += structures.reduce(0) { $0 + $1.count }
    }

    /// Decomposes the current order's sums into its blocks' projections and moves to the
    /// next order (whose pass must then start over the data).
    public mutating func finishOrder() throws(MultispectrumFitError) {
        guard !isComplete else { return }
        guard centers > 0 else { throw .noCenters }
        for (b, block) in plan.orders[order - 1].enumerated() {
            fitted.append(
                try Featurizer.principalComponents(
                    grams[b], n: block.raw, order: order, block: block,
                    maxFeatures: maxFeatures))
        }
        grams = []
        order += 1
        guard !isComplete else { return }
        plan = try Self.plan(basis: basis, order: order, nu: correlationOrder, maxFeatures: maxFeatures, fitted: fitted)
        try startOrder()
    }
}

extension Featurizer {
    static func principalComponents(
        _ gram: [Double], n: Int, order: Int, block: MultispectrumPlan.Block,
        maxFeatures: Int
    ) throws(MultispectrumFitError) -> MultispectrumContraction.Block {
        guard n > 0 else {
            return .init(
                order: order, lambda: block.lambda, sigma: block.sigma, inputCount: 0, components: [],
                eigenvalues: [], residualVariance: 0)
        }
        // The PCA of the optimal radial basis: rows by descending eigenvalue (clamped at 0, which
        // changes none that is kept: those are above 1e-12 × the largest, itself ≥ 0), with
        // each row's largest component positive.
        func keepCount(_ lambdas: [Double]) -> Int {
            var keep = 0
            while keep < min(maxFeatures, n) && lambdas[keep] > 1e-12 * lambdas[0] { keep += 1 }
            return keep
        }
        let rows: [Double]
        let lambdas: [Double]
        do { (rows, lambdas) = try OptimalBasis.pcaRows(gram, n: n, keep: keepCount) } catch { throw .decomposition("\(error)") }
        let trace = (0..<n).reduce(0.0) { $0 + gram[$1 * n + $1] }
        let kept = Array(lambdas.prefix(rows.count / n))
        let captured = kept.reduce(0, +)
        return .init(
            order: order, lambda: block.lambda, sigma: block.sigma, inputCount: n, components: rows,
            eigenvalues: kept, residualVariance: trace > 0 ? min(1, max(0, 1 - captured / trace)) : 0)
    }
}
