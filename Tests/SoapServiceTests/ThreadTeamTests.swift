import SoapCore
import Synchronization
import XCTest

@testable import SoapService

/// The job runner's fork-join team: every index runs once per fork-join, on as many
/// threads as asked, and the featurizer gives the same numbers on it as on Dispatch's pool.
final class ThreadTeamTests: XCTestCase {
    func testEveryIndexRunsOncePerForkJoin() {
        let team = ThreadTeam(width: 3)
        defer { team.stop() }
        for round in 0..<2_000 {
            let count = 1 + round % 4  // 4 is above the width: clamped to 3
            let seen = Mutex<[Int]>([])
            team.forkJoin(count) { index in seen.withLock { $0.append(index) } }
            XCTAssertEqual(seen.withLock { $0.sorted() }, Array(0..<min(count, 3)), "round \(round)")
        }
    }

    func testFeaturizerOnTheTeamEqualsDispatch() throws {
        let team = ThreadTeam(width: 2)
        defer { team.stop() }
        var structures: [Structure] = []
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<6 {
            let n = 12
            let positions = (0..<(3 * n)).map { _ in Double.random(in: 0..<6, using: &generator) }
            structures.append(
                Structure(
                    numbers: [Int](repeating: 14, count: n), positions: positions,
                    cell: [6, 0, 0, 0, 6, 0, 0, 0, 6], pbc: (true, true, true)))
        }
        let basis = try FeatureService(settings: FeatureServiceSettings())
            .primitiveBasis(hypers: SoapHypers(cutoff: 3.5, densityWidth: 0.4, maxAngular: 3, maxRadial: 4), species: [14])
        var onTeam = Featurizer(threads: 2)
        onTeam.executor = team
        let a = try onTeam.compute(structures, type: .powerSpectrum, basis: basis, gradients: true)
        let b = try Featurizer(threads: 2).compute(structures, type: .powerSpectrum, basis: basis, gradients: true)
        XCTAssertEqual(a.values, b.values)
        XCTAssertEqual(a.gradientValues, b.gradientValues)
    }
}

/// The pool of value arrays: a taken array has the asked size, a given-back one is reused
/// in place (same storage) when it is the only reference, and featurizing into reused
/// arrays gives the same numbers as into fresh ones.
final class ValueArrayPoolTests: XCTestCase {
    func testReusesStorageAndResizes() {
        let pool = ValueArrayPool(keep: 2)
        var first = pool.take(count: 1000)
        XCTAssertEqual(first.count, 1000)
        XCTAssertGreaterThanOrEqual(first.capacity, 1200, "room to spare")
        first[999] = 7
        let address = first.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
        pool.give(first)
        first = []
        var second = pool.take(count: 1100)  // larger, within the spare room
        XCTAssertEqual(second.count, 1100)
        XCTAssertEqual(
            second.withUnsafeMutableBufferPointer { UInt(bitPattern: $0.baseAddress) }, address,
            "written in place, no copy")
        pool.give(second)
        second = []
        XCTAssertEqual(pool.take(count: 10).count, 10)
        XCTAssertEqual(pool.take(count: 100_000).count, 100_000, "an empty pool allocates")
        pool.drain()
    }

    func testFeaturizerIntoReusedArraysEqualsFresh() throws {
        var structures: [Structure] = []
        var generator = SystemRandomNumberGenerator()
        for n in [10, 14, 9] {
            let positions = (0..<(3 * n)).map { _ in Double.random(in: 0..<6, using: &generator) }
            structures.append(
                Structure(
                    numbers: [Int](repeating: 14, count: n), positions: positions,
                    cell: [6, 0, 0, 0, 6, 0, 0, 0, 6], pbc: (true, true, true)))
        }
        let basis = try FeatureService(settings: FeatureServiceSettings())
            .primitiveBasis(hypers: SoapHypers(cutoff: 3.5, densityWidth: 0.4, maxAngular: 3, maxRadial: 4), species: [14])
        let pool = ValueArrayPool()
        var pooled = Featurizer(threads: 2)
        pooled.valuesPool = pool
        for subset in [structures, Array(structures.prefix(2)), structures] {
            var a = try pooled.compute(subset, type: .powerSpectrum, basis: basis)
            let b = try Featurizer(threads: 2).compute(subset, type: .powerSpectrum, basis: basis)
            XCTAssertEqual(a.values, b.values)
            let values = a.values
            a.values = []
            pool.give(values)
        }
    }
}
