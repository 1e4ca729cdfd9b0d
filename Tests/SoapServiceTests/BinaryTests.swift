import XCTest
import Foundation

/// The built `soapd` executable as a user runs it: serve until SIGTERM
/// (finishing the request in flight, exit 0), and featurize from files.
final class BinaryTests: XCTestCase {
    static var binary: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("soapd")
    }

    /// Starts `soapd serve` on an ephemeral port; returns the process and its port.
    static func serve(_ extra: [String] = [], directory: String) throws -> (Process, Int, Pipe) {
        let process = Process()
        process.executableURL = binary
        process.arguments = ["serve", "--port", "0", "--data-directory", directory] + extra
        let stderr = Pipe()
        process.standardError = stderr
        try process.run()
        var text = ""
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let data = stderr.fileHandleForReading.availableData
            if data.isEmpty { break }
            text += String(decoding: data, as: UTF8.self)
            if let range = text.range(of: #"listening on [^ ]*:(\d+)"#, options: .regularExpression) {
                let port = Int(text[range].split(separator: ":").last!)!
                return (process, port, stderr)
            }
        }
        process.terminate()
        throw TestHTTPClient.Failure(description: "soapd did not start: \(text)")
    }

    func testGracefulShutdownFinishesInFlightRequest() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary.path) else {
            throw XCTSkip("soapd is not built next to the tests (run swift build first)")
        }
        let directory = NSTemporaryDirectory() + "soapd-binary-\(getpid())"
        let (process, port, _) = try Self.serve(directory: directory)
        let client = TestHTTPClient(port: port)
        XCTAssertEqual(try client.request("GET", "/health").status, 200)
        // A request big enough to be in flight when SIGTERM arrives.
        var structures: [[String: Any]] = []
        for k in 0..<40 {
            var positions: [[Double]] = []
            for i in 0..<64 { positions.append([Double(i % 4) * 1.36 + 0.01 * Double(k), Double((i / 4) % 4) * 1.36, Double(i / 16) * 1.36]) }
            structures.append(["numbers": Array(repeating: 14, count: 64), "positions": positions,
                               "cell": [[5.44, 0, 0], [0, 5.44, 0], [0, 0, 5.44]]])
        }
        let request: [String: Any] = ["structures": structures, "descriptor": [
            "type": "power_spectrum", "species": [14],
            "hypers": ["cutoff": ["radius": 5.0, "smoothing": ["type": "ShiftedCosine", "width": 0.5]],
                       "density": ["type": "Gaussian", "width": 0.5],
                       "basis": ["type": "TensorProduct", "max_angular": 6, "radial": ["type": "Gto", "max_radial": 7]]]]]
        let body = Array(try JSONSerialization.data(withJSONObject: request))
        final class Outcome: @unchecked Sendable { var status = 0 }
        let outcome = Outcome()
        let done = expectation(description: "response")
        Thread.detachNewThread {
            outcome.status = (try? client.request("POST", "/v1/features", headers: ["Content-Type": "application/json"], body: body))?.status ?? -1
            done.fulfill()
        }
        Thread.sleep(forTimeInterval: 0.05)
        kill(process.processIdentifier, SIGTERM)
        wait(for: [done], timeout: 60)
        process.waitUntilExit()
        XCTAssertEqual(outcome.status, 200, "the request in flight must complete")
        XCTAssertEqual(process.terminationStatus, 0)
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory), "data directory created on first start")
        XCTAssertThrowsError(try client.request("GET", "/health"), "no longer accepting")
    }

    func testFeaturizeRejectsBadInputWithOneLine() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary.path) else { throw XCTSkip("soapd not built") }
        let file = NSTemporaryDirectory() + "soapd-bad-\(getpid()).json"
        try Data("{\"structures\": []}".utf8).write(to: URL(fileURLWithPath: file))
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = ["featurize", "--request", file, "--output", "/dev/null"]
        let stderr = Pipe()
        process.standardError = stderr
        try process.run()
        process.waitUntilExit()
        XCTAssertNotEqual(process.terminationStatus, 0)
        let message = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(message.split(separator: "\n").count, 1, message)
        XCTAssertTrue(message.contains("/descriptor"), message)
    }
}
