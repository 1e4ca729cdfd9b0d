import SoapCore

/// Featurizes one chunk of (index, structure) pairs; structures the featurizer refuses are
/// found one by one and reported instead of failing the chunk (unless fail-fast).
enum ChunkComputation {
    struct Result {
        var matrix: FeatureMatrix?
        /// The job's index of each structure in `matrix`.
        var globalIndex: [Int32]
        var errors: [JobError]
        var atoms: Int
    }

    static func run(
        _ members: [(Int, Structure)], prepared: PreparedFeaturization, featurizer: Featurizer,
        failFast: Bool
    ) throws(ServiceError) -> Result {
        func compute(_ chunk: [(Int, Structure)]) throws(FeaturizationError) -> FeatureMatrix {
            try featurizer.compute(chunk.map(\.1), prepared)
        }
        var good = members
        var errors: [JobError] = []
        var matrix: FeatureMatrix? = nil
        if !members.isEmpty {
            do {
                matrix = try compute(members)
            } catch {
                good = []
                for member in members {
                    do {
                        _ = try compute([member])
                        good.append(member)
                    } catch let e {
                        let service = ServiceError(e)
                        let pointer = Execution.jobPointer(service.pointer, structure: member.0)
                        if failFast {
                            throw ServiceError(.invalid, pointer: pointer, "structure \(member.0): \(service.message)")
                        }
                        errors.append(JobError(structure: member.0, pointer: pointer, detail: service.message))
                    }
                }
                do { matrix = good.isEmpty ? nil : try compute(good) } catch { throw ServiceError(error) }
            }
        }
        return Result(
            matrix: matrix, globalIndex: good.map { Int32($0.0) }, errors: errors,
            atoms: good.reduce(0) { $0 + $1.1.count })
    }
}
