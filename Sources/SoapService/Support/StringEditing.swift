extension StringProtocol {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}

extension String {
    /// Every occurrence of `target` replaced, matched on UTF-8 bytes. (Not on Characters:
    /// a "~" or "/" followed by a combining mark is one grapheme cluster with it, and a
    /// multi-character target cannot be a Character at all.)
    func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        let source = Array(utf8)
        let pattern = Array(target.utf8)
        guard !pattern.isEmpty, source.count >= pattern.count else { return self }
        var out: [UInt8] = []
        out.reserveCapacity(source.count)
        var i = 0
        while i < source.count {
            if source[i] == pattern[0], source.count - i >= pattern.count,
                source[i..<(i + pattern.count)].elementsEqual(pattern)
            {
                out.append(contentsOf: replacement.utf8)
                i += pattern.count
            } else {
                out.append(source[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
