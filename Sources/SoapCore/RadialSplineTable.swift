/// Cubic Hermite spline tables of K radial functions (values and first
/// derivatives) on a uniform grid over [0, rc]. Any radial basis — GTO
/// integrals, or a fitted basis contracted from them — is one of these, so
/// the expansion kernel never knows which basis it evaluates.
///
/// Storage is point-major: point p holds K values then K derivatives, so one
/// lookup reads 4K contiguous doubles.
public final class RadialSplineTable: @unchecked Sendable {
    public let count: Int
    public let cutoff: Double
    public let intervals: Int
    @usableFromInline let step: Double
    @usableFromInline let inverseStep: Double
    @usableFromInline let data: UnsafeMutablePointer<Double>
    /// Largest error at interval midpoints against the exact functions, when built.
    public let maxValueError: Double
    public let maxDerivativeError: Double

    public typealias Function = (_ r: Double, _ values: UnsafeMutablePointer<Double>, _ derivatives: UnsafeMutablePointer<Double>) -> Void

    /// Tabulates `function` (K = `count` outputs), doubling the number of
    /// intervals until every midpoint value is within `accuracy` (absolute)
    /// and every derivative within 100·accuracy, as featomic does for values.
    public convenience init(cutoff: Double, count: Int, accuracy: Double, maxIntervals: Int = 1 << 16,
                            function: Function) {
        var intervals = 64
        var exact = [Double](repeating: 0, count: 2 * count)
        var approx = [Double](repeating: 0, count: 2 * count)
        while true {
            let points = Self.sample(cutoff: cutoff, count: count, intervals: intervals, function: function)
            let candidate = RadialSplineTable(cutoff: cutoff, count: count, intervals: intervals, points: points,
                                              maxValueError: 0, maxDerivativeError: 0)
            var errV = 0.0, errD = 0.0
            exact.withUnsafeMutableBufferPointer { e in
                approx.withUnsafeMutableBufferPointer { a in
                    let h = cutoff / Double(intervals)
                    for i in 0..<intervals {
                        let r = (Double(i) + 0.5) * h
                        function(r, e.baseAddress!, e.baseAddress! + count)
                        candidate.evaluate(r, values: a.baseAddress!, derivatives: a.baseAddress! + count)
                        for k in 0..<count {
                            errV = max(errV, abs(e[k] - a[k]))
                            errD = max(errD, abs(e[count + k] - a[count + k]))
                        }
                    }
                }
            }
            if (errV <= accuracy && errD <= 100 * accuracy) || intervals >= maxIntervals {
                self.init(cutoff: cutoff, count: count, intervals: intervals, points: points,
                          maxValueError: errV, maxDerivativeError: errD)
                return
            }
            intervals *= 2
        }
    }

    /// A table from already sampled points: `points[p * 2K + k]` value, `[p * 2K + K + k]` derivative.
    public init(cutoff: Double, count: Int, intervals: Int, points: [Double],
                maxValueError: Double, maxDerivativeError: Double) {
        precondition(points.count == (intervals + 1) * 2 * count)
        self.cutoff = cutoff; self.count = count; self.intervals = intervals
        self.step = cutoff / Double(intervals)
        self.inverseStep = Double(intervals) / cutoff
        self.maxValueError = maxValueError; self.maxDerivativeError = maxDerivativeError
        data = .allocate(capacity: points.count)
        data.initialize(from: points, count: points.count)
    }

    deinit { data.deallocate() }

    /// The sampled points, in the layout of `init(cutoff:count:intervals:points:)` (for storage).
    public var points: [Double] { Array(UnsafeBufferPointer(start: data, count: (intervals + 1) * 2 * count)) }

    static func sample(cutoff: Double, count: Int, intervals: Int, function: Function) -> [Double] {
        var points = [Double](repeating: 0, count: (intervals + 1) * 2 * count)
        points.withUnsafeMutableBufferPointer { p in
            for i in 0...intervals {
                let base = p.baseAddress! + i * 2 * count
                function(Double(i) * cutoff / Double(intervals), base, base + count)
            }
        }
        return points
    }

    /// All K values (and derivatives, if asked) at distance r, 0 ≤ r ≤ rc.
    @inlinable @inline(__always)
    public func evaluate(_ r: Double, values: UnsafeMutablePointer<Double>, derivatives: UnsafeMutablePointer<Double>?) {
        view.evaluate(r, values: values, derivatives: derivatives)
    }

    /// A non-owning view for hot loops (no reference counting); valid while the table lives.
    public var view: SplineView {
        SplineView(data: UnsafePointer(data), count: count, intervals: intervals, step: step, inverseStep: inverseStep)
    }
}

/// The evaluation half of a RadialSplineTable, as a plain value.
public struct SplineView {
    @usableFromInline let data: UnsafePointer<Double>
    public let count: Int
    @usableFromInline let intervals: Int
    @usableFromInline let step: Double
    @usableFromInline let inverseStep: Double

    @usableFromInline init(data: UnsafePointer<Double>, count: Int, intervals: Int, step: Double, inverseStep: Double) {
        self.data = data; self.count = count; self.intervals = intervals; self.step = step; self.inverseStep = inverseStep
    }

    /// All K values (and derivatives, if asked) at distance r, 0 ≤ r ≤ rc.
    @inlinable @inline(__always)
    public func evaluate(_ r: Double, values: UnsafeMutablePointer<Double>, derivatives: UnsafeMutablePointer<Double>?) {
        let x = r * inverseStep
        var i = Int(x)
        if i >= intervals { i = intervals - 1 }
        if i < 0 { i = 0 }
        let t = x - Double(i)
        let t2 = t * t, t3 = t2 * t
        // Hermite basis on [0,1]; derivative terms scaled by the step h.
        let h00 = 2 * t3 - 3 * t2 + 1
        let h10 = (t3 - 2 * t2 + t) * step
        let h01 = -2 * t3 + 3 * t2
        let h11 = (t3 - t2) * step
        let k = count
        let p0 = data + i * 2 * k
        let d0 = p0 + k
        let p1 = d0 + k
        let d1 = p1 + k
        for q in 0..<k {
            values[q] = h00 * p0[q] + h10 * d0[q] + h01 * p1[q] + h11 * d1[q]
        }
        if let derivatives {
            let g00 = (6 * t2 - 6 * t) * inverseStep
            let g10 = 3 * t2 - 4 * t + 1
            let g01 = -g00
            let g11 = 3 * t2 - 2 * t
            for q in 0..<k {
                derivatives[q] = g00 * p0[q] + g10 * d0[q] + g01 * p1[q] + g11 * d1[q]
            }
        }
    }
}
