/// Why a selection stopped without an answer.
public enum AnalysisError: Error, Equatable {
    /// `shouldStop` answered true (the caller's time limit).
    case stopped
    /// LAPACK failed on a singular value decomposition.
    case decomposition
}
