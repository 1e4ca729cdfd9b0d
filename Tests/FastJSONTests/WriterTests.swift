import TestSupport
import XCTest

@testable import FastJSON

final class WriterTests: XCTestCase {
    private func text(_ w: JSONWriter) -> String { String(decoding: w.bytes, as: UTF8.self) }

    func testStringEscaping() {
        var w = JSONWriter()
        w.string("plain \"quoted\" back\\slash /slash\n\r\t\u{8}\u{C}\u{0}\u{1}\u{1F}\u{7F} é 😀 \u{2028}")
        XCTAssertEqual(
            text(w),
            #""plain \"quoted\" back\\slash /slash\n\r\t\b\f\u0000\u0001\u001f"# + "\u{7F} é 😀 \u{2028}\"")
        var k = JSONWriter()
        k.beginObject()
        k.key("a\"b")
        k.string("")
        k.endObject()
        XCTAssertEqual(text(k), #"{"a\"b":""}"#)
        // Every control character survives a round trip.
        let controls = String(String.UnicodeScalarView((0..<32).map { Unicode.Scalar(UInt8($0)) }))
        var c = JSONWriter()
        c.string(controls)
        XCTAssertEqual(try JSON.parse(c.bytes), .string(controls))
    }

    func testCommaPlacementInNestedStructures() {
        var w = JSONWriter()
        w.beginObject()
        w.key("a")
        w.beginArray()
        w.integer(1)
        w.beginArray()
        w.endArray()
        w.beginObject()
        w.endObject()
        w.beginArray()
        w.null()
        w.bool(true)
        w.endArray()
        w.number(2.5)
        w.endArray()
        w.key("b")
        w.beginObject()
        w.key("c")
        w.bool(false)
        w.key("d")
        w.string("x")
        w.endObject()
        w.key("e")
        w.raw(Array("[1,{\"z\":2}]".utf8))
        w.key("f")
        w.doubleArray([0.5, -1e-12, 0, .nan])
        w.key("g")
        w.intArray([14, -8, 0])
        w.key("h")
        w.doubleArray([])
        w.key("i")
        w.intArray([])
        w.endObject()
        XCTAssertEqual(
            text(w),
            #"{"a":[1,[],{},[null,true],2.5],"b":{"c":false,"d":"x"},"e":[1,{"z":2}],"#
                + #""f":[0.5,-1e-12,0.0,null],"g":[14,-8,0],"h":[],"i":[]}"#)
        XCTAssertNoThrow(try JSON.parse(w.bytes))

        var top = JSONWriter()
        top.doubleArray([1, 2])
        XCTAssertEqual(text(top), "[1.0,2.0]")
        var bare = JSONWriter()
        bare.number(.infinity)
        XCTAssertEqual(text(bare), "null")
    }

    func testBulkArraysAcrossChunkBoundaries() throws {
        // Large enough to cross the writer's internal chunk size many times.
        var rng = SplitMix64(seed: 8)
        let doubles = (0..<50_000).map { _ in randomFiniteDouble(&rng) }
        let ints = (0..<50_000).map { _ in Int(truncatingIfNeeded: rng.next()) }
        var w = JSONWriter(capacity: 0)
        w.beginArray()
        w.doubleArray(doubles)
        w.intArray(ints)
        w.endArray()
        let v = try JSON.parse(w.bytes)
        XCTAssertEqual(v[0]?.arrayValue?.map { $0.doubleValue!.bitPattern }, doubles.map(\.bitPattern))
        // Ints beyond 2^53 are not exact as doubles; compare their text instead.
        let intTexts = String(decoding: w.bytes, as: UTF8.self).split(separator: "[").last!.dropLast(2)
        XCTAssertEqual(intTexts.split(separator: ",").map(String.init), ints.map(String.init))
        // Per-value calls produce identical bytes.
        var each = JSONWriter()
        each.beginArray()
        for x in doubles { each.number(x) }
        each.endArray()
        var bulk = JSONWriter()
        bulk.doubleArray(doubles)
        XCTAssertEqual(each.bytes, bulk.bytes)
    }

    func testValueRoundTrip() throws {
        var rng = SplitMix64(seed: 9)
        func randomString() -> String {
            let pool: [Unicode.Scalar] = [
                "a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\u{0}", "\u{1F}", "é",
                "€", "😀", "\u{FFFF}", "\u{10FFFF}", "\u{7F}",
            ]
            var s = String.UnicodeScalarView()
            for _ in 0..<Int.random(in: 0...12, using: &rng) { s.append(pool.randomElement(using: &rng)!) }
            return String(s)
        }
        func randomValue(depth: Int) -> JSONValue {
            switch Int.random(in: 0..<(depth > 4 ? 4 : 6), using: &rng) {
            case 0: return .null
            case 1: return .bool(Bool.random(using: &rng))
            case 2: return .number(randomFiniteDouble(&rng))
            case 3: return .string(randomString())
            case 4: return .array((0..<Int.random(in: 0...6, using: &rng)).map { _ in randomValue(depth: depth + 1) })
            default:
                var seen = Set<String>()
                var pairs: [(String, JSONValue)] = []
                for _ in 0..<Int.random(in: 0...20, using: &rng) {
                    let k = randomString()
                    if seen.insert(k).inserted { pairs.append((k, randomValue(depth: depth + 1))) }
                }
                return .object(JSONObject(uniqueKeysWithValues: pairs))
            }
        }
        for _ in 0..<500 {
            let v = randomValue(depth: 0)
            let bytes = JSON.serialize(v)
            XCTAssertEqual(try JSON.parse(bytes), v, String(decoding: bytes, as: UTF8.self))
        }
        let literal: JSONValue = ["a": [1, 2.5, "x", true, .null], "b": ["c": -0.0]]
        XCTAssertEqual(literal.description, #"{"a":[1.0,2.5,"x",true,null],"b":{"c":-0.0}}"#)
        XCTAssertEqual(try JSON.parse(literal.description), literal)
    }
}
