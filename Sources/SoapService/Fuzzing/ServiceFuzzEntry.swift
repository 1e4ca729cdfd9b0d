import FastJSON
import SoapCore
import SoapHTTP

/// Entry point for the libFuzzer target Fuzz/json.swift (and its regression tests): a request
/// body through the JSON reader and every request decoder that runs before any storage or
/// computation, checking invariants with `precondition` so that a violated one is a crash
/// the fuzzer reports.
public enum ServiceFuzzEntry {
    private static let service = FeatureService()

    /// Limits small enough that short inputs reach every limit check.
    static let tinyJSON = JSONLimits(maxDepth: 4, maxStringBytes: 16, maxBytes: 2048, maxArrayCount: 8, maxObjectCount: 8)
    static let tinyRequest: RequestLimits = {
        var l = RequestLimits()
        l.maxStructures = 3
        l.maxAtomsPerStructure = 4
        l.maxAtomsTotal = 6
        l.maxAngular = 3
        l.maxRadial = 4
        return l
    }()

    /// Parses `bytes` as the server does, then decodes the value as each kind of request body:
    /// POST /v1/features, /v1/datasets, /v1/datasets/{id}/structures, /v1/bases, /v1/jobs.
    ///  - a JSON error is a 400 or 413 whose position lies inside the input;
    ///  - what parses serializes and parses back to an equal value;
    ///  - every decoder refusal is a 4xx whose problem+json document is itself valid JSON;
    ///  - what decodes respects the configured limits.
    /// Returns one line per step (for tests).
    @discardableResult
    public static func decodeRequests(_ bytes: [UInt8]) -> [String] {
        var log: [String] = []
        _ = parse(bytes, limits: tinyJSON)
        guard let value = parse(bytes, limits: service.settings.jsonLimits) else {
            do {
                _ = try service.parse(bytes)
                preconditionFailure("FeatureService.parse accepted what JSON.parse refused")
            } catch { check(error, "json", &log) }
            return log
        }
        for limits in [RequestLimits(), tinyRequest] {
            decode("features", &log) { () throws(ServiceError) in
                let request = try FeatureRequestDecoder(limits: limits).decode(value)
                try checkStructures(request.structures, limits: limits)
                if let hypers = request.hypers {
                    precondition(hypers.maxAngular <= limits.maxAngular && hypers.maxRadial <= limits.maxRadial)
                    precondition(!hypers.radialTableKey.isEmpty)
                    precondition(!request.species.isEmpty && request.species == request.species.sorted())
                } else {
                    precondition(request.basisID != nil)
                }
            }
            decode("dataset", &log) { () throws(ServiceError) in
                let (hypers, species, _) = try DatasetService.decodeDataset(value, limits: limits)
                precondition(hypers.maxAngular <= limits.maxAngular && !species.isEmpty)
            }
            decode("batch", &log) { () throws(ServiceError) in
                let (structures, targets, _) = try DatasetService.decodeBatch(value, limits: limits)
                try checkStructures(structures, limits: limits)
                if let targets { precondition(targets.count == structures.count && targets.allSatisfy(\.isFinite)) }
            }
            decode("fit", &log) { () throws(ServiceError) in
                let options = try BasisService.decodeFit(value, limits: limits)
                if let q = options.q { precondition(q >= 1) }
            }
            decode("job", &log) { () throws(ServiceError) in
                let job = try JobService.decodeJobRequest(value, requestLimits: limits, maxStructures: limits.maxStructures)
                precondition(job.datasetID != nil || (!job.items.isEmpty && job.items.count <= limits.maxStructures))
                let (structures, errors) = JobService.decodeJobStructures(
                    job.items, decoder: job.decoder,
                    species: job.settings.species)
                precondition(structures.count == job.items.count)
                precondition(structures.filter { $0 == nil }.count == errors.count)
                for e in errors {
                    let tokens = JSONPointer(parsing: e.pointer)?.tokens ?? []
                    precondition(tokens.starts(with: ["structures", String(e.structure)]), "job error pointer \(e.pointer)")
                    precondition(structures[e.structure] == nil)
                }
                _ = JobErrorList.decode(JobErrorList.encode(errors))
            }
        }
        return log
    }

    /// JSON.parse with `limits`; a refusal must point inside the input.
    private static func parse(_ bytes: [UInt8], limits: JSONLimits) -> JSONValue? {
        do {
            let value = try JSON.parse(bytes, limits: limits)
            let text = JSON.serialize(value)
            do {
                let again = try JSON.parse(
                    text, limits: JSONLimits(maxDepth: limits.maxDepth, maxStringBytes: limits.maxStringBytes))
                precondition(again == value, "serialize/parse round trip differs")
            } catch {
                preconditionFailure("serialized JSON does not parse: \(error)")
            }
            return value
        } catch {
            precondition(error.offset >= 0 && error.offset <= bytes.count, "error offset \(error.offset) outside the input")
            precondition(error.line >= 1 && error.column >= 1 && !error.message.isEmpty)
            return nil
        }
    }

    private static func decode(_ name: String, _ log: inout [String], _ body: () throws(ServiceError) -> Void) {
        do {
            try body()
            log.append("\(name) ok")
        } catch {
            check(error, name, &log)
        }
    }

    /// A decoding error is the client's (4xx), names a JSON pointer and renders as valid problem+json.
    private static func check(_ error: ServiceError, _ name: String, _ log: inout [String]) {
        precondition((400...499).contains(error.status), "\(name): status \(error.status) for \(error)")
        precondition(
            JSONPointer(parsing: error.pointer) != nil, "\(name): invalid JSON pointer \(error.pointer.debugDescription)")
        guard case .bytes(let document) = Application.problem(error).body,
            case .object(let o)? = try? JSON.parse(document),
            o["status"]?.intValue == error.status
        else {
            preconditionFailure("\(name): the problem document of \(error) is not valid JSON")
        }
        log.append("\(name) \(error.status) \(error.pointer)")
    }

    private static func checkStructures(_ structures: [Structure], limits: RequestLimits) throws(ServiceError) {
        precondition(structures.count <= limits.maxStructures)
        precondition(structures.reduce(0) { $0 + $1.count } <= limits.maxAtomsTotal)
        for (index, s) in structures.enumerated() {
            precondition(s.count <= limits.maxAtomsPerStructure && s.positions.count == 3 * s.count)
            // What the Featurizer checks before computing: it must refuse, never trap.
            do { try s.validate(index: index) } catch { throw ServiceError(FeaturizationError.structure(error)) }
        }
    }
}
