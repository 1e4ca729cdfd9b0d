import TestSupport
import XCTest

@testable import FastJSON

final class DoubleFormattingTests: XCTestCase {
    /// Exact expected texts: Python's repr (JSON-valid; integral values keep ".0").
    func testEdgeCases() {
        let cases: [(Double, String)] = [
            (0, "0.0"), (-0.0, "-0.0"), (1, "1.0"), (-1.5, "-1.5"), (0.1, "0.1"), (1.0 / 3, "0.3333333333333333"),
            (2.0 / 3, "0.6666666666666666"), (100, "100.0"), (123.456, "123.456"), (0.0001, "0.0001"),
            (0.00001, "1e-05"), (1.5e-5, "1.5e-05"), (1e15, "1000000000000000.0"), (1e16, "1e+16"),
            (1234567890123456.0, "1234567890123456.0"), (12345678901234567.0, "1.2345678901234568e+16"),
            (9007199254740992.0, "9007199254740992.0"), (9007199254740994.0, "9007199254740994.0"),
            (1e22, "1e+22"), (1e23, "1e+23"), (1.5e300, "1.5e+300"), (.leastNonzeroMagnitude, "5e-324"),
            (-.leastNonzeroMagnitude, "-5e-324"),
            (Double(bitPattern: 2), "1e-323"), (2.2250738585072014e-308, "2.2250738585072014e-308"),
            (Double(bitPattern: 0x000F_FFFF_FFFF_FFFF), "2.225073858507201e-308"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (-1.7976931348623157e308, "-1.7976931348623157e+308"), (0.30000000000000004, "0.30000000000000004"),
            (123456.789e3, "123456789.0"), (4.35679104e-10, "4.35679104e-10"), (1e-7, "1e-07"), (1e100, "1e+100"),
            (9.5367431640625e-07, "9.5367431640625e-07"), (0.5, "0.5"), (2.5e-5, "2.5e-05"),
            (1e21, "1e+21"), (999999999999999.9, "999999999999999.9"), (0.001, "0.001"),
            (Double.nan, "null"), (Double.infinity, "null"), (-Double.infinity, "null"),
            (Double(bitPattern: 0x7FF8_0000_0000_0001), "null"),
        ]
        for (x, expected) in cases {
            XCTAssertEqual(JSONNumberFormat.string(x), expected, "\(x)")
        }
    }

    /// Shortest, closest digits: the same digits and exponent as Swift's description
    /// (which differs from repr only in switching to exponent form at 2^53 instead of 1e16).
    private func assertShortestRoundTrip(_ x: Double, file: StaticString = #filePath, line: UInt = #line) -> Bool {
        let text = JSONNumberFormat.string(x)
        let back = cStrtod(text)
        guard back.bitPattern == x.bitPattern else {
            XCTFail("\(text) reads back as \(back), not \(x) (bits \(String(x.bitPattern, radix: 16)))", file: file, line: line)
            return false
        }
        let mine = decimalDigits(text)
        let swift = decimalDigits(x.description)
        guard mine == swift else {
            XCTFail("\(text) is not the shortest/closest form of \(x.description)", file: file, line: line)
            return false
        }
        if x.magnitude < 9007199254740992.0 || x.magnitude >= 1e16 {
            guard text == x.description else {
                XCTFail("\(text) differs from description \(x.description)", file: file, line: line)
                return false
            }
        }
        return true
    }

    func testMillionRandomBitPatternsRoundTrip() {
        var rng = SplitMix64(seed: 3)
        var failures = 0
        for _ in 0..<1_000_000 where !assertShortestRoundTrip(randomFiniteDouble(&rng)) {
            failures += 1
            if failures > 10 { break }
        }
        XCTAssertEqual(failures, 0)
    }

    func testFeatureLikeValuesRoundTrip() {
        // The response hot path: 1e-12..10, both signs, small integers.
        var rng = SplitMix64(seed: 4)
        var failures = 0
        for i in 0..<200_000 {
            let x: Double
            switch i % 3 {
            case 0: x = Double.random(in: -10...10, using: &rng) * pow(10, Double(Int.random(in: -12...0, using: &rng)))
            case 1: x = Double(Int.random(in: -1_000_000...1_000_000, using: &rng)) / 64
            default: x = Double(Int.random(in: -(1 << 60)...(1 << 60), using: &rng))
            }
            if !assertShortestRoundTrip(x) { failures += 1 }
            if failures > 10 { break }
        }
        XCTAssertEqual(failures, 0)
    }

    func testBoundariesSubnormalsAndPowersOfTen() {
        var specials: [Double] = [
            .leastNonzeroMagnitude, .leastNormalMagnitude, .greatestFiniteMagnitude, .ulpOfOne, 1 + .ulpOfOne,
            Double.leastNormalMagnitude.nextDown, Double.leastNormalMagnitude.nextUp, 0.1, 1.0 / 3,
            1.7976931348623157e308, Double(bitPattern: 0x000F_FFFF_FFFF_FFFF),
            Double(bitPattern: 1), Double(bitPattern: 2), Double(bitPattern: 3),
        ]
        var p = Double.leastNonzeroMagnitude
        while p.isFinite {
            specials += [p, p.nextUp, p.nextDown]
            p *= 2
        }
        for e in -323...308 {
            let x = cStrtod("1e\(e)")
            specials += [x, x.nextUp, x.nextDown]
        }
        for x in specials where x > 0 {
            _ = assertShortestRoundTrip(x)
            _ = assertShortestRoundTrip(-x)
        }
        XCTAssertEqual(JSONNumberFormat.string(1e-5), "1e-05")
        XCTAssertEqual(JSONNumberFormat.string(1e-4), "0.0001")
        XCTAssertEqual(JSONNumberFormat.string(1e-300), "1e-300")
    }

    func testWriteIntoPointerNeverExceedsMaxLength() {
        var rng = SplitMix64(seed: 5)
        let buf = UnsafeMutablePointer<UInt8>.allocate(capacity: 64)
        defer { buf.deallocate() }
        buf.initialize(repeating: 0xAA, count: 64)
        var longest = 0
        let extremes: [Double] = [
            -2.2250738585072014e-308, -1.2345678901234567e-100, -0.00012345678901234567,
            -1234567890123456.7, .nan,
        ]
        for i in 0..<200_000 {
            let x = i < extremes.count ? extremes[i] : randomFiniteDouble(&rng)
            let n = JSONNumberFormat.write(x, to: buf)
            longest = max(longest, n)
            XCTAssertEqual(buf[n], 0xAA)  // nothing written past the returned length
            buf.initialize(repeating: 0xAA, count: 64)
        }
        XCTAssertLessThanOrEqual(longest, JSONNumberFormat.maxDoubleLength)
        XCTAssertEqual(JSONNumberFormat.write(-2.2250738585072014e-308, to: buf), 24)
    }

    func testIntegers() {
        func text(_ x: Int) -> String {
            var bytes: [UInt8] = []
            JSONNumberFormat.append(x, to: &bytes)
            return String(decoding: bytes, as: UTF8.self)
        }
        for x in [0, 1, -1, 9, 10, 99, 100, 12345, -987_654_321, Int.max, Int.min, Int(Int32.max), 1 << 53] {
            XCTAssertEqual(text(x), String(x))
        }
        var rng = SplitMix64(seed: 6)
        for _ in 0..<10_000 {
            let x = Int(truncatingIfNeeded: rng.next()) >> Int.random(in: 0...63, using: &rng)
            XCTAssertEqual(text(x), String(x))
        }
    }

    /// The generated power-of-five tables agree with the published ones.
    func testPowerTablesMatchPublishedValues() {
        let t = PowerTables.shared
        // Ryū d2s_full_table.h: DOUBLE_POW5_INV_SPLIT[0], [1], [9] and DOUBLE_POW5_SPLIT[0], [325] as (lo, hi).
        XCTAssertEqual([t.ryuInverse[0], t.ryuInverse[1]], [1, 2_305_843_009_213_693_952])
        XCTAssertEqual([t.ryuInverse[2], t.ryuInverse[3]], [11_068_046_444_225_730_970, 1_844_674_407_370_955_161])
        XCTAssertEqual([t.ryuInverse[18], t.ryuInverse[19]], [16_585_914_450_600_699_399, 1_237_940_039_285_380_274])
        XCTAssertEqual([t.ryuPower[0], t.ryuPower[1]], [0, 1_152_921_504_606_846_976])
        XCTAssertEqual([t.ryuPower[650], t.ryuPower[651]], [8_710_297_504_448_807_696, 1_780_059_086_805_761_106])
        // fast_float / Rust dec2flt power_of_five_128 as (hi, lo): 5^-342, 5^-327, 5^-300, 5^0.
        XCTAssertEqual([t.lemire[0], t.lemire[1]], [0xEEF4_53D6_923B_D65A, 0x113F_AA29_06A1_3B3F])
        XCTAssertEqual([t.lemire[30], t.lemire[31]], [0xD43B_F0EF_FDC0_BA48, 0x0212_BD1B_2566_DEF2])
        XCTAssertEqual([t.lemire[84], t.lemire[85]], [0xAB70_FE17_C79A_C6CA, 0x6DBD_630A_48AA_F406])
        XCTAssertEqual([t.lemire[684], t.lemire[685]], [0x8000_0000_0000_0000, 0])
        XCTAssertEqual(t.exactPowersOfTen[22], 1e22)
    }
}
