/// featomic's `Tabulated` radial integral: K functions given at increasing
/// positions by their values and first derivatives, interpolated by the cubic
/// Hermite spline through the points (docs/conventions §13).
public struct TabulatedRadial: Hashable, Sendable {
    public let positions: [Double]
    /// Point-major: values[p · K + n].
    public let values: [Double]
    public let derivatives: [Double]
    public let functionCount: Int

    /// Checks the points; `field` names them in errors (e.g. `basis/by_angular/2`).
    public init(
        positions: [Double], values: [[Double]], derivatives: [[Double]], field: String
    ) throws(HypersError) {
        guard positions.count >= 2 else { throw HypersError(field: "\(field)/points", message: "needs at least 2 points") }
        let k = values.first?.count ?? 0
        guard k > 0 else { throw HypersError(field: "\(field)/points/0/values", message: "must not be empty") }
        var flatValues: [Double] = []
        var flatDerivatives: [Double] = []
        flatValues.reserveCapacity(positions.count * k)
        flatDerivatives.reserveCapacity(positions.count * k)
        for p in positions.indices {
            let at = "\(field)/points/\(p)"
            guard positions[p].isFinite else { throw HypersError(field: "\(at)/position", message: "must be finite") }
            if p == 0 {
                guard positions[0] == 0 else {
                    throw HypersError(field: "\(at)/position", message: "the first point must be at 0")
                }
            } else {
                guard positions[p] > positions[p - 1] else {
                    throw HypersError(field: "\(at)/position", message: "positions must increase strictly")
                }
            }
            guard values[p].count == k else {
                throw HypersError(field: "\(at)/values", message: "has \(values[p].count) values, the first point has \(k)")
            }
            guard derivatives[p].count == k else {
                throw HypersError(field: "\(at)/derivatives", message: "has \(derivatives[p].count) derivatives, expected \(k)")
            }
            for n in 0..<k {
                guard values[p][n].isFinite else { throw HypersError(field: "\(at)/values/\(n)", message: "must be finite") }
                guard derivatives[p][n].isFinite else {
                    throw HypersError(field: "\(at)/derivatives/\(n)", message: "must be finite")
                }
            }
            flatValues += values[p]
            flatDerivatives += derivatives[p]
        }
        self.positions = positions
        self.values = flatValues
        self.derivatives = flatDerivatives
        functionCount = k
    }

    /// The last point must reach the cutoff: the spline is not extrapolated.
    func validate(cutoff: Double, field: String) throws(HypersError) {
        guard let last = positions.last, last >= cutoff * (1 - 1e-12) else {
            throw HypersError(
                field: "\(field)/points/\(positions.count - 1)/position",
                message: "the last point must be at or beyond the cutoff radius (\(cutoff))")
        }
    }

    /// Whether the points are featomic's uniform grid over exactly [0, cutoff]: the spline
    /// table then holds them as they are.
    func isUniformGrid(cutoff: Double) -> Bool {
        let intervals = positions.count - 1
        guard abs(positions[intervals] - cutoff) <= 1e-12 * cutoff else { return false }
        let step = cutoff / Double(intervals)
        for p in positions.indices where abs(positions[p] - Double(p) * step) > 1e-9 * step { return false }
        return true
    }

    /// The spline's values and derivatives at r (any grid; binary search).
    func evaluate(_ r: Double, values out: UnsafeMutablePointer<Double>, derivatives dout: UnsafeMutablePointer<Double>) {
        var lo = 0
        var hi = positions.count - 1
        while hi - lo > 1 {
            let mid = (lo + hi) / 2
            if positions[mid] <= r { lo = mid } else { hi = mid }
        }
        let h = positions[hi] - positions[lo]
        let t = (r - positions[lo]) / h
        let t2 = t * t
        let t3 = t2 * t
        let h00 = 2 * t3 - 3 * t2 + 1
        let h10 = (t3 - 2 * t2 + t) * h
        let h01 = -2 * t3 + 3 * t2
        let h11 = (t3 - t2) * h
        let g00 = (6 * t2 - 6 * t) / h
        let g10 = 3 * t2 - 4 * t + 1
        let g11 = 3 * t2 - 2 * t
        let k = functionCount
        for n in 0..<k {
            let p0 = values[lo * k + n]
            let d0 = derivatives[lo * k + n]
            let p1 = values[hi * k + n]
            let d1 = derivatives[hi * k + n]
            out[n] = h00 * p0 + h10 * d0 + h01 * p1 + h11 * d1
            dout[n] = g00 * p0 + g10 * d0 - g00 * p1 + g11 * d1
        }
    }

    /// The points in a RadialSplineTable segment's layout (per point: values, then derivatives).
    var segmentData: [Double] {
        var data: [Double] = []
        data.reserveCapacity(2 * values.count)
        for p in positions.indices {
            data += values[(p * functionCount)..<((p + 1) * functionCount)]
            data += derivatives[(p * functionCount)..<((p + 1) * functionCount)]
        }
        return data
    }

    /// 64-bit FNV-1a of every number's bits: tables with equal points share a cache entry.
    var fingerprint: UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ x: Double) {
            var bits = x.bitPattern
            for _ in 0..<8 {
                hash = (hash ^ (bits & 0xff)) &* 0x0000_0100_0000_01b3
                bits >>= 8
            }
        }
        for x in positions { mix(x) }
        for x in values { mix(x) }
        for x in derivatives { mix(x) }
        return hash
    }
}
