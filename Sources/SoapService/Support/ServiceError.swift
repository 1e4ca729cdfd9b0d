import SoapCore
import SoapStorage

/// Everything a request can fail with, as values; the HTTP edge maps them to
/// RFC 9457 problem documents and the CLI to one line on stderr.
public struct ServiceError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case malformed  // not JSON, or not the JSON shape expected → 400
        case invalid  // well-formed, but a value is out of range or unsupported → 422
        case tooLarge  // over a configured limit → 413 / 422
        case notFound  // → 404
        case conflict  // → 409
        case notAcceptable  // no offered media type matches Accept → 406
        case unavailable  // → 503
        case timeout  // → 504
        case insufficientStorage  // → 507
        case peerFailed  // another replica answered garbage, hung or failed → 502
        case `internal`  // → 500
    }
    public var kind: Kind
    /// RFC 6901 JSON pointer to the offending field ("" for the whole body).
    public var pointer: String
    public var message: String

    public init(_ kind: Kind, pointer: String = "", _ message: String) {
        self.kind = kind
        self.pointer = pointer
        self.message = message
    }

    public var status: Int {
        switch kind {
        case .malformed: return 400
        case .invalid: return 422
        case .tooLarge: return 413
        case .notFound: return 404
        case .conflict: return 409
        case .unavailable: return 503
        case .notAcceptable: return 406
        case .timeout: return 504
        case .insufficientStorage: return 507
        case .peerFailed: return 502
        case .internal: return 500
        }
    }

    public var title: String {
        switch kind {
        case .malformed: return "Malformed request"
        case .invalid: return "Invalid request"
        case .tooLarge: return "Request too large"
        case .notFound: return "Not found"
        case .conflict: return "Conflict"
        case .unavailable: return "Service unavailable"
        case .notAcceptable: return "Not acceptable"
        case .timeout: return "Computation timed out"
        case .insufficientStorage: return "Insufficient storage"
        case .peerFailed: return "Bad gateway"
        case .internal: return "Internal error"
        }
    }

    public var description: String { pointer.isEmpty ? message : "\(pointer): \(message)" }

    /// Maps the core's typed errors onto request fields; `structures` is where the
    /// structures sit in the request.
    public init(_ error: FeaturizationError, structures: String = "/structures") {
        switch error {
        case .structure(let e):
            self.init(.invalid, pointer: "\(structures)/\(e.structure)/\(e.field)", e.message)
        case .unknownSpecies(let s, let a, let z):
            let symbol = Elements.isKnown(z) ? " (\(Elements.symbols[z - 1]))" : ""
            self.init(
                .invalid, pointer: "\(structures)/\(s)/numbers/\(a)",
                "atomic number \(z)\(symbol) is not in descriptor.species")
        case .invalidSpecies(let m):
            self.init(.invalid, pointer: "/descriptor/species", m)
        case .tooManyPairs(let s, let estimate, let limit):
            self.init(
                .tooLarge, pointer: "\(structures)/\(s)",
                "about \(estimate) neighbour pairs within the cutoff, above the limit of \(limit)")
        case .outputTooLarge(let values, let limit):
            self.init(.tooLarge, "the output would hold \(values) numbers, above the limit of \(limit); split the request")
        case .maxAngularTooLarge(let type, let maxAngular, let limit):
            self.init(
                .invalid, pointer: "/descriptor/hypers/basis/max_angular",
                "\(type.rawValue) supports max_angular up to \(limit), not \(maxAngular)")
        case .overBudget(let bytes, let limit):
            self.init(
                .tooLarge,
                "the output needs about \(bytes) bytes, above the memory budget of \(limit) bytes; "
                    + "split the request or submit it as a job (POST /v1/jobs)")
        case .budgetBusy(let bytes, let available):
            self.init(
                .unavailable,
                "the output needs about \(bytes) bytes and only \(available) are free in the memory budget "
                    + "while other requests run; retry shortly")
        case .deadlineExceeded(let seconds):
            self.init(
                .timeout,
                "the computation took longer than the limit of \(seconds) s and was stopped; "
                    + "split the request or submit it as a job (POST /v1/jobs)")
        case .multispectrum(let e):
            switch e {
            case .correlationOrder: self.init(.invalid, pointer: "/descriptor/correlation_order", e.description)
            case .lambda: self.init(.invalid, pointer: "/descriptor/o3_lambda", e.description)
            case .contractionMismatch: self.init(.invalid, pointer: "/descriptor/basis_id", e.description)
            }
        case .outputGradientShape(let rows, let columns, let count):
            self.init(
                .invalid, pointer: "/output_gradient",
                "must be \(rows) rows × \(columns) columns (the shape of the features' values), got \(count) numbers")
        case .outputGradientNotFinite(let row, let column):
            self.init(.invalid, pointer: "/output_gradient/\(row)/\(column)", "must be a finite number")
        }
    }
}

extension ServiceError {
    /// A storage failure: 507 when the disk is full, 500 otherwise.
    init(storage error: Error) {
        if let e = error as? StorageError {
            self.init(e.isFull ? .insufficientStorage : .internal, "storage: \(e)")
        } else {
            self.init(.internal, "storage: \(error)")
        }
    }
}

/// Runs a storage call: service errors pass through, the rest become storage errors.
func storage<T>(_ body: () throws -> T) throws(ServiceError) -> T {
    do { return try body() } catch let error as ServiceError { throw error } catch { throw ServiceError(storage: error) }
}
