// JSON strings: escapes, surrogate pairs, strict UTF-8 validation, length limit.

extension Parser {
    /// Parses the string starting at the opening quote at `pos`.
    mutating func parseString() throws(JSONParseError) -> String {
        let quoteOffset = pos
        let start = pos &+ 1
        // Scanning stops one byte past the longest allowed content, so an
        // over-long or unterminated string costs at most maxStringBytes of work.
        let scanEnd = end &- start > limits.maxStringBytes ? start &+ limits.maxStringBytes &+ 1 : end
        var i = start
        while i < scanEnd {
            let c = base[i]
            if c == .quote {
                pos = i &+ 1
                return String(decoding: UnsafeBufferPointer(start: base + start, count: i &- start), as: UTF8.self)
            }
            if c == .backslash {
                return try parseEscapedString(contentStart: start, firstEscape: i, quoteOffset: quoteOffset)
            }
            if c < 0x20 {
                throw syntaxError("unescaped control character \(describeByte(at: i)) in string", at: i)
            }
            i = c < 0x80 ? i &+ 1 : try validateUTF8Sequence(at: i)
        }
        if i &- start > limits.maxStringBytes { throw stringTooLong(quoteOffset) }
        throw syntaxError("unterminated string", at: quoteOffset)
    }

    /// Slow path once an escape is seen: decode into `scratch`.
    private mutating func parseEscapedString(contentStart: Int, firstEscape: Int, quoteOffset: Int)
        throws(JSONParseError) -> String
    {
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: UnsafeBufferPointer(start: base + contentStart, count: firstEscape &- contentStart))
        var i = firstEscape
        var runStart = i  // start of the pending run of unescaped bytes
        let maxBytes = limits.maxStringBytes
        while true {
            guard i < end else { throw syntaxError("unterminated string", at: quoteOffset) }
            let c = base[i]
            if c == .quote {
                scratch.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: i &- runStart))
                guard scratch.count <= maxBytes else { throw stringTooLong(quoteOffset) }
                pos = i &+ 1
                return String(decoding: scratch, as: UTF8.self)
            }
            if c == .backslash {
                scratch.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: i &- runStart))
                i = try decodeEscape(at: i)
                runStart = i
                guard scratch.count <= maxBytes else { throw stringTooLong(quoteOffset) }
                continue
            }
            if c < 0x20 {
                throw syntaxError("unescaped control character \(describeByte(at: i)) in string", at: i)
            }
            i = c < 0x80 ? i &+ 1 : try validateUTF8Sequence(at: i)
            if scratch.count &+ (i &- runStart) > maxBytes { throw stringTooLong(quoteOffset) }
        }
    }

    /// Decodes the escape at `i` (a backslash) into `scratch`; returns the index after it.
    private mutating func decodeEscape(at i: Int) throws(JSONParseError) -> Int {
        guard i &+ 1 < end else { throw syntaxError("unterminated string", at: i) }
        let simple: UInt8
        switch base[i &+ 1] {
        case .quote: simple = .quote
        case .backslash: simple = .backslash
        case UInt8(ascii: "/"): simple = UInt8(ascii: "/")
        case UInt8(ascii: "b"): simple = 0x08
        case UInt8(ascii: "f"): simple = 0x0C
        case UInt8(ascii: "n"): simple = 0x0A
        case UInt8(ascii: "r"): simple = 0x0D
        case UInt8(ascii: "t"): simple = 0x09
        case UInt8(ascii: "u"):
            let unit = try hex4(at: i &+ 2, escapeStart: i)
            var scalar = UInt32(unit)
            var next = i &+ 6
            if unit >= 0xD800 && unit <= 0xDBFF {
                // A high surrogate must be followed by an escaped low surrogate.
                guard next &+ 1 < end, base[next] == .backslash, base[next &+ 1] == UInt8(ascii: "u") else {
                    throw syntaxError("lone high surrogate \\u\(hexString(unit)) in string", at: i)
                }
                let low = try hex4(at: next &+ 2, escapeStart: next)
                guard low >= 0xDC00 && low <= 0xDFFF else {
                    throw syntaxError("lone high surrogate \\u\(hexString(unit)) in string", at: i)
                }
                scalar = 0x10000 &+ ((UInt32(unit) &- 0xD800) << 10) &+ (UInt32(low) &- 0xDC00)
                next &+= 6
            } else if unit >= 0xDC00 && unit <= 0xDFFF {
                throw syntaxError("lone low surrogate \\u\(hexString(unit)) in string", at: i)
            }
            appendUTF8(scalar)
            return next
        default:
            throw syntaxError("invalid escape sequence '\\\(describeByte(at: i &+ 1))' in string", at: i)
        }
        scratch.append(simple)
        return i &+ 2
    }

    private func hex4(at j: Int, escapeStart: Int) throws(JSONParseError) -> UInt16 {
        guard j &+ 4 <= end else { throw syntaxError("truncated \\u escape", at: escapeStart) }
        var v: UInt16 = 0
        for k in 0..<4 {
            let c = base[j &+ k]
            let d: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = c &- 48
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = c &- 87
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = c &- 55
            default: throw syntaxError("invalid \\u escape: expected 4 hex digits", at: escapeStart)
            }
            v = v << 4 | UInt16(d)
        }
        return v
    }

    private mutating func appendUTF8(_ s: UInt32) {
        if s < 0x80 {
            scratch.append(UInt8(s))
        } else if s < 0x800 {
            scratch.append(UInt8(0xC0 | s >> 6))
            scratch.append(UInt8(0x80 | s & 0x3F))
        } else if s < 0x10000 {
            scratch.append(UInt8(0xE0 | s >> 12))
            scratch.append(UInt8(0x80 | (s >> 6) & 0x3F))
            scratch.append(UInt8(0x80 | s & 0x3F))
        } else {
            scratch.append(UInt8(0xF0 | s >> 18))
            scratch.append(UInt8(0x80 | (s >> 12) & 0x3F))
            scratch.append(UInt8(0x80 | (s >> 6) & 0x3F))
            scratch.append(UInt8(0x80 | s & 0x3F))
        }
    }

    /// Validates one multi-byte UTF-8 sequence starting at `i` (base[i] >= 0x80)
    /// per RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF.
    /// Returns the index after it.
    @inline(__always)
    func validateUTF8Sequence(at i: Int) throws(JSONParseError) -> Int {
        let c0 = base[i]
        let length: Int
        var lo: UInt8 = 0x80  // allowed range of the second byte
        var hi: UInt8 = 0xBF
        switch c0 {
        case 0xC2...0xDF: length = 2
        case 0xE0:
            length = 3
            lo = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED:
            length = 3
            hi = 0x9F
        case 0xF0:
            length = 4
            lo = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4:
            length = 4
            hi = 0x8F
        default: throw syntaxError("invalid UTF-8 in string", at: i)
        }
        guard i &+ length <= end else { throw syntaxError("invalid UTF-8 in string", at: i) }
        let c1 = base[i &+ 1]
        guard c1 >= lo && c1 <= hi else { throw syntaxError("invalid UTF-8 in string", at: i) }
        for k in 2..<length where base[i &+ k] & 0xC0 != 0x80 {
            throw syntaxError("invalid UTF-8 in string", at: i)
        }
        return i &+ length
    }

    private func stringTooLong(_ offset: Int) -> JSONParseError {
        error(.stringLimit, "string longer than the limit of \(limits.maxStringBytes) bytes", at: offset)
    }

    private func hexString(_ v: UInt16) -> String {
        let s = String(v, radix: 16, uppercase: true)
        return String(repeating: "0", count: 4 - s.count) + s
    }
}
