import Foundation

/// The tests' one seeded random number generator (SplitMix64, Steele, Lea and Flood 2014),
/// so a failing random case reproduces from its seed.
///
/// `SplitMix64(seed: s)` starts its state at `s`. SoapCore's tests were written with a copy
/// whose state started one step further, at `s + 0x9E3779B97F4A7C15`: that stream is
/// `SplitMix64(seed: s, skipping: 1)` (the same numbers, the first output dropped), which
/// those tests use so their seeded structures keep the positions they always had.
public struct SplitMix64: RandomNumberGenerator {
    /// The golden-ratio increment added to the state at every step.
    public static let increment: UInt64 = 0x9E37_79B9_7F4A_7C15

    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// The stream of `seed` with its first `skipping` outputs dropped.
    public init(seed: UInt64, skipping: Int) {
        state = seed &+ UInt64(skipping) &* Self.increment
    }

    public mutating func next() -> UInt64 {
        state &+= Self.increment
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension RandomNumberGenerator {
    /// A uniform double in [a, b).
    public mutating func uniform(_ a: Double, _ b: Double) -> Double { Double.random(in: a..<b, using: &self) }

    /// A standard normal deviate (Box–Muller, one of the pair).
    public mutating func gaussian() -> Double {
        let u = max(uniform(0, 1), 1e-300)
        let v = uniform(0, 1)
        return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
    }
}
