/// An ordered list of HTTP header fields. Names compare case-insensitively (ASCII),
/// order and duplicates are preserved as received or added.
public struct HTTPHeaders: Sendable, Sequence, ExpressibleByDictionaryLiteral {
    public typealias Element = (name: String, value: String)

    private var fields: [Element] = []

    public init() {}

    public init(_ pairs: [(String, String)]) {
        fields = pairs.map { (name: $0.0, value: $0.1) }
    }

    public init(dictionaryLiteral elements: (String, String)...) {
        self.init(elements)
    }

    /// The first value for `name`, or nil. Setting replaces all values (nil removes them).
    public subscript(name: String) -> String? {
        get { fields.first { asciiCaseInsensitiveEquals($0.name, name) }?.value }
        set {
            if let newValue { set(name: name, value: newValue) } else { remove(name: name) }
        }
    }

    /// All values for `name`, in order.
    public func values(for name: String) -> [String] {
        fields.compactMap { asciiCaseInsensitiveEquals($0.name, name) ? $0.value : nil }
    }

    public func contains(_ name: String) -> Bool {
        fields.contains { asciiCaseInsensitiveEquals($0.name, name) }
    }

    /// Appends a field, keeping any existing ones with the same name.
    public mutating func add(name: String, value: String) {
        fields.append((name: name, value: value))
    }

    /// Replaces every field named `name` with a single one (at the first one's position).
    public mutating func set(name: String, value: String) {
        if let index = fields.firstIndex(where: { asciiCaseInsensitiveEquals($0.name, name) }) {
            fields[index] = (name: name, value: value)
            var i = fields.count - 1
            while i > index {
                if asciiCaseInsensitiveEquals(fields[i].name, name) { fields.remove(at: i) }
                i -= 1
            }
        } else {
            fields.append((name: name, value: value))
        }
    }

    public mutating func remove(name: String) {
        fields.removeAll { asciiCaseInsensitiveEquals($0.name, name) }
    }

    public var count: Int { fields.count }
    public var isEmpty: Bool { fields.isEmpty }

    public func makeIterator() -> IndexingIterator<[Element]> {
        fields.makeIterator()
    }
}

/// ASCII case-insensitive comparison without allocating lowercased copies.
@inline(__always)
func asciiCaseInsensitiveEquals(_ a: String, _ b: String) -> Bool {
    let x = a.utf8
    let y = b.utf8
    guard x.count == y.count else { return false }
    for (p, q) in zip(x, y) where p != q {
        if asciiLower(p) != asciiLower(q) { return false }
    }
    return true
}

@inline(__always)
func asciiLower(_ byte: UInt8) -> UInt8 {
    (byte >= 0x41 && byte <= 0x5A) ? byte | 0x20 : byte
}

/// Splits a comma-separated header list (possibly spread over several fields) into
/// trimmed, lowercased, non-empty elements. Used for Connection, Transfer-Encoding, etc.
func headerListTokens(_ values: [String]) -> [String] {
    var result: [String] = []
    for value in values {
        for part in value.split(separator: ",", omittingEmptySubsequences: true) {
            let token = trimOWS(Substring(part)).lowercased()
            if !token.isEmpty { result.append(token) }
        }
    }
    return result
}

/// Trims optional whitespace (SP / HTAB) on both ends.
func trimOWS(_ s: Substring) -> Substring {
    var start = s.startIndex
    var end = s.endIndex
    while start < end, s[start] == " " || s[start] == "\t" { start = s.index(after: start) }
    while end > start {
        let before = s.index(before: end)
        guard s[before] == " " || s[before] == "\t" else { break }
        end = before
    }
    return s[start..<end]
}

/// RFC 9110 `tchar`: the bytes allowed in a method or header name.
@inline(__always)
func isTokenByte(_ b: UInt8) -> Bool {
    switch b {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
        UInt8(ascii: "0")...UInt8(ascii: "9"):
        return true
    case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"),
        UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"),
        UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
        UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
        return true
    default:
        return false
    }
}

func isToken<S: Sequence>(_ bytes: S) -> Bool where S.Element == UInt8 {
    var any = false
    for b in bytes {
        guard isTokenByte(b) else { return false }
        any = true
    }
    return any
}

/// A field value byte per RFC 9110 (VCHAR, SP, HTAB, obs-text): everything except
/// control characters, which includes the CR / LF / NUL used in splitting attacks.
@inline(__always)
func isFieldValueByte(_ b: UInt8) -> Bool {
    b == 0x09 || (b >= 0x20 && b != 0x7F)
}
