#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// File helpers over Glibc: directories, atomic writes, sections of files, threads.
public enum FileSystem {
    public struct Failure: Error, CustomStringConvertible { public var description: String }

    /// mkdir -p of the directory that will hold `path`.
    public static func createDirectories(forFile path: String) throws {
        guard let slash = path.lastIndex(of: "/") else { return }
        let directory = String(path[..<slash])
        var current = directory.hasPrefix("/") ? "" : "."
        for part in directory.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw Failure(description: "cannot create \(current): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Writes a file so that it is either absent, as before, or complete: a temporary file,
    /// flushed to disk, renamed over `path`. Each call has its own temporary name: two
    /// writers of the same path (two job workers loading the same job) used to share one,
    /// and the second rename failed with ENOENT.
    public static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        try writeAtomically(to: path) { put in try bytes.withUnsafeBytes(put) }
    }

    /// The same, with the content given piece by piece (straight from the caller's arrays).
    /// Returns the number of bytes written.
    @discardableResult
    public static func writeAtomically(to path: String,
                                       _ content: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws -> Int {
        // A name of its own, so concurrent writers of one path cannot take each other's file.
        let temporary = path + ".tmp-\(UInt64.random(in: 0...UInt64.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Failure(description: "cannot create \(temporary): \(String(cString: strerror(errno)))") }
        func abandon(_ what: String) -> Failure {
            let reason = String(cString: strerror(errno))
            close(fd)
            unlink(temporary)
            return Failure(description: "cannot \(what) \(temporary): \(reason)")
        }
        var total = 0
        do {
            try content { piece in
                var offset = 0
                while offset < piece.count {
                    let n = write(fd, piece.baseAddress! + offset, piece.count - offset)
                    if n < 0 && errno == EINTR { continue }
                    guard n > 0 else { throw abandon("write") }
                    offset += n
                }
                total += piece.count
            }
        } catch let failure as Failure {
            throw failure   // abandon() closed and removed the file
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        // Data only: the rename below is what makes the file visible.
        guard fdatasync(fd) == 0 else { throw abandon("flush") }
        close(fd)
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw Failure(description: "cannot rename \(temporary): \(reason)")
        }
        return total
    }

    /// The first `limit` bytes of a file (fewer if it is shorter).
    public static func readPrefix(_ path: String, upTo limit: Int) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(description: "cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var out = [UInt8](repeating: 0, count: limit)
        var filled = 0
        while filled < limit {
            let n = out.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + filled, limit - filled, off_t(filled)) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw Failure(description: "cannot read \(path): \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            filled += n
        }
        out.removeLast(limit - filled)
        return out
    }

    /// `count` values of T stored at `offset` (little-endian, as written), read straight into the array.
    public static func readSection<T>(_ path: String, offset: Int, count: Int, as: T.Type) throws -> [T] {
        let size = count * MemoryLayout<T>.stride
        guard count > 0 else { return [] }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(description: "cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var failure: Failure?
        let out = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            let raw = UnsafeMutableRawPointer(buffer.baseAddress!)
            var filled = 0
            while filled < size {
                let n = pread(fd, raw + filled, size - filled, off_t(offset + filled))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    failure = Failure(description: n == 0 ? "\(path) is truncated" : "cannot read \(path): \(String(cString: strerror(errno)))")
                    // Zero-fill so the array is initialised even on failure.
                    (raw + filled).initializeMemory(as: UInt8.self, repeating: 0, count: size - filled)
                    break
                }
                filled += n
            }
            initialized = count
        }
        if let failure { throw failure }
        return out
    }

    /// Removes a directory of files (one level, as a job's directory is).
    public static func removeTree(_ path: String) {
        if let dir = opendir(path) {
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
                }
                if name != "." && name != ".." { unlink(path + "/" + name) }
            }
            closedir(dir)
        }
        rmdir(path)
    }

    /// Runs `body` on a new thread of its own (not Dispatch's pool, so that its scheduling
    /// priority can be set).
    public static func startThread(_ body: @escaping @Sendable () -> Void) {
        final class Box { let body: @Sendable () -> Void; init(_ b: @escaping @Sendable () -> Void) { body = b } }
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            box.body()
            return nil
        }, box)
        if rc == 0 { pthread_detach(thread) } else { Unmanaged<Box>.fromOpaque(box).release() }
    }
}
