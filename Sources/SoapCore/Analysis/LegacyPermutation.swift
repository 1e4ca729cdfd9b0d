/// numpy's legacy `RandomState(seed).permutation(n)` (MT19937 seeded by `init_genrand`,
/// Fisher–Yates from the end with masked rejection sampling), which scikit-learn's
/// shuffled splits use: scikit-matter's reconstruction measures split with it, so the
/// same seed must give the same rows here.
public struct LegacyPermutation {
    private var state = [UInt32](repeating: 0, count: 624)
    private var position = 624

    public init(seed: UInt32) {
        state[0] = seed
        for i in 1..<624 {
            state[i] = 1_812_433_253 &* (state[i - 1] ^ (state[i - 1] >> 30)) &+ UInt32(i)
        }
    }

    /// The next tempered 32-bit output.
    public mutating func next() -> UInt32 {
        if position >= 624 {
            for i in 0..<624 {
                let y = (state[i] & 0x8000_0000) | (state[(i + 1) % 624] & 0x7fff_ffff)
                state[i] = state[(i + 397) % 624] ^ (y >> 1) ^ ((y & 1) == 0 ? 0 : 0x9908_b0df)
            }
            position = 0
        }
        var y = state[position]
        position += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9d2c_5680
        y ^= (y << 15) & 0xefc6_0000
        y ^= y >> 18
        return y
    }

    /// A uniform integer in 0...max (numpy's `rk_interval`).
    mutating func interval(_ max: UInt32) -> UInt32 {
        guard max > 0 else { return 0 }
        var mask = max
        mask |= mask >> 1
        mask |= mask >> 2
        mask |= mask >> 4
        mask |= mask >> 8
        mask |= mask >> 16
        while true {
            let value = next() & mask
            if value <= max { return value }
        }
    }

    /// `RandomState(seed).permutation(n)`.
    public static func permutation(_ n: Int, seed: UInt32) -> [Int] {
        var rng = LegacyPermutation(seed: seed)
        var a = Array(0..<n)
        var i = n - 1
        while i >= 1 {
            let j = Int(rng.interval(UInt32(i)))
            a.swapAt(i, j)
            i -= 1
        }
        return a
    }
}
