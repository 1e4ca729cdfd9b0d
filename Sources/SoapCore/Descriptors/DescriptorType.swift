/// The invariants soapd computes from the spherical expansion.
public enum DescriptorType: String, Sendable, CaseIterable {
    case sphericalExpansion = "spherical_expansion"
    case radialSpectrum = "radial_spectrum"
    case powerSpectrum = "power_spectrum"
    /// ν = 3 invariants (docs/conventions.md §11), featomic's DensityCorrelations with λ = 0.
    case bispectrum
    /// ν-order invariants by the NICE iteration (DescriptorOptions.correlationOrder),
    /// optionally PCA-contracted between orders.
    case multispectrum
}

/// One row per atom, or one per structure (the sum over its atoms).
public enum SampleLevel: String, Sendable {
    case atom, structure
}
