import FastJSON
import Foundation
import XCTest

@testable import SoapService

/// The json fuzz target's corpus (crash reproducers included) in the normal suite, and the
/// bugs the fuzzer found (README "Fuzzing").
final class FuzzRegressionTests: XCTestCase {
    static func corpus(_ target: String) throws -> [(String, [UInt8])] {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/corpus/\(target)")
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        return try names.map { ($0, Array(try Data(contentsOf: directory.appendingPathComponent($0)))) }
    }

    /// Every committed seed goes through the fuzz entry point (its invariants are preconditions).
    func testJSONCorpusReplays() throws {
        let files = try Self.corpus("json")
        XCTAssertGreaterThan(files.count, 20)
        for (name, bytes) in files {
            let log = ServiceFuzzEntry.decodeRequests(bytes)
            XCTAssertFalse(log.isEmpty, name)
        }
        // The valid seeds decode as what they are.
        let features = ServiceFuzzEntry.decodeRequests(try XCTUnwrap(files.first { $0.0 == "features-power-spectrum.json" }).1)
        XCTAssertTrue(features.contains("features ok"), "\(features)")
        let job = ServiceFuzzEntry.decodeRequests(try XCTUnwrap(files.first { $0.0 == "job.json" }).1)
        XCTAssertTrue(job.contains("job ok"), "\(job)")
    }

    /// Found by the json fuzzer (regress-pointer-tilde-combining-mark.json): an unknown key
    /// with "~" or "/" before a combining mark got an unescaped, invalid JSON pointer, because
    /// the escaping split the key on Characters and "~\u{0655}" is one grapheme cluster.
    func testUnknownKeyPointerEscapesBeforeCombiningMarks() throws {
        for key in ["~\u{0655}a/\u{0301}b", "~~~\u{0655}~~", "\u{0655}x", "/", "~"] {
            let body: JSONValue = .object(JSONObject(uniqueKeysWithValues: [(key, .number(1))]))
            XCTAssertThrowsError(try FeatureRequestDecoder().decode(body)) { error in
                let pointer = (error as? ServiceError)?.pointer ?? ""
                XCTAssertEqual(JSONPointer(parsing: pointer)?.tokens, [key], "\(pointer.unicodeScalars.map { $0 })")
            }
        }
        XCTAssertEqual(Field.escape("~\u{0655}a/\u{0301}b"), "~0\u{0655}a~1\u{0301}b")
    }

    /// The same Character-based replacement trapped outright for a multi-character target
    /// (`Character("/structures/0")`), which the job runner used to rename the pointer of a
    /// structure the featurizer refused: the whole service died.
    func testReplacingOccurrencesMatchesBytes() {
        XCTAssertEqual(
            "/structures/0/positions/0".replacingOccurrences("/structures/0", "/structures/12"),
            "/structures/12/positions/0")
        XCTAssertEqual("a~b~".replacingOccurrences("~", "~0"), "a~0b~0")
        XCTAssertEqual("é\u{0301}~\u{0301}".replacingOccurrences("~", "~0"), "é\u{0301}~0\u{0301}")
        XCTAssertEqual("abc".replacingOccurrences("", "x"), "abc")
        XCTAssertEqual("ab".replacingOccurrences("abc", "x"), "ab")
    }

    func testJobPointerRenamesTheStructure() {
        XCTAssertEqual(Execution.jobPointer("/structures/0", structure: 7), "/structures/7")
        XCTAssertEqual(Execution.jobPointer("/structures/0/positions/1/2", structure: 7), "/structures/7/positions/1/2")
        XCTAssertEqual(Execution.jobPointer("", structure: 7), "/structures/7")
        XCTAssertEqual(
            Execution.jobPointer("/descriptor/hypers/basis/max_angular", structure: 7),
            "/descriptor/hypers/basis/max_angular")
    }
}
