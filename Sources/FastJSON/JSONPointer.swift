/// An RFC 6901 JSON Pointer, used to name the offending field in error
/// messages ("/structures/3/positions") and to address values.
public struct JSONPointer: Sendable, Hashable, CustomStringConvertible {
    /// Unescaped reference tokens; array indices are decimal strings.
    public var tokens: [String]

    public init(tokens: [String] = []) {
        self.tokens = tokens
    }

    /// The pointer to the whole document ("").
    public static let root = JSONPointer()

    /// Parses the string form ("" or "/a/b~1c"); nil when it is not a valid pointer
    /// (no leading "/", or "~" not followed by "0" or "1").
    public init?(parsing text: String) {
        if text.isEmpty {
            tokens = []
            return
        }
        guard text.utf8.first == UInt8(ascii: "/") else { return nil }
        var result: [String] = []
        for raw in text.utf8.dropFirst().split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
            var token: [UInt8] = []
            var it = raw.makeIterator()
            while let c = it.next() {
                if c == UInt8(ascii: "~") {
                    switch it.next() {
                    case UInt8(ascii: "0"): token.append(UInt8(ascii: "~"))
                    case UInt8(ascii: "1"): token.append(UInt8(ascii: "/"))
                    default: return nil
                    }
                } else {
                    token.append(c)
                }
            }
            result.append(String(decoding: token, as: UTF8.self))
        }
        tokens = result
    }

    public func appending(_ key: String) -> JSONPointer {
        JSONPointer(tokens: tokens + [key])
    }

    public func appending(_ index: Int) -> JSONPointer {
        JSONPointer(tokens: tokens + [String(index)])
    }

    /// The pointer one level up; nil for the root.
    public var parent: JSONPointer? {
        tokens.isEmpty ? nil : JSONPointer(tokens: Array(tokens.dropLast()))
    }

    /// RFC 6901 string form: "~" is written "~0" and "/" is written "~1".
    public var description: String {
        var out = ""
        for token in tokens {
            out += "/"
            if token.utf8.contains(where: { $0 == UInt8(ascii: "~") || $0 == UInt8(ascii: "/") }) {
                for ch in token.unicodeScalars {
                    switch ch {
                    case "~": out += "~0"
                    case "/": out += "~1"
                    default: out.unicodeScalars.append(ch)
                    }
                }
            } else {
                out += token
            }
        }
        return out
    }

    /// An RFC 6901 array index: "0" or digits without a leading zero.
    static func arrayIndex(_ token: String) -> Int? {
        let u = token.utf8
        guard let first = u.first, first >= UInt8(ascii: "0"), first <= UInt8(ascii: "9"),
            first != UInt8(ascii: "0") || u.count == 1
        else { return nil }
        guard u.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        return Int(token)
    }
}
