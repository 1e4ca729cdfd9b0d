import FastJSON
import SoapCore
import SoapHTTP

#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// Structured log lines (JSON, one per line) on stderr.
public enum Log {
    public static func request(_ log: HTTPRequestLog) {
        var w = JSONWriter(capacity: 256)
        w.beginObject()
        w.key("time")
        w.string(timestamp())
        w.key("level")
        w.string(log.status >= 500 ? "error" : "info")
        w.key("method")
        w.string(log.method)
        w.key("path")
        w.string(String(log.path.prefix(200)))
        w.key("status")
        w.integer(log.status)
        w.key("bytes")
        w.integer(log.bytesSent)
        w.key("duration_ms")
        w.number((log.durationSeconds * 1e6).rounded() / 1e3)
        w.key("request_id")
        w.string(log.requestID)
        w.key("remote")
        w.string(log.remoteAddress)
        w.endObject()
        emit(w.bytes)
    }

    public static func message(_ level: String, _ text: String) {
        var w = JSONWriter(capacity: 128)
        w.beginObject()
        w.key("time")
        w.string(timestamp())
        w.key("level")
        w.string(level)
        w.key("message")
        w.string(text)
        w.endObject()
        emit(w.bytes)
    }

    static func emit(_ bytes: [UInt8]) {
        var line = bytes
        line.append(0x0A)
        line.withUnsafeBytes { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }

    static func timestamp() -> String { SystemClock.iso8601(SystemClock.wall(), milliseconds: true) }
}
