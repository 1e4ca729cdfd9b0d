/// A streaming JSON writer into a byte buffer; commas are inserted automatically.
///
/// Calls must form a well-formed document (a `key` before each value inside an
/// object, balanced begin/end); this is not checked, to keep the hot path free.
/// Doubles use `JSONNumberFormat` (shortest round-trip text; NaN and infinities,
/// which JSON cannot express, are written as `null`).
public struct JSONWriter: Sendable {
    public var bytes: [UInt8]
    /// Whether the next value or key needs a ',' before it.
    private var needsComma = false

    public init(capacity: Int = 1024) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    @inline(__always)
    private mutating func separate() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
    }

    public mutating func beginObject() {
        separate()
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    public mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    public mutating func beginArray() {
        separate()
        bytes.append(UInt8(ascii: "["))
        needsComma = false
    }

    public mutating func endArray() {
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    /// Writes `"key":`; the next call must write the member's value.
    public mutating func key(_ key: String) {
        separate()
        appendQuoted(key)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    public mutating func string(_ value: String) {
        separate()
        appendQuoted(value)
        needsComma = true
    }

    /// Shortest round-trip text; `null` for NaN and infinities.
    public mutating func number(_ value: Double) {
        separate()
        JSONNumberFormat.append(value, to: &bytes)
        needsComma = true
    }

    public mutating func integer(_ value: Int) {
        separate()
        JSONNumberFormat.append(value, to: &bytes)
        needsComma = true
    }

    public mutating func bool(_ value: Bool) {
        separate()
        appendStatic(value ? "true" : "false")
        needsComma = true
    }

    public mutating func null() {
        separate()
        appendStatic("null")
        needsComma = true
    }

    /// Inserts pre-serialized JSON text as one value (not validated).
    public mutating func raw(_ json: [UInt8]) {
        separate()
        bytes.append(contentsOf: json)
        needsComma = true
    }

    /// Writes any `JSONValue`.
    public mutating func value(_ value: JSONValue) {
        switch value {
        case .null: null()
        case .bool(let b): bool(b)
        case .number(let x): number(x)
        case .string(let s): string(s)
        case .array(let elements):
            beginArray()
            for e in elements { self.value(e) }
            endArray()
        case .object(let object):
            beginObject()
            for (k, v) in object {
                key(k)
                self.value(v)
            }
            endObject()
        }
    }

    // MARK: Bulk numeric arrays (the response hot path)

    /// Writes a whole array of doubles, e.g. `[0.5,-1e-12,0.0]`; non-finite elements become `null`.
    public mutating func doubleArray(_ values: UnsafeBufferPointer<Double>) {
        separate()
        let tables = PowerTables.shared
        appendChunked(count: values.count, maxLength: JSONNumberFormat.maxDoubleLength) { i, p in
            _writeDouble(values[i], p, tables)
        }
        needsComma = true
    }

    public mutating func doubleArray(_ values: [Double]) {
        values.withUnsafeBufferPointer { doubleArray($0) }
    }

    /// Writes a whole array of integers, e.g. `[14,14,8]`.
    public mutating func intArray(_ values: UnsafeBufferPointer<Int>) {
        separate()
        appendChunked(count: values.count, maxLength: JSONNumberFormat.maxIntegerLength) { i, p in
            JSONNumberFormat.write(values[i], to: p)
        }
        needsComma = true
    }

    public mutating func intArray(_ values: [Int]) {
        values.withUnsafeBufferPointer { intArray($0) }
    }

    /// Formats `[e0,e1,...]` through a stack buffer, copying it out in chunks:
    /// no allocation per element and only amortized growth of `bytes`.
    @inline(__always)
    private mutating func appendChunked(
        count: Int, maxLength: Int, _ format: (Int, UnsafeMutablePointer<UInt8>) -> Int
    ) {
        bytes.append(UInt8(ascii: "["))
        let chunkBytes = 8192
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: chunkBytes) { buffer in
            let base = buffer.baseAddress!
            var n = 0
            for i in 0..<count {
                if n &+ maxLength &+ 1 > chunkBytes {
                    bytes.append(contentsOf: UnsafeBufferPointer(start: base, count: n))
                    n = 0
                }
                if i != 0 {
                    base[n] = UInt8(ascii: ",")
                    n &+= 1
                }
                n &+= format(i, base + n)
            }
            bytes.append(contentsOf: UnsafeBufferPointer(start: base, count: n))
        }
        bytes.append(UInt8(ascii: "]"))
    }

    @inline(__always)
    private mutating func appendStatic(_ s: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    // MARK: Strings

    /// RFC 8259 escaping: '"', '\' and control characters; other UTF-8 is copied as is.
    private mutating func appendQuoted(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { utf8 in
            var runStart = 0
            for i in 0..<utf8.count {
                let c = utf8[i]
                guard c < 0x20 || c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") else { continue }
                if runStart < i { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<i])) }
                runStart = i &+ 1
                bytes.append(UInt8(ascii: "\\"))
                switch c {
                case UInt8(ascii: "\""): bytes.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): bytes.append(UInt8(ascii: "\\"))
                case 0x0A: bytes.append(UInt8(ascii: "n"))
                case 0x0D: bytes.append(UInt8(ascii: "r"))
                case 0x09: bytes.append(UInt8(ascii: "t"))
                case 0x08: bytes.append(UInt8(ascii: "b"))
                case 0x0C: bytes.append(UInt8(ascii: "f"))
                default:
                    let hex: StaticString = "0123456789abcdef"
                    appendStatic("u00")
                    bytes.append(hex.utf8Start[Int(c >> 4)])
                    bytes.append(hex.utf8Start[Int(c & 0xF)])
                }
            }
            if runStart < utf8.count {
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...]))
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
