/// A computed descriptor: one contiguous row-major block plus labels.
public struct FeatureMatrix: Sendable {
    public var samples: Labels
    /// Atomic number of each row's centre (per-atom rows only).
    public var centerTypes: [Int32]?
    public var properties: Labels
    /// rows × columns, row-major.
    public var values: [Double]
    /// Gradient entries (sample, structure, atom), one per non-zero (row, atom) pair.
    public var gradientSamples: Labels?
    /// entries × 3 × columns: d/dx, d/dy, d/dz of row `sample` w.r.t. the position of `atom`.
    public var gradientValues: [Double]?
    /// Strain gradient samples ("sample": the row), one per row, when asked for.
    public var strainSamples: Labels? = nil
    /// rows × 3 × 3 × columns: ∂(row)/∂ε_ab under r → (1 + ε) r of positions and cell.
    public var strainValues: [Double]? = nil
    /// The share of a memory budget these arrays hold; returned when the last copy goes.
    public var reservation: MemoryReservation? = nil

    public var rowCount: Int { samples.count }
    public var columnCount: Int { properties.count }
}
