// Shortest round-trip formatting of doubles, without allocation.
//
// Digits: Ryū — Ulf Adams, "Ryū: fast float-to-string conversion", PLDI 2018
// (https://doi.org/10.1145/3192366.3192369), full-table 64-bit variant (Ryu.swift).
// It yields the shortest decimal that reads back as the same double and, among
// those, the one closest to the exact value (ties to even) — the same digits as
// Python's repr and Swift's description.
//
// Layout: Python's repr(float): fixed notation for decimal exponents -4...15
// ("0.0001", "123.0", "1234567890123456.0"), otherwise "1e-05", "1.5e+300".
// Integral values keep ".0" so that JSON consumers (numpy, pandas) keep them
// as floats. Non-finite values have no JSON spelling and are written as `null`.

/// Number-to-text conversion used by `JSONWriter`, usable on its own.
public enum JSONNumberFormat {
    /// The longest text `write(_:to:)` produces for a double ("-2.2250738585072014e-308").
    public static let maxDoubleLength = 24
    /// The longest text `write(_:to:)` produces for an Int ("-9223372036854775808").
    public static let maxIntegerLength = 20

    /// Writes the shortest round-trip text of `x` (or `null` when it is NaN or
    /// infinite) at `p`, which must have room for `maxDoubleLength` bytes.
    /// Returns the number of bytes written.
    public static func write(_ x: Double, to p: UnsafeMutablePointer<UInt8>) -> Int {
        _writeDouble(x, p, PowerTables.shared)
    }

    /// Appends the shortest round-trip text of `x` (`null` when non-finite).
    public static func append(_ x: Double, to bytes: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { buf in
            let n = write(x, to: buf.baseAddress!)
            bytes.append(contentsOf: UnsafeBufferPointer(start: buf.baseAddress!, count: n))
        }
    }

    /// Writes the decimal text of `x` at `p` (room for `maxIntegerLength` bytes);
    /// returns the number of bytes written.
    public static func write(_ x: Int, to p: UnsafeMutablePointer<UInt8>) -> Int {
        var i = 0
        if x < 0 {
            p[0] = UInt8(ascii: "-")
            i = 1
        }
        return i + writeDecimal(UInt64(x.magnitude), p + i)
    }

    /// Appends the decimal text of `x`.
    public static func append(_ x: Int, to bytes: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { buf in
            let n = write(x, to: buf.baseAddress!)
            bytes.append(contentsOf: UnsafeBufferPointer(start: buf.baseAddress!, count: n))
        }
    }

    /// Convenience for diagnostics and tests; allocates a String.
    public static func string(_ x: Double) -> String {
        var bytes: [UInt8] = []
        append(x, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }
}

// MARK: - Formatting

func _writeDouble(_ x: Double, _ p: UnsafeMutablePointer<UInt8>, _ tables: PowerTables) -> Int {
    let bits = x.bitPattern
    let ieeeMantissa = bits & ((1 << 52) - 1)
    let ieeeExponent = Int(truncatingIfNeeded: (bits >> 52) & 0x7FF)
    if ieeeExponent == 0x7FF {
        return copyASCII("null", p)
    }
    var n = 0
    if bits >> 63 != 0 {
        p[0] = UInt8(ascii: "-")
        n = 1
    }
    if ieeeExponent == 0 && ieeeMantissa == 0 {
        return n + copyASCII("0.0", p + n)
    }
    let d = smallIntDecimal(ieeeMantissa, ieeeExponent) ?? ryuDecimal(ieeeMantissa, ieeeExponent, tables)
    return n + formatDecimal(d.digits, d.exponent, p + n)
}

/// Lays out digits × 10^exponent the way Python's repr does.
@inline(__always)
private func formatDecimal(_ digits: UInt64, _ exponent: Int, _ p: UnsafeMutablePointer<UInt8>) -> Int {
    let length = decimalLength17(digits)
    let sciExponent = exponent &+ length &- 1
    if sciExponent < -4 || sciExponent >= 16 {
        // d.ddde±XX
        var n: Int
        if length == 1 {
            p[0] = UInt8(truncatingIfNeeded: digits) &+ 48
            n = 1
        } else {
            writeDigits(digits, length, p + 1)
            p[0] = p[1]
            p[1] = UInt8(ascii: ".")
            n = length &+ 1
        }
        p[n] = UInt8(ascii: "e")
        p[n &+ 1] = sciExponent < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+")
        let e = sciExponent < 0 ? -sciExponent : sciExponent
        n &+= 2
        if e >= 100 {
            p[n] = UInt8(truncatingIfNeeded: e / 100) &+ 48
            n &+= 1
        }
        copyPair(e % 100, p + n)
        return n &+ 2
    }
    if exponent >= 0 {
        // Integral: digits, trailing zeros, ".0".
        writeDigits(digits, length, p)
        var n = length
        for _ in 0..<exponent {
            p[n] = UInt8(ascii: "0")
            n &+= 1
        }
        p[n] = UInt8(ascii: ".")
        p[n &+ 1] = UInt8(ascii: "0")
        return n &+ 2
    }
    if sciExponent >= 0 {
        // ddd.ddd: write the digits one place right, then pull the integer part left.
        let integerDigits = sciExponent &+ 1
        writeDigits(digits, length, p + 1)
        for i in 0..<integerDigits {
            p[i] = p[i &+ 1]
        }
        p[integerDigits] = UInt8(ascii: ".")
        return length &+ 1
    }
    // 0.000ddd
    p[0] = UInt8(ascii: "0")
    p[1] = UInt8(ascii: ".")
    let zeros = -sciExponent &- 1
    for i in 0..<zeros {
        p[2 &+ i] = UInt8(ascii: "0")
    }
    writeDigits(digits, length, p + 2 + zeros)
    return 2 &+ zeros &+ length
}

@inline(__always)
private func copyASCII(_ s: StaticString, _ p: UnsafeMutablePointer<UInt8>) -> Int {
    p.update(from: s.utf8Start, count: s.utf8CodeUnitCount)
    return s.utf8CodeUnitCount
}

/// "00" "01" ... "99": two digits per division keeps the digit loop short.
@inline(__always)
private var digitPairs: UnsafePointer<UInt8> {
    let pairs: StaticString =
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"
    return pairs.utf8Start
}

@inline(__always)
private func copyPair(_ v: Int, _ p: UnsafeMutablePointer<UInt8>) {
    let t = digitPairs + 2 &* v
    p[0] = t[0]
    p[1] = t[1]
}

@inline(__always)
private func decimalLength17(_ v: UInt64) -> Int {
    // Branches from the top: typical outputs have 15-17 digits.
    if v >= 10_000_000_000_000_000 { return 17 }
    if v >= 1_000_000_000_000_000 { return 16 }
    if v >= 100_000_000_000_000 { return 15 }
    if v >= 10_000_000_000_000 { return 14 }
    if v >= 1_000_000_000_000 { return 13 }
    if v >= 100_000_000_000 { return 12 }
    if v >= 10_000_000_000 { return 11 }
    if v >= 1_000_000_000 { return 10 }
    if v >= 100_000_000 { return 9 }
    if v >= 10_000_000 { return 8 }
    if v >= 1_000_000 { return 7 }
    if v >= 100_000 { return 6 }
    if v >= 10_000 { return 5 }
    if v >= 1_000 { return 4 }
    if v >= 100 { return 3 }
    if v >= 10 { return 2 }
    return 1
}

/// Writes `v` right-aligned into p[0 ..< length]; `length` must be its digit count.
@inline(__always)
private func writeDigits(_ v: UInt64, _ length: Int, _ p: UnsafeMutablePointer<UInt8>) {
    var end = length
    var v = v
    while v >> 32 != 0 {
        // Peel 8 digits with one 64-bit division, then work in 32 bits.
        let q = v / 100_000_000
        var r = UInt32(truncatingIfNeeded: v &- q &* 100_000_000)
        v = q
        for _ in 0..<4 {
            let c = r % 100
            r /= 100
            copyPair(Int(c), p + (end &- 2))
            end &-= 2
        }
    }
    var r = UInt32(truncatingIfNeeded: v)
    while r >= 100 {
        let c = r % 100
        r /= 100
        copyPair(Int(c), p + (end &- 2))
        end &-= 2
    }
    if r >= 10 {
        copyPair(Int(r), p + (end &- 2))
    } else {
        p[end &- 1] = UInt8(truncatingIfNeeded: r) &+ 48
    }
}

/// Decimal text of an unsigned integer; returns its length.
func writeDecimal(_ v: UInt64, _ p: UnsafeMutablePointer<UInt8>) -> Int {
    var length = 1
    var t = v
    while t >= 10 {
        t /= 10
        length &+= 1
    }
    writeDigits(v, length, p)
    return length
}
