import Foundation
import XCTest

@testable import SoapHTTP

/// The http and gzip fuzz targets' corpora in the normal suite: each seed (crash
/// reproducers included) through the same entry points, whose invariants are preconditions.
final class FuzzCorpusTests: XCTestCase {
    static func corpus(_ target: String) throws -> [String: [UInt8]] {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/corpus/\(target)")
        var files: [String: [UInt8]] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) {
            files[name] = Array(try Data(contentsOf: directory.appendingPathComponent(name)))
        }
        return files
    }

    func testHTTPCorpusReplays() throws {
        let files = try Self.corpus("http")
        XCTAssertGreaterThan(files.count, 15)
        for (_, bytes) in files.sorted(by: { $0.key < $1.key }) { HTTPFuzzEntry.parseRequests(bytes) }
        let pipelined = HTTPFuzzEntry.parseRequests(try XCTUnwrap(files["pipelined.http"]))
        XCTAssertEqual(pipelined.filter { $0.hasPrefix("head ") }.count, 4, "\(pipelined)")
        XCTAssertEqual(pipelined.filter { $0.hasPrefix("body ") }.count, 4, "\(pipelined)")
        let gzipped = HTTPFuzzEntry.parseRequests(try XCTUnwrap(files["post-gzip-chunked.http"]))
        XCTAssertTrue(gzipped.last?.contains(" gunzip ") == true, "\(gzipped)")
        XCTAssertNotNil(gzipped.last?.split(separator: " ").last.flatMap { Int($0) }, "inflated: \(gzipped)")
        XCTAssertEqual(HTTPFuzzEntry.parseRequests(try XCTUnwrap(files["err-te-and-cl.http"])).last?.prefix(9), "error 400")
    }

    func testGzipCorpusReplays() throws {
        let files = try Self.corpus("gzip")
        XCTAssertGreaterThan(files.count, 10)
        for (_, bytes) in files.sorted(by: { $0.key < $1.key }) { HTTPFuzzEntry.inflate(bytes) }
        XCTAssertEqual(HTTPFuzzEntry.inflate(try XCTUnwrap(files["text.gz"])), 1200)
        XCTAssertEqual(HTTPFuzzEntry.inflate(try XCTUnwrap(files["concatenated.gz"])), 6)
        XCTAssertEqual(HTTPFuzzEntry.inflate(try XCTUnwrap(files["header-fields.gz"])), 1200)
        XCTAssertNil(HTTPFuzzEntry.inflate(try XCTUnwrap(files["bomb.gz"])), "2 MiB of output is over the 1 MiB limit")
        XCTAssertNil(HTTPFuzzEntry.inflate(try XCTUnwrap(files["truncated.gz"])))
        XCTAssertNil(HTTPFuzzEntry.inflate(try XCTUnwrap(files["trailing-garbage.gz"])))
    }
}
