import Dispatch
import SoapCore
import SoapHTTP

/// POST /v1/features: the interactive featurization, answered whole or (per-atom binary
/// values) streamed row by row while they are computed.
extension Application {
    func postFeatures(_ request: HTTPRequest) -> HTTPResponse {
        if let problem = Self.requireJSONBody(request) { return problem }
        let format: FeatureFormat
        switch Self.negotiate(request.headers["Accept"], offered: [.json, .npz, .npy]) {
        case .some(let f): format = f
        case .none:
            return Self.problem(
                ServiceError(
                    .notAcceptable,
                    "this route answers application/json, application/x-npz or application/x-npy"))
        }
        do {
            let prepared = try features.prepare(request.body)
            let gzip = request.acceptsGzip
            // A ragged basis's rows are final only after its padding columns go: not streamed.
            if format != .json && !gzip && prepared.request.level == .atom && !prepared.request.gradients
                && !prepared.request.strain && !prepared.basis.isRagged
            {
                return try streamFeatures(prepared, format: format)
            }
            let matrix = try features.compute(prepared, textOutput: format == .json)
            metrics.recordFeaturized(atoms: prepared.atomCount, structures: prepared.request.structures.count)
            // Binary answers go out straight from the arrays unless the client wants them gzipped.
            if !gzip,
                let binary = FeatureResponseEncoder.binaryWriter(matrix, format: format, basisID: prepared.basisID)
            {
                return HTTPResponse(
                    contentType: format.rawValue,
                    body: .sized(length: binary.size) { writer in
                        // The budget's share is returned once the bytes are sent.
                        try withExtendedLifetime(matrix) { try binary.write { try writer.write($0) } }
                    })
            }
            let body = FeatureResponseEncoder.encode(
                matrix, format: format, basisID: prepared.basisID,
                threads: features.settings.threads)
            return HTTPResponse(status: 200, contentType: format.rawValue, body: body)
        } catch {
            return Self.problem(error)
        }
    }

    /// Per-atom values in a binary format: the computation runs on other threads while this
    /// one sends each row once it is final, so sending overlaps computing. Every check on the
    /// input happens before the values exist, so a refusal is still a problem document; only
    /// a failure midway (the time limit) cuts the answer short.
    func streamFeatures(_ prepared: PreparedFeaturization, format: FeatureFormat) throws(ServiceError) -> HTTPResponse {
        let progress = RowProgress()
        let features = self.features
        DispatchQueue.global().async {
            do { progress.finish(try features.compute(prepared, progress: progress)) } catch { progress.fail(error) }
        }
        if case .failed(let error) = progress.waitForStart() {
            throw error as? ServiceError ?? ServiceError(.internal, "\(error)")
        }
        metrics.recordFeaturized(atoms: prepared.atomCount, structures: prepared.request.structures.count)
        guard
            let binary = FeatureResponseEncoder.streamingWriter(
                progress, structures: prepared.request.structures,
                format: format, basisID: prepared.basisID)
        else {
            throw ServiceError(.internal, "no streaming writer for \(format.rawValue)")
        }
        return HTTPResponse(
            contentType: format.rawValue,
            body: .sized(length: binary.size) { writer in
                try binary.write { try writer.write($0) }
            })
    }
}
