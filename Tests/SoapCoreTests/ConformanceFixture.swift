import Foundation
import SoapCore

/// One featomic reference case from Tests/Fixtures/conformance (copied from
/// the shared conformance set), read with Foundation: tests only.
struct ConformanceFixture {
    let name: String
    let json: [String: Any]
    let structures: [Structure]
    let species: [Int]
    let hypers: SoapHypers
    let radialSpectrumHypers: SoapHypers

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/conformance")

    static var allNames: [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: directory.path))?
            .filter { $0.hasPrefix("public_") && $0.hasSuffix(".json") }.sorted() ?? []
    }

    init(_ file: String, directory: URL = Self.directory) throws {
        name = file
        let data = try Data(contentsOf: directory.appendingPathComponent(file))
        json = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        let h = json["hypers"] as! [String: Any]
        species = (h["species"] as! [NSNumber]).map { $0.intValue }
        // featomic's Explicit cases (conformance-ext) carry per-l radial bases.
        if (h["basis"] as? [String: Any])?["type"] as? String == "Explicit" {
            hypers = try ExplicitConformanceTests.hypers(h)
            radialSpectrumHypers = hypers
        } else {
            hypers = Self.parseHypers(h)
            radialSpectrumHypers = Self.parseHypers(json["radial_spectrum_hypers"] as? [String: Any] ?? h)
        }
        structures = (json["structures"] as! [[String: Any]]).map { s in
            let numbers = (s["numbers"] as! [NSNumber]).map { $0.intValue }
            let positions = (s["positions"] as! [[NSNumber]]).flatMap { $0.map { $0.doubleValue } }
            let cell = (s["cell"] as? [[NSNumber]])?.flatMap { $0.map { $0.doubleValue } }
            let pbc = (s["pbc"] as! [Bool])
            return Structure(numbers: numbers, positions: positions, cell: cell, pbc: (pbc[0], pbc[1], pbc[2]))
        }
    }

    static func parseHypers(_ h: [String: Any]) -> SoapHypers {
        let cutoff = h["cutoff"] as! [String: Any]
        let smoothingJSON = cutoff["smoothing"] as! [String: Any]
        let smoothing: CutoffSmoothing =
            (smoothingJSON["type"] as! String) == "Step"
            ? .step : .shiftedCosine(width: (smoothingJSON["width"] as! NSNumber).doubleValue)
        let density = h["density"] as! [String: Any]
        var scaling = RadialScaling.none
        if let s = density["scaling"] as? [String: Any] {
            scaling = .willatt2018(
                rate: (s["rate"] as! NSNumber).doubleValue, scale: (s["scale"] as! NSNumber).doubleValue,
                exponent: (s["exponent"] as! NSNumber).doubleValue)
        }
        let basis = h["basis"] as! [String: Any]
        let radial = basis["radial"] as! [String: Any]
        return SoapHypers(
            cutoff: (cutoff["radius"] as! NSNumber).doubleValue, smoothing: smoothing,
            densityWidth: (density["width"] as! NSNumber).doubleValue, scaling: scaling,
            centerAtomWeight: (density["center_atom_weight"] as? NSNumber)?.doubleValue ?? 1,
            maxAngular: (basis["max_angular"] as? NSNumber)?.intValue ?? 0,
            maxRadial: (radial["max_radial"] as! NSNumber).intValue,
            splineAccuracy: (basis["spline_accuracy"] as? NSNumber)?.doubleValue)
    }

    var expected: [String: Any] { json["expected"] as! [String: Any] }

    /// Expected block of a descriptor: label tuples → column, and row-major values.
    func expectedBlock(_ key: String) -> (names: [String], columns: [[Int]: Int], values: [[Double]])? {
        guard let block = expected[key] as? [String: Any] else { return nil }
        let labels = (block["labels"] as! [[NSNumber]]).map { $0.map { $0.intValue } }
        var columns: [[Int]: Int] = [:]
        for (k, label) in labels.enumerated() { columns[label] = k }
        let values = (block["values"] as! [[NSNumber]]).map { $0.map { $0.doubleValue } }
        return (block["names"] as! [String], columns, values)
    }
}

/// Largest |ours − theirs| over all entries, matching columns by label and
/// checking coverage both ways (every label of theirs exists in ours and vice versa).
func maxDeviation(_ ours: FeatureMatrix, _ expected: (names: [String], columns: [[Int]: Int], values: [[Double]]))
    -> (deviation: Double, missing: Int, extra: Int)
{
    let width = ours.properties.names.count
    var ourColumns: [[Int]: Int] = [:]
    for c in 0..<ours.columnCount {
        ourColumns[ours.properties.values[(c * width)..<((c + 1) * width)].map { Int($0) }] = c
    }
    let missing = expected.columns.keys.filter { ourColumns[$0] == nil }.count
    let extra = ourColumns.keys.filter { expected.columns[$0] == nil }.count
    var worst = 0.0
    for (label, theirs) in expected.columns {
        guard let mine = ourColumns[label] else { continue }
        for row in 0..<expected.values.count {
            worst = max(worst, abs(ours.values[row * ours.columnCount + mine] - expected.values[row][theirs]))
        }
    }
    return (worst, missing, extra)
}
