#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// The two clocks soapd reads: monotonic seconds for durations and deadlines, and
/// wall-clock seconds since 1970 (UTC) for timestamps, with their ISO 8601 form.
public enum SystemClock {
    public static func monotonic() -> Double { read(CLOCK_MONOTONIC) }

    public static func wall() -> Double { read(CLOCK_REALTIME) }

    /// "2026-11-25T20:18:12Z", or with milliseconds "2026-11-25T20:18:12.345Z".
    public static func iso8601(_ seconds: Double, milliseconds: Bool = false) -> String {
        let whole = seconds.rounded(.down)
        var t = time_t(whole)
        var parts = tm()
        gmtime_r(&t, &parts)
        func pad(_ v: Int32, _ n: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, n - s.count)) + s
        }
        let date =
            "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))"
        guard milliseconds else { return date + "Z" }
        return date + "." + pad(Int32(min(999, (seconds - whole) * 1000)), 3) + "Z"
    }

    private static func read(_ clock: clockid_t) -> Double {
        var ts = timespec()
        clock_gettime(clock, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}
