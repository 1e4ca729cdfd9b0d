import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The built `soapd` executable as a user runs it: `serve` as a child process on an
/// ephemeral port (stopped by SIGTERM or killed by SIGKILL), or a one-shot command.
///
/// The binary is the one `swift build --build-tests` puts next to the test bundle; tests
/// skip when it is missing (`isBuilt`).
public final class SoapdProcess: @unchecked Sendable {
    /// The executable next to the running test bundle.
    public static var binary: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("soapd")
    }

    public static var isBuilt: Bool { FileManager.default.isExecutableFile(atPath: binary.path) }

    public let process: Process
    /// The port the server reported in its "listening on HOST:PORT" line.
    public let port: Int
    private let logLock = NSLock()
    private var logText: String

    /// A client for this server.
    public var client: TestHTTPClient { TestHTTPClient(port: port) }

    /// Everything the server wrote to stderr so far (its log).
    public var log: String {
        logLock.lock()
        defer { logLock.unlock() }
        return logText
    }

    /// Starts `soapd serve --port 0 --data-directory DIRECTORY EXTRA…` and waits (up to
    /// `timeout` seconds) for the line that names its port. Its stderr keeps being read
    /// afterwards, so a chatty server never blocks on a full pipe.
    public static func serve(_ extra: [String] = [], dataDirectory: String, timeout: Double = 30) throws -> SoapdProcess {
        let process = Process()
        process.executableURL = binary
        process.arguments = ["serve", "--port", "0", "--data-directory", dataDirectory] + extra
        let stderr = Pipe()
        process.standardError = stderr
        try process.run()
        var text = ""
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let data = stderr.fileHandleForReading.availableData
            if data.isEmpty { break }
            text += String(decoding: data, as: UTF8.self)
            if let range = text.range(of: #"listening on [^ ]*:(\d+)"#, options: .regularExpression),
                let port = Int(text[range].split(separator: ":").last!)
            {
                let server = SoapdProcess(process: process, port: port, log: text)
                server.drain(stderr)
                return server
            }
        }
        process.terminate()
        process.waitUntilExit()
        throw ClientError("soapd did not start: \(text)")
    }

    private init(process: Process, port: Int, log: String) {
        self.process = process
        self.port = port
        self.logText = log
    }

    private func drain(_ pipe: Pipe) {
        Thread.detachNewThread { [self] in
            while true {
                let data = pipe.fileHandleForReading.availableData
                if data.isEmpty { return }
                logLock.lock()
                logText += String(decoding: data, as: UTF8.self)
                logLock.unlock()
            }
        }
    }

    /// Sends `signal` without waiting (e.g. SIGTERM while a request is in flight).
    public func signal(_ signal: Int32) {
        _ = Glibc.kill(process.processIdentifier, signal)
    }

    /// SIGTERM, then waits for the exit; returns the exit status (0 after a graceful shutdown).
    @discardableResult
    public func stop() -> Int32 {
        signal(SIGTERM)
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// SIGKILL (a crash: nothing is finished or flushed), then waits for the exit.
    public func kill() {
        signal(SIGKILL)
        process.waitUntilExit()
    }

    /// Runs `soapd ARGUMENTS…` to completion: exit status, stdout and stderr.
    public static func run(_ arguments: [String]) throws -> (status: Int32, stdout: Data, stderr: String) {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read stderr on another thread so neither pipe can fill up and block the child.
        let errData = Box()
        let reading = DispatchGroup()
        DispatchQueue.global().async(group: reading) {
            errData.data = err.fileHandleForReading.readDataToEndOfFile()
        }
        let output = out.fileHandleForReading.readDataToEndOfFile()
        reading.wait()
        process.waitUntilExit()
        return (process.terminationStatus, output, String(decoding: errData.data, as: UTF8.self))
    }

    private final class Box: @unchecked Sendable { var data = Data() }
}
