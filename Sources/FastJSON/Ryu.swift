// Ryū's core: the shortest, correctly rounded decimal digits of a double.
// Ulf Adams, "Ryū: fast float-to-string conversion", PLDI 2018
// (https://doi.org/10.1145/3192366.3192369); this follows the paper's §3 and
// the reference implementation's full-table d2s (tables in PowerTables.swift).

struct Decimal64 {
    var digits: UInt64
    var exponent: Int
}

/// Integers in [1, 2^53) need no search: their digits are the integer itself.
@inline(__always)
func smallIntDecimal(_ ieeeMantissa: UInt64, _ ieeeExponent: Int) -> Decimal64? {
    let m2 = (1 << 52) | ieeeMantissa
    let e2 = ieeeExponent &- 1075
    guard ieeeExponent != 0, e2 <= 0, e2 >= -52 else { return nil }
    let mask: UInt64 = (1 << UInt64(-e2)) &- 1
    guard m2 & mask == 0 else { return nil }
    var d = Decimal64(digits: m2 >> UInt64(-e2), exponent: 0)
    // Move trailing zeros into the exponent so the layout code sees the short form.
    while true {
        let q = d.digits / 10
        if d.digits &- q &* 10 != 0 { break }
        d.digits = q
        d.exponent &+= 1
    }
    return d
}

@inline(__always) private func pow5bits(_ e: Int) -> Int { ((e &* 1_217_359) >> 19) &+ 1 }
@inline(__always) private func log10Pow2(_ e: Int) -> Int { (e &* 78_913) >> 18 }
@inline(__always) private func log10Pow5(_ e: Int) -> Int { (e &* 732_923) >> 20 }

@inline(__always)
private func pow5Factor(_ value: UInt64) -> Int {
    var v = value
    var count = 0
    while true {
        let q = v / 5
        if v &- q &* 5 != 0 { return count }
        v = q
        count &+= 1
    }
}

@inline(__always)
private func multipleOfPowerOf5(_ value: UInt64, _ p: Int) -> Bool { pow5Factor(value) >= p }

@inline(__always)
private func multipleOfPowerOf2(_ value: UInt64, _ p: Int) -> Bool {
    value & ((1 << UInt64(p)) &- 1) == 0
}

/// (m × mul) >> j for a 128-bit multiplier stored (lo, hi); j - 64 is in [49, 58].
@inline(__always)
private func mulShift64(_ m: UInt64, _ mul: UnsafePointer<UInt64>, _ j: Int) -> UInt64 {
    let b0 = m.multipliedFullWidth(by: mul[0])
    let b2 = m.multipliedFullWidth(by: mul[1])
    let (lo, carry) = b2.low.addingReportingOverflow(b0.high)
    let hi = b2.high &+ (carry ? 1 : 0)
    let s = UInt64(j &- 64)
    return (hi << (64 &- s)) | (lo >> s)
}

/// Ryū's core (paper §3 steps 2-4): the shortest correctly rounded decimal.
@inline(__always)
func ryuDecimal(_ ieeeMantissa: UInt64, _ ieeeExponent: Int, _ tables: PowerTables) -> Decimal64 {
    let e2: Int
    let m2: UInt64
    if ieeeExponent == 0 {
        // Two extra bits so that the interval bounds are integers.
        e2 = 1 &- 1023 &- 52 &- 2
        m2 = ieeeMantissa
    } else {
        e2 = ieeeExponent &- 1023 &- 52 &- 2
        m2 = (1 << 52) | ieeeMantissa
    }
    let acceptBounds = m2 & 1 == 0  // round-half-even on read-back accepts the bounds

    let mv = 4 &* m2
    // The lower neighbour is closer when the mantissa is a power of two.
    let mmShift: UInt64 = (ieeeMantissa != 0 || ieeeExponent <= 1) ? 1 : 0

    var vr: UInt64
    var vp: UInt64
    var vm: UInt64
    let e10: Int
    var vmIsTrailingZeros = false
    var vrIsTrailingZeros = false
    if e2 >= 0 {
        let q = log10Pow2(e2) &- (e2 > 3 ? 1 : 0)
        e10 = q
        let k = 125 &+ pow5bits(q) &- 1
        let i = -e2 &+ q &+ k
        let mul = UnsafePointer(tables.ryuInverse + 2 &* q)
        vr = mulShift64(4 &* m2, mul, i)
        vp = mulShift64(4 &* m2 &+ 2, mul, i)
        vm = mulShift64(4 &* m2 &- 1 &- mmShift, mul, i)
        if q <= 21 {
            // At most one of mp, mv, mm is a multiple of 5.
            if mv % 5 == 0 {
                vrIsTrailingZeros = multipleOfPowerOf5(mv, q)
            } else if acceptBounds {
                vmIsTrailingZeros = multipleOfPowerOf5(mv &- 1 &- mmShift, q)
            } else {
                vp &-= multipleOfPowerOf5(mv &+ 2, q) ? 1 : 0
            }
        }
    } else {
        let q = log10Pow5(-e2) &- (-e2 > 1 ? 1 : 0)
        e10 = q &+ e2
        let i = -e2 &- q
        let k = pow5bits(i) &- 125
        let j = q &- k
        let mul = UnsafePointer(tables.ryuPower + 2 &* i)
        vr = mulShift64(4 &* m2, mul, j)
        vp = mulShift64(4 &* m2 &+ 2, mul, j)
        vm = mulShift64(4 &* m2 &- 1 &- mmShift, mul, j)
        if q <= 1 {
            // mv = 4·m2 has at least two trailing zero bits.
            vrIsTrailingZeros = true
            if acceptBounds {
                vmIsTrailingZeros = mmShift == 1
            } else {
                vp &-= 1
            }
        } else if q < 63 {
            vrIsTrailingZeros = multipleOfPowerOf2(mv, q)
        }
    }

    // Step 4: drop digits while the interval still contains a shorter candidate.
    var removed = 0
    var lastRemovedDigit: UInt64 = 0
    let output: UInt64
    if vmIsTrailingZeros || vrIsTrailingZeros {
        // Rare general case (~0.7%): exact ties and inclusive bounds need tracking.
        while true {
            let vpDiv10 = vp / 10
            let vmDiv10 = vm / 10
            if vpDiv10 <= vmDiv10 { break }
            let vmMod10 = vm &- vmDiv10 &* 10
            let vrDiv10 = vr / 10
            let vrMod10 = vr &- vrDiv10 &* 10
            vmIsTrailingZeros = vmIsTrailingZeros && vmMod10 == 0
            vrIsTrailingZeros = vrIsTrailingZeros && lastRemovedDigit == 0
            lastRemovedDigit = vrMod10
            vr = vrDiv10
            vp = vpDiv10
            vm = vmDiv10
            removed &+= 1
        }
        if vmIsTrailingZeros {
            while true {
                let vmDiv10 = vm / 10
                let vmMod10 = vm &- vmDiv10 &* 10
                if vmMod10 != 0 { break }
                let vpDiv10 = vp / 10
                let vrDiv10 = vr / 10
                let vrMod10 = vr &- vrDiv10 &* 10
                vrIsTrailingZeros = vrIsTrailingZeros && lastRemovedDigit == 0
                lastRemovedDigit = vrMod10
                vr = vrDiv10
                vp = vpDiv10
                vm = vmDiv10
                removed &+= 1
            }
        }
        if vrIsTrailingZeros && lastRemovedDigit == 5 && vr % 2 == 0 {
            lastRemovedDigit = 4  // exactly ...50...0: round half to even
        }
        let roundUp = (vr == vm && (!acceptBounds || !vmIsTrailingZeros)) || lastRemovedDigit >= 5
        output = vr &+ (roundUp ? 1 : 0)
    } else {
        // Common case: no ties possible, remove two digits at a time first.
        var roundUp = false
        let vpDiv100 = vp / 100
        let vmDiv100 = vm / 100
        if vpDiv100 > vmDiv100 {
            let vrDiv100 = vr / 100
            let vrMod100 = vr &- vrDiv100 &* 100
            roundUp = vrMod100 >= 50
            vr = vrDiv100
            vp = vpDiv100
            vm = vmDiv100
            removed &+= 2
        }
        while true {
            let vpDiv10 = vp / 10
            let vmDiv10 = vm / 10
            if vpDiv10 <= vmDiv10 { break }
            let vrDiv10 = vr / 10
            let vrMod10 = vr &- vrDiv10 &* 10
            roundUp = vrMod10 >= 5
            vr = vrDiv10
            vp = vpDiv10
            vm = vmDiv10
            removed &+= 1
        }
        output = vr &+ ((vr == vm || roundUp) ? 1 : 0)
    }
    return Decimal64(digits: output, exponent: e10 &+ removed)
}
