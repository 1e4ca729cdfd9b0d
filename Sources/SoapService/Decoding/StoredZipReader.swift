/// The entries of an uploaded .npz (a zip of stored, uncompressed members, as `numpy.savez`
/// writes): name → bytes, each checked against its CRC-32. Compressed members
/// (`numpy.savez_compressed`) are refused by name.
enum StoredZipReader {
    static func entries(_ zip: [UInt8]) throws(ServiceError) -> [String: [UInt8]] {
        func bad(_ message: String) -> ServiceError { ServiceError(.invalid, pointer: "", "npz upload: \(message)") }
        func u16(_ o: Int) throws(ServiceError) -> Int {
            guard o >= 0, o + 2 <= zip.count else { throw bad("truncated zip structure") }
            return Int(zip[o]) | Int(zip[o + 1]) << 8
        }
        func u32(_ o: Int) throws(ServiceError) -> Int {
            let low = try u16(o)
            return try low | u16(o + 2) << 16
        }
        // The end-of-central-directory record (no archive comment, as numpy writes).
        let end = zip.count - 22
        guard end >= 0, try u32(end) == 0x0605_4b50 else { throw bad("not a zip archive (or one with a comment)") }
        let count = try u16(end + 10)
        var c = try u32(end + 16)
        var files: [String: [UInt8]] = [:]
        for _ in 0..<count {
            guard try u32(c) == 0x0201_4b50 else { throw bad("broken central directory") }
            let nameLength = try u16(c + 28)
            guard c + 46 + nameLength <= zip.count else { throw bad("truncated zip structure") }
            let name = String(decoding: zip[(c + 46)..<(c + 46 + nameLength)], as: UTF8.self)
            guard try u16(c + 10) == 0 else {
                throw bad("\(name) is compressed; send numpy.savez (stored) archives")
            }
            let crc = try u32(c + 16)
            let size = try u32(c + 20)
            let offset = try u32(c + 42)
            guard try u32(offset) == 0x0403_4b50 else { throw bad("broken local header of \(name)") }
            let start = offset + 30 + (try u16(offset + 26)) + (try u16(offset + 28))
            guard start >= 0, start + size <= zip.count else { throw bad("\(name) is truncated") }
            let data = Array(zip[start..<(start + size)])
            let actual = data.withUnsafeBytes { Int(NumpyArchive.serialCRC(0, $0)) }
            guard actual == crc else { throw bad("\(name) fails its CRC-32") }
            files[name] = data
            c += 46 + nameLength + (try u16(c + 30)) + (try u16(c + 32))
        }
        return files
    }
}
