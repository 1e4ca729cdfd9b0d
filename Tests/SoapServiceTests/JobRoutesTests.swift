import Foundation
import SoapStorage
import TestSupport
import XCTest

@testable import SoapService

/// Batch jobs over HTTP: results equal to POST /v1/features value for value (npz, JSON,
/// JSON lines), per-structure errors, cancellation, paging and refusals.
final class JobRoutesTests: XCTestCase, JSONExchange {
    static var server: SoapdServer!
    static var client: TestHTTPClient!

    override class func setUp() {
        (server, client) = TestHTTPClient.startServer {
            $0.jobChunkAtoms = 8
            $0.jobWorkers = 2
        }
    }
    override class func tearDown() {
        server.application.jobs?.stop()
        server.http.shutdown(gracePeriod: 1)
    }

    var client: TestHTTPClient { Self.client }
    let json = ["Content-Type": "application/json"]

    /// A small basis keeps the outputs (and the debug-build tests) small.
    static let descriptor: [String: Any] = [
        "type": "power_spectrum", "species": [1, 6, 7, 8],
        "hypers": [
            "cutoff": ["radius": 3.5, "smoothing": ["type": "ShiftedCosine", "width": 0.5]],
            "density": ["type": "Gaussian", "width": 0.4],
            "basis": ["type": "TensorProduct", "max_angular": 2, "radial": ["type": "Gto", "max_radial": 3]],
        ],
    ]

    func waitForState(_ id: String, _ states: Set<String>, timeout: Double = 120) throws -> [String: Any] {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let job = object(try client.request("GET", "/v1/jobs/\(id)"))
            if let state = job["state"] as? String, states.contains(state) { return job }
            Thread.sleep(forTimeInterval: 0.02)
        }
        throw TestHTTPClient.Failure(description: "job \(id) never reached \(states)")
    }

    func testResultEqualsFeaturesResponseInEveryFormat() throws {
        let request: [String: Any] = ["structures": BasisRoutesTests.molecules, "descriptor": Self.descriptor, "gradients": true]
        let submitted = try client.request(
            "POST", "/v1/jobs", headers: json.merging(["Idempotency-Key": "same-job"]) { $1 },
            body: body(request))
        XCTAssertEqual(submitted.status, 202, submitted.text)
        let id = try XCTUnwrap(object(submitted)["id"] as? String)
        XCTAssertEqual(submitted.headers["location"], "/v1/jobs/\(id)")
        let again = try client.request(
            "POST", "/v1/jobs", headers: json.merging(["Idempotency-Key": "same-job"]) { $1 }, body: body(request))
        XCTAssertEqual(object(again)["id"] as? String, id, "a retried submission is the same job")
        // Long polling answers once the job has ended.
        let done = object(try client.request("GET", "/v1/jobs/\(id)?wait=60"))
        XCTAssertEqual(done["state"] as? String, "succeeded", "\(done)")
        let progress = try XCTUnwrap(done["progress"] as? [String: Any])
        XCTAssertEqual(progress["structures_done"] as? Int, 5)
        XCTAssertGreaterThan(progress["chunks_done"] as? Int ?? 0, 1, "several chunks (8 atoms each)")
        // When it ran, and its throughput over that time.
        let atoms = BasisRoutesTests.molecules.reduce(0) { $0 + ((($1 as? [String: Any])?["numbers"] as? [Any])?.count ?? 0) }
        XCTAssertEqual(progress["atoms_done"] as? Int, atoms)
        let started = try XCTUnwrap(done["started_at"] as? String)
        let finished = try XCTUnwrap(done["finished_at"] as? String)
        XCTAssertLessThanOrEqual(started, finished, "ISO 8601 of one format sorts as time")
        XCTAssertTrue(started.contains(".") && started.hasSuffix("Z"), started)
        XCTAssertGreaterThan(progress["atoms_per_second"] as? Double ?? 0, 0)

        let npz = try client.request("GET", "/v1/jobs/\(id)/result", headers: ["Accept": "application/x-npz"])
        let direct = try client.request(
            "POST", "/v1/features", headers: json.merging(["Accept": "application/x-npz"]) { $1 }, body: body(request))
        XCTAssertEqual(npz.status, 200)
        let jobFiles = try ZipReader.storedEntries(npz.body)
        let directFiles = try ZipReader.storedEntries(direct.body)
        XCTAssertEqual(Set(jobFiles.keys), Set(directFiles.keys))
        for (name, bytes) in directFiles { XCTAssertEqual(jobFiles[name], bytes, name) }

        let document = try client.request("GET", "/v1/jobs/\(id)/result")
        let directJSON = try client.request("POST", "/v1/features", headers: json, body: body(request))
        XCTAssertEqual(document.headers["content-type"], "application/json")
        XCTAssertEqual(document.json as? NSDictionary, directJSON.json as? NSDictionary)

        let lines = try client.request("GET", "/v1/jobs/\(id)/result", headers: ["Accept": "application/x-ndjson"])
        let parsed = String(decoding: lines.body, as: UTF8.self).split(separator: "\n").map {
            try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
        let values = (directJSON.json as! [String: Any])["values"] as! [[Double]]
        let rows = parsed.filter { $0["sample"] != nil }
        XCTAssertEqual(rows.map { $0["values"] as! [Double] }, values)
        let gradients = ((directJSON.json as! [String: Any])["gradients"] as! [String: Any])["values"] as! [Any]
        XCTAssertEqual(parsed.filter { $0["gradient"] != nil }.count, gradients.count)
        XCTAssertNotNil(parsed[0]["properties"])

        let listed = object(try client.request("GET", "/v1/jobs?limit=1000"))
        XCTAssertTrue(((listed["jobs"] as? [[String: Any]]) ?? []).contains { $0["id"] as? String == id })
        XCTAssertEqual(try client.request("DELETE", "/v1/jobs/\(id)").status, 204)
        XCTAssertEqual(try client.request("GET", "/v1/jobs/\(id)").status, 404)
        XCTAssertEqual(try client.request("GET", "/v1/jobs/\(id)/result").status, 404)
    }

    func testBadStructuresAreReportedAndSkipped() throws {
        var structures = BasisRoutesTests.molecules
        structures.insert(["numbers": [26, 1], "positions": [[0, 0, 0], [1, 0, 0]]], at: 1)  // Fe: not in species
        structures.insert(["numbers": [1, 1], "positions": [[0, 0, 0]]], at: 3)  // one position short
        let request: [String: Any] = ["structures": structures, "descriptor": Self.descriptor]
        let submitted = object(try client.request("POST", "/v1/jobs", headers: json, body: body(request)))
        let id = try XCTUnwrap(submitted["id"] as? String)
        let done = try waitForState(id, ["succeeded", "failed"])
        XCTAssertEqual(done["state"] as? String, "succeeded")
        let errors = try XCTUnwrap(done["errors"] as? [[String: Any]])
        XCTAssertEqual(errors.compactMap { $0["structure"] as? Int }, [1, 3])
        XCTAssertEqual(errors.first?["pointer"] as? String, "/structures/1/numbers/0")
        let result = try XCTUnwrap(try client.request("GET", "/v1/jobs/\(id)/result").json as? [String: Any])
        let direct = try XCTUnwrap(
            try client.request(
                "POST", "/v1/features", headers: json,
                body: body(["structures": BasisRoutesTests.molecules, "descriptor": Self.descriptor])
            ).json as? [String: Any])
        XCTAssertEqual((result["values"] as? [[Double]]), direct["values"] as? [[Double]])
        // The structure column names the job's structures, skipping the bad ones.
        let samples = ((result["samples"] as? [String: Any])?["values"] as? [[Int]]) ?? []
        XCTAssertEqual(Set(samples.map { $0[0] }), [0, 2, 4, 5, 6])

        var failFast = request
        failFast["fail_fast"] = true
        let refused = try client.request("POST", "/v1/jobs", headers: json, body: body(failFast))
        XCTAssertEqual(refused.status, 422)
        XCTAssertEqual(object(refused)["pointer"] as? String, "/structures/1/numbers/0")
    }

    /// A structure that passes validation but that the featurizer refuses (too many neighbour
    /// pairs) is reported with its own pointer; renaming that pointer used to trap
    /// (`Character("/structures/0")`) and take the whole service down.
    func testStructureTheFeaturizerRefusesIsReported() throws {
        let (server, client) = TestHTTPClient.startServer {
            $0.maxPairsPerStructure = 50
            $0.jobWorkers = 1
        }
        defer {
            server.application.jobs?.stop()
            server.http.shutdown(gracePeriod: 1)
        }
        let cluster: [String: Any] = [
            "numbers": Array(repeating: 1, count: 30),
            "positions": (0..<30).map { i in [0.05 * Double(i), 0.03 * Double(i % 5), 0.0] },
        ]
        let h2: [String: Any] = ["numbers": [1, 1], "positions": [[0, 0, 0], [0.74, 0, 0]]]
        let request: [String: Any] = ["structures": [h2, cluster, h2], "descriptor": Self.descriptor]
        let submitted = object(try client.request("POST", "/v1/jobs", headers: json, body: body(request)))
        let id = try XCTUnwrap(submitted["id"] as? String, "\(submitted)")
        let deadline = Date().addingTimeInterval(120)
        var done: [String: Any] = [:]
        while Date() < deadline {
            done = object(try client.request("GET", "/v1/jobs/\(id)"))
            if ["succeeded", "failed"].contains(done["state"] as? String ?? "") { break }
            Thread.sleep(forTimeInterval: 0.02)
        }
        XCTAssertEqual(done["state"] as? String, "succeeded", "\(done)")
        let errors = try XCTUnwrap(done["errors"] as? [[String: Any]])
        XCTAssertEqual(errors.compactMap { $0["structure"] as? Int }, [1])
        XCTAssertEqual(errors.first?["pointer"] as? String, "/structures/1")
        XCTAssertTrue((errors.first?["detail"] as? String ?? "").contains("neighbour pairs"), "\(errors)")
        XCTAssertEqual(try client.request("GET", "/health").status, 200, "the service is still up")
    }

    func testCancelRunningJob() throws {
        // Large enough to be running when cancelled: 400 copies of the molecules, with gradients.
        let structures = Array(repeating: BasisRoutesTests.molecules, count: 400).flatMap { $0 }
        let request: [String: Any] = ["structures": structures, "descriptor": Self.descriptor, "gradients": true]
        let id = try XCTUnwrap(
            object(try client.request("POST", "/v1/jobs", headers: json, body: body(request)))["id"] as? String)
        let running = try waitForState(id, ["running", "succeeded"])
        XCTAssertEqual(running["state"] as? String, "running")
        XCTAssertEqual(try client.request("GET", "/v1/jobs/\(id)/result").status, 409, "no result before success")
        let cancelled = try client.request("DELETE", "/v1/jobs/\(id)")
        XCTAssertEqual(cancelled.status, 200)
        XCTAssertEqual(object(cancelled)["state"] as? String, "cancelled")
        Thread.sleep(forTimeInterval: 0.3)
        let after = object(try client.request("GET", "/v1/jobs/\(id)"))
        XCTAssertEqual(after["state"] as? String, "cancelled")
        let done = ((after["progress"] as? [String: Any])?["structures_done"] as? Int) ?? 0
        XCTAssertLessThan(done, 2000, "work stopped")
        XCTAssertEqual(
            try client.request("DELETE", "/v1/jobs/\(id)").status, 204, "a cancelled job is removed by a second DELETE")
    }

    /// A dataset created with keep_structures can be featurized by a job naming it; the job
    /// sees the batches present when it was submitted.
    func testJobOverDatasetStructures() throws {
        let dataset = object(
            try client.request(
                "POST", "/v1/datasets", headers: json,
                body: body([
                    "descriptor": ["species": [1, 6, 7, 8], "hypers": BasisRoutesTests.hypers], "keep_structures": true,
                ])))
        let datasetID = try XCTUnwrap(dataset["id"] as? String)
        XCTAssertEqual(dataset["keep_structures"] as? Bool, true)
        let first = Array(BasisRoutesTests.molecules.prefix(2))
        let second = Array(BasisRoutesTests.molecules.suffix(3))
        for batch in [first, second] {
            XCTAssertEqual(
                try client.request(
                    "POST", "/v1/datasets/\(datasetID)/structures", headers: json,
                    body: body(["structures": batch])
                ).status, 200)
        }
        let submitted = try client.request(
            "POST", "/v1/jobs", headers: json,
            body: body(["dataset_id": datasetID, "descriptor": Self.descriptor]))
        XCTAssertEqual(submitted.status, 202, submitted.text)
        let id = try XCTUnwrap(object(submitted)["id"] as? String)
        // A batch added afterwards is not part of the job.
        XCTAssertEqual(
            try client.request(
                "POST", "/v1/datasets/\(datasetID)/structures", headers: json,
                body: body(["structures": first])
            ).status, 200)
        let done = object(try client.request("GET", "/v1/jobs/\(id)?wait=60"))
        XCTAssertEqual(done["state"] as? String, "succeeded", "\(done)")
        XCTAssertEqual((done["progress"] as? [String: Any])?["structures_total"] as? Int, 5)
        let result = try XCTUnwrap(try client.request("GET", "/v1/jobs/\(id)/result").json as? [String: Any])
        let direct = try XCTUnwrap(
            try client.request(
                "POST", "/v1/features", headers: json,
                body: body(
                    ["structures": first + second, "descriptor": Self.descriptor])
            ).json as? [String: Any])
        XCTAssertEqual(result["values"] as? [[Double]], direct["values"] as? [[Double]])

        // A dataset that keeps only statistics cannot be featurized later.
        let plain = try XCTUnwrap(
            object(
                try client.request(
                    "POST", "/v1/datasets", headers: json,
                    body: body([
                        "descriptor": ["species": [1, 6, 7, 8], "hypers": BasisRoutesTests.hypers]
                    ])))["id"] as? String)
        let refused = try client.request(
            "POST", "/v1/jobs", headers: json, body: body(["dataset_id": plain, "descriptor": Self.descriptor]))
        XCTAssertEqual(refused.status, 422)
        XCTAssertEqual(object(refused)["pointer"] as? String, "/dataset_id")
        let both = try client.request(
            "POST", "/v1/jobs", headers: json,
            body: body(
                ["dataset_id": datasetID, "structures": first, "descriptor": Self.descriptor]))
        XCTAssertEqual(both.status, 422)
    }

    /// Finished jobs older than the retention period go, with their files; newer ones stay.
    func testRetentionSweep() throws {
        let request = body(["structures": BasisRoutesTests.molecules, "descriptor": Self.descriptor])
        let id = try XCTUnwrap(object(try client.request("POST", "/v1/jobs", headers: json, body: request))["id"] as? String)
        XCTAssertEqual(object(try client.request("GET", "/v1/jobs/\(id)?wait=60"))["state"] as? String, "succeeded")
        let jobs = try XCTUnwrap(Self.server.application.jobs)
        let directory = jobs.settings.directory + "/" + id
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory))
        jobs.sweep(olderThan: Date().timeIntervalSince1970 - 3600)
        XCTAssertEqual(try client.request("GET", "/v1/jobs/\(id)").status, 200, "younger than the cut-off: kept")
        jobs.sweep(olderThan: Date().timeIntervalSince1970 + 1)
        XCTAssertEqual(try client.request("GET", "/v1/jobs/\(id)").status, 404)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory), "its files went with it")
    }

    func testRefusals() throws {
        func check(_ r: TestHTTPClient.Response, _ status: Int, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertEqual(r.status, status, r.text, file: file, line: line)
        }
        check(
            try client.request("POST", "/v1/jobs", headers: json, body: body(["structures": [], "descriptor": Self.descriptor])),
            422)
        check(try client.request("POST", "/v1/jobs", headers: json, body: body(["descriptor": Self.descriptor])), 422)
        check(
            try client.request(
                "POST", "/v1/jobs", headers: json,
                body: body(["structures": BasisRoutesTests.molecules, "descriptor": ["type": "power_spectrum"]])), 422)
        check(
            try client.request(
                "POST", "/v1/jobs", headers: json,
                body: body(["structures": BasisRoutesTests.molecules, "descriptor": Self.descriptor, "fail_fast": "yes"])), 422)
        check(try client.request("POST", "/v1/jobs", headers: ["Content-Type": "text/plain"], body: [1]), 415)
        check(try client.request("GET", "/v1/jobs?limit=0"), 422)
        check(try client.request("GET", "/v1/jobs?state=bogus"), 422)
        check(try client.request("GET", "/v1/jobs/nope?wait=61"), 422)
        check(try client.request("GET", "/v1/jobs/nope"), 404)
        check(try client.request("DELETE", "/v1/jobs/nope"), 404)
        check(try client.request("GET", "/v1/jobs/nope/result", headers: ["Accept": "text/html"]), 406)
    }
}

/// A job whose results cannot be written fails with a clear message; the service and
/// its database stay healthy.
final class JobFailureTests: XCTestCase {
    func testUnwritableResultDirectoryFailsTheJob() throws {
        let scratch = try TemporaryDirectory.make("soapd-blocker")
        defer { TemporaryDirectory.remove(scratch) }
        let blocker = scratch + "/blocker"
        FileManager.default.createFile(atPath: blocker, contents: Data([1]))  // a file where a directory must go
        let (server, client) = TestHTTPClient.startServer { $0.jobDirectory = blocker }
        defer {
            server.application.jobs?.stop()
            server.http.shutdown(gracePeriod: 1)
        }
        let request = Array(
            try JSONSerialization.data(withJSONObject: [
                "structures": BasisRoutesTests.molecules,
                "descriptor": JobRoutesTests.descriptor,
            ]))
        let submitted = try client.request("POST", "/v1/jobs", headers: ["Content-Type": "application/json"], body: request)
        let id = try XCTUnwrap((submitted.json as? [String: Any])?["id"] as? String)
        var job: [String: Any] = [:]
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            job = (try client.request("GET", "/v1/jobs/\(id)").json as? [String: Any]) ?? [:]
            if job["state"] as? String == "failed" { break }
            Thread.sleep(forTimeInterval: 0.02)
        }
        XCTAssertEqual(job["state"] as? String, "failed")
        XCTAssertTrue((job["error"] as? String ?? "").contains(blocker), "\(job)")
        XCTAssertEqual(try client.request("GET", "/health").status, 200)
        XCTAssertEqual(try server.database.query("PRAGMA integrity_check").first?.string("integrity_check"), "ok")
    }
}
