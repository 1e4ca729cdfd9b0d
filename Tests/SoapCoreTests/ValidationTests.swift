import SoapCore
import TestSupport
import XCTest

/// Every invalid input is refused with an error naming the structure and field.
final class ValidationTests: XCTestCase {
    let hypers = SoapHypers(cutoff: 3, densityWidth: 0.5, maxAngular: 2, maxRadial: 2)

    func error(_ structures: [Structure], species: [Int] = [1, 14]) throws -> FeaturizationError? {
        let basis = try primitiveBasis(hypers, species: species)
        do {
            _ = try Featurizer(threads: 1).compute(structures, type: .powerSpectrum, basis: basis)
            return nil
        } catch { return error }
    }

    func structureError(_ s: Structure, index: Int = 1) throws -> StructureError? {
        let ok = Structure(numbers: [1], positions: [0, 0, 0])
        guard case .structure(let e)? = try error(index == 1 ? [ok, s] : [s]) else { return nil }
        return e
    }

    func testNonFinitePosition() throws {
        let e = try structureError(Structure(numbers: [1, 1], positions: [0, 0, 0, 1, .nan, 0]))
        XCTAssertEqual(e?.structure, 1)
        XCTAssertEqual(e?.field, "positions/1/1")
    }

    func testRaggedPositions() throws {
        XCTAssertEqual(try structureError(Structure(numbers: [1, 1], positions: [0, 0, 0]))?.field, "positions")
    }

    func testUnknownElement() throws {
        XCTAssertEqual(try structureError(Structure(numbers: [1, 200], positions: [0, 0, 0, 1, 1, 1]))?.field, "numbers/1")
    }

    func testSingularCellUnderPBC() throws {
        let s = Structure(numbers: [14], positions: [0, 0, 0], cell: [1, 0, 0, 2, 0, 0, 0, 0, 1])
        XCTAssertEqual(try structureError(s)?.field, "cell")
        // The same cell without periodicity is ignored.
        XCTAssertNil(
            try error([
                Structure(
                    numbers: [14], positions: [0, 0, 0], cell: [1, 0, 0, 2, 0, 0, 0, 0, 1],
                    pbc: (false, false, false))
            ]))
    }

    func testPBCWithoutCell() throws {
        let s = Structure(numbers: [14], positions: [0, 0, 0], cell: nil, pbc: (true, false, false))
        XCTAssertEqual(try structureError(s)?.field, "pbc")
    }

    func testNonFiniteCell() throws {
        let s = Structure(numbers: [14], positions: [0, 0, 0], cell: [1, 0, 0, 0, .infinity, 0, 0, 0, 1])
        XCTAssertEqual(try structureError(s)?.field, "cell/1/1")
    }

    func testAtomTypeNotInSpecies() throws {
        let s = Structure(numbers: [14, 8], positions: [0, 0, 0, 1, 1, 1])
        XCTAssertEqual(try error([s]), .unknownSpecies(structure: 0, atom: 1, number: 8))
    }

    func testSpeciesList() throws {
        XCTAssertEqual(try error([], species: []), .invalidSpecies("must list at least one atomic number"))
        XCTAssertEqual(try error([], species: [14, 1]), .invalidSpecies("must be sorted and without repeats"))
    }

    func testTooManyPairsIsRefusedBeforeAllocation() throws {
        // 2,000 atoms in a 5 Å box with a 5 Å cutoff: millions of pairs.
        var rng = SplitMix64(seed: 1, skipping: 1)
        let n = 2000
        let s = Structure(
            numbers: Array(repeating: 14, count: n), positions: (0..<(3 * n)).map { _ in rng.uniform(0, 5) },
            cell: [5, 0, 0, 0, 5, 0, 0, 0, 5])
        var limits = FeaturizationLimits()
        limits.maxPairsPerStructure = 100_000
        let basis = try primitiveBasis(SoapHypers(cutoff: 5, densityWidth: 0.5, maxAngular: 2, maxRadial: 2), species: [14])
        XCTAssertThrowsError(try Featurizer(threads: 1, limits: limits).compute([s], type: .powerSpectrum, basis: basis)) {
            guard case FeaturizationError.tooManyPairs(structure: 0, _, limit: 100_000) = $0 else {
                return XCTFail("unexpected \($0)")
            }
        }
    }

    func testWideBispectrumIsRefusedBeforeAllocation() throws {
        // 40 species × 10 radial functions: 400 channels, 400³ columns per (l1, l2, l3).
        let species = Array(1...40)
        let basis = try primitiveBasis(SoapHypers(cutoff: 3, densityWidth: 0.5, maxAngular: 4, maxRadial: 9), species: species)
        let atom = Structure(numbers: [1], positions: [0, 0, 0])
        XCTAssertThrowsError(try Featurizer(threads: 1).compute([atom], type: .bispectrum, basis: basis)) {
            guard case FeaturizationError.outputTooLarge(let values, _) = $0 else { return XCTFail("unexpected \($0)") }
            XCTAssertEqual(values, 14 * 400 * 400 * 400)
        }
    }

    func testBispectrumAngularLimit() throws {
        // The CG tables stop at l = 20 (factorial ratios in Double); a larger
        // max_angular (possible through Config) is an error, not a crash.
        let h = SoapHypers(cutoff: 3, densityWidth: 0.5, maxAngular: 21, maxRadial: 0)
        let basis = ExpansionBasis.primitive(hypers: h, species: [1], table: try ExpansionBasis.gtoTable(for: h))
        XCTAssertThrowsError(
            try Featurizer(threads: 1).compute(
                [Structure(numbers: [1], positions: [0, 0, 0])],
                type: .bispectrum, basis: basis)
        ) {
            XCTAssertEqual($0 as? FeaturizationError, .maxAngularTooLarge(type: .bispectrum, maxAngular: 21, limit: 20))
        }
    }

    func testHypersValidation() {
        var h = hypers
        h.cutoff = -1
        XCTAssertThrowsError(try h.validate()) { XCTAssertEqual(($0 as? HypersError)?.field, "cutoff/radius") }
        h = hypers
        h.smoothing = .shiftedCosine(width: 5)
        XCTAssertThrowsError(try h.validate()) { XCTAssertEqual(($0 as? HypersError)?.field, "cutoff/smoothing/width") }
        h = hypers
        h.densityWidth = 0
        XCTAssertThrowsError(try h.validate()) { XCTAssertEqual(($0 as? HypersError)?.field, "density/width") }
        h = hypers
        h.scaling = .willatt2018(rate: 0, scale: 1, exponent: 1)
        XCTAssertThrowsError(try h.validate()) { XCTAssertEqual(($0 as? HypersError)?.field, "density/scaling/rate") }
        XCTAssertNoThrow(try hypers.validate())
    }
}
