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
                let memory = BufferArena()
                defer { withExtendedLifetime(memory) {} }
                let transposed = memory.allocate(Double.self, count: expansion.size)
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
