import FastJSON
import SoapCore
import XCTest

@testable import SoapService

/// Every caller mistake becomes a 4xx ServiceError pointing at the field.
final class RequestDecodingTests: XCTestCase {
    let service = FeatureService()

    static let validRequest = """
        {"structures": [{"numbers": [14, 14], "positions": [[0, 0, 0], [1.3575, 1.3575, 1.3575]],
                         "cell": [[0, 2.715, 2.715], [2.715, 0, 2.715], [2.715, 2.715, 0]], "pbc": [true, true, true]}],
         "descriptor": {"type": "power_spectrum", "species": [14],
                        "hypers": {"cutoff": {"radius": 5.0, "smoothing": {"type": "ShiftedCosine", "width": 0.5}},
                                   "density": {"type": "Gaussian", "width": 0.5},
                                   "basis": {"type": "TensorProduct", "max_angular": 4, "radial": {"type": "Gto", "max_radial": 5}}}},
         "per": "atom", "gradients": false}
        """

    /// The valid request with one edit applied to its decoded JSON (via Foundation, tests only).
    func request(_ edit: (inout [String: Any]) -> Void) -> [UInt8] {
        var object = try! JSONSerialization.jsonObject(with: Data(Self.validRequest.utf8)) as! [String: Any]
        edit(&object)
        return Array(try! JSONSerialization.data(withJSONObject: object))
    }

    func assertError(
        _ body: [UInt8], status: Int, pointer: String, contains text: String? = nil,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        assertServiceError(service, body, status: status, pointer: pointer, contains: text, file: file, line: line)
    }

    func testValidRequestComputes() throws {
        let m = try service.compute(try service.prepare(Array(Self.validRequest.utf8)))
        XCTAssertEqual(m.rowCount, 2)
        XCTAssertEqual(m.columnCount, 5 * 6 * 6)
    }

    func testBispectrumType() throws {
        let body = request {
            var d = $0["descriptor"] as! [String: Any]
            d["type"] = "bispectrum"
            $0["descriptor"] = d
        }
        let prepared = try service.prepare(body)
        XCTAssertEqual(prepared.request.type, .bispectrum)
        let m = try service.compute(prepared)
        XCTAssertEqual(
            m.properties.names,
            [
                "l_1", "l_2", "k_2", "l_3", "neighbor_1_type", "n_1", "neighbor_2_type", "n_2",
                "neighbor_3_type", "n_3",
            ])
        // max_angular 4: 14 kept (l1, l2, l3); 6 radial channels of one species.
        XCTAssertEqual(m.columnCount, 14 * 6 * 6 * 6)
        assertError(
            request {
                var d = $0["descriptor"] as! [String: Any]
                d["type"] = "trispectrum"
                $0["descriptor"] = d
            },
            status: 422, pointer: "/descriptor/type", contains: "bispectrum")
    }

    func testMalformedJSON() {
        assertError(Array("{\"structures\": [".utf8), status: 400, pointer: "")
        assertError(Array("[]".utf8), status: 422, pointer: "", contains: "expected an object")
    }

    func testMissingAndUnknownFields() {
        assertError(request { $0["structures"] = nil }, status: 422, pointer: "/structures", contains: "required")
        assertError(request { $0["descriptr"] = 1 }, status: 422, pointer: "/descriptr", contains: "unknown field")
        assertError(request { $0["per"] = "molecule" }, status: 422, pointer: "/per")
        assertError(request { $0["gradients"] = "yes" }, status: 422, pointer: "/gradients")
    }

    func testDescriptor() {
        assertError(
            request {
                var d = $0["descriptor"] as! [String: Any]
                d["type"] = "soap"
                $0["descriptor"] = d
            },
            status: 422, pointer: "/descriptor/type", contains: "power_spectrum")
        assertError(
            request {
                var d = $0["descriptor"] as! [String: Any]
                d["species"] = [14, 14]
                $0["descriptor"] = d
            },
            status: 422, pointer: "/descriptor/species/1")
        assertError(
            request {
                var d = $0["descriptor"] as! [String: Any]
                d["species"] = [1]
                $0["descriptor"] = d
            },
            status: 422, pointer: "/structures/0/numbers/0", contains: "Si")
    }

    func hypersEdit(_ path: [String], _ value: Any?) -> [UInt8] {
        request { root in
            var d = root["descriptor"] as! [String: Any]
            var h = d["hypers"] as! [String: Any]
            func set(_ o: inout [String: Any], _ keys: ArraySlice<String>) {
                if keys.count == 1 {
                    o[keys.first!] = value
                    return
                }
                var inner = o[keys.first!] as! [String: Any]
                set(&inner, keys.dropFirst())
                o[keys.first!] = inner
            }
            set(&h, path[...])
            d["hypers"] = h
            root["descriptor"] = d
        }
    }

    func testUnsupportedHypers() {
        assertError(
            hypersEdit(["cutoff", "smoothing", "type"], "Tanh"), status: 422,
            pointer: "/descriptor/hypers/cutoff/smoothing/type", contains: "ShiftedCosine")
        assertError(hypersEdit(["density", "type"], "DiracDelta"), status: 422, pointer: "/descriptor/hypers/density/type")
        assertError(
            hypersEdit(["basis", "radial", "type"], "Tabulated"), status: 422, pointer: "/descriptor/hypers/basis/radial/type")
        assertError(hypersEdit(["basis", "type"], "Explicit"), status: 422, pointer: "/descriptor/hypers/basis/type")
        assertError(
            hypersEdit(["density", "scaling"], ["type": "Exponential"]), status: 422,
            pointer: "/descriptor/hypers/density/scaling/type")
        assertError(hypersEdit(["basis", "max_angular"], 99), status: 422, pointer: "/descriptor/hypers/basis/max_angular")
        assertError(
            hypersEdit(["basis", "radial", "max_radial"], -1), status: 422, pointer: "/descriptor/hypers/basis/radial/max_radial")
        assertError(hypersEdit(["cutoff", "radius"], -3), status: 422, pointer: "/descriptor/hypers/cutoff/radius")
        assertError(hypersEdit(["density", "width"], 0), status: 422, pointer: "/descriptor/hypers/density/width")
        assertError(hypersEdit(["density", "frobnicate"], 1), status: 422, pointer: "/descriptor/hypers/density/frobnicate")
        assertError(hypersEdit(["basis", "radial", "radius"], 4), status: 422, pointer: "/descriptor/hypers/basis/radial/radius")
    }

    /// Found by schemathesis: subnormal radius and width trapped while the
    /// spline table was built. Extreme values are refused before any numerics.
    func testExtremeHypersAreRefusedNotCrashing() {
        assertError(hypersEdit(["cutoff", "radius"], 5e-324), status: 422, pointer: "/descriptor/hypers/cutoff/radius")
        assertError(hypersEdit(["cutoff", "radius"], 1e300), status: 422, pointer: "/descriptor/hypers/cutoff/radius")
        assertError(hypersEdit(["density", "width"], 5e-324), status: 422, pointer: "/descriptor/hypers/density/width")
        assertError(hypersEdit(["density", "width"], 0.001), status: 422, pointer: "/descriptor/hypers/density/width")
        assertError(
            hypersEdit(["cutoff", "smoothing", "width"], 1e-300), status: 422,
            pointer: "/descriptor/hypers/cutoff/smoothing/width")
        assertError(
            hypersEdit(["density", "center_atom_weight"], 1e300), status: 422,
            pointer: "/descriptor/hypers/density/center_atom_weight")
        // The largest allowed basis still builds (or is refused with a 422, never a crash).
        do {
            _ = try service.compute(try service.prepare(hypersEdit(["basis", "radial", "max_radial"], 30)))
        } catch {
            XCTAssertEqual(error.status, 422)
        }
    }

    func structureEdit(_ edit: @escaping (inout [String: Any]) -> Void) -> [UInt8] {
        request { root in
            var s = (root["structures"] as! [[String: Any]])[0]
            edit(&s)
            root["structures"] = [s]
        }
    }

    func testStructureErrors() {
        assertError(
            structureEdit { $0["positions"] = [[0, 0, 0]] }, status: 422, pointer: "/structures/0/positions",
            contains: "1 rows for 2 atoms")
        assertError(structureEdit { $0["positions"] = [[0, 0, 0], [1, 1]] }, status: 422, pointer: "/structures/0/positions/1")
        assertError(
            structureEdit { $0["positions"] = [[0, 0, 0], [1, "a", 1]] }, status: 422, pointer: "/structures/0/positions/1/1")
        assertError(structureEdit { $0["numbers"] = [14, 0] }, status: 422, pointer: "/structures/0/numbers/1")
        assertError(
            structureEdit {
                $0["numbers"] = nil
                $0["symbols"] = ["Si", "Xx"]
            }, status: 422,
            pointer: "/structures/0/symbols/1", contains: "unknown element")
        assertError(
            structureEdit { $0["cell"] = [[1, 0, 0], [2, 0, 0], [0, 0, 1]] }, status: 422, pointer: "/structures/0/cell",
            contains: "singular")
        assertError(structureEdit { $0["cell"] = NSNull() }, status: 422, pointer: "/structures/0/pbc", contains: "no cell")
        assertError(structureEdit { $0["pbc"] = [true, false] }, status: 422, pointer: "/structures/0/pbc")
    }

    func testSymbolsEqualNumbers() throws {
        let a = try service.compute(try service.prepare(Array(Self.validRequest.utf8)))
        let b = try service.compute(
            try service.prepare(
                structureEdit {
                    $0["numbers"] = nil
                    $0["symbols"] = ["Si", "Si"]
                }))
        XCTAssertEqual(a.values, b.values)
    }

    func testLimits() {
        var settings = FeatureServiceSettings()
        settings.requestLimits.maxAtomsPerStructure = 1
        let limited = FeatureService(settings: settings)
        XCTAssertThrowsError(try limited.prepare(Array(Self.validRequest.utf8))) {
            XCTAssertEqual(($0 as? ServiceError)?.status, 413)
        }
    }
}
