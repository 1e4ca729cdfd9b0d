#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// The system BLAS as soapd uses it. soapd parallelises above BLAS (its own threads call it
/// concurrently), so a threaded BLAS — OpenBLAS's pthread build, which Debian's alternatives
/// give `libblas.so.3` when it is installed — must run each call on the calling thread, or
/// its pool and ours oversubscribe the cores. Reference BLAS has no threads to limit.
public enum BLAS {
    /// Touched before BLAS calls; the first touch limits OpenBLAS to the calling thread.
    static let ready: Bool = {
        guard let symbol = dlsym(nil, "openblas_set_num_threads") else { return false }
        unsafeBitCast(symbol, to: (@convention(c) (Int32) -> Void).self)(1)
        return true
    }()

    /// What the process runs on, for the start-up log: OpenBLAS's configuration or "reference".
    public static var description: String {
        _ = ready
        guard let symbol = dlsym(nil, "openblas_get_config"),
            let text = unsafeBitCast(symbol, to: (@convention(c) () -> UnsafePointer<CChar>?).self)()
        else {
            return "reference BLAS/LAPACK"
        }
        return String(cString: text)
    }
}
