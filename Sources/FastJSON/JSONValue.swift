/// A parsed JSON document.
///
/// Not declared `indirect`: arrays and objects already live in heap buffers,
/// and boxing every case would cost one allocation per number.
/// All JSON numbers are stored as `Double` (integers included).
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)
}

// MARK: - Accessors for decoders

extension JSONValue {
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    public var doubleValue: Double? {
        if case .number(let x) = self { return x }
        return nil
    }

    /// The number as an `Int` when it is integral and exactly representable.
    public var intValue: Int? {
        guard case .number(let x) = self, let i = Int(exactly: x) else { return nil }
        return i
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var objectValue: JSONObject? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// The member `key` of an object; nil for other values or a missing key.
    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    /// The element at `index` of an array; nil for other values or out of range.
    public subscript(index: Int) -> JSONValue? {
        if case .array(let a) = self, a.indices.contains(index) { return a[index] }
        return nil
    }

    /// The value a JSON Pointer names, or nil when it names nothing.
    public subscript(pointer: JSONPointer) -> JSONValue? {
        var current = self
        for token in pointer.tokens {
            switch current {
            case .object(let o):
                guard let next = o[token] else { return nil }
                current = next
            case .array(let a):
                // RFC 6901: decimal digits without leading zeros.
                guard let i = JSONPointer.arrayIndex(token), i < a.count else { return nil }
                current = a[i]
            default:
                return nil
            }
        }
        return current
    }

    /// A short name of the value's type for error messages ("number", "object", ...).
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .number: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }
}

extension JSONValue: CustomStringConvertible {
    /// Compact JSON text.
    public var description: String {
        String(decoding: JSON.serialize(self), as: UTF8.self)
    }
}

extension JSONValue: ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(JSONObject(uniqueKeysWithValues: elements))
    }
}

// MARK: - JSONObject

/// A JSON object: members in document order, with keyed lookup.
///
/// Immutable. Keys are unique (the parser rejects duplicates). Lookup is a
/// linear scan for small objects and a hash index beyond `indexThreshold`
/// members. Equality ignores member order, as JSON semantics do.
public struct JSONObject: Sendable, Equatable {
    final class Storage: Sendable {
        let keys: [String]
        let values: [JSONValue]
        let index: [String: Int]?

        init(keys: [String], values: [JSONValue], index: [String: Int]?) {
            self.keys = keys
            self.values = values
            self.index = index
        }

        static let empty = Storage(keys: [], values: [], index: nil)
    }

    /// Above this many members an object keeps a hash index (small objects scan faster).
    static let indexThreshold = 12

    let storage: Storage

    public init() { storage = .empty }

    /// Builds an object; keys must be unique (a duplicate is a programming error).
    public init<S: Sequence>(uniqueKeysWithValues pairs: S) where S.Element == (String, JSONValue) {
        var keys: [String] = []
        var values: [JSONValue] = []
        for (k, v) in pairs {
            keys.append(k)
            values.append(v)
        }
        var index: [String: Int]? = nil
        if keys.count > Self.indexThreshold {
            index = Dictionary(uniqueKeysWithValues: zip(keys, keys.indices))
        } else {
            for i in keys.indices {
                precondition(!keys[..<i].contains(keys[i]), "duplicate key \"\(keys[i])\" in JSONObject")
            }
        }
        storage = Storage(keys: keys, values: values, index: index)
    }

    /// Parser entry: keys already checked for duplicates; `index` reused when it was built.
    init(checkedKeys keys: [String], values: [JSONValue], index: [String: Int]?) {
        if keys.isEmpty {
            storage = .empty
            return
        }
        var index = index
        if index == nil && keys.count > Self.indexThreshold {
            index = Dictionary(uniqueKeysWithValues: zip(keys, keys.indices))
        }
        storage = Storage(keys: keys, values: values, index: index)
    }

    /// Member keys in document order.
    public var keys: [String] { storage.keys }
    /// Member values in document order.
    public var values: [JSONValue] { storage.values }
    public var count: Int { storage.keys.count }
    public var isEmpty: Bool { storage.keys.isEmpty }

    public subscript(key: String) -> JSONValue? {
        if let index = storage.index {
            guard let i = index[key] else { return nil }
            return storage.values[i]
        }
        let keys = storage.keys
        for i in keys.indices where keys[i] == key {
            return storage.values[i]
        }
        return nil
    }

    public func contains(key: String) -> Bool { self[key] != nil }

    public static func == (a: JSONObject, b: JSONObject) -> Bool {
        if a.storage === b.storage { return true }
        guard a.count == b.count else { return false }
        for (i, key) in a.keys.enumerated() {
            guard let other = b[key], other == a.values[i] else { return false }
        }
        return true
    }
}

extension JSONObject: RandomAccessCollection {
    public typealias Element = (key: String, value: JSONValue)
    public var startIndex: Int { 0 }
    public var endIndex: Int { storage.keys.count }
    public subscript(position: Int) -> Element { (storage.keys[position], storage.values[position]) }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(uniqueKeysWithValues: elements)
    }
}
