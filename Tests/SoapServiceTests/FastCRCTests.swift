import CFastCRC
import CZlib
import Foundation
import XCTest

/// The folding CRC-32 equals zlib's for every length and alignment around its block sizes,
/// with any start value, and chains like zlib's (crc(a ‖ b) = crc(crc(a), b)).
final class FastCRCTests: XCTestCase {
    func zlibCRC(_ start: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        UInt32(crc32(UInt(start), bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt32(bytes.count)))
    }

    func testEqualsZlibOnEveryLengthAndAlignment() throws {
        let random = try XCTUnwrap(FileHandle(forReadingAtPath: "/dev/urandom"))
        defer { try? random.close() }
        let data = [UInt8](random.readData(ofLength: 1 << 20))
        let lengths = Array(0...400) + [511, 512, 513, 1023, 4096, 65_535, 65_536 + 17, 1 << 19, (1 << 20) - 64]
        data.withUnsafeBytes { all in
            for offset in [0, 1, 3, 8, 15, 16, 33] {
                for n in lengths where offset + n <= all.count {
                    let piece = UnsafeRawBufferPointer(rebasing: all[offset..<(offset + n)])
                    for start: UInt32 in [0, 0xFFFF_FFFF, 0x1234_5678] {
                        let expected = zlibCRC(start, piece)
                        let got = soapd_crc32(start, piece.baseAddress, piece.count)
                        if got != expected {
                            XCTFail("length \(n), offset \(offset), start \(start): \(got) != \(expected)")
                            return
                        }
                    }
                }
            }
            // Chained in uneven pieces = at once.
            var chained: UInt32 = 0
            var at = 0
            for size in [100, 64, 1, 4096, 70_000, 300] {
                chained = soapd_crc32(chained, all.baseAddress! + at, size)
                at += size
            }
            XCTAssertEqual(chained, zlibCRC(0, UnsafeRawBufferPointer(rebasing: all[0..<at])))
        }
        #if arch(x86_64)
            // This machine kind has PCLMULQDQ: the test above exercised the folding path.
            XCTAssertEqual(soapd_crc32_is_folding(), 1)
        #endif
    }
}
