import Foundation

/// A one-request-per-connection HTTP/1.1 client for end-to-end tests of a running server
/// (in-process or the `soapd` binary): each `request` opens a `RawClient`, sends the
/// request with `Connection: close` and reads one response.
public struct TestHTTPClient: Sendable {
    public struct Response {
        public var status: Int
        /// Header values by lower-cased name (a repeated header keeps its last value).
        public var headers: [String: String]
        public var body: [UInt8]
        public var json: Any? { try? JSONSerialization.jsonObject(with: Data(body)) }
        public var text: String { String(decoding: body, as: UTF8.self) }

        public init(status: Int, headers: [String: String], body: [UInt8]) {
            self.status = status
            self.headers = headers
            self.body = body
        }
    }
    public typealias Failure = ClientError

    public let port: Int
    /// Seconds a send or a receive may wait (a long featurization answers late).
    public var timeout: Double

    public init(port: Int, timeout: Double = 60) {
        self.port = port
        self.timeout = timeout
    }

    public func request(_ method: String, _ path: String, headers: [String: String] = [:], body: [UInt8] = []) throws
        -> Response
    {
        let connection = try RawClient(port: port, timeout: timeout)
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: \(body.count)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        try connection.send(Array(head.utf8) + body)
        let response = try connection.readResponse(head: method == "HEAD")
        var byName: [String: String] = [:]
        for (name, value) in response.headers { byName[name.lowercased()] = value }
        return Response(status: response.status, headers: byName, body: response.body)
    }
}

/// JSON in and out of end-to-end requests, for test cases that adopt it
/// (`extension SomeTests: JSONExchange {}`) instead of each defining the same two helpers.
public protocol JSONExchange {}

extension JSONExchange {
    /// `object` serialised as a request body.
    public func body(_ object: [String: Any]) -> [UInt8] { Array(try! JSONSerialization.data(withJSONObject: object)) }

    /// A response's JSON object, or an empty one when the body is not a JSON object.
    public func object(_ response: TestHTTPClient.Response) -> [String: Any] {
        (response.json as? [String: Any]) ?? [:]
    }
}
