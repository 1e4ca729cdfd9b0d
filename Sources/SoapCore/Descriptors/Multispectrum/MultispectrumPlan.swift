/// The equivariant blocks of every order of the NICE iteration (thesis eq. 1.18),
///
///   x^{(k+1)}_{(f, q); λμ} = Σ_{m1 m2} C^{λμ}_{λ1 m1, l m2} x^{(k)}_{f; λ1 m1} c_{q; l m2},
///
/// with featomic's real Clebsch–Gordan coefficients (docs/conventions.md §11) and
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
