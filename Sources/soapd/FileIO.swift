import FastJSON
import SoapCore
import SoapService
import SoapStorage

#if canImport(Glibc)
    import Glibc
    import Foundation
#else
    import Darwin
#endif

/// Whole-file reads and writes with Glibc ("-" is stdin / stdout).
enum FileIO {
    struct Failure: Error, CustomStringConvertible { var description: String }

    static func read(_ path: String) throws -> [UInt8] {
        let fd = path == "-" ? STDIN_FILENO : open(path, O_RDONLY)
        guard fd >= 0 else { throw Failure(description: String(cString: strerror(errno))) }
        defer { if path != "-" { close(fd) } }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Failure(description: String(cString: strerror(errno)))
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }

    static func write(_ chunks: [[UInt8]], to path: String) throws {
        let fd = path == "-" ? STDOUT_FILENO : open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw Failure(description: String(cString: strerror(errno))) }
        defer { if path != "-" { close(fd) } }
        for bytes in chunks { try write(bytes, fd: fd) }
    }

    /// Calls `body` with each line of a file ("-": stdin), without the newline; memory holds
    /// one block and the current line.
    static func forEachLine(_ path: String, _ body: ([UInt8]) throws -> Void) throws {
        let fd = path == "-" ? STDIN_FILENO : open(path, O_RDONLY)
        guard fd >= 0 else { throw Failure(description: "cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { if path != "-" { close(fd) } }
        var block = [UInt8](repeating: 0, count: 1 << 20)
        var line: [UInt8] = []
        while true {
            let n = block.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Failure(description: String(cString: strerror(errno)))
            }
            if n == 0 { break }
            var start = 0
            for i in 0..<n where block[i] == 0x0A {
                line.append(contentsOf: block[start..<i])
                try body(line)
                line.removeAll(keepingCapacity: true)
                start = i + 1
            }
            line.append(contentsOf: block[start..<n])
        }
        if !line.isEmpty { try body(line) }
    }

    static func write(_ bytes: UnsafeRawBufferPointer, fd: Int32) throws {
        guard bytes.count > 0 else { return }
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw Failure(description: String(cString: strerror(errno)))
            }
            offset += n
        }
    }

    static func write(_ bytes: [UInt8], fd: Int32) throws {
        try bytes.withUnsafeBytes { try write($0, fd: fd) }
    }
}
