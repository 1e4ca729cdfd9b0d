#if canImport(Foundation)
    import Foundation  // only for ContiguousBytes (Data); the parser itself does not use Foundation
#endif

/// Bounds on what the parser accepts; exceeding one is a `JSONParseError`
/// whose `kind` says which.
public struct JSONLimits: Sendable {
    /// Maximum nesting of arrays and objects (the top-level container is depth 1).
    /// Parsing itself is iterative, but destroying, comparing and serializing a
    /// `JSONValue` recurse, so keep this well below ~10,000.
    public var maxDepth: Int
    /// Maximum decoded UTF-8 length of one string (keys included).
    public var maxStringBytes: Int
    /// Maximum size of the whole input.
    public var maxBytes: Int
    /// Maximum number of elements in one array.
    public var maxArrayCount: Int
    /// Maximum number of members in one object.
    public var maxObjectCount: Int

    public init(
        maxDepth: Int = 64, maxStringBytes: Int = 1 << 20, maxBytes: Int = .max,
        maxArrayCount: Int = .max, maxObjectCount: Int = .max
    ) {
        self.maxDepth = maxDepth
        self.maxStringBytes = maxStringBytes
        self.maxBytes = maxBytes
        self.maxArrayCount = maxArrayCount
        self.maxObjectCount = maxObjectCount
    }
}

/// Why and where parsing failed. `description` reads like
/// "expected ',' or ']' after an array element, found 'x' at line 3, column 14".
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// Not valid JSON text (RFC 8259), including invalid UTF-8 and lone surrogates.
        case syntax
        /// A duplicate key inside one object.
        case duplicateKey
        /// A number too large for a double.
        case numberOutOfRange
        case depthLimit
        case stringLimit
        case sizeLimit
        case countLimit
    }

    public var kind: Kind
    /// Byte offset into the input (0-based).
    public var offset: Int
    /// 1-based line (lines end at LF).
    public var line: Int
    /// 1-based column, counted in Unicode scalars.
    public var column: Int
    public var message: String

    public init(kind: Kind, offset: Int, line: Int, column: Int, message: String) {
        self.kind = kind
        self.offset = offset
        self.line = line
        self.column = column
        self.message = message
    }

    /// True for the limit kinds (callers may map them to "413 Payload Too Large").
    public var isLimit: Bool {
        switch kind {
        case .depthLimit, .stringLimit, .sizeLimit, .countLimit: return true
        default: return false
        }
    }

    public var description: String { "\(message) at line \(line), column \(column)" }
}

/// Entry points: strict RFC 8259 parsing and compact serialization.
public enum JSON {
    public static func parse(_ bytes: UnsafeRawBufferPointer, limits: JSONLimits = JSONLimits())
        throws(JSONParseError) -> JSONValue
    {
        guard bytes.count <= limits.maxBytes else {
            throw JSONParseError(
                kind: .sizeLimit, offset: 0, line: 1, column: 1,
                message: "input of \(bytes.count) bytes exceeds the limit of \(limits.maxBytes) bytes")
        }
        guard let base = bytes.baseAddress, bytes.count > 0 else {
            throw JSONParseError(
                kind: .syntax, offset: 0, line: 1, column: 1, message: "unexpected end of input, expected a value")
        }
        var parser = Parser(base: base.assumingMemoryBound(to: UInt8.self), count: bytes.count, limits: limits)
        return try parser.parseDocument()
    }

    public static func parse(_ bytes: [UInt8], limits: JSONLimits = JSONLimits()) throws(JSONParseError) -> JSONValue {
        let result = bytes.withUnsafeBytes { buf in
            Result { () throws(JSONParseError) in try parse(buf, limits: limits) }
        }
        return try result.get()
    }

    public static func parse(_ text: String, limits: JSONLimits = JSONLimits()) throws(JSONParseError) -> JSONValue {
        var text = text
        let result = text.withUTF8 { buf in
            Result { () throws(JSONParseError) in try parse(UnsafeRawBufferPointer(buf), limits: limits) }
        }
        return try result.get()
    }

    #if canImport(Foundation)
        public static func parse<Bytes: ContiguousBytes>(_ bytes: Bytes, limits: JSONLimits = JSONLimits())
            throws(JSONParseError) -> JSONValue
        {
            let result = bytes.withUnsafeBytes { buf in
                Result { () throws(JSONParseError) in try parse(buf, limits: limits) }
            }
            return try result.get()
        }
    #endif

    /// Compact JSON text of `value`.
    public static func serialize(_ value: JSONValue) -> [UInt8] {
        var writer = JSONWriter()
        writer.value(value)
        return writer.bytes
    }
}

// MARK: - Parser

// Computed, not stored: a global `let` would cost a lazy-initialization check per use.
extension UInt8 {
    @inline(__always) static var quote: UInt8 { 0x22 }
    @inline(__always) static var backslash: UInt8 { 0x5C }
}

/// Iterative parser: containers live on explicit stacks, so nesting depth is
/// bounded by `maxDepth` alone, never by the thread's stack.
struct Parser {
    let base: UnsafePointer<UInt8>
    let end: Int
    var pos = 0
    let limits: JSONLimits
    /// Held here so number parsing skips the global's lazy-init check.
    let tables = PowerTables.shared

    private struct Frame {
        var isObject: Bool
        var valueStart: Int  // first element in `values`
        var keyStart: Int  // first key in `keys`
        var index: [String: Int]?  // duplicate-key index, built for large objects
    }

    /// Completed elements of every open container, innermost last.
    private let values = MoveStack<JSONValue>()
    /// Keys of every open object, innermost last.
    private let keys = MoveStack<String>()
    private var frames: [Frame] = []
    /// Reused buffer for strings with escapes.
    var scratch: [UInt8] = []

    init(base: UnsafePointer<UInt8>, count: Int, limits: JSONLimits) {
        self.base = base
        self.end = count
        self.limits = limits
    }

    mutating func parseDocument() throws(JSONParseError) -> JSONValue {
        skipWhitespace()
        var value: JSONValue
        parsing: while true {
            // Here pos is at the first byte of a value.
            guard pos < end else { throw syntaxError("unexpected end of input, expected a value", at: pos) }
            switch base[pos] {
            case .quote:
                value = .string(try parseString())
            case UInt8(ascii: "["):
                try openContainer(isObject: false)
                skipWhitespace()
                if pos < end && base[pos] == UInt8(ascii: "]") {
                    pos &+= 1
                    frames.removeLast()
                    value = .array([])
                } else {
                    continue parsing
                }
            case UInt8(ascii: "{"):
                try openContainer(isObject: true)
                skipWhitespace()
                if pos < end && base[pos] == UInt8(ascii: "}") {
                    pos &+= 1
                    frames.removeLast()
                    value = .object(JSONObject())
                } else {
                    try parseMemberKey()
                    continue parsing
                }
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                value = .number(try parseNumber())
            case UInt8(ascii: "t"):
                try expectLiteral("true")
                value = .bool(true)
            case UInt8(ascii: "f"):
                try expectLiteral("false")
                value = .bool(false)
            case UInt8(ascii: "n"):
                try expectLiteral("null")
                value = .null
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                throw syntaxError(
                    "expected a value, found \(describeByte(at: pos)) (trailing commas are not allowed)", at: pos)
            default:
                throw syntaxError("expected a value, found \(describeByte(at: pos))", at: pos)
            }

            // A value is complete: store it in its container, closing containers as they end.
            while let f = frames.indices.last {
                try appendToContainer(value, frame: f)
                skipWhitespace()
                let c: UInt8 = pos < end ? base[pos] : 0
                if frames[f].isObject {
                    if c == UInt8(ascii: ",") {
                        pos &+= 1
                        skipWhitespace()
                        try parseMemberKey()
                        continue parsing
                    }
                    guard c == UInt8(ascii: "}") else {
                        throw syntaxError(
                            "expected ',' or '}' after an object member, found \(describeByte(at: pos))", at: pos)
                    }
                    pos &+= 1
                    value = .object(closeObject())
                } else {
                    if c == UInt8(ascii: ",") {
                        pos &+= 1
                        skipWhitespace()
                        continue parsing
                    }
                    guard c == UInt8(ascii: "]") else {
                        throw syntaxError(
                            "expected ',' or ']' after an array element, found \(describeByte(at: pos))", at: pos)
                    }
                    pos &+= 1
                    value = .array(values.popArray(from: frames.removeLast().valueStart))
                }
            }
            break parsing
        }
        skipWhitespace()
        guard pos == end else {
            throw syntaxError("unexpected \(describeByte(at: pos)) after the top-level value", at: pos)
        }
        return value
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while pos < end {
            let c = base[pos]
            // Fast exit for the common case: any byte above ' ' is not whitespace.
            if c > 0x20 { return }
            guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return }
            pos &+= 1
        }
    }

    private mutating func openContainer(isObject: Bool) throws(JSONParseError) {
        guard frames.count < limits.maxDepth else {
            throw error(.depthLimit, "nesting deeper than the limit of \(limits.maxDepth)", at: pos)
        }
        frames.append(Frame(isObject: isObject, valueStart: values.count, keyStart: keys.count, index: nil))
        pos &+= 1
    }

    @inline(__always)
    private mutating func appendToContainer(_ value: JSONValue, frame f: Int) throws(JSONParseError) {
        // Object members are counted when their key is read.
        if !frames[f].isObject && values.count &- frames[f].valueStart >= limits.maxArrayCount {
            throw error(.countLimit, "array has more elements than the limit of \(limits.maxArrayCount)", at: pos)
        }
        values.push(value)
    }

    /// Reads `"key" :` and leaves pos at the member's value.
    private mutating func parseMemberKey() throws(JSONParseError) {
        guard pos < end, base[pos] == .quote else {
            throw syntaxError("expected a string key, found \(describeByte(at: pos))", at: pos)
        }
        let keyOffset = pos
        let key = try parseString()
        let f = frames.count &- 1
        let n = keys.count &- frames[f].keyStart
        guard n < limits.maxObjectCount else {
            throw error(
                .countLimit, "object has more members than the limit of \(limits.maxObjectCount)", at: keyOffset)
        }
        // Duplicate check: a scan for small objects, a hash index once they grow.
        // (String equality is canonical equivalence, so keys differing only in
        // Unicode normalization also count as duplicates.)
        var duplicate = false
        if frames[f].index == nil && n < JSONObject.indexThreshold {
            for i in frames[f].keyStart..<keys.count where keys[i] == key {
                duplicate = true
                break
            }
        } else {
            if frames[f].index == nil {
                var index: [String: Int] = [:]
                index.reserveCapacity(2 * n)
                for i in 0..<n { index[keys[frames[f].keyStart &+ i]] = i }
                frames[f].index = index
            }
            duplicate = frames[f].index!.updateValue(n, forKey: key) != nil
        }
        if duplicate {
            throw error(.duplicateKey, "duplicate key \"\(key)\" in object", at: keyOffset)
        }
        keys.push(key)
        skipWhitespace()
        guard pos < end, base[pos] == UInt8(ascii: ":") else {
            throw syntaxError("expected ':' after an object key, found \(describeByte(at: pos))", at: pos)
        }
        pos &+= 1
        skipWhitespace()
    }

    private mutating func closeObject() -> JSONObject {
        let frame = frames.removeLast()
        let memberValues = values.popArray(from: frame.valueStart)
        let memberKeys = keys.popArray(from: frame.keyStart)
        return JSONObject(checkedKeys: memberKeys, values: memberValues, index: frame.index)
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let n = literal.utf8CodeUnitCount
        let p = literal.utf8Start
        for i in 0..<n {
            guard pos &+ i < end, base[pos &+ i] == p[i] else {
                throw syntaxError("invalid literal, expected '\(literal)'", at: pos)
            }
        }
        pos &+= n
    }

    // MARK: Errors

    func syntaxError(_ message: String, at offset: Int) -> JSONParseError {
        error(.syntax, message, at: offset)
    }

    /// Builds an error; line and column are computed only now, on the failure path.
    func error(_ kind: JSONParseError.Kind, _ message: String, at offset: Int) -> JSONParseError {
        var line = 1
        var column = 1
        var i = 0
        let stop = min(offset, end)
        while i < stop {
            let c = base[i]
            if c == 0x0A {
                line += 1
                column = 1
            } else if c & 0xC0 != 0x80 {  // count scalars, not UTF-8 continuation bytes
                column += 1
            }
            i += 1
        }
        return JSONParseError(kind: kind, offset: offset, line: line, column: column, message: message)
    }

    func describeByte(at offset: Int) -> String {
        guard offset < end else { return "end of input" }
        let c = base[offset]
        if c >= 0x20 && c < 0x7F { return "'\(Character(Unicode.Scalar(c)))'" }
        let hex = String(c, radix: 16, uppercase: true)
        return "byte 0x\(hex.count < 2 ? "0" + hex : hex)"
    }
}
