import TestSupport
import XCTest

@testable import FastJSON

/// The parser must never crash or hang: every input either parses or yields a
/// JSONParseError with a position inside the input.
final class FuzzTests: XCTestCase {
    private func check(_ bytes: [UInt8], limits: JSONLimits = JSONLimits()) {
        do {
            let v = try JSON.parse(bytes, limits: limits)
            // Whatever parses must serialize and parse back to the same value.
            XCTAssertEqual(try JSON.parse(JSON.serialize(v)), v)
        } catch {
            XCTAssertTrue(error.offset >= 0 && error.offset <= bytes.count, "\(error) for \(bytes)")
            XCTAssertGreaterThanOrEqual(error.line, 1)
            XCTAssertGreaterThanOrEqual(error.column, 1)
            XCTAssertFalse(error.message.isEmpty)
        }
    }

    func testRandomByteStrings() {
        var rng = SplitMix64(seed: 12)
        let alphabet =
            Array("{}[],:\"\\ \n\t0123456789-+.eEtruefalsnu/bfnrt\u{0}".utf8) + [0xC3, 0xA9, 0xED, 0xF0, 0x9F, 0x80, 0xFF]
        for i in 0..<10_000 {
            let length = Int.random(in: 0...64, using: &rng)
            let bytes: [UInt8] = (0..<length).map { _ in
                i % 2 == 0 ? UInt8.random(in: 0...255, using: &rng) : alphabet.randomElement(using: &rng)!
            }
            check(bytes)
        }
    }

    func testMutatedDocuments() {
        var rng = SplitMix64(seed: 13)
        let seeds = [
            #"{"structures": [{"positions": [[0.0, 1.5e-3, -2], [1, 2, 3]], "numbers": [14, 8], "pbc": [true, false, null]}]}"#,
            #"["a\u00e9\ud83d\ude00", "\n\t\"", {"k": {"l": [[], {}]}}, -0.0, 1e308, 123456789012345678901234]"#,
            "[\"é😀\", 0.1, 5e-324, {\"a\": \"b\"}]",
        ].map { Array($0.utf8) }
        for i in 0..<10_000 {
            var bytes = seeds[i % seeds.count]
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let at = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: bytes[at] = UInt8.random(in: 0...255, using: &rng)
                case 1: bytes.insert(bytes[Int.random(in: 0..<bytes.count, using: &rng)], at: at)
                case 2: bytes.remove(at: at)
                default: bytes = Array(bytes[..<at])
                }
                if bytes.isEmpty { break }
            }
            check(bytes, limits: JSONLimits(maxDepth: 4, maxStringBytes: 16))
        }
    }
}
