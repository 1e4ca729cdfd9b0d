import Foundation

/// Polls `condition` every 5 ms until it holds or `timeout` seconds pass; the last
/// evaluation decides. For effects that happen on other threads (a connection closed, a
/// budget returned), where a test must wait without sleeping a fixed time.
public func waitUntil(timeout: Double = 3, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        usleep(5_000)
    }
    return condition()
}
