/// Settings of the batch-job runner (Config keys `job_*`).
public struct JobSettings: Sendable {
    /// Threads that compute job chunks together, one chunk at a time, at a lower scheduling
    /// priority than interactive requests (writing and committing are left to one other
    /// thread, so these only compute: as many as cores).
    public var workers = 2
    /// Atoms per chunk: the unit of progress, of commit and of resumption.
    public var chunkAtoms = 2048
    /// Finished jobs (and their results) are removed this long after they ended.
    public var retentionSeconds = 7.0 * 86400
    /// Where chunk files live; one directory per job.
    public var directory = ""
    public var maxStructures = 1_000_000
    public init() {}
}
