import Foundation
import SoapCore
import TestSupport
import XCTest

@testable import SoapService

/// Limits a client cannot get around: compute time, neighbour caps before allocation,
/// request sizes.
final class ResourceGuardTests: XCTestCase, JSONExchange {
    let json = ["Content-Type": "application/json"]

    /// Diamond Si, 2×2×2 conventional cells (64 atoms), slightly rattled.
    static func silicon() -> Structure {
        let a = 5.431
        let basis: [(Double, Double, Double)] = [
            (0, 0, 0), (0, 0.5, 0.5), (0.5, 0, 0.5), (0.5, 0.5, 0),
            (0.25, 0.25, 0.25), (0.25, 0.75, 0.75), (0.75, 0.25, 0.75), (0.75, 0.75, 0.25),
        ]
        var positions: [Double] = []
        var k = 0
        for i in 0..<2 {
            for j in 0..<2 {
                for l in 0..<2 {
                    for b in basis {
                        k += 1
                        let wobble = 0.03 * sin(Double(k) * 1.7)
                        positions += [
                            (Double(i) + b.0) * a + wobble, (Double(j) + b.1) * a - wobble, (Double(l) + b.2) * a + 0.5 * wobble,
                        ]
                    }
                }
            }
        }
        return Structure(
            numbers: Array(repeating: 14, count: 64), positions: positions, cell: [2 * a, 0, 0, 0, 2 * a, 0, 0, 0, 2 * a])
    }

    /// Many copies of a dense periodic cell: far more work than 5 ms allows.
    var heavyRequest: [String: Any] {
        let cell = Self.silicon()
        let structure: [String: Any] = [
            "numbers": cell.numbers,
            "positions": stride(from: 0, to: cell.positions.count, by: 3).map { Array(cell.positions[$0..<($0 + 3)]) },
            "cell": [Array(cell.cell![0..<3]), Array(cell.cell![3..<6]), Array(cell.cell![6..<9])],
        ]
        return [
            "structures": Array(repeating: structure, count: 40),
            "descriptor": [
                "type": "power_spectrum", "species": [14],
                "hypers": [
                    "cutoff": ["radius": 5.0, "smoothing": ["type": "ShiftedCosine", "width": 0.5]],
                    "density": ["type": "Gaussian", "width": 0.5],
                    "basis": ["type": "TensorProduct", "max_angular": 6, "radial": ["type": "Gto", "max_radial": 7]],
                ],
            ],
            "gradients": true,
        ]
    }

    func testComputeTimeLimitAnswers504AndStopsTheWork() throws {
        let (server, client) = TestHTTPClient.startServer { $0.computeTimeoutSeconds = 0.005 }
        defer { server.http.shutdown(gracePeriod: 1) }
        let started = Date()
        let response = try client.request("POST", "/v1/features", headers: json, body: body(heavyRequest))
        XCTAssertEqual(response.status, 504, response.text)
        XCTAssertEqual(response.headers["content-type"], "application/problem+json")
        XCTAssertTrue(response.text.contains("POST /v1/jobs"), response.text)
        XCTAssertLessThan(Date().timeIntervalSince(started), 5, "the work was stopped, not finished")
        XCTAssertEqual(try client.request("GET", "/health").status, 200)
    }

    func testFeaturizerDeadline() throws {
        let s = Self.silicon()
        let hypers = SoapHypers(cutoff: 5, densityWidth: 0.5, maxAngular: 4, maxRadial: 5)
        let basis = ExpansionBasis.primitive(hypers: hypers, species: [14], table: try ExpansionBasis.gtoTable(for: hypers))
        var featurizer = Featurizer(threads: 2)
        featurizer.timeLimit = 0
        XCTAssertThrowsError(try featurizer.compute(Array(repeating: s, count: 4), type: .powerSpectrum, basis: basis)) {
            XCTAssertEqual($0 as? FeaturizationError, .deadlineExceeded(seconds: 0))
        }
        XCTAssertThrowsError(try featurizer.statistics([s], basis: basis)) {
            XCTAssertEqual($0 as? FeaturizationError, .deadlineExceeded(seconds: 0))
        }
        // The multispectrum contraction fit shares the limit over all its passes.
        var fitter = try MultispectrumFitter(featurizer: featurizer, basis: basis, correlationOrder: 3, maxFeatures: 4)
        XCTAssertThrowsError(try fitter.add([s])) {
            XCTAssertEqual($0 as? MultispectrumFitError, .featurization(.deadlineExceeded(seconds: 0)))
        }
        let mapped = BasisService.serviceError(.featurization(.deadlineExceeded(seconds: 0)))
        XCTAssertEqual(mapped.kind, .timeout)
        XCTAssertTrue(mapped.message.contains("compute_timeout_seconds"), mapped.message)
        featurizer.timeLimit = 60
        XCTAssertNoThrow(try featurizer.compute([s], type: .powerSpectrum, basis: basis))
    }

    /// 10,000 atoms in a 10 Å box: refused from the estimate, before any neighbour list.
    func testDenseStructureRefusedBeforeAllocation() throws {
        let (server, client) = TestHTTPClient.startServer()
        defer { server.http.shutdown(gracePeriod: 1) }
        var rng = SystemRandomNumberGenerator()
        let positions = (0..<10_000).map { _ in (0..<3).map { _ in Double.random(in: 0..<10, using: &rng) } }
        let request: [String: Any] = [
            "structures": [
                [
                    "numbers": Array(repeating: 14, count: 10_000), "positions": positions,
                    "cell": [[10, 0, 0], [0, 10, 0], [0, 0, 10]],
                ]
            ],
            "descriptor": [
                "type": "power_spectrum", "species": [14],
                "hypers": [
                    "cutoff": ["radius": 5.0, "smoothing": ["type": "ShiftedCosine", "width": 0.5]],
                    "density": ["type": "Gaussian", "width": 0.5],
                    "basis": ["type": "TensorProduct", "max_angular": 2, "radial": ["type": "Gto", "max_radial": 2]],
                ],
            ],
        ]
        let response = try client.request("POST", "/v1/features", headers: json, body: body(request))
        XCTAssertEqual(response.status, 413, response.text)
        XCTAssertEqual(object(response)["pointer"] as? String, "/structures/0")
        XCTAssertTrue(response.text.contains("neighbour pairs"), response.text)
    }

    func testMemoryBudgetReservations() {
        let budget = MemoryBudget(limit: 1000)
        var first: MemoryReservation? = budget.reserve(600)
        XCTAssertNotNil(first)
        XCTAssertNil(budget.reserve(500), "does not fit beside the first")
        XCTAssertEqual(budget.available, 400)
        first = nil
        XCTAssertEqual(budget.inUse, 0, "returned when the reservation goes")
        XCTAssertNotNil(budget.reserve(1000))
        _ = first
    }

    /// A request whose output exceeds the budget is a 413 before anything is allocated, one
    /// within it succeeds, and the budget is whole again once its answer has gone out.
    func testMemoryBudgetOverHTTP() throws {
        let (server, client) = TestHTTPClient.startServer { $0.memoryBudgetBytes = 4 << 20 }
        defer { server.http.shutdown(gracePeriod: 1) }
        let refused = try client.request("POST", "/v1/features", headers: json, body: body(heavyRequest))
        XCTAssertEqual(refused.status, 413, refused.text)
        XCTAssertTrue(refused.text.contains("memory budget"), refused.text)
        var small = heavyRequest
        small["structures"] = Array((small["structures"] as! [Any]).prefix(1))
        small["gradients"] = false
        for accept in ["application/json", "application/x-npz"] {
            let ok = try client.request(
                "POST", "/v1/features", headers: json.merging(["Accept": accept]) { $1 }, body: body(small))
            XCTAssertEqual(ok.status, 200, ok.text)
        }
        let budget = try XCTUnwrap(server.application.features.memoryBudget)
        XCTAssertTrue(waitUntil(timeout: 5) { budget.inUse == 0 }, "in use: \(budget.inUse)")
    }

}
