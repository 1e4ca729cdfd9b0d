import Foundation
import SoapCore
import TestSupport
import XCTest

@testable import SoapService

/// descriptor.type multispectrum and λ-SOAP through the service: decoding with errors that
/// name their field, fitted contractions stored with a basis (and back after a reload).
final class MultispectrumServiceTests: XCTestCase {
    let service = FeatureService()

    func request(_ edit: (inout [String: Any]) -> Void) -> [UInt8] {
        var object = try! JSONSerialization.jsonObject(with: Data(RequestDecodingTests.validRequest.utf8)) as! [String: Any]
        var d = object["descriptor"] as! [String: Any]
        // A small basis: the untruncated ν = 4 stays narrow.
        var h = d["hypers"] as! [String: Any]
        h["basis"] = ["type": "TensorProduct", "max_angular": 2, "radial": ["type": "Gto", "max_radial": 1]]
        d["hypers"] = h
        object["descriptor"] = d
        edit(&object)
        return Array(try! JSONSerialization.data(withJSONObject: object))
    }

    func descriptor(_ fields: [String: Any]) -> (inout [String: Any]) -> Void {
        { object in
            var d = object["descriptor"] as! [String: Any]
            for (k, v) in fields { d[k] = v }
            object["descriptor"] = d
        }
    }

    func assertError(
        _ body: [UInt8], status: Int = 422, pointer: String, contains text: String? = nil,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        assertServiceError(service, body, status: status, pointer: pointer, contains: text, file: file, line: line)
    }

    func testDecodingAndColumns() throws {
        let prepared = try service.prepare(request(descriptor(["type": "multispectrum", "correlation_order": 4])))
        XCTAssertEqual(prepared.request.type, .multispectrum)
        XCTAssertEqual(prepared.options.correlationOrder, 4)
        let m = try service.compute(prepared)
        XCTAssertEqual(
            m.properties.names,
            [
                "l_1", "l_2", "k_2", "l_3", "k_3", "l_4", "neighbor_1_type", "n_1",
                "neighbor_2_type", "n_2", "neighbor_3_type", "n_3", "neighbor_4_type", "n_4",
            ])
        XCTAssertEqual(m.columnCount, m.properties.count)
        // Default order 3: the bispectrum's labels, more (l_1, l_2, k_2) combinations.
        let three = try service.compute(try service.prepare(request(descriptor(["type": "multispectrum"]))))
        let b = try service.compute(try service.prepare(request(descriptor(["type": "bispectrum"]))))
        XCTAssertEqual(three.properties.names, b.properties.names)
        XCTAssertGreaterThan(three.columnCount, b.columnCount)

        // λ-SOAP.
        let lambda = try service.compute(try service.prepare(request(descriptor(["o3_lambda": 2]))))
        XCTAssertEqual(
            lambda.properties.names,
            [
                "o3_lambda", "o3_sigma", "l_1", "l_2", "neighbor_1_type", "n_1",
                "neighbor_2_type", "n_2", "m",
            ])
        XCTAssertEqual(lambda.columnCount % 5, 0)

        // Errors name their field.
        assertError(
            request(descriptor(["correlation_order": 3])), pointer: "/descriptor/correlation_order",
            contains: "multispectrum only")
        assertError(
            request(descriptor(["type": "multispectrum", "correlation_order": 5])), pointer: "/descriptor/correlation_order",
            contains: "from 2 to 4")
        assertError(
            request(descriptor(["type": "multispectrum", "correlation_order": 1])), pointer: "/descriptor/correlation_order")
        assertError(
            request(descriptor(["type": "multispectrum", "correlation_order": 2.5])), pointer: "/descriptor/correlation_order")
        assertError(
            request(descriptor(["type": "multispectrum", "correlation_order": "3"])), pointer: "/descriptor/correlation_order")
        assertError(
            request(descriptor(["type": "bispectrum", "o3_lambda": 1])), pointer: "/descriptor/o3_lambda",
            contains: "power_spectrum")
        assertError(request(descriptor(["o3_lambda": -1])), pointer: "/descriptor/o3_lambda")
        // Above 2·max_angular of this basis (2): found with the basis, same pointer.
        assertError(request(descriptor(["o3_lambda": 5])), pointer: "/descriptor/o3_lambda", contains: "2·max_angular")
        assertError(request(descriptor(["type": "multispectrum", "o3_lambda": 0])), pointer: "/descriptor/o3_lambda")
    }

    func testUntruncatedWidthIsGuarded() throws {
        var settings = FeatureServiceSettings()
        settings.featurizationLimits.maxValues = 1_000_000
        let small = FeatureService(settings: settings)
        do {
            // 6 channels, l ≤ 3: the untruncated ν = 4 has millions of columns.
            let wide = request { object in
                var d = object["descriptor"] as! [String: Any]
                var h = d["hypers"] as! [String: Any]
                h["basis"] = ["type": "TensorProduct", "max_angular": 3, "radial": ["type": "Gto", "max_radial": 5]]
                d["hypers"] = h
                d["type"] = "multispectrum"
                d["correlation_order"] = 4
                object["descriptor"] = d
            }
            _ = try small.compute(try small.prepare(wide))
            XCTFail("expected a size error")
        } catch {
            XCTAssertEqual(error.kind, .tooLarge, "\(error)")
        }
    }
}

/// Fitted contractions over HTTP: POST /v1/bases with a "multispectrum" section.
final class MultispectrumBasisRoutesTests: XCTestCase, JSONExchange {
    static var server: SoapdServer!
    static var client: TestHTTPClient!

    override class func setUp() { (server, client) = TestHTTPClient.startServer() }
    override class func tearDown() { server.http.shutdown(gracePeriod: 1) }

    var client: TestHTTPClient { Self.client }
    let json = ["Content-Type": "application/json"]

    static let hypers: [String: Any] = [
        "cutoff": ["radius": 3.5, "smoothing": ["type": "ShiftedCosine", "width": 0.5]],
        "density": ["type": "Gaussian", "width": 0.4],
        "basis": ["type": "TensorProduct", "max_angular": 2, "radial": ["type": "Gto", "max_radial": 5]],
    ]

    func fittedBasis(budget: Int = 12) throws -> (id: String, fit: [String: Any]) {
        let dataset = object(
            try client.request(
                "POST", "/v1/datasets", headers: json,
                body: body(["descriptor": ["species": [1, 6, 7, 8], "hypers": Self.hypers]])))
        let datasetID = try XCTUnwrap(dataset["id"] as? String)
        XCTAssertEqual(
            try client.request(
                "POST", "/v1/datasets/\(datasetID)/structures", headers: json,
                body: body(["structures": BasisRoutesTests.molecules])
            ).status, 200)
        let fit = try client.request(
            "POST", "/v1/bases", headers: json,
            body: body([
                "dataset_id": datasetID, "contraction": "mixed", "q_max": 3,
                "multispectrum": [
                    "correlation_order": 4, "max_features_per_order": budget, "structures": BasisRoutesTests.molecules,
                ],
            ]))
        // 200 when another test of this server already stored the same fit (same content hash).
        XCTAssertTrue(fit.status == 201 || fit.status == 200, fit.text)
        return (try XCTUnwrap(object(fit)["id"] as? String), object(fit))
    }

    func testFitStoreAndFeaturize() throws {
        let (id, fit) = try fittedBasis()
        let summary = try XCTUnwrap(fit["multispectrum"] as? [String: Any])
        XCTAssertEqual(summary["correlation_order"] as? Int, 4)
        let blocks = try XCTUnwrap(summary["blocks"] as? [[String: Any]])
        XCTAssertEqual(Set(blocks.compactMap { $0["order"] as? Int }), [2, 3, 4])
        XCTAssertTrue(blocks.allSatisfy { ($0["features_out"] as? Int ?? 99) <= 12 })
        XCTAssertTrue(blocks.contains { ($0["features_in"] as? Int ?? 0) > 12 }, "something is truncated")

        var columns: [Int: [[Double]]] = [:]
        for order in 2...4 {
            let r = try client.request(
                "POST", "/v1/features", headers: json,
                body: body([
                    "structures": BasisRoutesTests.molecules, "gradients": true,
                    "descriptor": ["type": "multispectrum", "basis_id": id, "correlation_order": order],
                ]))
            XCTAssertEqual(r.status, 200, r.text)
            let response = object(r)
            let properties = try XCTUnwrap(response["properties"] as? [String: Any])
            XCTAssertEqual(properties["names"] as? [String], ["component"])
            let values = try XCTUnwrap(response["values"] as? [[Double]])
            XCTAssertLessThanOrEqual(values[0].count, 12)
            columns[order] = values
        }
        // The same numbers as the core with the stored contraction, after a reload from SQLite.
        let service = try XCTUnwrap(Self.server.application.bases)
        let loaded = try service.expansionBasis(id)
        let contraction = try XCTUnwrap(loaded.multispectrum)
        let record = try XCTUnwrap(try service.bases.get(id))
        let (_, _, decoded) = try XCTUnwrap(BasisCodec.decode(record.payload))
        XCTAssertEqual(decoded, contraction)
        let structures = try FeatureRequestDecoder().decodeStructures(
            try service.features.parse(Array(try JSONSerialization.data(withJSONObject: BasisRoutesTests.molecules))))
        let core = try Featurizer(threads: 2).compute(
            structures, type: .multispectrum, basis: loaded.basis,
            options: DescriptorOptions(correlationOrder: 3, contraction: decoded))
        let http = columns[3]!.flatMap { $0 }
        XCTAssertEqual(http.count, core.values.count)
        XCTAssertLessThan(zip(http, core.values).map { abs($0 - $1) }.max()!, 1e-12 * core.values.map(abs).max()!)
    }

    /// Batch jobs carry the options (order, λ, the basis' contraction): their results equal
    /// POST /v1/features.
    func testJobsEqualDirectRequests() throws {
        let (id, _) = try fittedBasis()
        let descriptors: [[String: Any]] = [
            ["type": "multispectrum", "basis_id": id, "correlation_order": 4],
            ["type": "multispectrum", "basis_id": id, "correlation_order": 2],
            ["type": "power_spectrum", "basis_id": id, "o3_lambda": 1],
        ]
        for descriptor in descriptors {
            let request: [String: Any] = ["structures": BasisRoutesTests.molecules, "descriptor": descriptor]
            let submitted = try client.request("POST", "/v1/jobs", headers: json, body: body(request))
            XCTAssertEqual(submitted.status, 202, submitted.text)
            let job = try XCTUnwrap(object(submitted)["id"] as? String)
            let deadline = Date().addingTimeInterval(120)
            var state = ""
            while Date() < deadline {
                state = object(try client.request("GET", "/v1/jobs/\(job)"))["state"] as? String ?? ""
                if state == "succeeded" || state == "failed" { break }
                Thread.sleep(forTimeInterval: 0.02)
            }
            XCTAssertEqual(state, "succeeded", "\(descriptor)")
            let result = try client.request("GET", "/v1/jobs/\(job)/result")
            let direct = try client.request("POST", "/v1/features", headers: json, body: body(request))
            XCTAssertEqual(direct.status, 200, direct.text)
            // Job results do not repeat basis_id (as for every descriptor); the rest is equal.
            let a = object(result)
            let b = object(direct).filter { $0.key != "basis_id" }
            XCTAssertEqual(Set(a.keys), Set(b.keys))
            XCTAssertEqual(Set(a.keys), ["samples", "center_types", "properties", "values"])
            for key in b.keys where (a[key] as? NSObject) != (b[key] as? NSObject) {
                XCTFail(
                    "\(descriptor): \(key) differs: \(String(describing: a[key]).prefix(200)) vs \(String(describing: b[key]).prefix(200))"
                )
            }
        }
    }

    /// Without "structures", the contraction is fitted on the dataset's kept structures, read
    /// batch by batch: the same contraction as sending all of them inline; a dataset that keeps
    /// only statistics is told so at /multispectrum/structures.
    func testFitOnTheDatasetsKeptStructures() throws {
        let molecules = BasisRoutesTests.molecules
        func dataset(keep: Bool, batches: [[Any]]) throws -> String {
            let created = object(
                try client.request(
                    "POST", "/v1/datasets", headers: json,
                    body: body([
                        "descriptor": ["species": [1, 6, 7, 8], "hypers": Self.hypers], "keep_structures": keep,
                    ])))
            let id = try XCTUnwrap(created["id"] as? String)
            for batch in batches {
                let r = try client.request(
                    "POST", "/v1/datasets/\(id)/structures", headers: json, body: body(["structures": batch]))
                XCTAssertEqual(r.status, 200, r.text)
            }
            return id
        }
        func contraction(_ basisID: String) throws -> MultispectrumContraction {
            try XCTUnwrap(try XCTUnwrap(Self.server.application.bases).expansionBasis(basisID).multispectrum)
        }
        let split = molecules.count / 3
        let kept = try dataset(keep: true, batches: [Array(molecules[..<split]), Array(molecules[split...])])
        let section: [String: Any] = ["correlation_order": 3, "max_features_per_order": 10]
        let fromDataset = try client.request(
            "POST", "/v1/bases", headers: json,
            body: body([
                "dataset_id": kept, "contraction": "mixed", "q_max": 3, "multispectrum": section,
            ]))
        XCTAssertTrue(fromDataset.status == 201 || fromDataset.status == 200, fromDataset.text)
        let summary = try XCTUnwrap(object(fromDataset)["multispectrum"] as? [String: Any])
        XCTAssertEqual(summary["structures"] as? Int, molecules.count)
        var inlineSection = section
        inlineSection["structures"] = molecules
        let inline = try client.request(
            "POST", "/v1/bases", headers: json,
            body: body([
                "dataset_id": kept, "contraction": "mixed", "q_max": 3, "multispectrum": inlineSection,
            ]))
        XCTAssertTrue(inline.status == 201 || inline.status == 200, inline.text)
        let a = try contraction(try XCTUnwrap(object(fromDataset)["id"] as? String))
        let b = try contraction(try XCTUnwrap(object(inline)["id"] as? String))
        XCTAssertEqual(a.blocks.count, b.blocks.count)
        XCTAssertTrue(a.blocks.contains { $0.inputCount > $0.count }, "something is truncated")
        for (x, y) in zip(a.blocks, b.blocks) {
            // Eigenvalues and residual variance (eigenvectors of degenerate eigenvalues are not unique).
            XCTAssertEqual([x.order, x.lambda, x.sigma, x.count], [y.order, y.lambda, y.sigma, y.count])
            let scale = max(x.eigenvalues.first ?? 0, 1e-300)
            XCTAssertLessThan(zip(x.eigenvalues, y.eigenvalues).map { abs($0 - $1) }.max() ?? 0, 1e-10 * scale)
            XCTAssertEqual(x.residualVariance, y.residualVariance, accuracy: 1e-10)
        }
        // Statistics only: the structures must come with the request.
        let statisticsOnly = try dataset(keep: false, batches: [molecules])
        let refused = try client.request(
            "POST", "/v1/bases", headers: json,
            body: body([
                "dataset_id": statisticsOnly, "contraction": "mixed", "q_max": 3, "multispectrum": section,
            ]))
        XCTAssertEqual(refused.status, 422, refused.text)
        XCTAssertEqual(object(refused)["pointer"] as? String, "/multispectrum/structures")
        XCTAssertTrue(refused.text.contains("keep_structures"), refused.text)
    }

    func testFitErrorsNameTheirField() throws {
        let dataset = object(
            try client.request(
                "POST", "/v1/datasets", headers: json,
                body: body(["descriptor": ["species": [1, 6, 7, 8], "hypers": Self.hypers]])))
        let datasetID = try XCTUnwrap(dataset["id"] as? String)
        _ = try client.request(
            "POST", "/v1/datasets/\(datasetID)/structures", headers: json,
            body: body(["structures": BasisRoutesTests.molecules]))
        func fit(_ section: Any) throws -> (Int, String) {
            let r = try client.request(
                "POST", "/v1/bases", headers: json,
                body: body([
                    "dataset_id": datasetID, "contraction": "mixed", "q_max": 3, "multispectrum": section,
                ]))
            return (r.status, object(r)["pointer"] as? String ?? "")
        }
        let structures = BasisRoutesTests.molecules
        XCTAssertEqual(
            try fit(["correlation_order": 5, "max_features_per_order": 8, "structures": structures]).1,
            "/multispectrum/correlation_order")
        XCTAssertEqual(
            try fit(["correlation_order": 3, "max_features_per_order": 0, "structures": structures]).1,
            "/multispectrum/max_features_per_order")
        XCTAssertEqual(
            try fit(["correlation_order": 3, "max_features_per_order": 100_000, "structures": structures]).1,
            "/multispectrum/max_features_per_order")
        XCTAssertEqual(try fit(["correlation_order": 3, "structures": structures]).1, "/multispectrum/max_features_per_order")
        XCTAssertEqual(
            try fit(["correlation_order": 3, "max_features_per_order": 8, "structures": []]).1, "/multispectrum/structures")
        XCTAssertEqual(
            try fit(["correlation_order": 3, "max_features_per_order": 8, "structures": structures, "extra": 1]).1,
            "/multispectrum/extra")
        let (status, pointer) = try fit([
            "correlation_order": 3, "max_features_per_order": 8,
            "structures": [["numbers": [14], "positions": [[0, 0, 0]]]],
        ])
        XCTAssertEqual(status, 422)
        XCTAssertEqual(pointer, "/multispectrum/structures/0/numbers/0")
    }

    func testRequestAboveTheFittedOrderIsRefused() throws {
        let dataset = object(
            try client.request(
                "POST", "/v1/datasets", headers: json,
                body: body(["descriptor": ["species": [1, 6, 7, 8], "hypers": Self.hypers]])))
        let datasetID = try XCTUnwrap(dataset["id"] as? String)
        _ = try client.request(
            "POST", "/v1/datasets/\(datasetID)/structures", headers: json,
            body: body(["structures": BasisRoutesTests.molecules]))
        let fit = object(
            try client.request(
                "POST", "/v1/bases", headers: json,
                body: body([
                    "dataset_id": datasetID, "contraction": "mixed", "q_max": 2,
                    "multispectrum": [
                        "correlation_order": 2, "max_features_per_order": 4, "structures": BasisRoutesTests.molecules,
                    ],
                ])))
        let id = try XCTUnwrap(fit["id"] as? String)
        let r = try client.request(
            "POST", "/v1/features", headers: json,
            body: body([
                "structures": BasisRoutesTests.molecules,
                "descriptor": ["type": "multispectrum", "basis_id": id, "correlation_order": 3],
            ]))
        XCTAssertEqual(r.status, 422, r.text)
        XCTAssertEqual(object(r)["pointer"] as? String, "/descriptor/basis_id")
        // Other descriptors with the same basis ignore the contraction.
        let p = try client.request(
            "POST", "/v1/features", headers: json,
            body: body([
                "structures": BasisRoutesTests.molecules, "descriptor": ["type": "power_spectrum", "basis_id": id],
            ]))
        XCTAssertEqual(p.status, 200, p.text)
    }
}
