import TestSupport
import XCTest

@testable import FastJSON

final class NumberParsingTests: XCTestCase {
    private func number(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> Double? {
        parseOrFail(text, file: file, line: line)?.doubleValue
    }

    /// Parses `text` and requires the bit pattern strtod produces.
    private func assertMatchesStrtod(_ text: String, file: StaticString = #filePath, line: UInt = #line) {
        guard let x = number(text, file: file, line: line) else { return }
        let expected = cStrtod(text)
        XCTAssertEqual(x.bitPattern, expected.bitPattern, "\(text): got \(x), strtod \(expected)", file: file, line: line)
    }

    func testTrickyCases() {
        let cases = [
            "0", "-0", "0.0", "-0.0", "0e0", "0E-999999999", "-0.000e+5", "1", "-1", "0.1", "0.2", "0.3",
            "1e23", "8.98846567431158e307", "2.2250738585072011e-308", "2.2250738585072012e-308",
            "2.2250738585072014e-308", "2.225073858507201e-308", "4.9406564584124654e-324", "5e-324", "4.9e-324",
            "2.4703282292062328e-324", "2.4703282292062327e-324", "1e-324", "1.7976931348623157e308",
            "1.7976931348623158e308", "1.7976931348623158079e308", "9007199254740991", "9007199254740992",
            "9007199254740993", "9007199254740994", "9007199254740995", "18014398509481985",
            "123456789012345678901234567890", "0.30000000000000004", "1.00000000000000011102230246251565404236316680908203125",
            "1.00000000000000011102230246251565404236316680908203124", "1.00000000000000011102230246251565404236316680908203126",
            "7.2057594037927933e16", "3.0517578125e-05", "1e22", "1e-22", "1e308", "1e-308", "1e-307",
            "2.5e-324", "1.5e-323", "5.0e-324", "9.999999999999999e22", "4.35679104e-10", "1448997445238699",
            "4503599627370497.5", "4503599627370496.5", "0.000000000000000000000000000000000000000001",
            "6.62607015e-34", "6.02214076e23", "100000000000000000000000", "99999999999999999999999",
            "1.2345678901234567e-300", "1234567890123456789", "12345678901234567890", "18446744073709551615",
            "18446744073709551616", "0.1e1", "10e-1", "1E+2", "1e+02",
        ]
        for c in cases { assertMatchesStrtod(c) }
        XCTAssertEqual(number("-0")?.sign, .minus)
        XCTAssertEqual(number("-0.0")?.sign, .minus)
        XCTAssertEqual(number("0")?.sign, .plus)
        XCTAssertEqual(number("9007199254740993"), 9_007_199_254_740_992)
        XCTAssertEqual(number("1e23"), 1e23)
        XCTAssertEqual(number("2.2250738585072011e-308")?.bitPattern, 0x000F_FFFF_FFFF_FFFF)
        XCTAssertEqual(number("1e-400"), 0)
        XCTAssertEqual(number("-1e-400")?.sign, .minus)
    }

    func testOutOfRangeIsAnError() throws {
        for text in ["1e309", "-1e309", "1.8e308", "1e999999999999", "[1, 2e400]", "123456789e301", "0.0000001e316"] {
            let e = try XCTUnwrap(parseError(text), text)
            XCTAssertEqual(e.kind, .numberOutOfRange, text)
        }
    }

    func testLongNumbersUseExactFallback() {
        // More than 19 significant digits, far more than 767, and many leading zeros.
        let third = "0." + String(repeating: "3", count: 1_000)
        assertMatchesStrtod(third)
        assertMatchesStrtod("1" + String(repeating: "0", count: 400) + "e-400")
        assertMatchesStrtod("0." + String(repeating: "0", count: 330) + "1e330")
        assertMatchesStrtod("0." + String(repeating: "0", count: 5000) + "24703282292062328e4676")
        // Halfway between 1 and its successor, then just above it far beyond digit 767.
        let half = "1.00000000000000011102230246251565404236316680908203125"
        assertMatchesStrtod(half + String(repeating: "0", count: 1_000))
        assertMatchesStrtod(half + String(repeating: "0", count: 1_000) + "1")
        assertMatchesStrtod(
            "2.4703282292062327208828439643411068618252990130716238221279284125033775363510437593264991818081799618989828234772285886546332835517796989819938739800539093906315035659515570226392290858392449105184435931802849936536152500319370457678249219365623669863658480757001585769269903706311928279558551332927834338409351978015531246597263579574622766465272827220056374006485499977096599470454020828166226237857393450736339007967761930577506740176324673600968951340535537458516661134223766678604162159680461914467291840300530057530849048765391711386591646239524912623653881879636239373280423891018672348497668235089863388587925628302755995657524455507255189313690836254779186948667994968324049705821028513185451396213837722826145437693412532098591327667236328125e-324"
        )
        XCTAssertEqual(number("-" + third), -1.0 / 3)
    }

    /// Python's repr of 10^5 random doubles (same digits as Swift's description),
    /// plus %.17g forms, read back exactly.
    func testReprOfRandomDoublesRoundTrips() throws {
        var rng = SplitMix64(seed: 1)
        var texts: [String] = []
        var expected: [Double] = []
        for _ in 0..<100_000 {
            let x = randomFiniteDouble(&rng)
            texts.append(JSONNumberFormat.string(x))
            expected.append(x)
            texts.append(x.description)
            expected.append(x)
        }
        for _ in 0..<20_000 {
            let x = randomFiniteDouble(&rng)
            texts.append(cFormat("%.17g", x))
            expected.append(x)
        }
        let doc = "[" + texts.joined(separator: ",") + "]"
        let parsed = try XCTUnwrap(JSON.parse(doc).arrayValue)
        XCTAssertEqual(parsed.count, texts.count)
        var failures = 0
        for (i, v) in parsed.enumerated() where v.doubleValue?.bitPattern != expected[i].bitPattern {
            failures += 1
            if failures < 10 { XCTFail("\(texts[i]) parsed as \(v), expected \(expected[i])") }
        }
        XCTAssertEqual(failures, 0)
    }

    /// Random decimal strings of every length and exponent agree with strtod,
    /// exercising all three tiers (Clinger, Eisel–Lemire, strtod).
    func testRandomDecimalsMatchStrtod() throws {
        var rng = SplitMix64(seed: 2)
        var texts: [String] = []
        for i in 0..<100_000 {
            let digitCount = i % 4 == 0 ? Int.random(in: 1...40, using: &rng) : Int.random(in: 1...19, using: &rng)
            var digits = String(Int.random(in: 1...9, using: &rng))
            for _ in 1..<digitCount { digits.append(Character(String(Int.random(in: 0...9, using: &rng)))) }
            let pointAt = Int.random(in: 0...digitCount, using: &rng)
            var mantissa = digits
            if pointAt < digitCount {
                let idx = mantissa.index(mantissa.startIndex, offsetBy: pointAt)
                mantissa = pointAt == 0 ? "0." + mantissa : String(mantissa[..<idx]) + "." + mantissa[idx...]
            }
            let exponent: Int
            switch i % 3 {
            case 0: exponent = Int.random(in: -25...25, using: &rng)
            case 1: exponent = Int.random(in: -345...300, using: &rng)
            default: exponent = Int.random(in: -5...5, using: &rng)
            }
            let sign = Bool.random(using: &rng) ? "-" : ""
            let text = exponent == 0 && i % 2 == 0 ? sign + mantissa : "\(sign)\(mantissa)e\(exponent)"
            if cStrtod(text).isFinite { texts.append(text) }  // overflow is tested separately
        }
        #if arch(x86_64) || arch(i386)
            // Near-halfway points between neighbouring doubles (41 digits of the exact midpoint).
            for _ in 0..<2_000 {
                let x = Double(bitPattern: rng.next() & 0x3FFF_FFFF_FFFF_FFFF | 0x3000_0000_0000_0000)
                let mid = (Float80(x) + Float80(x.nextUp)) / 2
                texts.append(cFormat("%.40Le", mid))
            }
        #endif
        let parsed = try XCTUnwrap(JSON.parse("[" + texts.joined(separator: ",") + "]").arrayValue)
        var failures = 0
        for (i, v) in parsed.enumerated() {
            let expected = cStrtod(texts[i])
            if v.doubleValue?.bitPattern != expected.bitPattern {
                failures += 1
                if failures < 10 { XCTFail("\(texts[i]) parsed as \(v), strtod gives \(expected)") }
            }
        }
        XCTAssertEqual(failures, 0)
    }

    /// Tier 2 on its own: it either declines (nil) or agrees with strtod, and it
    /// declines rarely.
    func testEiselLemireAgreesWithStrtodOrDeclines() {
        var rng = SplitMix64(seed: 14)
        let tables = PowerTables.shared
        var declined = 0
        let n = 200_000
        for i in 0..<n {
            let digits = Int.random(in: 1...19, using: &rng)
            var w = UInt64.random(in: 1...9, using: &rng)
            for _ in 1..<digits { w = w * 10 + UInt64.random(in: 0...9, using: &rng) }
            let q = i % 2 == 0 ? Int.random(in: -30...30, using: &rng) : Int.random(in: -360...320, using: &rng)
            let expected = cStrtod("\(w)e\(q)")
            guard let x = eiselLemire(w, q, tables) else {
                declined += 1
                continue
            }
            XCTAssertEqual(x.bitPattern, expected.bitPattern, "\(w)e\(q)")
        }
        XCTAssertLessThan(declined, n / 1000, "Eisel–Lemire declined \(declined) of \(n)")
        // Exact halfway cases (ties to even) within its exact range.
        XCTAssertEqual(eiselLemire(9_007_199_254_740_993, 0, tables), 9_007_199_254_740_992)
        XCTAssertEqual(eiselLemire(9_007_199_254_740_995, 0, tables), 9_007_199_254_740_996)
    }

    func testSubnormalsAndPowersOfTwo() throws {
        var texts: [String] = []
        var x = Double.leastNonzeroMagnitude
        while x.isFinite {
            for y in [x, x.nextUp, x.nextDown] where y > 0 {
                texts.append(JSONNumberFormat.string(y))
                texts.append(cFormat("%.16e", y))
            }
            x *= 2
        }
        let parsed = try XCTUnwrap(JSON.parse("[" + texts.joined(separator: ",") + "]").arrayValue)
        for (i, v) in parsed.enumerated() {
            XCTAssertEqual(v.doubleValue?.bitPattern, cStrtod(texts[i]).bitPattern, texts[i])
        }
    }

    func testIntegersStayDoubles() {
        XCTAssertEqual(parseOrFail("[14, -3, 0]"), .array([.number(14), .number(-3), .number(0)]))
        XCTAssertEqual(number("1e2"), 100)
        XCTAssertEqual(parseOrFail("100")?.intValue, 100)
    }
}
