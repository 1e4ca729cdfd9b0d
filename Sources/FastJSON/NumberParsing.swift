// JSON numbers to correctly rounded doubles, in three tiers:
//  1. Clinger's fast path (W. D. Clinger, "How to Read Floating Point Numbers
//     Accurately", PLDI 1990): a mantissa below 2^53 and |exp10| <= 22 give an
//     exact result with one IEEE multiply or divide.
//  2. Eisel–Lemire (D. Lemire, "Number Parsing at a Gigabyte per Second",
//     Software: Practice and Experience 51(8), 2021, §5-6): up to 19 significant
//     digits and any exponent, using a 128-bit product with a power of five. It
//     reports the rare cases it cannot round with certainty. This tier exists
//     because 17-digit repr output (the common case for coordinates) never
//     qualifies for tier 1, and strtod costs ~70-100 ns per such number.
//  3. strtod on a normalised copy in a stack buffer: everything else (more than
//     19 digits, undecidable halfway cases).

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

extension Parser {
    /// Parses the number at `pos` (a '-' or a digit), enforcing RFC 8259's grammar.
    mutating func parseNumber() throws(JSONParseError) -> Double {
        let start = pos
        var i = pos
        let negative = base[i] == UInt8(ascii: "-")
        if negative { i &+= 1 }
        guard i < end, base[i] &- 48 < 10 else {
            throw syntaxError("expected a digit after '-', found \(describeByte(at: i))", at: i)
        }

        // Up to 19 significant digits go into `mantissa`; value ≈ mantissa × 10^exponent.
        var mantissa: UInt64 = 0
        var significant = 0
        var truncated = false
        var exponent = 0

        if base[i] == UInt8(ascii: "0") {
            i &+= 1
            if i < end, base[i] &- 48 < 10 {
                throw syntaxError("leading zeros are not allowed in numbers", at: start)
            }
        } else {
            while i < end {
                let d = base[i] &- 48
                if d >= 10 { break }
                if significant < 19 {
                    mantissa = mantissa &* 10 &+ UInt64(d)
                    significant &+= 1
                } else {
                    truncated = true
                    exponent &+= 1
                }
                i &+= 1
            }
        }

        if i < end, base[i] == UInt8(ascii: ".") {
            i &+= 1
            guard i < end, base[i] &- 48 < 10 else {
                throw syntaxError("expected a digit after the decimal point, found \(describeByte(at: i))", at: i)
            }
            while i < end {
                // Eight digits at a time once past leading zeros (the usual 16-17 digit fractions).
                if significant != 0 && significant <= 11 && end &- i >= 8 {
                    let chunk = UInt64(littleEndian: UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self))
                    if isEightDigits(chunk) {
                        mantissa = mantissa &* 100_000_000 &+ eightDigitsValue(chunk)
                        significant &+= 8
                        exponent &-= 8
                        i &+= 8
                        continue
                    }
                }
                let d = base[i] &- 48
                if d >= 10 { break }
                if significant < 19 {
                    // Zeros before the first nonzero digit only shift the exponent.
                    if significant != 0 || d != 0 {
                        mantissa = mantissa &* 10 &+ UInt64(d)
                        significant &+= 1
                    }
                    exponent &-= 1
                } else {
                    truncated = true
                }
                i &+= 1
            }
        }

        if i < end, base[i] | 0x20 == UInt8(ascii: "e") {
            i &+= 1
            var exponentNegative = false
            if i < end, base[i] == UInt8(ascii: "-") || base[i] == UInt8(ascii: "+") {
                exponentNegative = base[i] == UInt8(ascii: "-")
                i &+= 1
            }
            guard i < end, base[i] &- 48 < 10 else {
                throw syntaxError("expected a digit in the exponent, found \(describeByte(at: i))", at: i)
            }
            var e = 0
            while i < end {
                let d = base[i] &- 48
                if d >= 10 { break }
                if e < 100_000_000 { e = e &* 10 &+ Int(d) }  // saturate: far beyond any double
                i &+= 1
            }
            exponent = exponentNegative ? exponent &- e : exponent &+ e
        }
        pos = i

        var value: Double
        if mantissa == 0 {
            value = 0
        } else if !truncated && mantissa <= 1 << 53 && exponent >= -22 && exponent <= 22 {
            // Exact operands, one rounding: always finite, so no range check
            // waits on the (slow) division.
            value = Double(mantissa)
            if exponent < 0 {
                value /= tables.exactPowersOfTen[-exponent]
            } else {
                value *= tables.exactPowersOfTen[exponent]
            }
        } else {
            if !truncated, let v = eiselLemire(mantissa, exponent, tables) {
                value = v
            } else {
                value = strtodFallback(start, i)
            }
            guard value.isFinite else {
                throw error(.numberOutOfRange, "number out of the range of a double", at: start)
            }
        }
        return negative ? -value : value
    }

    /// Tier 3. Rewrites the token as "<digits>e<exp>" (no decimal point, so the
    /// C library's locale cannot matter) in a stack buffer, keeping at most 800
    /// significant digits plus a sticky '1' when nonzero digits were dropped:
    /// more than 767 digits can never change the rounding of a double.
    @inline(never)
    func strtodFallback(_ start: Int, _ stop: Int) -> Double {
        let maxDigits = 800
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: maxDigits + 32) { buffer -> Double in
            let out = buffer.baseAddress!
            var n = 0
            var exponent = 0
            var sticky = false
            var afterPoint = false
            var i = start
            if base[i] == UInt8(ascii: "-") { i &+= 1 }
            while i < stop {
                let c = base[i]
                if c == UInt8(ascii: ".") {
                    afterPoint = true
                } else if c | 0x20 == UInt8(ascii: "e") {
                    break
                } else if n == 0 && c == UInt8(ascii: "0") {
                    if afterPoint { exponent &-= 1 }
                } else if n < maxDigits {
                    out[n] = c
                    n &+= 1
                    if afterPoint { exponent &-= 1 }
                } else {
                    if c != UInt8(ascii: "0") { sticky = true }
                    if !afterPoint { exponent &+= 1 }
                }
                i &+= 1
            }
            if i < stop {
                // Exponent part (syntax already checked by the caller).
                i &+= 1
                var negative = false
                if base[i] == UInt8(ascii: "-") || base[i] == UInt8(ascii: "+") {
                    negative = base[i] == UInt8(ascii: "-")
                    i &+= 1
                }
                var e = 0
                while i < stop {
                    if e < 100_000_000 { e = e &* 10 &+ Int(base[i] &- 48) }
                    i &+= 1
                }
                exponent = negative ? exponent &- e : exponent &+ e
            }
            if n == 0 { return 0 }
            if sticky {
                out[n] = UInt8(ascii: "1")
                n &+= 1
                exponent &-= 1
            }
            // With at most 801 digits, |exponent| > 99999 is zero or infinity anyway.
            exponent = max(-99_999, min(99_999, exponent))
            out[n] = UInt8(ascii: "e")
            n &+= 1
            if exponent < 0 {
                out[n] = UInt8(ascii: "-")
                n &+= 1
            }
            n &+= writeDecimal(UInt64(exponent.magnitude), out + n)
            out[n] = 0
            return out.withMemoryRebound(to: CChar.self, capacity: n + 1) { strtod($0, nil) }
        }
    }
}

/// True when all eight bytes are ASCII digits (SWAR; Lemire, "Number Parsing at a
/// Gigabyte per Second", §4).
@inline(__always)
func isEightDigits(_ v: UInt64) -> Bool {
    ((v &+ 0x4646_4646_4646_4646) | (v &- 0x3030_3030_3030_3030)) & 0x8080_8080_8080_8080 == 0
}

/// The value of eight ASCII digits loaded little-endian (first digit in the low byte).
@inline(__always)
func eightDigitsValue(_ v: UInt64) -> UInt64 {
    var x = v &- 0x3030_3030_3030_3030
    x = (x &* 10) &+ (x >> 8)  // pairs
    let mul1: UInt64 = 100 &+ (1_000_000 << 32)
    let mul2: UInt64 = 1 &+ (10_000 << 32)
    return ((x & 0x0000_00FF_0000_00FF) &* mul1 &+ ((x >> 16) & 0x0000_00FF_0000_00FF) &* mul2) >> 32
}

/// Tier 2: Eisel–Lemire. `w` × 10^`q` with w != 0 and exact (at most 19 digits).
/// Returns nil when the 128-bit product cannot decide the rounding.
/// Follows Lemire's paper and fast_float's compute_float.
@inline(__always)
func eiselLemire(_ w: UInt64, _ q: Int, _ tables: PowerTables) -> Double? {
    if q < PowerTables.lemireMinExponent { return 0 }
    if q > PowerTables.lemireMaxExponent { return .infinity }
    let lz = w.leadingZeroBitCount
    let wn = w << UInt64(lz)

    // 64×128-bit product, truncated; the second half only when the first is ambiguous.
    let slot = 2 &* (q &- PowerTables.lemireMinExponent)
    var product = wn.multipliedFullWidth(by: tables.lemire[slot])
    let precisionMask: UInt64 = .max >> 55  // 52 mantissa bits + hidden + round + possible leading zero
    if product.high & precisionMask == precisionMask {
        let second = wn.multipliedFullWidth(by: tables.lemire[slot &+ 1])
        let (low, carry) = product.low.addingReportingOverflow(second.high)
        product.low = low
        if carry { product.high &+= 1 }
    }
    // An all-ones low word may hide a carry; only exact products (q in -27...55) are safe.
    if product.low == .max && (q < -27 || q > 55) { return nil }

    let upperBit = Int(product.high >> 63)
    let shift = UInt64(upperBit &+ 64 &- 52 &- 3)
    var mantissa = product.high >> shift
    // 217706 / 2^16 approximates log2(10) exactly enough over the whole range.
    var power2 = (((q &* (152_170 &+ 65_536)) >> 16) &+ 63) &+ upperBit &- lz &+ 1023

    if power2 <= 0 {
        // Subnormal (or zero).
        if -power2 &+ 1 >= 64 { return 0 }
        mantissa >>= UInt64(-power2 &+ 1)
        mantissa &+= mantissa & 1
        mantissa >>= 1
        power2 = mantissa >= (1 << 52) ? 1 : 0
        return Double(bitPattern: UInt64(power2) << 52 | mantissa)
    }
    // Exactly halfway between two doubles: round to even instead of up.
    if product.low <= 1 && q >= -4 && q <= 23 && mantissa & 3 == 1 && (mantissa << shift) == product.high {
        mantissa &= ~1
    }
    mantissa &+= mantissa & 1
    mantissa >>= 1
    if mantissa >= (2 << 52) {
        mantissa = 1 << 52
        power2 &+= 1
    }
    mantissa &= ~(1 << 52)
    if power2 >= 0x7FF { return .infinity }
    return Double(bitPattern: UInt64(power2) << 52 | mantissa)
}
