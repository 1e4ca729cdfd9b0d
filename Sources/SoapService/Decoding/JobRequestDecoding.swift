import FastJSON
import SoapCore

/// A job's request, decoded: the featurization settings and each structure (nil where
/// it could not be decoded or validated, with the reason in `errors`).
struct DecodedJob {
    var prepared: PreparedFeaturization
    var structures: [Structure?]
    var errors: [JobError]
    var failFast: Bool
    /// For a job over a dataset named without a version: the request with the version it saw.
    var pinnedRequest: [UInt8]? = nil
}

/// Decoding of POST /v1/jobs bodies: the request is checked whole before it is kept, and
/// structures are decoded one by one so a bad one is reported rather than refusing the lot.
extension JobService {
    /// The request of a job: the /v1/features body (structures inline, or `dataset_id` of a
    /// dataset that keeps its structures), plus `fail_fast`; structures are decoded one by
    /// one so that a bad one is reported (and skipped) rather than refusing the lot.
    func decodeJob(_ body: [UInt8]) throws(ServiceError) -> DecodedJob {
        let value = try features.parse(body)
        var request = try Self.decodeJobRequest(
            value, requestLimits: features.settings.requestLimits,
            maxStructures: settings.maxStructures)
        var pinnedRequest: [UInt8]? = nil
        if let datasetID = request.datasetID {
            guard let datasetStructures else { throw ServiceError(.unavailable, "this service keeps no datasets") }
            let (stored, version) = try datasetStructures(datasetID, request.datasetVersion)
            try Self.checkCount(stored.count, maxStructures: settings.maxStructures)
            request.items = stored
            if request.datasetVersion == nil, case .object(let original) = value {
                var w = JSONWriter(capacity: body.count + 32)
                w.value(
                    .object(
                        JSONObject(
                            uniqueKeysWithValues: original.map { ($0.key, $0.value) }
                                + [("dataset_version", .number(Double(version)))])))
                pinnedRequest = w.bytes
            }
        }
        let prepared = try features.prepare(request.settings)
        let (structures, errors) = Self.decodeJobStructures(
            request.items, decoder: request.decoder,
            species: prepared.request.species)
        return DecodedJob(
            prepared: prepared, structures: structures, errors: errors, failFast: request.failFast,
            pinnedRequest: pinnedRequest)
    }

    /// A job request before anything is computed: the /v1/features settings (with no
    /// structures), the raw structure items (or the dataset to read them from), `fail_fast`.
    struct JobRequest {
        var settings: FeatureRequest
        var items: [JSONValue]
        var datasetID: String?
        var datasetVersion: Int?
        var failFast: Bool
        var decoder: FeatureRequestDecoder
    }

    static func checkCount(_ count: Int, maxStructures: Int) throws(ServiceError) {
        guard count <= maxStructures else {
            throw ServiceError(.tooLarge, pointer: "/structures", "\(count) structures, above the job limit of \(maxStructures)")
        }
        guard count > 0 else { throw ServiceError(.invalid, pointer: "/structures", "a job needs at least one structure") }
    }

    /// The request decoding of `decodeJob` (pure: no storage, no computation; the fuzzers call it too).
    static func decodeJobRequest(
        _ value: JSONValue, requestLimits: RequestLimits,
        maxStructures: Int
    ) throws(ServiceError) -> JobRequest {
        guard case .object(let original) = value else { throw ServiceError(.invalid, pointer: "", "expected a JSON object") }
        var failFast = false
        if let f = original["fail_fast"] { failFast = try Field.bool(f, "/fail_fast") }
        var items: [JSONValue] = []
        var datasetID: String? = nil
        var datasetVersion: Int? = nil
        if let dataset = original["dataset_id"] {
            guard original["structures"] == nil else {
                throw ServiceError(.invalid, pointer: "/dataset_id", "give structures or dataset_id, not both")
            }
            datasetID = try Field.string(dataset, "/dataset_id")
            datasetVersion = try original["dataset_version"].map { v throws(ServiceError) in
                try Field.integer(v, "/dataset_version")
            }
        } else {
            if original["dataset_version"] != nil {
                throw ServiceError(.invalid, pointer: "/dataset_version", "applies with dataset_id only")
            }
            items = try Field.array(try Field.required(original, "structures", at: ""), "/structures")
            try checkCount(items.count, maxStructures: maxStructures)
        }
        // Everything but the structures, through the /v1/features decoder.
        let jobOnly: Set<String> = ["fail_fast", "dataset_id", "dataset_version", "structures"]
        let settingsOnly = JSONObject(
            uniqueKeysWithValues: original.filter { !jobOnly.contains($0.key) }
                .map { ($0.key, $0.value) } + [("structures", JSONValue.array([]))])
        var limits = requestLimits
        limits.maxStructures = maxStructures
        let decoder = FeatureRequestDecoder(limits: limits)
        let request = try decoder.decode(.object(settingsOnly))
        // Job chunk files hold values and position gradients only (issue 14 leaves jobs' strain for later).
        if request.strain {
            throw ServiceError(
                .invalid, pointer: "/gradients", "strain gradients are not available in jobs yet; use POST /v1/features")
        }
        return JobRequest(
            settings: request, items: items, datasetID: datasetID, datasetVersion: datasetVersion,
            failFast: failFast, decoder: decoder)
    }

    /// Each structure of a job decoded and validated on its own: a bad one is reported
    /// (and skipped) rather than refusing the lot.
    static func decodeJobStructures(
        _ items: [JSONValue], decoder: FeatureRequestDecoder,
        species: [Int]
    ) -> ([Structure?], [JobError]) {
        var structures: [Structure?] = []
        structures.reserveCapacity(items.count)
        var errors: [JobError] = []
        let slots = Set(species)
        for (index, item) in items.enumerated() {
            do throws(ServiceError) {
                let s = try decoder.decodeStructure(item, at: "/structures/\(index)")
                do { try s.validate(index: index) } catch { throw ServiceError(FeaturizationError.structure(error)) }
                if let k = s.numbers.firstIndex(where: { !slots.contains($0) }) {
                    throw ServiceError(
                        .invalid, pointer: "/structures/\(index)/numbers/\(k)",
                        "atomic number \(s.numbers[k]) is not in descriptor.species")
                }
                structures.append(s)
            } catch {
                errors.append(
                    JobError(
                        structure: index, pointer: error.pointer.isEmpty ? "/structures/\(index)" : error.pointer,
                        detail: error.message))
                structures.append(nil)
            }
        }
        return (structures, errors)
    }
}
