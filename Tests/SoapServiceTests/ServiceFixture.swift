import Foundation
import TestSupport
import XCTest

@testable import SoapService

extension TestHTTPClient {
    /// The real service in-process on an ephemeral port, with its own fresh data directory.
    static func startServer(_ configure: (inout ServiceConfiguration) -> Void = { _ in }) -> (SoapdServer, TestHTTPClient) {
        var configuration = ServiceConfiguration()
        configuration.port = 0
        configuration.logLevel = "error"
        configuration.dataDirectory = try! TemporaryDirectory.make("soapd-tests", create: false)
        configure(&configuration)
        let server = try! SoapdServer(configuration: configuration)
        try! server.start()
        return (server, TestHTTPClient(port: server.http.boundPort))
    }
}

extension XCTestCase {
    /// Asserts that preparing and computing `body` fails with this status and JSON pointer.
    func assertServiceError(
        _ service: FeatureService, _ body: [UInt8], status: Int, pointer: String, contains text: String? = nil,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        do {
            _ = try service.compute(try service.prepare(body))
            XCTFail("expected an error at \(pointer)", file: file, line: line)
        } catch {
            XCTAssertEqual(error.status, status, "\(error)", file: file, line: line)
            XCTAssertEqual(error.pointer, pointer, "\(error)", file: file, line: line)
            if let text { XCTAssertTrue(error.message.contains(text), "\(error.message)", file: file, line: line) }
        }
    }
}
