import XCTest

@testable import FastJSON

final class PointerTests: XCTestCase {
    func testDescriptionEscapes() {
        XCTAssertEqual(JSONPointer.root.description, "")
        XCTAssertEqual(
            JSONPointer.root.appending("structures").appending(3).appending("positions").description,
            "/structures/3/positions")
        XCTAssertEqual(JSONPointer(tokens: ["a/b", "m~n", "", "~/~1"]).description, "/a~1b/m~0n//~0~1~01")
        XCTAssertEqual(JSONPointer(tokens: ["a", "b"]).parent, JSONPointer(tokens: ["a"]))
        XCTAssertNil(JSONPointer.root.parent)
    }

    func testParsing() {
        XCTAssertEqual(JSONPointer(parsing: ""), .root)
        XCTAssertEqual(JSONPointer(parsing: "/")?.tokens, [""])
        XCTAssertEqual(JSONPointer(parsing: "/a~1b/m~0n//~0~1~01")?.tokens, ["a/b", "m~n", "", "~/~1"])
        XCTAssertEqual(JSONPointer(parsing: "/é/😀")?.tokens, ["é", "😀"])
        XCTAssertNil(JSONPointer(parsing: "a/b"))
        XCTAssertNil(JSONPointer(parsing: "/a~2"))
        XCTAssertNil(JSONPointer(parsing: "/a~"))
        for text in ["/structures/3/positions", "/a~1b/~0", "/"] {
            XCTAssertEqual(JSONPointer(parsing: text)?.description, text)
        }
    }

    /// The RFC 6901 §5 example document.
    func testResolution() throws {
        let doc = try JSON.parse(
            #"""
            {"foo": ["bar", "baz"], "": 0, "a/b": 1, "c%d": 2, "e^f": 3, "g|h": 4, "i\\j": 5, "k\"l": 6, " ": 7, "m~n": 8}
            """#)
        let expectations: [(String, JSONValue?)] = [
            ("", doc), ("/foo", ["bar", "baz"]), ("/foo/0", "bar"), ("/", 0), ("/a~1b", 1), ("/c%d", 2), ("/e^f", 3),
            ("/g|h", 4), ("/i\\j", 5), ("/k\"l", 6), ("/ ", 7), ("/m~0n", 8),
            ("/foo/2", nil), ("/foo/01", nil), ("/foo/-1", nil), ("/foo/x", nil), ("/missing", nil), ("/foo/0/x", nil),
        ]
        for (text, expected) in expectations {
            let pointer = try XCTUnwrap(JSONPointer(parsing: text), text)
            XCTAssertEqual(doc[pointer], expected, text)
        }
    }
}
