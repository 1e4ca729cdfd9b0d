import Foundation
import SoapStorage
import TestSupport
import XCTest

/// The built `soapd` executable as a user runs it (`SoapdProcess`): serve until SIGTERM
/// (finishing the request in flight, exit 0), and featurize from files.
final class BinaryTests: XCTestCase, JSONExchange {
    func testGracefulShutdownFinishesInFlightRequest() throws {
        guard SoapdProcess.isBuilt else {
            throw XCTSkip("soapd is not built next to the tests (run swift build first)")
        }
        let directory = try TemporaryDirectory.make("soapd-binary", create: false)
        defer { TemporaryDirectory.remove(directory) }
        let server = try SoapdProcess.serve(dataDirectory: directory)
        let client = server.client
        XCTAssertEqual(try client.request("GET", "/health").status, 200)
        // A request big enough to be in flight when SIGTERM arrives.
        var structures: [[String: Any]] = []
        for k in 0..<40 {
            var positions: [[Double]] = []
            for i in 0..<64 {
                positions.append([Double(i % 4) * 1.36 + 0.01 * Double(k), Double((i / 4) % 4) * 1.36, Double(i / 16) * 1.36])
            }
            structures.append([
                "numbers": Array(repeating: 14, count: 64), "positions": positions,
                "cell": [[5.44, 0, 0], [0, 5.44, 0], [0, 0, 5.44]],
            ])
        }
        let request: [String: Any] = [
            "structures": structures,
            "descriptor": [
                "type": "power_spectrum", "species": [14],
                "hypers": [
                    "cutoff": ["radius": 5.0, "smoothing": ["type": "ShiftedCosine", "width": 0.5]],
                    "density": ["type": "Gaussian", "width": 0.5],
                    "basis": ["type": "TensorProduct", "max_angular": 6, "radial": ["type": "Gto", "max_radial": 7]],
                ],
            ],
        ]
        let body = Array(try JSONSerialization.data(withJSONObject: request))
        final class Outcome: @unchecked Sendable { var status = 0 }
        let outcome = Outcome()
        let done = expectation(description: "response")
        Thread.detachNewThread {
            outcome.status =
                (try? client.request("POST", "/v1/features", headers: ["Content-Type": "application/json"], body: body))?.status
                ?? -1
            done.fulfill()
        }
        Thread.sleep(forTimeInterval: 0.05)
        server.signal(SIGTERM)
        wait(for: [done], timeout: 60)
        let status = server.stop()
        XCTAssertEqual(outcome.status, 200, "the request in flight must complete")
        XCTAssertEqual(status, 0)
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory), "data directory created on first start")
        XCTAssertThrowsError(try client.request("GET", "/health"), "no longer accepting")
    }

    /// Bases (and datasets) survive a restart of the real binary on the same database.
    func testFittedBasisSurvivesRestart() throws {
        guard SoapdProcess.isBuilt else { throw XCTSkip("soapd not built") }
        let directory = try TemporaryDirectory.make("soapd-restart")
        defer { TemporaryDirectory.remove(directory) }
        let json = ["Content-Type": "application/json"]
        var server = try SoapdProcess.serve(dataDirectory: directory)
        var client = server.client
        let dataset = object(
            try client.request(
                "POST", "/v1/datasets", headers: json,
                body: body(["descriptor": ["species": [1, 6, 7, 8], "hypers": BasisRoutesTests.hypers]])))
        let datasetID = try XCTUnwrap(dataset["id"] as? String)
        XCTAssertEqual(
            try client.request(
                "POST", "/v1/datasets/\(datasetID)/structures", headers: json,
                body: body(["structures": BasisRoutesTests.molecules])
            ).status, 200)
        let fit = object(
            try client.request(
                "POST", "/v1/bases", headers: json,
                body: body(["dataset_id": datasetID, "contraction": "separate", "q_max": 3])))
        let basisID = try XCTUnwrap(fit["id"] as? String)
        let request = body([
            "structures": BasisRoutesTests.molecules, "descriptor": ["type": "power_spectrum", "basis_id": basisID],
        ])
        let before = try client.request("POST", "/v1/features", headers: json, body: request)
        XCTAssertEqual(before.status, 200)
        let basisBefore = try client.request("GET", "/v1/bases/\(basisID)").body
        XCTAssertEqual(server.stop(), 0)

        server = try SoapdProcess.serve(dataDirectory: directory)
        defer { server.stop() }
        client = server.client
        XCTAssertEqual(try client.request("GET", "/v1/bases/\(basisID)").body, basisBefore)
        let after = try client.request("POST", "/v1/features", headers: json, body: request)
        XCTAssertEqual(after.status, 200)
        XCTAssertEqual(after.body, before.body, "the same features after a restart")
        XCTAssertEqual(object(try client.request("GET", "/v1/datasets/\(datasetID)"))["structures"] as? Int, 5)
    }

    /// SIGKILL in the middle of a job, start again: the job resumes from its last committed
    /// chunk, and its result equals, value for value, that of an uninterrupted run.
    func testJobResumesAfterKill() throws {
        guard SoapdProcess.isBuilt else { throw XCTSkip("soapd not built") }
        let directory = try TemporaryDirectory.make("soapd-jobkill")
        defer { TemporaryDirectory.remove(directory) }
        let json = ["Content-Type": "application/json"]
        let structures = Array(repeating: BasisRoutesTests.molecules, count: 300).flatMap { $0 }
        let request = Array(
            try JSONSerialization.data(withJSONObject: ["structures": structures, "descriptor": JobRoutesTests.descriptor]))
        let options = ["--job-chunk-atoms", "100", "--job-workers", "1"]
        var server = try SoapdProcess.serve(options, dataDirectory: directory)
        var client = server.client
        let id = try XCTUnwrap(object(try client.request("POST", "/v1/jobs", headers: json, body: request))["id"] as? String)
        // Kill once some, but not all, chunks are committed.
        var doneBeforeKill = 0
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let progress = object(try client.request("GET", "/v1/jobs/\(id)"))["progress"] as? [String: Any]
            doneBeforeKill = progress?["structures_done"] as? Int ?? 0
            if doneBeforeKill >= 100 { break }
            Thread.sleep(forTimeInterval: 0.01)
        }
        server.kill()
        XCTAssertGreaterThan(doneBeforeKill, 0)
        XCTAssertLessThan(doneBeforeKill, structures.count, "killed mid-job")

        server = try SoapdProcess.serve(options, dataDirectory: directory)
        defer { server.stop() }
        client = server.client
        func waitSucceeded(_ job: String) throws -> [String: Any] {
            let deadline = Date().addingTimeInterval(300)
            while Date() < deadline {
                let status = object(try client.request("GET", "/v1/jobs/\(job)"))
                if let state = status["state"] as? String, state != "queued" && state != "running" { return status }
                Thread.sleep(forTimeInterval: 0.05)
            }
            throw TestHTTPClient.Failure(description: "job \(job) did not finish")
        }
        let resumed = try waitSucceeded(id)
        XCTAssertEqual(resumed["state"] as? String, "succeeded", "\(resumed)")
        XCTAssertEqual((resumed["progress"] as? [String: Any])?["structures_done"] as? Int, structures.count)
        let result = try client.request("GET", "/v1/jobs/\(id)/result", headers: ["Accept": "application/x-npz"])
        // The same request again, uninterrupted.
        let fresh = try XCTUnwrap(
            object(
                try client.request(
                    "POST", "/v1/jobs", headers: json.merging(["Idempotency-Key": "fresh"]) { $1 },
                    body: request))["id"] as? String)
        XCTAssertNotEqual(fresh, id)
        XCTAssertEqual(try waitSucceeded(fresh)["state"] as? String, "succeeded")
        let uninterrupted = try client.request("GET", "/v1/jobs/\(fresh)/result", headers: ["Accept": "application/x-npz"])
        XCTAssertEqual(result.status, 200)
        XCTAssertGreaterThan(result.body.count, 10_000_000)
        XCTAssertTrue(result.body == uninterrupted.body, "identical results")
        let integrity = try Database(path: directory + "/soapd.sqlite").query("PRAGMA integrity_check").first?.string(
            "integrity_check")
        XCTAssertEqual(integrity, "ok")
    }

    /// `soapd fit` fits offline into a database that `featurize --database` then uses.
    func testFitCommandThenFeaturize() throws {
        guard SoapdProcess.isBuilt else { throw XCTSkip("soapd not built") }
        let dir = try TemporaryDirectory.make("soapd-fit")
        defer { TemporaryDirectory.remove(dir) }
        let descriptor = ["species": [1, 6, 7, 8], "hypers": BasisRoutesTests.hypers] as [String: Any]
        try JSONSerialization.data(withJSONObject: descriptor).write(to: URL(fileURLWithPath: dir + "/descriptor.json"))
        try JSONSerialization.data(withJSONObject: ["structures": BasisRoutesTests.molecules]).write(
            to: URL(fileURLWithPath: dir + "/batch.json"))
        func run(_ arguments: [String]) throws -> (Int32, Data) {
            let (status, output, _) = try SoapdProcess.run(arguments)
            return (status, output)
        }
        let (status, output) = try run([
            "fit", "--database", dir + "/db.sqlite", "--descriptor", dir + "/descriptor.json",
            "--structures", dir + "/batch.json", "--contraction", "mixed", "--q-max", "5",
        ])
        XCTAssertEqual(status, 0)
        let summary = try XCTUnwrap(try JSONSerialization.jsonObject(with: output) as? [String: Any])
        let id = try XCTUnwrap(summary["id"] as? String)
        XCTAssertEqual(summary["q_max"] as? Int, 5)
        let request =
            ["structures": BasisRoutesTests.molecules, "descriptor": ["type": "radial_spectrum", "basis_id": id]] as [String: Any]
        try JSONSerialization.data(withJSONObject: request).write(to: URL(fileURLWithPath: dir + "/request.json"))
        let (code, features) = try run(["featurize", "--database", dir + "/db.sqlite", "--request", dir + "/request.json"])
        XCTAssertEqual(code, 0)
        let response = try XCTUnwrap(try JSONSerialization.jsonObject(with: features) as? [String: Any])
        XCTAssertEqual((response["properties"] as? [String: Any])?["names"] as? [String], ["n"])
        XCTAssertEqual(response["basis_id"] as? String, id)
    }

    /// `soapd fit --multispectrum-order` keeps the files' structures and fits the contraction
    /// on them; `featurize` then gives at most the budget of columns per order.
    func testFitCommandWithMultispectrumContraction() throws {
        guard SoapdProcess.isBuilt else { throw XCTSkip("soapd not built") }
        let dir = try TemporaryDirectory.make("soapd-fit-ms")
        defer { TemporaryDirectory.remove(dir) }
        let descriptor = ["species": [1, 6, 7, 8], "hypers": MultispectrumBasisRoutesTests.hypers] as [String: Any]
        try JSONSerialization.data(withJSONObject: descriptor).write(to: URL(fileURLWithPath: dir + "/descriptor.json"))
        let molecules = BasisRoutesTests.molecules
        let half = molecules.count / 2
        try JSONSerialization.data(withJSONObject: ["structures": Array(molecules[..<half])]).write(
            to: URL(fileURLWithPath: dir + "/a.json"))
        try JSONSerialization.data(withJSONObject: ["structures": Array(molecules[half...])]).write(
            to: URL(fileURLWithPath: dir + "/b.json"))
        let (status, output, _) = try SoapdProcess.run([
            "fit", "--database", dir + "/db.sqlite", "--descriptor", dir + "/descriptor.json",
            "--structures", dir + "/a.json," + dir + "/b.json", "--contraction", "mixed", "--q-max", "3",
            "--multispectrum-order", "3", "--multispectrum-features", "7",
        ])
        XCTAssertEqual(status, 0)
        let summary = try XCTUnwrap(try JSONSerialization.jsonObject(with: output) as? [String: Any])
        let id = try XCTUnwrap(summary["id"] as? String)
        let multispectrum = try XCTUnwrap(summary["multispectrum"] as? [String: Any])
        XCTAssertEqual(multispectrum["structures"] as? Int, molecules.count, "both files' structures")
        XCTAssertEqual(multispectrum["correlation_order"] as? Int, 3)
        let request =
            [
                "structures": Array(molecules.prefix(3)),
                "descriptor": ["type": "multispectrum", "basis_id": id, "correlation_order": 3],
            ] as [String: Any]
        try JSONSerialization.data(withJSONObject: request).write(to: URL(fileURLWithPath: dir + "/request.json"))
        let (code, features, _) = try SoapdProcess.run([
            "featurize", "--database", dir + "/db.sqlite", "--request", dir + "/request.json",
        ])
        XCTAssertEqual(code, 0)
        let response = try XCTUnwrap(try JSONSerialization.jsonObject(with: features) as? [String: Any])
        let values = try XCTUnwrap(response["values"] as? [[Double]])
        XCTAssertFalse(values.isEmpty)
        XCTAssertTrue(values.allSatisfy { $0.count >= 1 && $0.count <= 7 })
        // The two multispectrum flags go together.
        let (refused, _, _) = try SoapdProcess.run([
            "fit", "--database", dir + "/db2.sqlite", "--descriptor", dir + "/descriptor.json",
            "--structures", dir + "/a.json", "--q-max", "3", "--multispectrum-order", "3",
        ])
        XCTAssertEqual(refused, 2)
    }

    func testFeaturizeRejectsBadInputWithOneLine() throws {
        guard SoapdProcess.isBuilt else { throw XCTSkip("soapd not built") }
        let dir = try TemporaryDirectory.make("soapd-bad")
        defer { TemporaryDirectory.remove(dir) }
        let file = dir + "/request.json"
        try Data("{\"structures\": []}".utf8).write(to: URL(fileURLWithPath: file))
        let (status, _, message) = try SoapdProcess.run(["featurize", "--request", file, "--output", "/dev/null"])
        XCTAssertNotEqual(status, 0)
        XCTAssertEqual(message.split(separator: "\n").count, 1, message)
        XCTAssertTrue(message.contains("/descriptor"), message)
    }

    /// `soapd featurize --structures FILE.jsonl` streams: chunk by chunk into an .npz equal
    /// to the whole-request output, a bad line reported on stderr and skipped, progress shown.
    func testStreamingFeaturizeEqualsWholeRequest() throws {
        guard SoapdProcess.isBuilt else { throw XCTSkip("soapd not built") }
        let dir = try TemporaryDirectory.make("soapd-stream")
        defer { TemporaryDirectory.remove(dir) }
        let base = dir + "/stream"
        let descriptor: [String: Any] = ["descriptor": JobRoutesTests.descriptor, "per": "atom"]
        try JSONSerialization.data(withJSONObject: descriptor).write(to: URL(fileURLWithPath: base + "-descriptor.json"))
        var lines = try BasisRoutesTests.molecules.map {
            String(decoding: try JSONSerialization.data(withJSONObject: $0), as: UTF8.self)
        }
        lines.insert("{\"numbers\": [1], \"positions\": [[0, 0]]}", at: 2)  // bad: a 2-vector
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: base + "-structures.jsonl"))
        var whole = descriptor
        whole["structures"] = BasisRoutesTests.molecules
        try JSONSerialization.data(withJSONObject: whole).write(to: URL(fileURLWithPath: base + "-whole.json"))
        func run(_ arguments: [String]) throws -> (Int32, String) {
            let (status, _, stderr) = try SoapdProcess.run(arguments)
            return (status, stderr)
        }
        let (status, messages) = try run([
            "featurize", "--request", base + "-descriptor.json", "--structures", base + "-structures.jsonl",
            "--output", base + "-stream.npz", "--chunk-atoms", "7",
        ])
        XCTAssertEqual(status, 0, messages)
        XCTAssertTrue(messages.contains("\"structure\":2"), messages)
        XCTAssertTrue(messages.contains("6 structures, 33 atoms"), messages)
        XCTAssertEqual(
            try run(["featurize", "--request", base + "-whole.json", "--format", "npz", "--output", base + "-whole.npz"]).0, 0)
        let streamed = try ZipReader.storedEntries(Array(try Data(contentsOf: URL(fileURLWithPath: base + "-stream.npz"))))
        let direct = try ZipReader.storedEntries(Array(try Data(contentsOf: URL(fileURLWithPath: base + "-whole.npz"))))
        XCTAssertEqual(streamed["values.npy"], direct["values.npy"])
        XCTAssertEqual(streamed["properties.npy"], direct["properties.npy"])
        XCTAssertEqual(streamed["center_types.npy"], direct["center_types.npy"])
        // The structure column keeps the input's line numbers: 0, 1, 3, 4, 5 (line 2 was bad).
        let (_, samples) = try NpyReader.read(try XCTUnwrap(streamed["samples.npy"]), descr: "<i4")
        let structures = samples.withUnsafeBytes { Array($0.bindMemory(to: Int32.self)) }.enumerated().filter {
            $0.offset % 2 == 0
        }.map(\.element)
        XCTAssertEqual(Set(structures), [0, 1, 3, 4, 5])
        XCTAssertFalse(FileManager.default.fileExists(atPath: base + "-stream.npz.soapd-chunks"), "scratch removed")
    }

    /// SIGKILL while a dataset batch is being computed and while bases are fitted: after a
    /// restart the database is intact, the batch counted fully or not at all, and every
    /// basis listed is whole (readable and usable).
    func testKillDuringBatchAndFit() throws {
        guard SoapdProcess.isBuilt else { throw XCTSkip("soapd not built") }
        let directory = try TemporaryDirectory.make("soapd-killbatch")
        defer { TemporaryDirectory.remove(directory) }
        let json = ["Content-Type": "application/json"]
        var server = try SoapdProcess.serve(dataDirectory: directory)
        var client = server.client
        let id = try XCTUnwrap(
            object(
                try client.request(
                    "POST", "/v1/datasets", headers: json,
                    body: body(["descriptor": ["species": [1, 6, 7, 8], "hypers": BasisRoutesTests.hypers]])))["id"] as? String)
        let big = body(["structures": Array(repeating: BasisRoutesTests.molecules, count: 400).flatMap { $0 }])
        let sent = expectation(description: "batch sent")
        let batchClient = client
        DispatchQueue.global().async {
            _ = try? batchClient.request("POST", "/v1/datasets/\(id)/structures", headers: json, body: big)
            sent.fulfill()
        }
        Thread.sleep(forTimeInterval: 0.3)
        server.kill()
        wait(for: [sent], timeout: 30)

        server = try SoapdProcess.serve(dataDirectory: directory)
        client = server.client
        let counted = object(try client.request("GET", "/v1/datasets/\(id)"))["structures"] as? Int
        XCTAssertTrue(counted == 0 || counted == 2000, "a batch counts fully or not at all: \(String(describing: counted))")
        XCTAssertEqual(
            try client.request(
                "POST", "/v1/datasets/\(id)/structures", headers: json,
                body: body(["structures": BasisRoutesTests.molecules])
            ).status, 200)
        // Fits killed at a few points in their course.
        for (k, delay) in [0.0, 0.002, 0.01, 0.05].enumerated() {
            let fitBody = body(["dataset_id": id, "contraction": k % 2 == 0 ? "mixed" : "separate", "q_max": 2 + k])
            let fitClient = client
            let done = expectation(description: "fit sent")
            DispatchQueue.global().async {
                _ = try? fitClient.request("POST", "/v1/bases", headers: json, body: fitBody)
                done.fulfill()
            }
            Thread.sleep(forTimeInterval: delay)
            server.kill()
            wait(for: [done], timeout: 30)
            server = try SoapdProcess.serve(dataDirectory: directory)
            client = server.client
        }
        defer { server.stop() }
        let bases = (object(try client.request("GET", "/v1/bases"))["bases"] as? [[String: Any]]) ?? []
        for basis in bases {
            let basisID = try XCTUnwrap(basis["id"] as? String)
            XCTAssertEqual(try client.request("GET", "/v1/bases/\(basisID)").status, 200)
            let features = try client.request(
                "POST", "/v1/features", headers: json,
                body: body([
                    "structures": BasisRoutesTests.molecules, "descriptor": ["type": "power_spectrum", "basis_id": basisID],
                ]))
            XCTAssertEqual(features.status, 200, features.text)
        }
        let integrity = try Database(path: directory + "/soapd.sqlite").query("PRAGMA integrity_check").first?.string(
            "integrity_check")
        XCTAssertEqual(integrity, "ok")
    }
}
