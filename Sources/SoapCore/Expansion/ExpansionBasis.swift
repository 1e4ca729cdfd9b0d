/// What the expansion kernel needs to know about a radial basis (docs/architecture.md,
/// "one expansion kernel for every radial basis"): for a neighbour of species
/// slot a around a centre of slot c, the spline table `tableOfPair[c·S + a]`
/// gives K values per l, added into channels starting at `channelOffset[a]`.
///
/// - primitive GTO: one table for all species, one channel group per species;
/// - fitted "separate": one table per species, one group per species;
/// - fitted "mixed": one table per species, a single group shared by all;
/// - centre-specific fits: one table per (centre species, neighbour species).
public struct ExpansionBasis: @unchecked Sendable {
    public let maxAngular: Int
    /// K: radial functions per l in each channel group (n or q).
    public let radialCount: Int
    /// Atomic numbers of the species slots (the request's `species`).
    public let species: [Int]
    public let tables: [RadialSplineTable]
    /// Table used for a neighbour of slot a around a centre of slot c, at c·S + a.
    public let tableOfPair: [Int]
    /// First channel of each species slot's contributions.
    public let channelOffset: [Int]
    /// Number of channel groups; channels = groups × K.
    public let groupCount: Int
    /// The neighbour type that labels each group, or nil when groups mix species.
    public let groupTypes: [Int]?
    /// Weight of the central atom's own density (l = 0, its own species).
    public let centerAtomWeight: Double
    /// f_c(r)·s(r) and its derivative.
    public let hypers: SoapHypers

    public init(
        maxAngular: Int, radialCount: Int, species: [Int], tables: [RadialSplineTable], tableOfPair: [Int],
        channelOffset: [Int], groupCount: Int, groupTypes: [Int]?, centerAtomWeight: Double, hypers: SoapHypers,
        radialSizes: [Int]? = nil
    ) {
        precondition(radialSizes.map { $0.count == maxAngular + 1 && $0.allSatisfy { $0 <= radialCount } } ?? true)
        self.radialSizes = radialSizes ?? Array(repeating: radialCount, count: maxAngular + 1)
        precondition(tables.allSatisfy { $0.count == (maxAngular + 1) * radialCount })
        precondition(tableOfPair.count == species.count * species.count && tableOfPair.allSatisfy { tables.indices.contains($0) })
        self.maxAngular = maxAngular
        self.radialCount = radialCount
        self.species = species
        self.tables = tables
        self.tableOfPair = tableOfPair
        self.channelOffset = channelOffset
        self.groupCount = groupCount
        self.groupTypes = groupTypes
        self.centerAtomWeight = centerAtomWeight
        self.hypers = hypers
    }

    /// n_l per l: the radial functions each l really has (≤ `radialCount`; the rest of
    /// each l's K channels are zero padding, dropped from every descriptor's columns).
    public let radialSizes: [Int]
    /// Whether some l has fewer than `radialCount` functions.
    public var isRagged: Bool { radialSizes.contains { $0 != radialCount } }

    /// The radial-integral table of the hypers' primitive basis (GTO, Explicit, Tabulated).
    public static func radialTable(for hypers: SoapHypers) throws -> RadialSplineTable {
        guard let set = hypers.radialBases else { return try gtoTable(for: hypers) }
        return try RadialIntegralTable.build(hypers, set)
    }

    /// The primitive basis: one shared table, one channel group per species.
    public static func primitive(hypers: SoapHypers, species: [Int], table: RadialSplineTable) -> ExpansionBasis {
        ExpansionBasis(
            maxAngular: hypers.maxAngular, radialCount: hypers.radialCount, species: species,
            tables: [table], tableOfPair: Array(repeating: 0, count: species.count * species.count),
            channelOffset: species.indices.map { $0 * hypers.radialCount },
            groupCount: species.count, groupTypes: species,
            centerAtomWeight: hypers.centerAtomWeight, hypers: hypers, radialSizes: hypers.radialSizes)
    }

    /// Builds the GTO radial-integral table for these hypers (tens of ms; cache it).
    /// (Hypers with another radial basis set get that set's table, as from `radialTable`.)
    public static func gtoTable(for hypers: SoapHypers) throws -> RadialSplineTable {
        if let set = hypers.radialBases { return try RadialIntegralTable.build(hypers, set) }
        let gto = try GtoRadialBasis(
            cutoff: hypers.cutoff, densityWidth: hypers.densityWidth,
            count: hypers.radialCount, maxAngular: hypers.maxAngular)
        // One spline per l, as featomic builds them.
        let table = RadialSplineTable(
            cutoff: hypers.cutoff,
            segmentSizes: Array(repeating: hypers.radialCount, count: hypers.maxAngular + 1),
            accuracy: hypers.effectiveSplineAccuracy
        ) { l, r, v, d in
            gto.radialIntegrals(at: r, l: l, values: v, derivatives: d)
        }
        guard table.points.allSatisfy(\.isFinite) else { throw NumericalFailure.nonFiniteRadialIntegrals }
        return table
    }

    public enum NumericalFailure: Error, CustomStringConvertible {
        case nonFiniteRadialIntegrals
        public var description: String { "the radial integrals are not finite for these hyper-parameters" }
    }

    public var channelCount: Int { groupCount * radialCount }
}
