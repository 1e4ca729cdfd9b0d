import TestSupport
import XCTest

@testable import FastJSON

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The C library's reading of `text`, the reference for exact rounding.
func cStrtod(_ text: String) -> Double {
    text.withCString { strtod($0, nil) }
}

/// A random finite double from a uniformly random bit pattern.
func randomFiniteDouble(_ rng: inout SplitMix64) -> Double {
    while true {
        let x = Double(bitPattern: rng.next())
        if x.isFinite { return x }
    }
}

/// Parses `text`, failing the test (and returning nil) on error.
func parseOrFail(_ text: String, limits: JSONLimits = JSONLimits(), file: StaticString = #filePath, line: UInt = #line)
    -> JSONValue?
{
    do {
        return try JSON.parse(text, limits: limits)
    } catch {
        XCTFail("unexpected parse error for \(text.debugDescription.prefix(200)): \(error)", file: file, line: line)
        return nil
    }
}

/// Parses `bytes` and returns the error, failing the test if parsing succeeds.
func parseError(_ bytes: [UInt8], limits: JSONLimits = JSONLimits(), file: StaticString = #filePath, line: UInt = #line)
    -> JSONParseError?
{
    do {
        let v = try JSON.parse(bytes, limits: limits)
        XCTFail(
            "expected an error for \(String(decoding: bytes, as: UTF8.self).debugDescription.prefix(200)), got \(v)",
            file: file, line: line)
        return nil
    } catch {
        return error
    }
}

func parseError(_ text: String, limits: JSONLimits = JSONLimits(), file: StaticString = #filePath, line: UInt = #line)
    -> JSONParseError?
{
    parseError(Array(text.utf8), limits: limits, file: file, line: line)
}

/// Significant digits (no leading/trailing zeros) and the exponent of the last
/// one, for comparing decimal texts regardless of layout ("1e+16" vs "10000000000000000.0").
func decimalDigits(_ text: String) -> (digits: String, exponent: Int) {
    var s = Substring(text)
    if s.hasPrefix("-") { s = s.dropFirst() }
    var exponent = 0
    if let e = s.firstIndex(where: { $0 == "e" || $0 == "E" }) {
        exponent = Int(s[s.index(after: e)...])!
        s = s[..<e]
    }
    var digits = ""
    var afterPoint = false
    for ch in s {
        if ch == "." {
            afterPoint = true
        } else {
            digits.append(ch)
            if afterPoint { exponent -= 1 }
        }
    }
    while digits.hasPrefix("0") { digits.removeFirst() }
    while digits.hasSuffix("0") {
        digits.removeLast()
        exponent += 1
    }
    return (digits, exponent)
}

/// printf-style formatting through the C library (e.g. "%.17g").
func cFormat(_ format: String, _ value: CVarArg) -> String {
    withUnsafeTemporaryAllocation(of: CChar.self, capacity: 128) { buf in
        _ = withVaList([value]) { vsnprintf(buf.baseAddress!, 128, format, $0) }
        return String(cString: buf.baseAddress!)
    }
}
