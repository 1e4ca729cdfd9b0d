import SoapCore
import XCTest

/// Cell lists against brute-force enumeration of periodic images.
final class NeighborListTests: XCTestCase {
    /// All (j, r_ij) with 0 < |r_ij| < rc, by looping over enough lattice translations.
    func bruteForce(_ s: Structure, cutoff: Double, images: Int) -> [[Double]] {
        var pairs: [[Double]] = []
        let cell = s.cell ?? [0, 0, 0, 0, 0, 0, 0, 0, 0]
        let range = { (p: Bool) in p ? -images...images : 0...0 }
        for i in 0..<s.count {
            for j in 0..<s.count {
                for a in range(s.pbc.0) {
                    for b in range(s.pbc.1) {
                        for c in range(s.pbc.2) {
                            var v = [0.0, 0.0, 0.0]
                            for k in 0..<3 {
                                v[k] =
                                    s.positions[3 * j + k] - s.positions[3 * i + k]
                                    + Double(a) * cell[k] + Double(b) * cell[3 + k] + Double(c) * cell[6 + k]
                            }
                            let r = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).squareRoot()
                            if r > 0 && r < cutoff { pairs.append([Double(i), Double(j), v[0], v[1], v[2]]) }
                        }
                    }
                }
            }
        }
        return pairs
    }

    func cellList(_ s: Structure, cutoff: Double) throws -> [[Double]] {
        let list = try XCTUnwrap(NeighborList.build(s, cutoff: cutoff))
        var pairs: [[Double]] = []
        for i in 0..<s.count {
            for p in list.start[i]..<list.start[i + 1] {
                pairs.append([
                    Double(i), Double(list.neighbor[p]), list.vectors[3 * p], list.vectors[3 * p + 1], list.vectors[3 * p + 2],
                ])
                XCTAssertEqual(
                    list.distances[p],
                    (pow(list.vectors[3 * p], 2) + pow(list.vectors[3 * p + 1], 2) + pow(list.vectors[3 * p + 2], 2))
                        .squareRoot(), accuracy: 1e-12)
            }
        }
        return pairs
    }

    func assertSamePairs(_ a: [[Double]], _ b: [[Double]], file: StaticString = #filePath, line: UInt = #line) {
        func key(_ p: [Double]) -> String { p.map { String(format: "%.6f", $0 == 0 ? 0 : $0) }.joined(separator: ",") }
        XCTAssertEqual(a.count, b.count, "pair count", file: file, line: line)
        XCTAssertEqual(Set(a.map(key)), Set(b.map(key)), file: file, line: line)
    }

    func testTriclinicCutoffLargerThanCell() throws {
        let s = TestStructures.triclinic(n: 6)
        for cutoff in [2.0, 4.5, 7.5, 11.0] {
            assertSamePairs(try cellList(s, cutoff: cutoff), bruteForce(s, cutoff: cutoff, images: 4))
        }
    }

    func testUnwrappedPositions() throws {
        var s = TestStructures.triclinic(n: 6)
        s.positions = s.positions.enumerated().map { $0.element + Double($0.offset % 5) * 3.7 - 6 }
        assertSamePairs(try cellList(s, cutoff: 6.0), bruteForce(s, cutoff: 6.0, images: 5))
    }

    func testMixedPeriodicity() throws {
        var slab = TestStructures.triclinic(n: 8)
        slab.pbc = (true, true, false)
        assertSamePairs(try cellList(slab, cutoff: 6.0), bruteForce(slab, cutoff: 6.0, images: 4))
        var wire = TestStructures.triclinic(n: 8, seed: 9)
        wire.pbc = (false, false, true)
        assertSamePairs(try cellList(wire, cutoff: 8.0), bruteForce(wire, cutoff: 8.0, images: 4))
    }

    func testMoleculeAndLargeSparseBox() throws {
        let m = TestStructures.molecule()
        assertSamePairs(try cellList(m, cutoff: 2.0), bruteForce(m, cutoff: 2.0, images: 0))
        // Atoms far apart: many empty bins, few pairs.
        let sparse = Structure(numbers: [1, 1, 1, 1], positions: [0, 0, 0, 100, 0, 0, 100.5, 0.2, 0, -40, 60, 3])
        assertSamePairs(try cellList(sparse, cutoff: 3.0), bruteForce(sparse, cutoff: 3.0, images: 0))
    }

    func testLargeCellManyBins() throws {
        let s = TestStructures.silicon(reps: 3, rattle: 0.1)
        assertSamePairs(try cellList(s, cutoff: 5.0), bruteForce(s, cutoff: 5.0, images: 1))
    }

    func testPairLimitStopsEarly() {
        XCTAssertNil(NeighborList.build(TestStructures.silicon(reps: 2), cutoff: 5.0, maxPairs: 100))
    }
}
