// 128-bit approximations of powers of five, shared by the number reader
// (Eisel–Lemire) and the number writer (Ryū).
//
// The tables are computed once, on first use (well under a millisecond in
// release), with a tiny big-integer routine. That keeps ~2,600 opaque 64-bit
// constants out of the source; the tests pin a few entries to the published
// values so a generator bug cannot go unnoticed.

final class PowerTables: @unchecked Sendable {  // immutable after init
    static let shared = PowerTables()

    /// Ryū, e2 >= 0: ⌊2^(bitlen(5^q) - 1 + 125) / 5^q⌋ + 1, q in 0..<342, stored (lo, hi).
    let ryuInverse: UnsafeMutablePointer<UInt64>
    /// Ryū, e2 < 0: 5^i truncated to its top 125 bits, i in 0..<326, stored (lo, hi).
    let ryuPower: UnsafeMutablePointer<UInt64>
    /// Eisel–Lemire: 5^q scaled to exactly 128 bits, q in -342...308, stored (hi, lo).
    /// Negative q hold the reciprocal plus one unit (as in Lemire's fast_float and Rust's
    /// core::num::dec2flt), so the product never underestimates.
    let lemire: UnsafeMutablePointer<UInt64>
    /// Exact doubles 1e0 ... 1e22 for Clinger's fast path.
    let exactPowersOfTen: UnsafeMutablePointer<Double>

    static let ryuInverseCount = 342
    static let ryuPowerCount = 326
    static let lemireMinExponent = -342
    static let lemireMaxExponent = 308

    private init() {
        ryuInverse = .allocate(capacity: 2 * Self.ryuInverseCount)
        ryuPower = .allocate(capacity: 2 * Self.ryuPowerCount)
        let lemireCount = Self.lemireMaxExponent - Self.lemireMinExponent + 1
        lemire = .allocate(capacity: 2 * lemireCount)
        exactPowersOfTen = .allocate(capacity: 23)

        var p = 1.0
        for i in 0...22 {
            exactPowersOfTen[i] = p  // every product is exact up to 1e22
            p *= 10
        }

        var pow5 = BigUInt(1)  // 5^i
        for i in 0..<max(Self.ryuInverseCount, Self.ryuPowerCount, -Self.lemireMinExponent + 1) {
            let len = pow5.bitLength
            if i < Self.ryuPowerCount {
                let (hi, lo) = pow5.bits128(from: len - 125)
                ryuPower[2 * i] = lo
                ryuPower[2 * i + 1] = hi
            }
            if i < Self.ryuInverseCount {
                var q = BigUInt.powerOfTwo(len - 1 + 125)
                q.divide(byPowerOfFive: i)
                q.addOne()
                let (hi, lo) = q.bits128(from: 0)
                ryuInverse[2 * i] = lo
                ryuInverse[2 * i + 1] = hi
            }
            if i <= Self.lemireMaxExponent {
                // 5^i scaled so its top bit is bit 127 (truncated when longer).
                let (hi, lo) = pow5.bits128(from: len - 128)
                let slot = i - Self.lemireMinExponent
                lemire[2 * slot] = hi
                lemire[2 * slot + 1] = lo
            }
            if i > 0 && i <= -Self.lemireMinExponent {
                // 2^b / 5^i + 1, truncated to 128 bits. For 5^i < 2^64 the quotient is
                // taken at exactly 128 bits; beyond that at double width, so the
                // "+1" only perturbs bits below the kept ones.
                let b = i <= 27 ? len + 127 : 2 * len + 128
                var q = BigUInt.powerOfTwo(b)
                q.divide(byPowerOfFive: i)
                q.addOne()
                let (hi, lo) = q.bits128(from: q.bitLength - 128)
                let slot = -i - Self.lemireMinExponent
                lemire[2 * slot] = hi
                lemire[2 * slot + 1] = lo
            }
            pow5.multiply(by: 5)
        }
    }
}

/// Just enough unsigned big-integer arithmetic to build the tables above.
/// Little-endian 32-bit limbs; all operations are in place.
struct BigUInt {
    private(set) var limbs: [UInt32]

    init(_ value: UInt32) { limbs = [value] }

    static func powerOfTwo(_ k: Int) -> BigUInt {
        var r = BigUInt(0)
        r.limbs = [UInt32](repeating: 0, count: k / 32 + 1)
        r.limbs[k / 32] = 1 << UInt32(k % 32)
        return r
    }

    var bitLength: Int {
        guard let top = limbs.lastIndex(where: { $0 != 0 }) else { return 0 }
        return top * 32 + (32 - limbs[top].leadingZeroBitCount)
    }

    mutating func multiply(by m: UInt32) {
        var carry: UInt64 = 0
        for i in limbs.indices {
            let t = UInt64(limbs[i]) * UInt64(m) + carry
            limbs[i] = UInt32(truncatingIfNeeded: t)
            carry = t >> 32
        }
        if carry != 0 { limbs.append(UInt32(carry)) }
    }

    /// Floor division by d (< 2^32).
    mutating func divide(by d: UInt32) {
        var rem: UInt64 = 0
        for i in limbs.indices.reversed() {
            let cur = (rem << 32) | UInt64(limbs[i])
            limbs[i] = UInt32(cur / UInt64(d))
            rem = cur % UInt64(d)
        }
        while limbs.count > 1 && limbs.last == 0 { limbs.removeLast() }
    }

    /// ⌊x / 5^n⌋, in chunks of 5^13 (< 2^32); valid because ⌊⌊x/a⌋/b⌋ = ⌊x/(ab)⌋.
    mutating func divide(byPowerOfFive n: Int) {
        var left = n
        while left > 0 {
            let k = min(left, 13)
            var d: UInt32 = 1
            for _ in 0..<k { d *= 5 }
            divide(by: d)
            left -= k
        }
    }

    mutating func addOne() {
        for i in limbs.indices {
            limbs[i] &+= 1
            if limbs[i] != 0 { return }
        }
        limbs.append(1)
    }

    /// Bits [shift, shift + 128) of the value as (hi, lo); a negative shift moves the
    /// value left (zeros come in from below).
    func bits128(from shift: Int) -> (hi: UInt64, lo: UInt64) {
        func limb(_ i: Int) -> UInt64 { i >= 0 && i < limbs.count ? UInt64(limbs[i]) : 0 }
        func word32(_ bit: Int) -> UInt64 {
            let index = bit >> 5  // arithmetic shift: floor division for negative bits
            let offset = UInt64(bit & 31)
            return ((limb(index + 1) << 32 | limb(index)) >> offset) & 0xFFFF_FFFF
        }
        let w0 = word32(shift)
        let w1 = word32(shift + 32)
        let w2 = word32(shift + 64)
        let w3 = word32(shift + 96)
        return (w3 << 32 | w2, w1 << 32 | w0)
    }
}
