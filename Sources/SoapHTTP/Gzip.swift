import CZlib

public enum GzipError: Error, Sendable, Equatable {
    /// Not a valid gzip stream (bad header, bad deflate data, bad CRC, truncated, trailing garbage).
    case corruptData
    /// The inflated output would exceed the caller's limit (e.g. a gzip bomb).
    case limitExceeded
    /// zlib could not be initialised (out of memory).
    case zlibFailure(code: Int32)
}

/// One-shot gzip (RFC 1952) via zlib with the gzip wrapper (windowBits 15 + 16).
public enum Gzip {
    private static let gzipWindowBits: Int32 = 15 + 16
    private static let chunkSize = 64 * 1024

    /// Compresses `bytes` into a single gzip member. `level` is clamped to 0...9.
    public static func compress(_ bytes: [UInt8], level: Int32 = 6) -> [UInt8] {
        // With valid parameters zlib only fails when out of memory, which Swift treats as fatal anyway.
        guard let compressed = compressIfPossible(bytes, level: level) else {
            fatalError("zlib could not allocate a deflate stream")
        }
        return compressed
    }

    /// `compress`, or nil if zlib cannot start (out of memory). The server uses this one
    /// and falls back to an uncompressed response.
    static func compressIfPossible(_ bytes: [UInt8], level: Int32 = 6) -> [UInt8]? {
        var stream = z_stream()
        let level = min(max(level, 0), 9)
        let rc = deflateInit2_(
            &stream, level, Z_DEFLATED, gzipWindowBits, 8, Z_DEFAULT_STRATEGY,
            zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK else { return nil }
        defer { deflateEnd(&stream) }

        var output = [UInt8](repeating: 0, count: max(Int(deflateBound(&stream, uLong(bytes.count))), 64))
        var produced = 0
        var failed = false
        bytes.withUnsafeBufferPointer { input in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
            var remaining = input.count
            while true {
                // avail_in is 32-bit: feed very large inputs in slices.
                if stream.avail_in == 0 && remaining > 0 {
                    let slice = min(remaining, Int(UInt32.max / 2))
                    stream.avail_in = uInt(slice)
                    remaining -= slice
                }
                if produced == output.count {
                    output.append(contentsOf: repeatElement(0, count: output.count))
                }
                let flush = remaining == 0 ? Z_FINISH : Z_NO_FLUSH
                let status = output.withUnsafeMutableBufferPointer { out -> Int32 in
                    guard let base = out.baseAddress else { return Z_STREAM_ERROR }
                    let space = min(out.count - produced, Int(UInt32.max / 2))
                    stream.next_out = base + produced
                    stream.avail_out = uInt(space)
                    let status = deflate(&stream, flush)
                    produced += space - Int(stream.avail_out)
                    return status
                }
                if status == Z_STREAM_END { break }
                if status != Z_OK && status != Z_BUF_ERROR {
                    failed = true
                    break
                }
            }
        }
        if failed { return nil }
        output.removeSubrange(produced...)
        return output
    }

    /// Inflates a gzip stream (concatenated members allowed), never producing more than
    /// `limit` bytes: throws `GzipError.limitExceeded` as soon as the output would pass it,
    /// `GzipError.corruptData` on invalid or truncated input.
    public static func decompress(_ bytes: [UInt8], limit: Int) throws -> [UInt8] {
        guard !bytes.isEmpty else { throw GzipError.corruptData }
        var stream = z_stream()
        let rc = inflateInit2_(&stream, gzipWindowBits, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK else { throw GzipError.zlibFailure(code: rc) }
        defer { inflateEnd(&stream) }

        var output: [UInt8] = []
        output.reserveCapacity(min(limit, max(bytes.count * 4, chunkSize)))
        var scratch = [UInt8](repeating: 0, count: chunkSize)
        try bytes.withUnsafeBufferPointer { input in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
            var remaining = input.count
            while true {
                if stream.avail_in == 0 && remaining > 0 {
                    let slice = min(remaining, Int(UInt32.max / 2))
                    stream.avail_in = uInt(slice)
                    remaining -= slice
                }
                var produced = 0
                let status = scratch.withUnsafeMutableBufferPointer { out -> Int32 in
                    guard let base = out.baseAddress else { return Z_STREAM_ERROR }
                    stream.next_out = base
                    stream.avail_out = uInt(out.count)
                    let status = inflate(&stream, Z_NO_FLUSH)
                    produced = out.count - Int(stream.avail_out)
                    return status
                }
                if produced > 0 {
                    guard produced <= limit - output.count else { throw GzipError.limitExceeded }
                    output.append(contentsOf: scratch[0..<produced])
                }
                switch status {
                case Z_STREAM_END:
                    if stream.avail_in == 0 && remaining == 0 { return }
                    // Another gzip member follows (RFC 1952 §2.2).
                    guard inflateReset(&stream) == Z_OK else { throw GzipError.corruptData }
                case Z_OK:
                    continue
                case Z_BUF_ERROR:
                    // No progress possible with a full output buffer: input ended early.
                    throw GzipError.corruptData
                case Z_MEM_ERROR:
                    throw GzipError.zlibFailure(code: status)
                default:
                    throw GzipError.corruptData
                }
            }
        }
        return output
    }
}
