import FastJSON
import Foundation
import SoapCore
import XCTest

@testable import SoapService

/// `"gradients": ["strain"]` on /v1/features: JSON `strain_gradients`, npz arrays, 422s.
final class StrainServiceTests: XCTestCase {
    let service = FeatureService()

    func request(gradients: Any, per: String = "atom", pbc: [Bool] = [true, true, true]) -> [UInt8] {
        var object =
            try! JSONSerialization.jsonObject(with: Data(RequestDecodingTests.validRequest.utf8)) as! [String: Any]
        object["gradients"] = gradients
        object["per"] = per
        var structures = object["structures"] as! [[String: Any]]
        structures[0]["pbc"] = pbc
        object["structures"] = structures
        return Array(try! JSONSerialization.data(withJSONObject: object))
    }

    func testStrainAloneAndWithPositions() throws {
        let strain = try service.compute(try service.prepare(request(gradients: ["strain"])))
        XCTAssertNil(strain.gradientValues)
        XCTAssertEqual(strain.strainSamples?.names, ["sample"])
        XCTAssertEqual(strain.strainValues?.count, strain.rowCount * 9 * strain.columnCount)
        let both = try service.compute(try service.prepare(request(gradients: ["positions", "strain"])))
        XCTAssertEqual(both.strainValues, strain.strainValues)
        let positions = try service.compute(try service.prepare(request(gradients: true)))
        XCTAssertEqual(both.gradientValues, positions.gradientValues)
        XCTAssertNil(positions.strainValues)
        let listed = try service.compute(try service.prepare(request(gradients: ["positions"])))
        XCTAssertEqual(listed.gradientValues, positions.gradientValues)
        let perStructure = try service.compute(try service.prepare(request(gradients: ["strain"], per: "structure")))
        XCTAssertEqual(perStructure.strainSamples?.values, [0])
        let cols = strain.columnCount
        for k in 0..<(9 * cols) {
            XCTAssertEqual(
                perStructure.strainValues![k], strain.strainValues![k] + strain.strainValues![9 * cols + k], accuracy: 1e-12)
        }
    }

    func testJSONAndNpz() throws {
        let body = request(gradients: ["strain"])
        let matrix = try service.compute(try service.prepare(body))
        let json = try service.featurize(body, format: .json)
        let object = try JSONSerialization.jsonObject(with: Data(json)) as! [String: Any]
        XCTAssertNil(object["gradients"])
        let strain = try XCTUnwrap(object["strain_gradients"] as? [String: Any])
        let samples = strain["samples"] as! [String: Any]
        XCTAssertEqual(samples["names"] as! [String], ["sample"])
        XCTAssertEqual((samples["values"] as! [[Int]]), [[0], [1]])
        let values = strain["values"] as! [[[[Double]]]]
        XCTAssertEqual(values.count, 2)
        XCTAssertEqual(values[1].count, 3)
        XCTAssertEqual(values[1][2].count, 3)
        XCTAssertEqual(values[1][2][1].count, matrix.columnCount)
        XCTAssertEqual(values[1][2][1][7], matrix.strainValues![((1 * 3 + 2) * 3 + 1) * matrix.columnCount + 7])

        let npz = try ZipReader.storedEntries(try service.featurize(body, format: .npz))
        XCTAssertNotNil(npz["strain_gradient_samples.npy"])
        let strainNpy = try XCTUnwrap(npz["strain_gradient_values.npy"])
        let header = String(decoding: strainNpy.prefix(128), as: UTF8.self)
        XCTAssertTrue(header.contains("'shape': (2, 3, 3, \(matrix.columnCount))"), header)
        XCTAssertNil(npz["gradient_values.npy"])
    }

    func testBadGradientsAndMixedPbc() {
        assertServiceError(service, request(gradients: ["stress"]), status: 422, pointer: "/gradients/0")
        assertServiceError(service, request(gradients: ["strain", "strain"]), status: 422, pointer: "/gradients/1")
        assertServiceError(service, request(gradients: "strain"), status: 422, pointer: "/gradients")
        assertServiceError(
            service, request(gradients: ["strain"], pbc: [true, true, false]), status: 422,
            pointer: "/structures/0/pbc", contains: "mixed")
        // Molecules: strain acts on the positions only.
        var molecule =
            try! JSONSerialization.jsonObject(with: Data(RequestDecodingTests.validRequest.utf8)) as! [String: Any]
        molecule["gradients"] = ["strain"]
        molecule["structures"] = [["numbers": [14, 14], "positions": [[0, 0, 0], [1.3, 1.4, 1.2]]]]
        XCTAssertNoThrow(
            try service.compute(try service.prepare(Array(try! JSONSerialization.data(withJSONObject: molecule)))))
    }
}
