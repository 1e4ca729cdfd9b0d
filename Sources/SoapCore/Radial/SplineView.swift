/// The evaluation half of a RadialSplineTable, as a plain value.
public struct SplineView: BitwiseCopyable {
    public struct SegmentDescriptor: BitwiseCopyable {
        @usableFromInline let first: Int
        @usableFromInline let count: Int
        @usableFromInline let intervals: Int
        @usableFromInline let step: Double
        @usableFromInline let inverseStep: Double
        @usableFromInline let data: UnsafePointer<Double>?

        @usableFromInline init(
            first: Int, count: Int, intervals: Int, step: Double, inverseStep: Double,
            data: UnsafePointer<Double>?
        ) {
            self.first = first
            self.count = count
            self.intervals = intervals
            self.step = step
            self.inverseStep = inverseStep
            self.data = data
        }

        /// The Hermite cubic on the interval holding r (the last interval at r = rc).
        @inlinable @inline(__always)
        func evaluate(
            _ r: Double, data: UnsafePointer<Double>, values: UnsafeMutablePointer<Double>,
            derivatives: UnsafeMutablePointer<Double>?
        ) {
            let x = r * inverseStep
            var i = Int(x)
            if i >= intervals { i = intervals - 1 }
            if i < 0 { i = 0 }
            let t = x - Double(i)
            let t2 = t * t
            let t3 = t2 * t
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

    @usableFromInline let segments: UnsafePointer<SegmentDescriptor>
    @usableFromInline let segmentCount: Int
    public let count: Int

    @usableFromInline init(segments: UnsafePointer<SegmentDescriptor>, segmentCount: Int, count: Int) {
        self.segments = segments
        self.segmentCount = segmentCount
        self.count = count
    }

    @inlinable @inline(__always)
    public func evaluate(_ r: Double, values: UnsafeMutablePointer<Double>, derivatives: UnsafeMutablePointer<Double>?) {
        for s in 0..<segmentCount {
            let segment = segments[s]
            segment.evaluate(
                r, data: segment.data!, values: values + segment.first,
                derivatives: derivatives.map { $0 + segment.first })
        }
    }
}
