import XCTest

@testable import SoapCore

/// The one owner of the kernels' raw memory: copies, and growth that keeps a prefix.
final class BufferArenaTests: XCTestCase {
    func testCopyAndAllocate() {
        let arena = BufferArena()
        let copied = arena.copy([1.0, 2.0, 3.0])
        XCTAssertEqual(Array(UnsafeBufferPointer(start: copied, count: 3)), [1, 2, 3])
        let empty: UnsafeMutablePointer<Int32> = arena.copy([])
        empty[0] = 7  // an empty copy still has room for one element
        XCTAssertEqual(empty[0], 7)
        let scratch = arena.allocate(Int.self, count: 4)
        for i in 0..<4 { scratch[i] = i * i }
        XCTAssertEqual(Array(UnsafeBufferPointer(start: scratch, count: 4)), [0, 1, 4, 9])
    }

    /// The expansion's growth pattern: a larger buffer in place of the old one, keeping what
    /// was written (neighbour gradients) or nothing (per-centre pair factors), repeatedly.
    func testReallocateKeepsThePrefix() {
        let arena = BufferArena()
        var buffer = arena.allocate(Double.self, count: 2)
        buffer[0] = 0.5
        buffer[1] = 1.5
        var capacity = 2
        for round in 0..<6 {
            let grown = 2 * capacity
            buffer = arena.reallocate(buffer, count: grown, keeping: capacity)
            for i in capacity..<grown { buffer[i] = Double(i) + 0.5 }
            capacity = grown
            XCTAssertEqual(buffer[0], 0.5, "round \(round)")
        }
        XCTAssertEqual((0..<capacity).map { buffer[$0] }, (0..<capacity).map { Double($0) + 0.5 })
        let other = arena.copy([4, 5, 6])
        let replaced = arena.reallocate(other, count: 10)
        replaced[9] = 1
        XCTAssertEqual(replaced[9], 1)
    }
}
