/// Threads to run parallel loops on instead of Dispatch's shared pool: a caller that wants
/// the work on threads of its own (the batch-job runner's, at a lower scheduling priority)
/// passes one to the Featurizer.
public protocol ForkJoinExecutor: Sendable {
    /// Bodies it can run at once (the calling thread included).
    var width: Int { get }
    /// Runs body(0) … body(count − 1) concurrently, count ≤ width, one on the calling
    /// thread, and returns when all have returned.
    func forkJoin(_ count: Int, _ body: (Int) -> Void)
}
