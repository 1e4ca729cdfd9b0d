import Foundation
import SoapCore
import XCTest

/// featomic 0.6.7's strain gradients: conformance-ext x3 (power spectrum, Si8) and the
/// strain fixtures (spherical expansion, radial spectrum and power spectrum on a triclinic
/// NaCl8, a rattled Si16 and methanol without a cell), within 2e-5 abs, columns by label.
final class StrainConformanceTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures")

    func basis(_ hypers: SoapHypers, _ species: [Int]) throws -> ExpansionBasis {
        ExpansionBasis.primitive(hypers: hypers, species: species, table: try ExpansionBasis.gtoTable(for: hypers))
    }

    /// Max |ours − featomic| over every row, component and labelled column.
    func deviation(
        _ fixture: ConformanceFixture, key: String, type: DescriptorType, hypers: SoapHypers,
        basis given: ExpansionBasis? = nil
    ) throws -> Double? {
        guard let entries = fixture.expected["\(key)_strain_gradients"] as? [[String: Any]] else { return nil }
        let expected = try XCTUnwrap(fixture.expectedBlock(key))
        let ours = try Featurizer(threads: 2).compute(
            fixture.structures, type: type, basis: try given ?? basis(hypers, fixture.species), strain: true)
        let strain = try XCTUnwrap(ours.strainValues)
        XCTAssertEqual(ours.strainSamples?.count, ours.rowCount)
        XCTAssertEqual(entries.count, ours.rowCount, "\(fixture.name) \(key): one strain entry per row")
        let cols = ours.columnCount
        var ourColumn: [[Int]: Int] = [:]
        for c in 0..<cols { ourColumn[ours.properties[c].map { Int($0) }] = c }
        XCTAssertEqual(Set(ourColumn.keys), Set(expected.columns.keys), "\(fixture.name) \(key): columns")
        var worst = 0.0
        for entry in entries {
            let row = (entry["sample_row"] as! NSNumber).intValue
            let values = (entry["values"] as! [[[NSNumber]]]).map { $0.map { $0.map { $0.doubleValue } } }
            for (label, theirs) in expected.columns {
                guard let mine = ourColumn[label] else { continue }
                for a in 0..<3 {
                    for b in 0..<3 {
                        let ourValue = strain[((row * 3 + a) * 3 + b) * cols + mine]
                        worst = max(worst, abs(ourValue - values[a][b][theirs]))
                    }
                }
            }
        }
        print("strain conformance \(fixture.name) \(key): max abs deviation \(worst)")
        return worst
    }

    func testPublicX3PowerSpectrum() throws {
        let fixture = try ConformanceFixture(
            "public_x3_strain_si8.json", directory: Self.fixtures.appendingPathComponent("conformance-ext"))
        let worst = try XCTUnwrap(try deviation(fixture, key: "power_spectrum", type: .powerSpectrum, hypers: fixture.hypers))
        XCTAssertLessThan(worst, 2e-5)
        XCTAssertLessThan(worst, 1e-8, "further from featomic than its spline rounding")
    }

    /// x4: NaCl with a ragged Laplacian-eigenstate basis (Explicit of Tabulated radial
    /// integrals, DiracDelta density): strain through the padded layout and its column selection.
    func testPublicX4RaggedBasis() throws {
        let directory = Self.fixtures.appendingPathComponent("conformance-ext")
        let name = "public_x4_strain_nacl_le.json"
        let fixture = try ConformanceFixture(name, directory: directory)
        let hypers = fixture.hypers
        let basis = ExpansionBasis.primitive(
            hypers: hypers, species: fixture.species, table: try ExpansionBasis.radialTable(for: hypers))
        XCTAssertTrue(basis.isRagged)
        let worst = try XCTUnwrap(
            try deviation(fixture, key: "power_spectrum", type: .powerSpectrum, hypers: hypers, basis: basis))
        XCTAssertLessThan(worst, 2e-5)
    }

    func testStrainFixtures() throws {
        let directory = Self.fixtures.appendingPathComponent("strain")
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasPrefix("strain_") && $0.hasSuffix(".json") }.sorted()
        XCTAssertEqual(names.count, 3, "strain fixtures missing")
        for name in names {
            let fixture = try ConformanceFixture(name, directory: directory)
            for (key, type, hypers) in [
                ("spherical_expansion", DescriptorType.sphericalExpansion, fixture.hypers),
                ("radial_spectrum", .radialSpectrum, fixture.radialSpectrumHypers),
                ("power_spectrum", .powerSpectrum, fixture.hypers),
            ] {
                let worst = try XCTUnwrap(try deviation(fixture, key: key, type: type, hypers: hypers), "\(name) \(key)")
                XCTAssertLessThan(worst, 2e-5, "\(name) \(key)")
                XCTAssertLessThan(worst, 1e-8, "\(name) \(key): further from featomic than its spline rounding")
            }
        }
    }
}
