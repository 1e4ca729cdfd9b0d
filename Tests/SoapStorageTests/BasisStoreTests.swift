import Foundation
import XCTest

@testable import SoapStorage

final class BasisStoreTests: StorageTestCase {
    func testContentAddressedPutIsOneRow() throws {
        let db = try openDatabase()
        let store = BasisStore(database: db)
        let basis = BasisRecord(
            id: "sha256:abc", optionsJSON: #"{"n_max":8}"#, summaryJSON: #"{"features":120}"#,
            payload: DoubleBlob.encode([1, -0.0, .leastNonzeroMagnitude]))
        XCTAssertTrue(try store.put(basis))
        let stored = try XCTUnwrap(store.get(basis.id))
        // Same id again, even with other bytes: the first write is kept.
        var again = basis
        again.payload = [0]
        XCTAssertFalse(try store.put(again))
        XCTAssertEqual(try db.queryRow("SELECT count(*) AS n FROM bases")?["n"], .integer(1))
        XCTAssertEqual(try store.get(basis.id), stored)
        XCTAssertEqual(stored.payload, basis.payload)
        XCTAssertEqual(stored.optionsJSON, basis.optionsJSON)
        XCTAssertEqual(
            try DoubleBlob.decode(stored.payload).map(\.bitPattern),
            [1, -0.0, Double.leastNonzeroMagnitude].map(\.bitPattern))
    }

    func testListOmitsPayloadAndDeletes() throws {
        let db = try openDatabase()
        let dataset = try DatasetStore(database: db).create(DatasetRecord(hypersJSON: "{}"))
        let store = BasisStore(database: db)
        try store.put(BasisRecord(id: "a", datasetID: dataset.id, payload: [UInt8](repeating: 1, count: 1000)))
        try store.put(BasisRecord(id: "b", payload: []))
        let listed = try store.list()
        XCTAssertEqual(Set(listed.map(\.id)), ["a", "b"])
        XCTAssertEqual(listed.first { $0.id == "a" }?.payloadBytes, 1000)
        XCTAssertEqual(listed.first { $0.id == "a" }?.datasetID, dataset.id)
        XCTAssertEqual(listed.first { $0.id == "b" }?.payloadBytes, 0)
        XCTAssertEqual(try store.get("b")?.payload, [])
        XCTAssertEqual(try store.list(limit: 1).count, 1)

        XCTAssertTrue(try store.delete("a"))
        XCTAssertFalse(try store.delete("a"))
        XCTAssertNil(try store.get("a"))
    }

    func testUnknownDatasetIsRejected() throws {
        let store = BasisStore(database: try openDatabase())
        assertStorageError(try store.put(BasisRecord(id: "x", datasetID: "no-such-dataset", payload: [1]))) {
            XCTAssertTrue($0.isConstraint)
        }
        assertStorageError(try store.put(BasisRecord(id: "y", optionsJSON: "nope", payload: [1]))) {
            XCTAssertTrue($0.isConstraint)
        }
    }
}
