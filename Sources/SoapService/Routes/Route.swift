import SoapHTTP

/// One row of the route table: a method on a path template, the permission it needs and
/// the handler that answers it. The handler is part of the row, so a route cannot be
/// declared without one, and a request reaches only the handler of the row it matched.
public struct Route: Sendable {
    /// Answers a matched request; the `String` is the path's `{id}` segment ("" when the
    /// template has none).
    typealias Handler = @Sendable (Application, HTTPRequest, String) -> HTTPResponse

    /// "GET", "POST" or "DELETE" (HEAD is answered by the GET row).
    public let method: String
    /// "/v1/jobs/{id}": literal segments and `{id}`.
    public let template: String
    /// What the route needs when tokens are configured: `.open` never needs one, `.read`
    /// a read or write token (with `read_tokens` set), `.write` a write token (with
    /// `write_tokens` set). `Authorization.access(required:)` applies the configuration.
    public let permission: Authorization.Access
    let handler: Handler

    init(_ method: String, _ template: String, _ permission: Authorization.Access, _ handler: @escaping Handler) {
        self.method = method
        self.template = template
        self.permission = permission
        self.handler = handler
    }
}
