import SoapCore
import XCTest

/// featomic 0.6.7 reference numbers (shared conformance set): values within
/// 1e-6 absolute, gradients within 2e-5, columns matched by label both ways.
final class ConformanceTests: XCTestCase {
    func basis(_ hypers: SoapHypers, _ species: [Int]) throws -> ExpansionBasis {
        ExpansionBasis.primitive(hypers: hypers, species: species, table: try ExpansionBasis.gtoTable(for: hypers))
    }

    func testEveryPublicCase() throws {
        let names = ConformanceFixture.allNames
        XCTAssertEqual(names.count, 8, "fixtures missing")
        for name in names {
            let fixture = try ConformanceFixture(name)
            let featurizer = Featurizer(threads: 2)
            let primitive = try basis(fixture.hypers, fixture.species)
            for (key, type, b) in [
                ("spherical_expansion", DescriptorType.sphericalExpansion, primitive),
                ("power_spectrum", .powerSpectrum, primitive),
                (
                    "radial_spectrum", .radialSpectrum,
                    try basis(fixture.radialSpectrumHypers, fixture.species)
                ),
            ] {
                let expected = try XCTUnwrap(fixture.expectedBlock(key), "\(name) \(key)")
                let ours = try featurizer.compute(fixture.structures, type: type, basis: b)
                XCTAssertEqual(ours.properties.names, expected.names, "\(name) \(key)")
                XCTAssertEqual(ours.rowCount, expected.values.count, "\(name) \(key) rows")
                let (deviation, missing, extra) = maxDeviation(ours, expected)
                XCTAssertEqual(missing, 0, "\(name) \(key): columns missing")
                XCTAssertEqual(extra, 0, "\(name) \(key): extra columns")
                XCTAssertLessThan(deviation, 1e-6, "\(name) \(key)")
                // Same spline grids as featomic: only its ₁F₁ rounding remains.
                XCTAssertLessThan(deviation, 1e-9, "\(name) \(key): not featomic's spline")
                print("conformance \(name) \(key): max abs deviation \(deviation)")
                let centers = (fixture.expected["center_types"] as! [NSNumber]).map { Int32($0.intValue) }
                XCTAssertEqual(ours.centerTypes, centers, "\(name) center types")
            }
        }
    }

    /// featomic's DensityCorrelations bispectrum (f1, f2): same columns, in
    /// the same order, and the same values.
    func testBispectrum() throws {
        var cases = 0
        for name in ConformanceFixture.allNames {
            let fixture = try ConformanceFixture(name)
            guard let expected = fixture.expectedBlock("bispectrum") else { continue }
            cases += 1
            let ours = try Featurizer(threads: 2).compute(
                fixture.structures, type: .bispectrum,
                basis: try basis(fixture.hypers, fixture.species))
            XCTAssertEqual(ours.properties.names, expected.names, name)
            XCTAssertEqual(ours.rowCount, expected.values.count, "\(name) rows")
            let theirLabels = ((fixture.expected["bispectrum"] as! [String: Any])["labels"] as! [[NSNumber]])
                .flatMap { $0.map { Int32($0.intValue) } }
            XCTAssertEqual(ours.properties.values, theirLabels, "\(name): columns or their order differ")
            let (deviation, missing, extra) = maxDeviation(ours, expected)
            XCTAssertEqual(missing, 0, "\(name): columns missing")
            XCTAssertEqual(extra, 0, "\(name): extra columns")
            XCTAssertLessThan(deviation, 1e-6, name)
            XCTAssertLessThan(deviation, 1e-9, "\(name): further from featomic than its spline rounding")
            print("conformance \(name) bispectrum: max abs deviation \(deviation)")
        }
        XCTAssertEqual(cases, 2, "bispectrum fixtures missing")
    }

    func testPowerSpectrumGradients() throws {
        for name in ConformanceFixture.allNames {
            let fixture = try ConformanceFixture(name)
            guard let entries = fixture.expected["power_spectrum_gradients"] as? [[String: Any]] else { continue }
            let expected = try XCTUnwrap(fixture.expectedBlock("power_spectrum"))
            let ours = try Featurizer(threads: 2).compute(
                fixture.structures, type: .powerSpectrum,
                basis: try basis(fixture.hypers, fixture.species),
                gradients: true)
            let labels = try XCTUnwrap(ours.gradientSamples)
            let grads = try XCTUnwrap(ours.gradientValues)
            let cols = ours.columnCount
            var ourEntry: [[Int]: Int] = [:]
            for e in 0..<labels.count { ourEntry[labels[e].map { Int($0) }] = e }
            // Same (row, atom) pairs, both ways.
            let theirPairs = Set(
                entries.map {
                    [
                        ($0["sample_row"] as! NSNumber).intValue,
                        ($0["structure"] as! NSNumber).intValue,
                        ($0["atom"] as! NSNumber).intValue,
                    ]
                })
            XCTAssertEqual(Set(ourEntry.keys), theirPairs, "\(name): gradient pairs differ")
            var ourColumn: [[Int]: Int] = [:]
            for c in 0..<cols { ourColumn[ours.properties[c].map { Int($0) }] = c }
            var worst = 0.0
            for entry in entries {
                let key = [
                    (entry["sample_row"] as! NSNumber).intValue, (entry["structure"] as! NSNumber).intValue,
                    (entry["atom"] as! NSNumber).intValue,
                ]
                guard let e = ourEntry[key] else { continue }
                let values = (entry["values"] as! [[NSNumber]]).map { $0.map { $0.doubleValue } }
                for (label, theirs) in expected.columns {
                    let mine = ourColumn[label]!
                    for d in 0..<3 {
                        worst = max(worst, abs(grads[(e * 3 + d) * cols + mine] - values[d][theirs]))
                    }
                }
            }
            print("conformance \(name) power_spectrum gradients: max abs deviation \(worst)")
            XCTAssertLessThan(worst, 2e-5, name)
        }
    }
}
