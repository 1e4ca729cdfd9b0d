// INTERIM stand-in until the real FastJSON lands (same public names).
import Foundation

public indirect enum JSONValue: Sendable, Equatable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object(JSONObject)
    public var isNull: Bool { if case .null = self { return true }; return false }
}
public struct JSONObject: Sendable, Equatable {
    public var keys: [String]
    public var values: [JSONValue]
    public subscript(key: String) -> JSONValue? { keys.firstIndex(of: key).map { values[$0] } }
}
public struct JSONLimits: Sendable { public init() {} }
public struct JSONParseError: Error, Sendable, CustomStringConvertible { public var description: String }
public enum JSON {
    public static func parse(_ bytes: [UInt8], limits: JSONLimits = .init()) throws -> JSONValue {
        let any: Any
        do { any = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]) } catch {
            throw JSONParseError(description: "\(error)")
        }
        return convert(any)
    }
    static func convert(_ a: Any) -> JSONValue {
        if a is NSNull { return .null }
        if let n = a as? NSNumber {
            if let b = a as? Bool, String(describing: type(of: a)).contains("Bool") { return .bool(b) }
            return .number(n.doubleValue)
        }
        if let s = a as? String { return .string(s) }
        if let arr = a as? [Any] { return .array(arr.map(convert)) }
        if let d = a as? [String: Any] { return .object(JSONObject(keys: Array(d.keys), values: d.keys.map { convert(d[$0]!) })) }
        return .null
    }
}
public struct JSONWriter {
    public var bytes: [UInt8] = []
    public init(capacity: Int) { bytes.reserveCapacity(capacity) }
    public mutating func string(_ s: String) { bytes += Array("\"\(s)\"".utf8) }
}
public enum JSONNumberFormat {
    public static func append(_ x: Double, to out: inout [UInt8]) { out += Array(x.description.utf8) }
}
extension JSONLimits { public var maxDepth: Int { get { 64 } set {} }; public var maxStringBytes: Int { get { 0 } set {} } }
extension JSONWriter {
    public mutating func beginObject() { bytes += Array("{".utf8) }
    public mutating func endObject() { if bytes.last == UInt8(ascii: ",") { bytes.removeLast() }; bytes += Array("}".utf8) }
    public mutating func key(_ k: String) { if bytes.last != UInt8(ascii: "{") && bytes.last != UInt8(ascii: ",") { bytes += [44] }; string(k); bytes += [58] }
    public mutating func integer(_ v: Int) { bytes += Array(String(v).utf8) }
    public mutating func number(_ v: Double) { bytes += Array(v.description.utf8) }
}
