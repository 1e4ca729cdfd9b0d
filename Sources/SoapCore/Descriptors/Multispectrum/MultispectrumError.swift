/// Why a multispectrum cannot be computed with these options.
public enum MultispectrumError: Error, Equatable, Sendable, CustomStringConvertible {
    case correlationOrder(Int)
    case lambda(Int)
    case contractionMismatch(String)
    public var description: String {
        switch self {
        case .correlationOrder(let n):
            return "correlation_order must be between 2 and \(DescriptorOptions.maxCorrelationOrder), not \(n)"
        case .lambda(let l): return "o3_lambda must be between 0 and 2·max_angular, not \(l)"
        case .contractionMismatch(let m): return m
        }
    }
}
