import Dispatch
import Synchronization

/// The rows of a computation that are final so far (chunks of centres finish out of order;
/// the rows up to the first unfinished chunk are final). Set up by the featurizer, read by
/// one consumer that waits for rows as they come.
public final class RowProgress: @unchecked Sendable {
    public enum Start {
        case started
        case failed(Error)
    }

    private struct State {
        var began = false
        var done: [Bool] = []
        var chunkRowEnds: [Int] = []
        var nextChunk = 0
        var readyRows = 0
        var failure: Error?
    }
    private let state = Mutex<State>(State())
    private let signal = DispatchSemaphore(value: 0)
    /// Set once, by `begin`, before any row is reported.
    public private(set) var values: UnsafePointer<Double>?
    public private(set) var rows = 0
    public private(set) var columns = 0
    public private(set) var properties = Labels(names: [])
    /// What keeps `values` alive after the computation returns.
    public private(set) var result: FeatureMatrix?

    public init() {}

    func begin(values: UnsafePointer<Double>?, rows: Int, columns: Int, properties: Labels, chunkRowEnds: [Int]) {
        self.values = values
        self.rows = rows
        self.columns = columns
        self.properties = properties
        state.withLock { s in
            s.began = true
            s.done = Array(repeating: false, count: chunkRowEnds.count)
            s.chunkRowEnds = chunkRowEnds
        }
        signal.signal()
    }

    func chunkDone(_ chunk: Int) {
        let advanced = state.withLock { s -> Bool in
            s.done[chunk] = true
            let before = s.readyRows
            while s.nextChunk < s.done.count && s.done[s.nextChunk] {
                s.readyRows = s.chunkRowEnds[s.nextChunk]
                s.nextChunk += 1
            }
            return s.readyRows > before
        }
        if advanced { signal.signal() }
    }

    /// The computation's end: its matrix (which keeps the values alive) or its error.
    public func finish(_ matrix: FeatureMatrix) {
        result = matrix
        state.withLock { s in s.readyRows = max(s.readyRows, rows) }
        signal.signal()
    }

    public func fail(_ error: Error) {
        state.withLock { s in s.failure = error }
        signal.signal()
    }

    /// Waits until the values exist (every check on the input has passed) or the
    /// computation failed before that.
    public func waitForStart() -> Start {
        while true {
            let (began, failure) = state.withLock { ($0.began, $0.failure) }
            if let failure, !began { return .failed(failure) }
            if began { return .started }
            signal.wait()
        }
    }

    /// Waits until more than `rows` leading rows are final; returns how many are. Throws
    /// the computation's error if it failed.
    public func waitForRows(after sent: Int) throws -> Int {
        while true {
            let (ready, failure) = state.withLock { ($0.readyRows, $0.failure) }
            if let failure { throw failure }
            if ready > sent || ready >= rows { return ready }
            signal.wait()
        }
    }
}
