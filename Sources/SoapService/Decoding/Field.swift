import FastJSON

/// Typed access to JSON fields with errors that point at them.
/// (Pointers are autoclosures: built only for an error, not for each of a request's
/// numbers.)
enum Field {
    static func describe(_ v: JSONValue) -> String {
        switch v {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    static func object(_ v: JSONValue, _ p: @autoclosure () -> String) throws(ServiceError) -> JSONObject {
        guard case .object(let o) = v else {
            throw ServiceError(.invalid, pointer: p(), "expected an object, got \(describe(v))")
        }
        return o
    }

    static func array(_ v: JSONValue, _ p: @autoclosure () -> String) throws(ServiceError) -> [JSONValue] {
        guard case .array(let a) = v else { throw ServiceError(.invalid, pointer: p(), "expected an array, got \(describe(v))") }
        return a
    }

    static func string(_ v: JSONValue, _ p: @autoclosure () -> String) throws(ServiceError) -> String {
        guard case .string(let s) = v else { throw ServiceError(.invalid, pointer: p(), "expected a string, got \(describe(v))") }
        return s
    }

    static func bool(_ v: JSONValue, _ p: @autoclosure () -> String) throws(ServiceError) -> Bool {
        guard case .bool(let b) = v else {
            throw ServiceError(.invalid, pointer: p(), "expected true or false, got \(describe(v))")
        }
        return b
    }

    static func number(_ v: JSONValue, _ p: @autoclosure () -> String) throws(ServiceError) -> Double {
        guard case .number(let x) = v else { throw ServiceError(.invalid, pointer: p(), "expected a number, got \(describe(v))") }
        guard x.isFinite else { throw ServiceError(.invalid, pointer: p(), "must be finite") }
        return x
    }

    static func integer(_ v: JSONValue, _ p: @autoclosure () -> String) throws(ServiceError) -> Int {
        let x = try number(v, p())
        guard x == x.rounded(), abs(x) < 1e15 else { throw ServiceError(.invalid, pointer: p(), "expected an integer, got \(x)") }
        return Int(x)
    }

    static func integer(_ v: JSONValue, _ p: @autoclosure () -> String, in range: ClosedRange<Int>) throws(ServiceError) -> Int {
        let x = try integer(v, p())
        guard range.contains(x) else {
            throw ServiceError(
                .invalid, pointer: p(), "must be an integer from \(range.lowerBound) to \(range.upperBound), not \(x)")
        }
        return x
    }

    static func required(_ o: JSONObject, _ key: String, at p: String) throws(ServiceError) -> JSONValue {
        guard let v = o[key] else { throw ServiceError(.invalid, pointer: "\(p)/\(key)", "is required") }
        return v
    }

    /// Unknown keys are refused: a misspelt option must not be silently ignored.
    static func allowOnly(_ o: JSONObject, _ keys: Set<String>, at p: String) throws(ServiceError) {
        for key in o.keys where !keys.contains(key) {
            throw ServiceError(
                .invalid, pointer: "\(p)/\(escape(key))",
                "unknown field '\(key.prefix(64))'; expected one of " + keys.sorted().joined(separator: ", "))
        }
    }

    static func vector3(
        _ v: JSONValue, _ p: @autoclosure () -> String, into out: inout [Double],
        at offset: Int
    ) throws(ServiceError) {
        guard case .array(let a) = v, a.count == 3 else {
            throw ServiceError(.invalid, pointer: p(), "expected 3 numbers")
        }
        for k in 0..<3 {
            guard case .number(let x) = a[k] else {
                throw ServiceError(.invalid, pointer: "\(p())/\(k)", "expected a number, got \(describe(a[k]))")
            }
            guard x.isFinite else { throw ServiceError(.invalid, pointer: "\(p())/\(k)", "must be finite") }
            out[offset + k] = x
        }
    }

    /// RFC 6901 escaping of one reference token.
    static func escape(_ token: String) -> String {
        token.replacingOccurrences("~", "~0").replacingOccurrences("/", "~1")
    }
}
