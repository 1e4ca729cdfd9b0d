#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// Computes descriptors for many structures, spreading centres over threads.
public struct Featurizer: Sendable {
    public var threads: Int
    public var limits: FeaturizationLimits
    /// Seconds allowed from the start of a computation (nil: no limit). Checked between
    /// chunks of centres, so the work stops within one chunk of the deadline.
    public var timeLimit: Double?
    /// Outputs reserve their size here before they are allocated (nil: unbounded).
    public var memoryBudget: MemoryBudget?
    /// Bytes reserved per byte of output, covering what callers build from it later (a JSON
    /// text is several times the size of its doubles).
    public var reserveFactor = 1.0
    /// Threads for the parallel loops (nil: Dispatch's pool).
    public var executor: (any ForkJoinExecutor)? = nil
    /// Where per-row values arrays come from (nil: fresh ones).
    public var valuesPool: ValueArrayPool? = nil

    public init(threads: Int = Featurizer.defaultThreads, limits: FeaturizationLimits = .init()) {
        self.threads = max(1, threads)
        self.limits = limits
    }

    public static var defaultThreads: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// `progress` (per-atom values without gradients only) is told where the values are
    /// and, as centres finish, how many leading rows are final, so that a caller can send
    /// them while the rest are computed.
    public func compute(
        _ structures: [Structure], type: DescriptorType, basis: ExpansionBasis,
        level: SampleLevel = .atom, gradients: Bool = false,
        progress: RowProgress? = nil,
        options: DescriptorOptions = .init(),
        strain: Bool = false
    ) throws(FeaturizationError) -> FeatureMatrix {
        // A ragged basis's rows are final only once its padding columns are dropped.
        let progress = level == .atom && !gradients && !strain && !basis.isRagged ? progress : nil
        if strain { try StrainSupport.check(structures) }
        if type == .bispectrum && basis.maxAngular > ClebschGordan.supportedMaxAngular {
            throw .maxAngularTooLarge(type: type, maxAngular: basis.maxAngular, limit: ClebschGordan.supportedMaxAngular)
        }
        let plan = try Self.multispectrumPlan(type, basis: basis, options: options, limits: limits)
        let clock = Deadline(seconds: timeLimit)
        let prepared = try prepareStructures(structures, basis: basis)
        try clock.check()
        let slots = prepared.slots
        let neighborLists = prepared.lists

        // Rows and, with gradients, where each row's entries go.
        let rows = structures.reduce(0) { $0 + $1.count }
        // Sized before any label is built: the bispectrum's width grows as channels³.
        // In Double, so that absurd hypers cannot overflow the product.
        let width = ColumnLayout.count(type, basis: basis, plan: plan)
        let planned = Double(rows) * Double(width)
        guard planned <= Double(limits.maxValues) else {
            throw .outputTooLarge(values: Int(min(planned, 1e18)), limit: limits.maxValues)
        }
        // The column labels (up to 10 integers each) are output too, even for no rows.
        guard Double(width) * 10 <= Double(limits.maxValues) else {
            throw .outputTooLarge(values: Int(min(Double(width) * 10, 1e18)), limit: limits.maxValues)
        }
        let properties = ColumnLayout.properties(type, basis: basis, plan: plan)
        let columns = properties.count
        var rowStart = [Int](repeating: 0, count: structures.count + 1)
        for s in structures.indices { rowStart[s + 1] = rowStart[s] + structures[s].count }
        var entryStart = [Int](repeating: 0, count: rows + 1)
        if gradients {
            var counts = [Int](repeating: 0, count: rows)
            counts.withUnsafeMutableBufferPointer { counts in
                let counts = counts
                Parallel.run(chunks: structures.count, threads: threads, executor: executor) { _, next in
                    var seen: [Int32] = []
                    while let s = next() {
                        let list = neighborLists[s]
                        if seen.count < structures[s].count { seen = [Int32](repeating: -1, count: structures[s].count) }
                        for i in 0..<structures[s].count {
                            var unique = 1
                            for p in list.start[i]..<list.start[i + 1] {
                                let j = Int(list.neighbor[p])
                                if j != i && seen[j] != Int32(i) {
                                    seen[j] = Int32(i)
                                    unique += 1
                                }
                            }
                            for p in list.start[i]..<list.start[i + 1] { seen[Int(list.neighbor[p])] = -1 }
                            counts[rowStart[s] + i] = unique
                        }
                    }
                }
            }
            for r in 0..<rows { entryStart[r + 1] = entryStart[r] + counts[r] }
            let size = entryStart[rows] * 3 * columns
            guard size <= limits.maxGradientValues else {
                throw .outputTooLarge(values: size, limit: limits.maxGradientValues)
            }
        }
        let entries = entryStart[rows]
        let strainCount = strain ? rows * 9 * columns : 0
        guard strainCount <= limits.maxGradientValues else {
            throw .outputTooLarge(values: strainCount, limit: limits.maxGradientValues)
        }

        var reservation: MemoryReservation? = nil
        if let budget = memoryBudget {
            let raw =
                8.0 * Double(rows) * Double(columns) + 8.0 * Double(entries) * 3 * Double(columns)
                + 12.0 * Double(entries) + 12.0 * Double(rows) + 16.0 * Double(strainCount)
            let bytes = raw * reserveFactor
            guard bytes <= Double(budget.limit) else { throw .overBudget(bytes: Int(min(bytes, 1e18)), limit: budget.limit) }
            guard let r = budget.reserve(Int(bytes)) else { throw .budgetBusy(bytes: Int(bytes), available: budget.available) }
            reservation = r
        }
        // Every element is written by the kernels below.
        var values = valuesPool?.take(count: rows * columns) ?? LargeBuffers.uninitialized(Double.self, count: rows * columns)
        var gradientValues = LargeBuffers.uninitialized(Double.self, count: gradients ? entries * 3 * columns : 0)
        var gradientLabels = LargeBuffers.uninitialized(Int32.self, count: gradients ? entries * 3 : 0)
        // Strain rows (rows × 9 × columns), copied into the result's array at the end.
        let strainBase = UnsafeMutablePointer<Double>.allocate(capacity: max(1, strainCount))
        defer { strainBase.deallocate() }

        let chunks = Self.centerChunks(structures, size: max(1, min(32, rows / (threads * 8))))
        values.withUnsafeMutableBufferPointer { valuesOut in
            gradientValues.withUnsafeMutableBufferPointer { gradOut in
                gradientLabels.withUnsafeMutableBufferPointer { labelOut in
                    let valuesBase = valuesOut.baseAddress
                    let gradBase = gradOut.baseAddress
                    let labelBase = labelOut.baseAddress
                    progress?.begin(
                        values: UnsafePointer(valuesBase), rows: rows, columns: columns, properties: properties,
                        chunkRowEnds: chunks.map { rowStart[$0.structure] + $0.end })
                    Parallel.run(chunks: chunks.count, threads: threads, executor: executor) { _, next in
                        let expansion = SphericalExpansion(basis: basis)
                        let writer = DescriptorWriter(
                            type: type, expansion: expansion, columns: columns, gradients: gradients || strain,
                            plan: plan)
                        while !clock.expired(), let c = next() {
                            let (s, first, end) = chunks[c]
                            slots[s].withUnsafeBufferPointer { slotOfAtom in
                                for i in first..<end {
                                    let row = rowStart[s] + i
                                    expansion.compute(
                                        center: i, slotOfAtom: slotOfAtom.baseAddress!, atomCount: structures[s].count,
                                        list: neighborLists[s], gradients: gradients ? writer.gradientMode : .none,
                                        strain: strain)
                                    writer.writeValues(to: valuesBase! + row * columns)
                                    if gradients {
                                        writer.writeGradients(
                                            center: i, row: row, structure: s,
                                            values: gradBase! + entryStart[row] * 3 * columns,
                                            labels: labelBase! + entryStart[row] * 3)
                                    }
                                    if strain { writer.writeStrain(to: strainBase + row * 9 * columns) }
                                }
                            }
                            progress?.chunkDone(c)
                        }
                    }
                }
            }
        }

        try clock.check()
        let (samples, centerTypes) = Labels.atoms(of: structures)
        var result = FeatureMatrix(
            samples: samples, centerTypes: centerTypes, properties: properties, values: values,
            gradientSamples: gradients ? Labels(names: ["sample", "structure", "atom"], values: gradientLabels) : nil,
            gradientValues: gradients ? gradientValues : nil)
        if strain {
            result.strainSamples = Labels(names: ["sample"], values: (0..<Int32(rows)).map { $0 })
            result.strainValues = Array(UnsafeBufferPointer(start: strainBase, count: strainCount))
        }
        if level == .structure {
            let perAtom = result
            result = Self.sumOverStructures(result, structures: structures, rowStart: rowStart, entryStart: entryStart)
            if strain { StrainSupport.sumOverStructures(perAtom, into: &result, rowStart: rowStart) }
        }
        if basis.isRagged, let keep = RaggedColumns.kept(result.properties, sizes: basis.radialSizes) {
            result = RaggedColumns.select(result, columns: keep)
        }
        result.reservation = reservation
        return result
    }

    /// Intermediate λ of a ν-body coupling reach min(k, ν−k)·L ≤ (ν/2)·L: refused before a
    /// plan asks the Clebsch–Gordan tables for more than they hold.
    static func checkCouplingReach(_ type: DescriptorType, maxAngular L: Int, order nu: Int) throws(FeaturizationError) {
        guard max(L, (nu / 2) * L) <= ClebschGordan.supportedMaxAngular else {
            throw .maxAngularTooLarge(type: type, maxAngular: L, limit: ClebschGordan.supportedMaxAngular / max(1, nu / 2))
        }
    }

    /// The NICE plan of a multispectrum (or of λ-SOAP), checked against the CG tables and
    /// the limits before anything is allocated; nil for the other descriptors.
    static func multispectrumPlan(
        _ type: DescriptorType, basis: ExpansionBasis, options: DescriptorOptions,
        limits: FeaturizationLimits
    ) throws(FeaturizationError) -> MultispectrumPlan? {
        let equivariant = type == .powerSpectrum && options.lambda != nil
        guard type == .multispectrum || equivariant else { return nil }
        let L = basis.maxAngular
        let nu = equivariant ? 2 : options.correlationOrder
        try checkCouplingReach(type, maxAngular: L, order: nu)
        let plan: MultispectrumPlan
        do {
            plan = try MultispectrumPlan(
                maxAngular: L, channels: basis.channelCount, order: nu,
                lambda: options.lambda ?? 0, bothParities: equivariant,
                contraction: equivariant ? nil : options.contraction)
        } catch {
            throw .multispectrum(error)
        }
        // Each worker holds every order's values and derivatives for one centre.
        let scratch = 2 * Double(plan.valueSize) + Double(plan.rawScratchSize)
        guard scratch <= Double(limits.maxValues) else {
            throw .outputTooLarge(values: Int(min(scratch, 1e18)), limit: limits.maxValues)
        }
        return plan
    }

    /// Validated structures as species slots and neighbour lists.
    struct PreparedStructures {
        var slots: [[Int32]]
        var lists: [NeighborList]
    }

    func prepareStructures(_ structures: [Structure], basis: ExpansionBasis) throws(FeaturizationError) -> PreparedStructures {
        // Species slots for every atom.
        let species = basis.species
        guard !species.isEmpty else { throw .invalidSpecies("must list at least one atomic number") }
        guard species == species.sorted(), Set(species).count == species.count else {
            throw .invalidSpecies("must be sorted and without repeats")
        }
        var slotOfNumber = [Int32](repeating: -1, count: Elements.symbols.count + 1)
        for (a, z) in species.enumerated() {
            guard Elements.isKnown(z) else { throw .invalidSpecies("\(z) is not an element") }
            slotOfNumber[z] = Int32(a)
        }
        var slots: [[Int32]] = []
        slots.reserveCapacity(structures.count)
        for (s, structure) in structures.enumerated() {
            do { try structure.validate(index: s) } catch { throw .structure(error) }
            var row = [Int32](repeating: 0, count: structure.count)
            for (i, z) in structure.numbers.enumerated() {
                let slot = slotOfNumber[z]
                guard slot >= 0 else { throw .unknownSpecies(structure: s, atom: i, number: z) }
                row[i] = slot
            }
            slots.append(row)
            let estimate = Self.estimatedPairs(structure, cutoff: basis.hypers.cutoff)
            if estimate > Double(limits.maxPairsPerStructure) {
                throw .tooManyPairs(structure: s, estimate: Int(min(estimate, 1e18)), limit: limits.maxPairsPerStructure)
            }
        }

        // Neighbour lists, one structure per chunk.
        let cutoff = basis.hypers.cutoff
        let maxPairs = limits.maxPairsPerStructure
        var lists = [NeighborList?](repeating: nil, count: structures.count)
        lists.withUnsafeMutableBufferPointer { out in
            let out = out
            Parallel.run(chunks: structures.count, threads: threads, executor: executor) { _, next in
                while let s = next() { out[s] = NeighborList.build(structures[s], cutoff: cutoff, maxPairs: maxPairs) }
            }
        }
        for (s, list) in lists.enumerated() where list == nil {
            throw .tooManyPairs(structure: s, estimate: maxPairs + 1, limit: maxPairs)
        }
        return PreparedStructures(slots: slots, lists: lists.map { $0! })

    }

    /// Work units: runs of centres that never cross a structure.
    static func centerChunks(_ structures: [Structure], size: Int) -> [(structure: Int, first: Int, end: Int)] {
        var chunks: [(structure: Int, first: Int, end: Int)] = []
        for (s, structure) in structures.enumerated() {
            for first in stride(from: 0, to: structure.count, by: size) {
                chunks.append((s, first, min(structure.count, first + size)))
            }
        }
        return chunks
    }

    /// Upper estimate of neighbour pairs (images included) before any allocation.
    static func estimatedPairs(_ structure: Structure, cutoff: Double) -> Double {
        let n = Double(structure.count)
        guard structure.isPeriodic, let cell = structure.cell else { return n * (n - 1) }
        let volume = abs(Geometry.determinant(cell))
        // Open axes of a slab or wire: the atoms spread over at most the cell
        // along them; count as if periodic, an over-estimate only in vacuum.
        let sphere = 4.0 / 3.0 * Double.pi * cutoff * cutoff * cutoff
        return n * (n / volume) * sphere * 1.5 + n
    }

    /// Per-structure rows: sums of the per-atom rows and of their gradients.
    static func sumOverStructures(
        _ perAtom: FeatureMatrix, structures: [Structure], rowStart: [Int],
        entryStart: [Int]
    ) -> FeatureMatrix {
        let columns = perAtom.columnCount
        var values = [Double](repeating: 0, count: structures.count * columns)
        for s in structures.indices {
            for row in rowStart[s]..<rowStart[s + 1] {
                for c in 0..<columns { values[s * columns + c] += perAtom.values[row * columns + c] }
            }
        }
        var samples = Labels(names: ["structure"])
        samples.values = structures.indices.map { Int32($0) }
        var gradientSamples: Labels? = nil
        var gradientValues: [Double]? = nil
        if let labels = perAtom.gradientSamples, let grads = perAtom.gradientValues {
            var outLabels = Labels(names: ["sample", "structure", "atom"])
            var out: [Double] = []
            for s in structures.indices {
                let n = structures[s].count
                var dense = [Double](repeating: 0, count: n * 3 * columns)
                var present = [Bool](repeating: false, count: n)
                for e in entryStart[rowStart[s]]..<entryStart[rowStart[s + 1]] {
                    let atom = Int(labels.values[3 * e + 2])
                    present[atom] = true
                    for k in 0..<(3 * columns) { dense[atom * 3 * columns + k] += grads[e * 3 * columns + k] }
                }
                for atom in 0..<n where present[atom] {
                    outLabels.values += [Int32(s), Int32(s), Int32(atom)]
                    out += dense[(atom * 3 * columns)..<((atom + 1) * 3 * columns)]
                }
            }
            gradientSamples = outLabels
            gradientValues = out
        }
        return FeatureMatrix(
            samples: samples, centerTypes: nil, properties: perAtom.properties, values: values,
            gradientSamples: gradientSamples, gradientValues: gradientValues)
    }
}
