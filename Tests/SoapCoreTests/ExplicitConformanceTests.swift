import Foundation
import SoapCore
import XCTest

/// featomic 0.6.7's Explicit / Tabulated / DiracDelta cases (Tests/Fixtures/conformance-ext
/// x1, x2, x4) through SoapCore alone: the hypers built as library values (no JSON decoder),
/// spherical expansion and power spectrum within 1e-6.
final class ExplicitConformanceTests: XCTestCase {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/conformance-ext")

    static func hypers(_ h: [String: Any]) throws -> SoapHypers {
        let cutoff = h["cutoff"] as! [String: Any]
        let smoothing = cutoff["smoothing"] as! [String: Any]
        let density = h["density"] as! [String: Any]
        let basis = h["basis"] as! [String: Any]
        let byAngular = basis["by_angular"] as! [String: [String: Any]]
        var entries = [RadialBasis?](repeating: nil, count: (byAngular.keys.compactMap { Int($0) }.max() ?? 0) + 1)
        for (key, radial) in byAngular {
            if radial["type"] as! String == "Gto" {
                entries[Int(key)!] = .gto(maxRadial: radial["max_radial"] as! Int)
            } else {
                let points = radial["points"] as! [[String: Any]]
                entries[Int(key)!] = .tabulated(
                    try TabulatedRadial(
                        positions: points.map { $0["position"] as! Double }, values: points.map { $0["values"] as! [Double] },
                        derivatives: points.map { $0["derivatives"] as! [Double] }, field: "basis/by_angular/\(key)"))
            }
        }
        let delta = density["type"] as! String == "DiracDelta"
        let base = SoapHypers(
            cutoff: cutoff["radius"] as! Double, smoothing: .shiftedCosine(width: smoothing["width"] as! Double),
            densityWidth: delta ? 0 : density["width"] as! Double,
            centerAtomWeight: density["center_atom_weight"] as? Double ?? 1, maxAngular: 0, maxRadial: 0,
            splineAccuracy: basis["spline_accuracy"] as? Double)
        let hypers = base.withRadialBases(
            RadialBasisSet(form: .explicit, byAngular: entries), density: delta ? .diracDelta : .gaussian)
        try hypers.validate()
        return hypers
    }

    func testExplicitCasesThroughTheLibrary() throws {
        for file in [
            "public_x1_explicit_gto_sic.json", "public_x2_laplacian_eigenstates_molecules.json",
            "public_x4_strain_nacl_le.json",
        ] {
            let json =
                try JSONSerialization.jsonObject(with: Data(contentsOf: Self.directory.appendingPathComponent(file)))
                as! [String: Any]
            let h = json["hypers"] as! [String: Any]
            let species = h["species"] as! [Int]
            let hypers = try Self.hypers(h)
            let basis = ExpansionBasis.primitive(
                hypers: hypers, species: species, table: try ExpansionBasis.radialTable(for: hypers))
            let structures = (json["structures"] as! [[String: Any]]).map { s in
                Structure(
                    numbers: s["numbers"] as! [Int], positions: (s["positions"] as! [[Double]]).flatMap { $0 },
                    cell: (s["cell"] as? [[Double]])?.flatMap { $0 },
                    pbc: {
                        let p = s["pbc"] as! [Bool]
                        return (p[0], p[1], p[2])
                    }())
            }
            let expected = json["expected"] as! [String: Any]
            for (key, type) in [("spherical_expansion", DescriptorType.sphericalExpansion), ("power_spectrum", .powerSpectrum)] {
                let block = expected[key] as! [String: Any]
                var columns: [[Int]: Int] = [:]
                for (k, label) in (block["labels"] as! [[Int]]).enumerated() { columns[label] = k }
                let ours = try Featurizer(threads: 2).compute(structures, type: type, basis: basis)
                XCTAssertEqual(ours.properties.names, block["names"] as! [String], "\(file) \(key)")
                let (deviation, missing, extra) = maxDeviation(
                    ours, (block["names"] as! [String], columns, block["values"] as! [[Double]]))
                XCTAssertEqual(missing, 0, "\(file) \(key)")
                XCTAssertEqual(extra, 0, "\(file) \(key)")
                XCTAssertLessThan(deviation, 1e-6, "\(file) \(key)")
                print("conformance-ext (library) \(file) \(key): max abs deviation \(deviation)")
            }
        }
    }
}
