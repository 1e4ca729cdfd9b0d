import XCTest

@testable import SoapService

/// FIPS 180-4 test vectors, so basis ids are real SHA-256 digests.
final class SHA256Tests: XCTestCase {
    func digest(_ text: String) -> String {
        var h = SHA256()
        h.update(text)
        return SHA256.hex(h.finalize())
    }

    func testKnownVectors() {
        XCTAssertEqual(digest(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(digest("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(
            digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(
            digest(String(repeating: "a", count: 1_000_000)),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testIncrementalEqualsOneShot() {
        var a = SHA256()
        a.update("hello ")
        a.update("world")
        a.update([Double](repeating: 0.5, count: 100))
        var b = SHA256()
        var bytes = Array("hello world".utf8)
        for _ in 0..<100 { withUnsafeBytes(of: 0.5.bitPattern.littleEndian) { bytes += $0 } }
        b.update(bytes)
        XCTAssertEqual(a.finalize(), b.finalize())
    }
}
