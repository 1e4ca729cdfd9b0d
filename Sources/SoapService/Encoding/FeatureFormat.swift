/// Response formats of POST /v1/features, chosen by `Accept`.
public enum FeatureFormat: String, Sendable {
    case json = "application/json"
    case npz = "application/x-npz"
    case npy = "application/x-npy"
}
