import FastJSON
import SoapCore

/// `soapd featurize` for inputs larger than memory: structures arrive one JSON line at a
/// time and are featurized in chunks written to a scratch directory; the .npz is then
/// written from those files (one chunk in memory at a time), like a job's result.
public final class StreamingFeaturizer {
    let features: FeatureService
    let prepared: PreparedFeaturization
    let decoder: FeatureRequestDecoder
    let directory: String
    let chunkAtoms: Int
    let failFast: Bool
    private var pending: [(Int, Structure)] = []
    private var pendingAtoms = 0
    private var chunks = 0
    public private(set) var structuresSeen = 0
    public private(set) var atomsDone = 0
    /// Per-structure problems as JSON lines ({"structure", "pointer", "detail"}), for stderr.
    public var onError: (String) -> Void = { _ in }

    /// `settings` is a /v1/features body without structures (descriptor, per, gradients).
    public init(
        features: FeatureService, settings: [UInt8], directory: String, chunkAtoms: Int,
        failFast: Bool
    ) throws(ServiceError) {
        let value = try features.parse(settings)
        guard case .object(let o) = value else { throw ServiceError(.invalid, pointer: "", "expected a JSON object") }
        if o["structures"] != nil {
            throw ServiceError(
                .invalid, pointer: "/structures", "give structures as JSON lines in --structures, not in the request")
        }
        var withStructures = Array(o.map { ($0.key, $0.value) })
        withStructures.append(("structures", .array([])))
        decoder = FeatureRequestDecoder(limits: features.settings.requestLimits)
        let request = try decoder.decode(.object(JSONObject(uniqueKeysWithValues: withStructures)))
        if request.strain {
            throw ServiceError(
                .invalid, pointer: "/gradients", "strain gradients are not available when streaming to chunk files")
        }
        prepared = try features.prepare(request)
        self.features = features
        self.directory = directory
        self.chunkAtoms = max(1, chunkAtoms)
        self.failFast = failFast
        do { try FileSystem.createDirectories(forFile: directory + "/labels.bin") } catch {
            throw ServiceError(.internal, "\(error)")
        }
    }

    /// Adds one structure (a JSON line); featurizes a chunk when enough atoms are waiting.
    public func add(line: [UInt8]) throws(ServiceError) {
        let index = structuresSeen
        structuresSeen += 1
        do throws(ServiceError) {
            let value = try features.parse(line)
            let structure = try decoder.decodeStructure(value, at: "/structures/\(index)")
            pending.append((index, structure))
            pendingAtoms += structure.count
        } catch {
            if failFast { throw error }
            report(JobError(structure: index, pointer: error.pointer, detail: error.message))
        }
        if pendingAtoms >= chunkAtoms { try flush() }
    }

    /// Featurizes what is waiting, then writes the .npz through `sink`.
    public func finish(_ sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        try flush()
        try JobChunkFile.writeLabels(prepared, featurizer: features.featurizer(), directory: directory)
        try JobResult(directory: directory, chunks: Array(0..<chunks)).archive().writeNPZ(to: sink)
    }

    func flush() throws(ServiceError) {
        guard !pending.isEmpty else { return }
        let computed = try ChunkComputation.run(
            pending, prepared: prepared, featurizer: features.featurizer(), failFast: failFast)
        for e in computed.errors { report(e) }
        do {
            try JobChunkFile.write(computed.matrix, globalIndex: computed.globalIndex, to: JobChunkFile.path(directory, chunks))
        } catch {
            throw ServiceError(.insufficientStorage, "cannot write to \(directory): \(error)")
        }
        chunks += 1
        atomsDone += computed.atoms
        pending.removeAll(keepingCapacity: true)
        pendingAtoms = 0
    }

    func report(_ e: JobError) {
        var w = JSONWriter(capacity: 128)
        JobErrorList.write(e, to: &w)
        onError(String(decoding: w.bytes, as: UTF8.self))
    }

    /// Removes the scratch directory.
    public func cleanUp() { FileSystem.removeTree(directory) }
}
