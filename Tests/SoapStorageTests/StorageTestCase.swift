import Foundation
import TestSupport
import XCTest

@testable import SoapStorage

/// Each test gets its own temporary directory with real database files.
class StorageTestCase: XCTestCase {
    private(set) var directory: URL!

    override func setUpWithError() throws {
        try super.setUpWithError()
        directory = URL(fileURLWithPath: try TemporaryDirectory.make("soapstorage-tests"), isDirectory: true)
    }

    override func tearDownWithError() throws {
        if let directory { TemporaryDirectory.remove(directory.path) }
        try super.tearDownWithError()
    }

    func path(_ name: String = "soap.sqlite") -> String {
        directory.appendingPathComponent(name).path
    }

    func openDatabase(_ name: String = "soap.sqlite") throws -> Database {
        try Database(path: path(name))
    }

    func fileSize(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
    }

    /// Runs `body(thread)` on `count` real threads at once and waits for all of them.
    func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
        let group = DispatchGroup()
        for index in 0..<count {
            group.enter()
            let thread = Thread {
                body(index)
                group.leave()
            }
            thread.start()
        }
        XCTAssertEqual(group.wait(timeout: .now() + 120), .success, "threads did not finish")
    }
}

// SQLite primary result codes the tests check (the test target does not import CSQLite).
enum SQLiteCode {
    static let cantOpen: Int32 = 14
    static let constraint: Int32 = 19
    static let misuse: Int32 = 21
    static let range: Int32 = 25
}

/// A lock-protected tally shared by test threads.
final class Tally: @unchecked Sendable {
    private let lock = NSLock()
    private var counts: [String: Int] = [:]
    private(set) var errors: [String] = []

    func add(_ name: String, _ amount: Int = 1) {
        lock.lock()
        counts[name, default: 0] += amount
        lock.unlock()
    }

    func record(_ error: Error) {
        lock.lock()
        errors.append("\(error)")
        lock.unlock()
    }

    subscript(_ name: String) -> Int {
        lock.lock()
        defer { lock.unlock() }
        return counts[name, default: 0]
    }
}

/// Asserts that `body` throws a `StorageError` and passes it to `check`.
func assertStorageError<T>(
    _ body: @autoclosure () throws -> T, file: StaticString = #filePath, line: UInt = #line,
    _ check: (StorageError) -> Void = { _ in }
) {
    XCTAssertThrowsError(try body(), file: file, line: line) { error in
        guard let storageError = error as? StorageError else {
            return XCTFail("expected StorageError, got \(error)", file: file, line: line)
        }
        check(storageError)
    }
}

/// Asserts that `body` throws exactly `expected`.
func assertStoreError<T>(
    _ expected: StoreError, _ body: @autoclosure () throws -> T,
    file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertThrowsError(try body(), file: file, line: line) { error in
        XCTAssertEqual(error as? StoreError, expected, file: file, line: line)
    }
}
