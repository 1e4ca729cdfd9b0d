import Foundation

/// Fresh scratch directories for tests: a unique name under the system's temporary
/// directory (the prefix says which test made it), so tests run in parallel or again
/// never see each other's files.
///
/// Removal is explicit (`remove`, usually in a `defer` or `tearDown`) rather than tied to
/// an object's lifetime: Swift may release an object after its last use, which would
/// delete a directory a spawned server is still writing to.
public enum TemporaryDirectory {
    /// The path of a new unique directory; created unless `create` is false (for tests
    /// that check a program creates it).
    public static func make(_ prefix: String = "soapd-tests", create: Bool = true) throws -> String {
        let path = NSTemporaryDirectory() + "\(prefix)-\(getpid())-\(UUID().uuidString.prefix(8))"
        if create { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        return path
    }

    /// Removes `path` and everything under it; a missing path is not an error.
    public static func remove(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }
}
