import Foundation
import SoapCore
import XCTest

@testable import SoapService

/// Bad Tabulated radial integrals and Explicit bases are 422s naming the field.
final class TabulatedValidationTests: XCTestCase {
    /// x2's hypers (Explicit basis of Tabulated integrals, DiracDelta density), edited.
    func request(_ edit: (inout [String: Any]) -> Void) throws -> [UInt8] {
        var case_ = try ExplicitBasisConformanceTests.load("public_x2_laplacian_eigenstates_molecules.json")
        var hypers = case_["hypers"] as! [String: Any]
        var basis = hypers["basis"] as! [String: Any]
        var byAngular = basis["by_angular"] as! [String: Any]
        edit(&byAngular)
        basis["by_angular"] = byAngular
        hypers["basis"] = basis
        case_["hypers"] = hypers
        return try ExplicitBasisConformanceTests.body(case_, type: "power_spectrum")
    }

    static func points(_ byAngular: [String: Any], _ l: String) -> [[String: Any]] {
        (byAngular[l] as! [String: Any])["points"] as! [[String: Any]]
    }
    static func set(_ byAngular: inout [String: Any], _ l: String, _ points: [[String: Any]]) {
        byAngular[l] = ["type": "Tabulated", "points": points]
    }

    let at = "/descriptor/hypers/basis/by_angular"

    func testBadTabulationsNameTheField() throws {
        let service = FeatureService()
        var p = [[String: Any]]()
        // Non-increasing positions.
        assertServiceError(
            service,
            try request { b in
                p = Self.points(b, "1")
                p[5]["position"] = p[4]["position"]
                Self.set(&b, "1", p)
            }, status: 422, pointer: "\(at)/1/points/5/position", contains: "increase")
        // Ragged value lists.
        assertServiceError(
            service,
            try request { b in
                p = Self.points(b, "2")
                p[7]["values"] = Array((p[7]["values"] as! [Double]).dropLast())
                Self.set(&b, "2", p)
            }, status: 422, pointer: "\(at)/2/points/7/values")
        // Derivatives of another length.
        assertServiceError(
            service,
            try request { b in
                p = Self.points(b, "0")
                p[3]["derivatives"] = [1.0]
                Self.set(&b, "0", p)
            }, status: 422, pointer: "\(at)/0/points/3/derivatives")
        // The last point before the cutoff.
        assertServiceError(
            service,
            try request { b in
                p = Self.points(b, "3")
                Self.set(&b, "3", Array(p.dropLast()))
            }, status: 422, pointer: "\(at)/3/points/319/position", contains: "cutoff")
        // Not a number where one is expected.
        assertServiceError(
            service,
            try request { b in
                p = Self.points(b, "4")
                p[2]["values"] = [1.0, "x", 2.0]
                Self.set(&b, "4", p)
            }, status: 422, pointer: "\(at)/4/points/2/values/1")
        // NaN and infinities are not JSON: the parser refuses them (400) before the hypers are
        // read; TabulatedRadial refuses them for library callers (SoapCore's RaggedBasisTests).
        // Keys that are not angular channels.
        assertServiceError(
            service, try request { b in b["x"] = b["0"] }, status: 422, pointer: "\(at)/x")
    }

    func testConfiguredLimits() throws {
        var settings = FeatureServiceSettings()
        settings.requestLimits.maxSplinePoints = 100
        assertServiceError(
            FeatureService(settings: settings), try request { _ in }, status: 422, pointer: "\(at)/0/points",
            contains: "max_spline_points")
        settings = FeatureServiceSettings()
        settings.requestLimits.maxRadialFunctionsPerL = 8
        assertServiceError(
            FeatureService(settings: settings), try request { _ in }, status: 422, pointer: "\(at)/0/points/0/values",
            contains: "max_radial_functions_per_l")
        // A Gto entry counts too.
        assertServiceError(
            FeatureService(settings: settings),
            try request { b in
                b["0"] = nil
                b["5"] = ["type": "Gto", "max_radial": 8]
            }, status: 422,
            pointer: "\(at)/5/max_radial")
        // A DiracDelta density needs tabulated integrals.
        assertServiceError(
            FeatureService(), try request { b in b["5"] = ["type": "Gto", "max_radial": 3] }, status: 422,
            pointer: "/descriptor/hypers/density/type")
    }
}
