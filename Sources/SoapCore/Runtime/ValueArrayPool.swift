import Synchronization

/// Output arrays handed back for reuse by a caller that computes many outputs of similar
/// size one after another (the batch-job runner: a chunk's values, once written to disk).
/// A fresh array costs a page fault and a zeroed page per 4 KB on first touch (about 6,600
/// faults per 19,440-atom power-spectrum job, 5–7 % of its time); a reused one none.
/// Arrays are given room to spare, so chunks a little larger than the last still fit.
public final class ValueArrayPool: @unchecked Sendable {
    private let arrays = Mutex<[[Double]]>([])
    private let keep: Int

    public init(keep: Int = 4) { self.keep = keep }

    /// An array of `count` elements whose values are garbage (the featurizer overwrites all).
    public func take(count: Int) -> [Double] {
        if var array = arrays.withLock({ $0.popLast() }), array.capacity >= count {
            if array.count > count { array.removeLast(array.count - count) }
            if array.count < count { array.append(contentsOf: repeatElement(0, count: count - array.count)) }
            return array
        }
        let room = count + count / 4
        var array = LargeBuffers.uninitialized(Double.self, count: room)
        array.removeLast(room - count)  // keeps the capacity of `room`
        return array
    }

    /// Takes an array back (pass it with `consume`, so that the pool holds the only
    /// reference and the next taker writes it in place).
    public func give(_ array: consuming [Double]) {
        let array = array
        arrays.withLock { if $0.count < keep { $0.append(array) } }
    }

    /// Frees every kept array (the runner is idle).
    public func drain() { arrays.withLock { $0.removeAll() } }
}
