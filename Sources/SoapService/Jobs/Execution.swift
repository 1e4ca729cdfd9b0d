import FastJSON
import SoapCore
import SoapStorage
import Synchronization

/// A job being worked on: its chunks, which are left, and its progress.
final class Execution: @unchecked Sendable {
    let id: String
    let job: DecodedJob
    let directory: String
    /// Structure ranges of the chunks, fixed by the request alone (so a resumed run cuts
    /// the same chunks).
    let chunks: [Range<Int>]
    private let lock = Mutex<Progress>(Progress())

    struct Progress {
        var pending: [Int] = []
        var next = 0
        var running = 0
        var abandoned = false
        var errors: [JobError] = []
        /// The structures in `errors`: each is reported once.
        var reported: Set<Int> = []
        var atoms = 0
        var started = 0.0

        mutating func report(_ new: [JobError]) {
            for e in new where reported.insert(e.structure).inserted { errors.append(e) }
        }
    }

    init(id: String, job: DecodedJob, directory: String, chunkAtoms: Int, committed: Set<Int>, errors: [JobError]) {
        self.id = id
        self.job = job
        self.directory = directory
        var ranges: [Range<Int>] = []
        var first = 0
        var atoms = 0
        for (s, structure) in job.structures.enumerated() {
            atoms += structure?.count ?? 1
            if atoms >= chunkAtoms {
                ranges.append(first..<(s + 1))
                first = s + 1
                atoms = 0
            }
        }
        if first < job.structures.count { ranges.append(first..<job.structures.count) }
        chunks = ranges
        lock.withLock { p in
            p.pending = ranges.indices.filter { !committed.contains($0) }
            p.report(errors)
            p.started = SystemClock.monotonic()
        }
    }

    func takeChunk() -> Int? {
        lock.withLock { p in
            guard !p.abandoned, p.next < p.pending.count else { return nil }
            p.next += 1
            p.running += 1
            return p.pending[p.next - 1]
        }
    }

    /// Records a committed chunk; true when it was the job's last.
    func finishChunk(atoms: Int) -> Bool {
        lock.withLock { p in
            p.running -= 1
            p.atoms += atoms
            return !p.abandoned && p.next == p.pending.count && p.running == 0
        }
    }

    func abandon() { lock.withLock { $0.abandoned = true } }

    var isAbandoned: Bool { lock.withLock { $0.abandoned } }

    func errorsJSON() -> String { JobErrorList.encode(lock.withLock { $0.errors }) }

    func rates(done: Int, total: Int) -> (Double, Double?) {
        lock.withLock { p in
            let elapsed = max(SystemClock.monotonic() - p.started, 1e-6)
            let rate = Double(p.atoms) / elapsed
            let atomsLeft = Double(total - done) * (done > 0 ? Double(p.atoms) / Double(max(done, 1)) : 0)
            return (rate, rate > 0 && p.atoms > 0 ? atomsLeft / rate : nil)
        }
    }

    /// Featurizes the chunk's valid structures; a structure the featurizer refuses is
    /// isolated, reported and skipped (or fails the job with fail_fast).
    func compute(chunk: Int, featurizer: Featurizer) throws -> ChunkComputation.Result {
        let range = chunks[chunk]
        let members = range.compactMap { s in job.structures[s].map { (s, $0) } }
        let computed = try ChunkComputation.run(
            members, prepared: job.prepared,
            featurizer: featurizer, failFast: job.failFast)
        lock.withLock { $0.report(computed.errors) }
        return computed
    }

    /// The pointer of an error from a one-structure run ("/structures/0/…") renamed to the
    /// job's structure `s`; no pointer becomes "/structures/s", one elsewhere is kept.
    static func jobPointer(_ pointer: String, structure s: Int) -> String {
        if pointer.isEmpty { return "/structures/\(s)" }
        guard var p = JSONPointer(parsing: pointer), p.tokens.count >= 2, p.tokens[0] == "structures", p.tokens[1] == "0" else {
            return pointer
        }
        p.tokens[1] = String(s)
        return p.description
    }

    /// Writes the chunk file atomically (temporary file, fsync, rename); returns its size.
    func write(_ outcome: ChunkComputation.Result, chunk: Int) throws -> Int {
        try JobChunkFile.write(outcome.matrix, globalIndex: outcome.globalIndex, to: JobChunkFile.path(directory, chunk))
    }

    /// Column labels and sample names, written once per job so that a result whose
    /// structures all failed still has them.
    func writeLabels(features: FeatureService) throws {
        try JobChunkFile.writeLabels(job.prepared, featurizer: features.featurizer(threads: 1), directory: directory)
    }
}
