import Foundation
import TestSupport
import XCTest

@testable import SoapCore
@testable import SoapService

/// Atomic writes, buffered and direct (O_DIRECT through the page-aligned staging buffer):
/// the file holds exactly the pieces, whatever their sizes against pages and the buffer.
final class FileSystemTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws { directory = try TemporaryDirectory.make("soapd-fs") }
    override func tearDown() { TemporaryDirectory.remove(directory) }

    func testDirectAndBufferedWritesHoldExactlyTheirPieces() throws {
        let page = DirectIOStaging.alignment
        let stage = DirectIOStaging.size
        let random = try XCTUnwrap(FileHandle(forReadingAtPath: "/dev/urandom"))
        defer { try? random.close() }
        let layouts: [[Int]] = [
            [], [0], [1], [page - 1], [page], [page + 1], [3, 5, page],
            [stage - 1], [stage], [stage + 1], [stage - 7, 7, 1],
            [2 * stage + 123, 17, stage, 0, 4096 * 3 + 5],
        ]
        for (k, sizes) in layouts.enumerated() {
            let pieces = sizes.map { n in random.readData(ofLength: n) }
            var expected = Data()
            for piece in pieces { expected.append(piece) }
            for direct in [true, false] {
                let path = directory + "/file-\(k)-\(direct).bin"
                let written = try FileSystem.writeAtomically(to: path, direct: direct) { put in
                    for piece in pieces { try piece.withUnsafeBytes(put) }
                }
                XCTAssertEqual(written, expected.count)
                let read = try Data(contentsOf: URL(fileURLWithPath: path))
                XCTAssertEqual(read.count, expected.count, "sizes \(sizes), direct \(direct)")
                XCTAssertTrue(read == expected, "sizes \(sizes), direct \(direct)")
            }
        }
        // No temporary file is left behind.
        let names = try FileManager.default.contentsOfDirectory(atPath: directory)
        XCTAssertFalse(names.contains { $0.contains(".tmp-") }, "\(names)")
    }

    /// A failing content closure leaves neither the file nor a temporary one, and the staging
    /// buffer goes back to the pool (the next direct write works).
    func testFailedWriteLeavesNothing() throws {
        struct Stop: Error {}
        let path = directory + "/failed.bin"
        XCTAssertThrowsError(
            try FileSystem.writeAtomically(to: path, direct: true) { put in
                try [UInt8](repeating: 1, count: 10_000).withUnsafeBytes(put)
                throw Stop()
            })
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), [])
        try FileSystem.writeAtomically(to: path, direct: true) { put in try [UInt8]([1, 2, 3]).withUnsafeBytes(put) }
        XCTAssertEqual(Array(try Data(contentsOf: URL(fileURLWithPath: path))), [1, 2, 3])
    }
}

/// Chunk files read back whatever the size of their header: a labels file holds every
/// column label, which for wide descriptors is well above the first read's 64 KB.
final class JobChunkFileTests: XCTestCase {
    func testLabelsHeaderAbove64KBReadsBack() throws {
        let directory = try TemporaryDirectory.make("soapd-chunkfile")
        defer { TemporaryDirectory.remove(directory) }
        let columns = 12_000
        var properties = Labels(names: ["l", "neighbor_1_type", "n_1", "neighbor_2_type", "n_2"])
        for c in 0..<columns { properties.values += [Int32(c % 9), 1, Int32(c % 11), 8, Int32(c % 13)] }
        let empty = FeatureMatrix(
            samples: Labels(names: ["structure", "atom"]), centerTypes: [], properties: properties,
            values: [])
        let path = JobChunkFile.labelsPath(directory)
        try JobChunkFile.write(empty, globalIndex: [], to: path)
        XCTAssertGreaterThan(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0, 1 << 16)
        let read = try JobChunkFile.read(path)
        XCTAssertEqual(read.header.properties, properties)
        XCTAssertEqual(read.header.rows, 0)
        XCTAssertEqual(read.header.sampleNames, ["structure", "atom"])
    }
}
