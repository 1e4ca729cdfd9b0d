/// Cubic Hermite spline tables of K radial functions (values and first
/// derivatives) on uniform grids over [0, rc]. Any radial basis — GTO
/// integrals, or a fitted basis contracted from them — is one of these, so
/// the expansion kernel never knows which basis it evaluates.
///
/// The K outputs are split into segments (one per angular channel l), each
/// with its own grid, refined as featomic refines its per-l splines: start
/// from 10 intervals and halve them until the mean absolute or the mean
/// relative error at the interval midpoints is below the accuracy. The same
/// grids give the same interpolated numbers as featomic, not merely numbers
/// as accurate.
///
/// Storage is point-major within a segment: point p holds the segment's
/// values then its derivatives, so one lookup reads contiguous memory.
public final class RadialSplineTable: @unchecked Sendable {
    public struct Segment: Sendable, Equatable {
        /// First output of the segment and how many it has.
        public var first: Int
        public var count: Int
        public var intervals: Int
        /// Offset of its first point in the data.
        public var offset: Int
        public init(first: Int, count: Int, intervals: Int, offset: Int) {
            self.first = first
            self.count = count
            self.intervals = intervals
            self.offset = offset
        }
        /// Doubles the segment's points occupy.
        public var size: Int { (intervals + 1) * 2 * count }
    }

    public let count: Int
    public let cutoff: Double
    public let segments: [Segment]
    @usableFromInline let data: UnsafeMutablePointer<Double>
    @usableFromInline let descriptors: UnsafeMutablePointer<SplineView.SegmentDescriptor>
    /// Owns `data` and `descriptors`.
    private let memory = BufferArena()
    public let dataCount: Int
    /// Largest error at the final midpoints against the exact functions, when built.
    public let maxValueError: Double

    /// `function(segment, r, values, derivatives)` fills the segment's outputs at r.
    public typealias SegmentFunction = (
        _ segment: Int, _ r: Double, _ values: UnsafeMutablePointer<Double>,
        _ derivatives: UnsafeMutablePointer<Double>
    ) -> Void

    /// Tabulates functions given segment by segment (`sizes[s]` outputs each).
    /// Segments are refined in parallel (`function` must be thread-safe).
    public convenience init(
        cutoff: Double, segmentSizes sizes: [Int], accuracy: Double, maxIntervals: Int = 1 << 15,
        threads: Int = Featurizer.defaultThreads, function: SegmentFunction
    ) {
        var refined = [(Int, [Double], Double)](repeating: (0, [], 0), count: sizes.count)
        refined.withUnsafeMutableBufferPointer { out in
            let out = out
            Parallel.run(chunks: sizes.count, threads: threads) { _, next in
                while let s = next() {
                    out[s] = Self.refine(
                        cutoff: cutoff, size: sizes[s], accuracy: accuracy,
                        maxIntervals: maxIntervals
                    ) { r, v, d in function(s, r, v, d) }
                }
            }
        }
        var segments: [Segment] = []
        var data: [Double] = []
        var first = 0
        for (s, (intervals, points, _)) in refined.enumerated() {
            segments.append(Segment(first: first, count: sizes[s], intervals: intervals, offset: data.count))
            data += points
            first += sizes[s]
        }
        self.init(cutoff: cutoff, segments: segments, data: data, maxValueError: refined.map(\.2).max() ?? 0)
    }

    /// A table from stored segments and points (see `points`). `outputCount` (default: the
    /// segments' total) leaves room for outputs no segment writes (a ragged basis's padding).
    public init(
        cutoff: Double, segments: [Segment], data points: [Double], maxValueError: Double, outputCount: Int? = nil
    ) {
        self.cutoff = cutoff
        self.segments = segments
        self.count = outputCount ?? segments.reduce(0) { $0 + $1.count }
        self.maxValueError = maxValueError
        dataCount = points.count
        data = memory.copy(points)
        descriptors = memory.allocate(count: segments.count)
        for (k, s) in segments.enumerated() {
            precondition(s.offset + (s.intervals + 1) * 2 * s.count <= points.count, "spline data too short")
            (descriptors + k).initialize(
                to: SplineView.SegmentDescriptor(
                    first: s.first, count: s.count, intervals: s.intervals, step: cutoff / Double(s.intervals),
                    inverseStep: Double(s.intervals) / cutoff, data: UnsafePointer(data + s.offset)))
        }
    }

    /// All sampled points, segment after segment (for storage).
    public var points: [Double] { Array(UnsafeBufferPointer(start: data, count: dataCount)) }

    /// featomic's refinement for one segment: (intervals, points, max midpoint error).
    static func refine(
        cutoff: Double, size: Int, accuracy: Double, maxIntervals: Int,
        function: (Double, UnsafeMutablePointer<Double>, UnsafeMutablePointer<Double>) -> Void
    )
        -> (Int, [Double], Double)
    {
        var intervals = 10
        var points = sample(cutoff: cutoff, size: size, intervals: intervals, function: function)
        var exact = [Double](repeating: 0, count: 2 * size)
        var approx = [Double](repeating: 0, count: size)
        while true {
            let view = SplineView.SegmentDescriptor(
                first: 0, count: size, intervals: intervals,
                step: cutoff / Double(intervals), inverseStep: Double(intervals) / cutoff,
                data: nil)
            var sumAbs = 0.0
            var sumRel = 0.0
            var maxAbs = 0.0
            // Midpoints become the new grid points if the accuracy is not reached.
            var refined = [Double]()
            refined.reserveCapacity((2 * intervals + 1) * 2 * size)
            points.withUnsafeBufferPointer { p in
                exact.withUnsafeMutableBufferPointer { e in
                    approx.withUnsafeMutableBufferPointer { a in
                        for i in 0..<intervals {
                            refined.append(contentsOf: p[(i * 2 * size)..<((i + 1) * 2 * size)])
                            let r = (Double(2 * i + 1) * cutoff) / Double(2 * intervals)
                            function(r, e.baseAddress!, e.baseAddress! + size)
                            view.evaluate(r, data: p.baseAddress!, values: a.baseAddress!, derivatives: nil)
                            for k in 0..<size {
                                let error = abs(a[k] - e[k])
                                sumAbs += error
                                sumRel += abs((a[k] - e[k]) / e[k])
                                maxAbs = max(maxAbs, error)
                            }
                            refined.append(contentsOf: e)
                        }
                        refined.append(contentsOf: p[(intervals * 2 * size)..<((intervals + 1) * 2 * size)])
                    }
                }
            }
            let n = Double(intervals * size)
            if sumAbs / n < accuracy || sumRel / n < accuracy || 2 * intervals > maxIntervals {
                return (intervals, points, maxAbs)
            }
            intervals *= 2
            points = refined
        }
    }

    static func sample(
        cutoff: Double, size: Int, intervals: Int,
        function: (Double, UnsafeMutablePointer<Double>, UnsafeMutablePointer<Double>) -> Void
    ) -> [Double] {
        var points = [Double](repeating: 0, count: (intervals + 1) * 2 * size)
        points.withUnsafeMutableBufferPointer { p in
            for i in 0...intervals {
                let base = p.baseAddress! + i * 2 * size
                function(Double(i) * cutoff / Double(intervals), base, base + size)
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
    public var view: SplineView { SplineView(segments: UnsafePointer(descriptors), segmentCount: segments.count, count: count) }
}
