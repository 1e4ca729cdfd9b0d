import TestSupport
import XCTest

@testable import FastJSON

#if canImport(Foundation)
    import Foundation
#endif

final class ReaderTests: XCTestCase {
    func testScalarsAtTopLevel() throws {
        XCTAssertEqual(parseOrFail("null"), .null)
        XCTAssertEqual(parseOrFail(" true "), .bool(true))
        XCTAssertEqual(parseOrFail("\t\r\nfalse\n"), .bool(false))
        XCTAssertEqual(parseOrFail("42"), .number(42))
        XCTAssertEqual(parseOrFail("-0.5e1"), .number(-5))
        XCTAssertEqual(parseOrFail("\"hi\""), .string("hi"))
        XCTAssertEqual(parseOrFail("[]"), .array([]))
        XCTAssertEqual(parseOrFail("{}"), .object(JSONObject()))
        XCTAssertEqual(parseOrFail("[ ]"), .array([]))
        XCTAssertEqual(parseOrFail("{ \n}"), .object(JSONObject()))
    }

    func testContainersAndAccessors() throws {
        let text = """
            {"structures": [{"positions": [[0, 0, 0], [1.5, 2.5e-3, -3]], "numbers": [14, 8], "pbc": [true, false, true],
              "cell": null, "name": "Si\\u00e9", "empty": {}, "nested": {"a": {"b": []}}}]}
            """
        let v = try XCTUnwrap(parseOrFail(text))
        let s = try XCTUnwrap(v["structures"]?[0])
        XCTAssertEqual(s["positions"]?[1]?[1]?.doubleValue, 2.5e-3)
        XCTAssertEqual(s["positions"]?[1]?[2]?.intValue, -3)
        XCTAssertEqual(s["numbers"]?.arrayValue?.compactMap(\.intValue), [14, 8])
        XCTAssertEqual(s["pbc"]?[2]?.boolValue, true)
        XCTAssertEqual(s["cell"]?.isNull, true)
        XCTAssertEqual(s["name"]?.stringValue, "Sié")
        XCTAssertEqual(s["empty"]?.objectValue?.count, 0)
        XCTAssertEqual(s["nested"]?["a"]?["b"], .array([]))
        XCTAssertNil(s["missing"])
        XCTAssertNil(s["positions"]?[7])
        XCTAssertNil(s["positions"]?[-1])
        XCTAssertNil(s["name"]?.doubleValue)
        XCTAssertNil(JSONValue.number(0.5).intValue)
        XCTAssertEqual(s.objectValue?.keys, ["positions", "numbers", "pbc", "cell", "name", "empty", "nested"])
        XCTAssertEqual(s["numbers"]?.typeName, "array")
        XCTAssertEqual(v[JSONPointer(tokens: ["structures", "0", "positions", "1", "0"])], .number(1.5))
    }

    func testObjectsKeepOrderAndIndexLargeObjects() throws {
        // Past JSONObject.indexThreshold members lookups use a hash index.
        let n = 300
        let text = "{" + (0..<n).map { "\"k\($0)\": \($0)" }.joined(separator: ",") + "}"
        let o = try XCTUnwrap(parseOrFail(text)?.objectValue)
        XCTAssertEqual(o.count, n)
        XCTAssertEqual(o.keys, (0..<n).map { "k\($0)" })
        for i in 0..<n { XCTAssertEqual(o["k\(i)"], .number(Double(i))) }
        XCTAssertNil(o["k\(n)"])
        XCTAssertEqual(o[5].key, "k5")
        // Equality ignores member order.
        let a = try XCTUnwrap(parseOrFail(#"{"x": 1, "y": [2]}"#))
        let b = try XCTUnwrap(parseOrFail(#"{"y": [2], "x": 1}"#))
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, parseOrFail(#"{"y": [2], "x": 2}"#))
        XCTAssertNotEqual(a, parseOrFail(#"{"y": [2]}"#))
    }

    func testStringEscapes() throws {
        XCTAssertEqual(parseOrFail(#""\"\\\/\b\f\n\r\t""#), .string("\"\\/\u{8}\u{C}\n\r\t"))
        XCTAssertEqual(parseOrFail(#""\u0041\u00e9\u20AC\u0000""#), .string("Aé€\u{0}"))
        // Surrogate pairs, upper and lower case hex.
        XCTAssertEqual(parseOrFail(#""\ud83d\ude00 \uD834\uDD1E""#), .string("😀 𝄞"))
        // Raw UTF-8 passes through, mixed with escapes.
        XCTAssertEqual(parseOrFail("\"é😀\\n𝄞 ü\""), .string("é😀\n𝄞 ü"))
        XCTAssertEqual(parseOrFail("\"\u{7F}\""), .string("\u{7F}"))
        // Escapes in keys.
        XCTAssertEqual(parseOrFail(#"{"a\u0062": 1}"#)?["ab"], .number(1))
    }

    func testOverloads() throws {
        let text = #"[1, "x", {"k": null}]"#
        let expected: JSONValue = [1, "x", ["k": .null]]
        XCTAssertEqual(try JSON.parse(text), expected)
        XCTAssertEqual(try JSON.parse(Array(text.utf8)), expected)
        XCTAssertEqual(try Array(text.utf8).withUnsafeBytes { try JSON.parse($0) }, expected)
        #if canImport(Foundation)
            XCTAssertEqual(try JSON.parse(Data(text.utf8)), expected)
        #endif
    }

    // MARK: Rejections

    func testRejectsNonRFC8259Syntax() {
        let cases: [(String, Int, String)] = [
            // (input, expected offset, fragment of the message)
            ("", 0, "unexpected end of input"),
            ("   ", 3, "unexpected end of input"),
            ("[1, 2,]", 6, "trailing commas"),
            ("{\"a\": 1,}", 8, "expected a string key"),
            ("[1 2]", 3, "expected ',' or ']'"),
            ("{\"a\" 1}", 5, "expected ':'"),
            ("{\"a\": 1 \"b\": 2}", 8, "expected ',' or '}'"),
            ("{a: 1}", 1, "expected a string key"),
            ("{'a': 1}", 1, "expected a string key"),
            ("['a']", 1, "expected a value"),
            ("[1] // comment", 4, "after the top-level value"),
            ("/* c */ 1", 0, "expected a value"),
            ("NaN", 0, "expected a value"),
            ("[Infinity]", 1, "expected a value"),
            ("-Infinity", 1, "expected a digit after '-'"),
            ("01", 0, "leading zeros"),
            ("-012", 0, "leading zeros"),
            ("[00]", 1, "leading zeros"),
            ("1.", 2, "expected a digit after the decimal point"),
            (".5", 0, "expected a value"),
            ("1.e5", 2, "expected a digit after the decimal point"),
            ("1e", 2, "expected a digit in the exponent"),
            ("1e+", 3, "expected a digit in the exponent"),
            ("+1", 0, "expected a value"),
            ("0x10", 1, "after the top-level value"),
            ("- 1", 1, "expected a digit after '-'"),
            ("tru", 0, "invalid literal"),
            ("nulL", 0, "invalid literal"),
            ("True", 0, "expected a value"),
            ("1 2", 2, "after the top-level value"),
            ("{} x", 3, "after the top-level value"),
            ("[1]]", 3, "after the top-level value"),
            ("[1", 2, "expected ',' or ']'"),
            ("{\"a\": [1, {\"b\": 2}", 18, "expected ',' or ']'"),
            ("\"abc", 0, "unterminated string"),
            ("\"abc\\", 4, "unterminated string"),
            ("\"\\x\"", 1, "invalid escape"),
            ("\"\\u12x4\"", 1, "invalid \\u escape"),
            ("\"\\u12", 1, "truncated \\u escape"),
            ("\"a\tb\"", 2, "unescaped control character"),
            ("\"a\nb\"", 2, "unescaped control character"),
            ("\"\\ud800\"", 1, "lone high surrogate"),
            ("\"\\ud800\\u0041\"", 1, "lone high surrogate"),
            ("\"\\ud800x\"", 1, "lone high surrogate"),
            ("\"\\udc00\"", 1, "lone low surrogate"),
            ("\"\\ude00\\ud83d\"", 1, "lone low surrogate"),
            // Whitespace is only space, tab, CR and LF.
            ("\u{C}1", 0, "expected a value"),
            ("\u{B}1", 0, "expected a value"),
            ("\u{A0}1", 0, "expected a value"),
            ("[1,\u{2028}2]", 3, "expected a value"),
        ]
        for (input, offset, fragment) in cases {
            guard let e = parseError(input) else { continue }
            XCTAssertEqual(e.kind, .syntax, "\(input.debugDescription): \(e)")
            XCTAssertEqual(e.offset, offset, "\(input.debugDescription): \(e)")
            XCTAssertTrue(e.message.contains(fragment), "\(input.debugDescription): '\(e.message)' lacks '\(fragment)'")
        }
    }

    func testRejectsInvalidUTF8() {
        let cases: [[UInt8]] = [
            [0x22, 0xFF, 0x22],  // never valid
            [0x22, 0xC0, 0x80, 0x22],  // overlong NUL
            [0x22, 0xC1, 0xBF, 0x22],  // overlong
            [0x22, 0xE0, 0x80, 0x80, 0x22],  // overlong 3-byte
            [0x22, 0xF0, 0x80, 0x80, 0x80, 0x22],  // overlong 4-byte
            [0x22, 0xED, 0xA0, 0x80, 0x22],  // encoded surrogate U+D800
            [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22],  // above U+10FFFF
            [0x22, 0xF5, 0x80, 0x80, 0x80, 0x22],
            [0x22, 0xC3, 0x22],  // truncated sequence
            [0x22, 0xE2, 0x82, 0x22],
            [0x22, 0x80, 0x22],  // stray continuation byte
            [0x22, 0x5C, 0x6E, 0xC3, 0x28, 0x22],  // invalid after an escape (slow path)
            [0x22, 0xC3],  // truncated at end of input
            [0x5B, 0xC3, 0xA9, 0x5D],  // non-ASCII outside a string
        ]
        for bytes in cases {
            guard let e = parseError(bytes) else { continue }
            XCTAssertEqual(e.kind, .syntax, "\(bytes)")
        }
        // Valid boundaries are accepted: U+0080, U+07FF, U+0800, U+FFFF, U+10000, U+10FFFF, U+E000.
        let valid: [[UInt8]] = [
            [0xC2, 0x80], [0xDF, 0xBF], [0xE0, 0xA0, 0x80], [0xEF, 0xBF, 0xBF], [0xF0, 0x90, 0x80, 0x80],
            [0xF4, 0x8F, 0xBF, 0xBF], [0xEE, 0x80, 0x80], [0xED, 0x9F, 0xBF],
        ]
        for seq in valid {
            XCTAssertEqual(try JSON.parse([0x22] + seq + [0x22]), .string(String(decoding: seq, as: UTF8.self)), "\(seq)")
        }
    }

    func testErrorPositionsAndDescription() throws {
        let text = "{\n  \"a\": [1, 2],\n  \"b\": [1, 2 3]\n}"
        let e = try XCTUnwrap(parseError(text))
        XCTAssertEqual(e.line, 3)
        XCTAssertEqual(e.column, 14)
        XCTAssertEqual(e.offset, 30)
        XCTAssertEqual(e.description, "expected ',' or ']' after an array element, found '3' at line 3, column 14")
        // Columns count Unicode scalars, not bytes.
        let u = try XCTUnwrap(parseError("[\"é😀\", x]"))
        XCTAssertEqual(u.line, 1)
        XCTAssertEqual(u.column, 8)
        XCTAssertEqual(u.offset, 11)
        XCTAssertTrue(parseError("[1,\n\n  ]")?.description.hasSuffix("at line 3, column 3") ?? false)
        XCTAssertFalse(e.isLimit)
    }

    func testDuplicateKeys() throws {
        let e = try XCTUnwrap(parseError(#"{"a": 1, "b": 2, "a": 3}"#))
        XCTAssertEqual(e.kind, .duplicateKey)
        XCTAssertEqual(e.offset, 17)
        XCTAssertTrue(e.message.contains("\"a\""))
        // Nested objects have their own key sets.
        XCTAssertNotNil(parseOrFail(#"{"a": {"a": {"a": 1}}, "b": {"a": 2}}"#))
        // A duplicate written with an escape is still a duplicate.
        XCTAssertEqual(parseError(#"{"ab": 1, "a\u0062": 2}"#)?.kind, .duplicateKey)
        // Large objects (hash index): duplicate early and late.
        let keys = (0..<100).map { "\"key\($0)\": \($0)" }
        XCTAssertEqual(parseError("{" + (keys + ["\"key3\": 0"]).joined(separator: ",") + "}")?.kind, .duplicateKey)
        XCTAssertEqual(parseError("{" + (keys + ["\"key99\": 0"]).joined(separator: ",") + "}")?.kind, .duplicateKey)
        XCTAssertEqual(
            parseError("{" + (keys.prefix(12) + ["\"key0\": 0"]).joined(separator: ",") + "}")?.kind, .duplicateKey)
        XCTAssertEqual(
            parseError("{" + (keys.prefix(13) + ["\"key12\": 0"]).joined(separator: ",") + "}")?.kind, .duplicateKey)
    }

    // MARK: Limits

    func testDepthLimit() throws {
        func nested(_ n: Int) -> String { String(repeating: "[", count: n) + String(repeating: "]", count: n) }
        XCTAssertNotNil(parseOrFail(nested(64)))
        let e = try XCTUnwrap(parseError(nested(65)))
        XCTAssertEqual(e.kind, .depthLimit)
        XCTAssertEqual(e.offset, 64)
        XCTAssertTrue(e.isLimit)
        XCTAssertTrue(e.message.contains("64"))
        XCTAssertEqual(parseError("{\"a\": {\"b\": [1]}}", limits: JSONLimits(maxDepth: 2))?.kind, .depthLimit)
        XCTAssertNotNil(parseOrFail("{\"a\": {\"b\": 1}}", limits: JSONLimits(maxDepth: 2)))
        XCTAssertEqual(parseError("[]", limits: JSONLimits(maxDepth: 0))?.kind, .depthLimit)
        XCTAssertNotNil(parseOrFail("1", limits: JSONLimits(maxDepth: 0)))
        // Hostile nesting fails fast without touching the thread stack.
        XCTAssertEqual(parseError(String(repeating: "[", count: 1_000_000))?.kind, .depthLimit)
        XCTAssertEqual(parseError(String(repeating: "{\"a\":", count: 100_000))?.kind, .depthLimit)
        // The parser is iterative: a raised limit allows deep documents.
        let deep = try XCTUnwrap(parseOrFail(nested(5_000), limits: JSONLimits(maxDepth: 10_000)))
        var depth = 0
        var v = deep
        while case .array(let a) = v, let first = a.first {
            depth += 1
            v = first
        }
        XCTAssertEqual(depth, 4_999)
    }

    func testStringLimit() throws {
        let limits = JSONLimits(maxStringBytes: 8)
        XCTAssertEqual(parseOrFail("\"12345678\"", limits: limits), .string("12345678"))
        XCTAssertEqual(parseOrFail("\"éé\\n123\"", limits: limits), .string("éé\n123"))  // 8 bytes decoded
        XCTAssertEqual(
            parseOrFail("\"\\u0041\\u0042\\u0043\\u0044\\u0045\\u0046\\u0047\\u0048\"", limits: limits),
            .string("ABCDEFGH"))
        for bad in ["\"123456789\"", "\"1234567\\n9\"", "\"ééé\\n123\"", "{\"123456789\": 1}", "\"123456789", "\"12\\n3456789"] {
            let e = try XCTUnwrap(parseError(bad, limits: limits), bad)
            XCTAssertEqual(e.kind, .stringLimit, bad)
            XCTAssertTrue(e.message.contains("8 bytes"), e.message)
        }
        // Default limit: 1 MiB.
        let big = String(repeating: "x", count: 1 << 20)
        XCTAssertEqual(parseOrFail("\"\(big)\"")?.stringValue?.utf8.count, 1 << 20)
        XCTAssertEqual(parseError("\"\(big)x\"")?.kind, .stringLimit)
    }

    func testSizeAndCountLimits() throws {
        XCTAssertEqual(parseError("[1, 2, 3]", limits: JSONLimits(maxBytes: 8))?.kind, .sizeLimit)
        XCTAssertNotNil(parseOrFail("[1, 2, 3]", limits: JSONLimits(maxBytes: 9)))
        XCTAssertEqual(parseError("[[1, 2], [1, 2, 3]]", limits: JSONLimits(maxArrayCount: 2))?.kind, .countLimit)
        XCTAssertNotNil(parseOrFail("[[1, 2], [1, 2]]", limits: JSONLimits(maxArrayCount: 2)))
        XCTAssertEqual(parseError(#"{"a": 1, "b": 2, "c": 3}"#, limits: JSONLimits(maxObjectCount: 2))?.kind, .countLimit)
        XCTAssertNotNil(parseOrFail(#"{"a": 1, "b": {"c": 3, "d": 4}}"#, limits: JSONLimits(maxObjectCount: 2)))
    }

    // MARK: Big documents

    func testBigNestedDocument() throws {
        var rng = SplitMix64(seed: 11)
        var w = JSONWriter()
        w.beginObject()
        w.key("structures")
        w.beginArray()
        var expected: [JSONValue] = []
        for s in 0..<2_000 {
            let n = Int.random(in: 1...8, using: &rng)
            let positions = (0..<(3 * n)).map { _ in Double.random(in: -20...20, using: &rng) }
            let numbers = (0..<n).map { _ in Int.random(in: 1...90, using: &rng) }
            w.beginObject()
            w.key("id")
            w.string("s\(s)")
            w.key("positions")
            w.doubleArray(positions)
            w.key("numbers")
            w.intArray(numbers)
            w.key("pbc")
            w.beginArray()
            for _ in 0..<3 { w.bool(Bool.random(using: &rng)) }
            w.endArray()
            w.endObject()
            expected.append(.number(positions[0]))
        }
        w.endArray()
        w.endObject()
        let v = try JSON.parse(w.bytes)
        let structures = try XCTUnwrap(v["structures"]?.arrayValue)
        XCTAssertEqual(structures.count, 2_000)
        XCTAssertEqual(structures.map { $0["positions"]?[0] ?? .null }, expected)
        XCTAssertEqual(structures[1999]["id"], "s1999")
        // Serialize → parse → serialize is a fixed point.
        let text = JSON.serialize(v)
        XCTAssertEqual(JSON.serialize(try JSON.parse(text)), text)
    }
}
