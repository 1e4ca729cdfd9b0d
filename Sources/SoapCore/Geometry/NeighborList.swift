#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// Full neighbour list of one structure, in CSR form: the pairs of centre i
/// are `start[i] ..< start[i+1]`. Every periodic image (j, T) with
/// 0 < |r_j + T − r_i| < rc is its own pair — images of i itself included —
/// so a cutoff larger than the cell needs nothing special.
public struct NeighborList: Sendable {
    public var start: [Int]
    /// Neighbour atom index j of each pair.
    public var neighbor: [Int32]
    /// r_ij = r_j + T − r_i, 3 per pair.
    public var vectors: [Double]
    /// |r_ij|.
    public var distances: [Double]

    public var pairCount: Int { neighbor.count }

    /// Cell lists in fractional coordinates, for any triclinic cell and any
    /// mix of periodic and open axes: O(N) for a fixed density.
    ///
    /// A pair within rc differs by at most rc/d_k in fractional coordinate k,
    /// where d_k is the spacing of lattice planes k; bins of that width (or a
    /// fraction of the period) bound the search to a few bins per axis. Along
    /// periodic axes the bin offset wraps and records the lattice shift, and
    /// may wrap several times when rc exceeds the cell.
    ///
    /// `maxPairs` guards memory: building stops with `nil` once exceeded.
    public static func build(_ structure: Structure, cutoff rc: Double, maxPairs: Int = .max) -> NeighborList? {
        let n = structure.count
        var list = NeighborList(start: [Int](repeating: 0, count: n + 1), neighbor: [], vectors: [], distances: [])
        if n == 0 { return list }
        let periodic = [structure.pbc.0, structure.pbc.1, structure.pbc.2]
        let anyPeriodic = periodic.contains(true)
        // The lattice (rows) that maps fractional to Cartesian coordinates;
        // a molecule uses the identity (fractional = Cartesian, all axes open).
        let h: [Double] = anyPeriodic ? structure.cell! : [1, 0, 0, 0, 1, 0, 0, 0, 1]
        let hinv = Geometry.inverse(h)
        // Spacing of lattice planes k: 1 / |column k of H⁻¹|.
        var spacing = [Double](repeating: 1, count: 3)
        for k in 0..<3 {
            let b = (hinv[k] * hinv[k] + hinv[3 + k] * hinv[3 + k] + hinv[6 + k] * hinv[6 + k]).squareRoot()
            spacing[k] = 1 / b
        }
        // Fractional coordinates, wrapped into [0, 1) along periodic axes;
        // wrapped Cartesian positions follow, differing by lattice vectors only.
        var frac = [Double](repeating: 0, count: 3 * n)
        let pos = structure.positions
        for i in 0..<n {
            for k in 0..<3 {
                var u = pos[3 * i] * hinv[k] + pos[3 * i + 1] * hinv[3 + k] + pos[3 * i + 2] * hinv[6 + k]
                if periodic[k] {
                    u -= floor(u)
                    if u >= 1 { u = 0 }
                }
                frac[3 * i + k] = u
            }
        }
        var wrapped = [Double](repeating: 0, count: 3 * n)
        for i in 0..<n {
            for c in 0..<3 {
                wrapped[3 * i + c] = frac[3 * i] * h[c] + frac[3 * i + 1] * h[3 + c] + frac[3 * i + 2] * h[6 + c]
            }
        }
        // Bins per axis.
        var bins = [Int](repeating: 1, count: 3)
        var origin = [Double](repeating: 0, count: 3)
        var width = [Double](repeating: 1, count: 3)
        var reach = [Int](repeating: 1, count: 3)
        let maxBins = max(27, 2 * n)
        for k in 0..<3 {
            let span = rc / spacing[k]  // largest |Δu_k| of a pair within rc
            if periodic[k] {
                bins[k] = max(1, Int(min(floor(1 / span), Double(maxBins))))
                origin[k] = 0
                width[k] = 1 / Double(bins[k])
            } else {
                var lo = Double.infinity
                var hi = -Double.infinity
                for i in 0..<n {
                    lo = min(lo, frac[3 * i + k])
                    hi = max(hi, frac[3 * i + k])
                }
                origin[k] = lo
                let extent = hi - lo
                bins[k] = max(1, Int(min(floor(extent / span) + 1, Double(maxBins))))
                width[k] = max(span, extent / Double(bins[k]) * (1 + 1e-12))
            }
        }
        // Keep the total number of bins O(N): halve the finest axis.
        while bins[0] * bins[1] * bins[2] > maxBins {
            let k = (0..<3).max { bins[$0] < bins[$1] }!
            bins[k] = max(1, bins[k] / 2)
            if periodic[k] { width[k] = 1 / Double(bins[k]) } else { width[k] *= 2 }
        }
        for k in 0..<3 {
            reach[k] = periodic[k] || bins[k] > 1 ? Int(min(ceil(rc / spacing[k] / width[k]), 1e6)) : 0
            if !periodic[k] { reach[k] = min(reach[k], bins[k] - 1) }
        }
        // Counting sort of atoms into bins.
        func binIndex(_ i: Int, _ k: Int) -> Int {
            let b = Int((frac[3 * i + k] - origin[k]) / width[k])
            return min(max(b, 0), bins[k] - 1)
        }
        let totalBins = bins[0] * bins[1] * bins[2]
        var atomBin = [Int](repeating: 0, count: n)
        var binStart = [Int](repeating: 0, count: totalBins + 1)
        for i in 0..<n {
            let b = (binIndex(i, 0) * bins[1] + binIndex(i, 1)) * bins[2] + binIndex(i, 2)
            atomBin[i] = b
            binStart[b + 1] += 1
        }
        for b in 0..<totalBins { binStart[b + 1] += binStart[b] }
        var fill = binStart
        var binAtoms = [Int32](repeating: 0, count: n)
        for i in 0..<n {
            binAtoms[fill[atomBin[i]]] = Int32(i)
            fill[atomBin[i]] += 1
        }

        let rc2 = rc * rc
        list.neighbor.reserveCapacity(n * 32)
        list.vectors.reserveCapacity(n * 96)
        list.distances.reserveCapacity(n * 32)
        for i in 0..<n {
            let bi = (binIndex(i, 0), binIndex(i, 1), binIndex(i, 2))
            let xi = wrapped[3 * i]
            let yi = wrapped[3 * i + 1]
            let zi = wrapped[3 * i + 2]
            for oa in -reach[0]...reach[0] {
                let (ba, sa) = wrap(bi.0 + oa, bins[0], periodic[0])
                if ba < 0 { continue }
                for ob in -reach[1]...reach[1] {
                    let (bb, sb) = wrap(bi.1 + ob, bins[1], periodic[1])
                    if bb < 0 { continue }
                    for oc in -reach[2]...reach[2] {
                        let (bc, sc) = wrap(bi.2 + oc, bins[2], periodic[2])
                        if bc < 0 { continue }
                        let fa = Double(sa)
                        let fb = Double(sb)
                        let fcs = Double(sc)
                        let tx = fa * h[0] + fb * h[3] + fcs * h[6]
                        let ty = fa * h[1] + fb * h[4] + fcs * h[7]
                        let tz = fa * h[2] + fb * h[5] + fcs * h[8]
                        let b = (ba * bins[1] + bb) * bins[2] + bc
                        for slot in binStart[b]..<binStart[b + 1] {
                            let j = Int(binAtoms[slot])
                            let dx = wrapped[3 * j] + tx - xi
                            let dy = wrapped[3 * j + 1] + ty - yi
                            let dz = wrapped[3 * j + 2] + tz - zi
                            let d2 = dx * dx + dy * dy + dz * dz
                            if d2 < rc2 && d2 > 0 {
                                list.neighbor.append(Int32(j))
                                list.vectors.append(dx)
                                list.vectors.append(dy)
                                list.vectors.append(dz)
                                list.distances.append(d2.squareRoot())
                            }
                        }
                    }
                }
            }
            if list.neighbor.count > maxPairs { return nil }
            list.start[i + 1] = list.neighbor.count
        }
        return list
    }

    /// Bin index after wrapping and the lattice shift it implies; -1 when
    /// an open axis runs out of bins.
    @inline(__always)
    static func wrap(_ raw: Int, _ count: Int, _ periodic: Bool) -> (Int, Int) {
        if periodic {
            let shift = raw >= 0 ? raw / count : -((-raw + count - 1) / count)
            return (raw - shift * count, shift)
        }
        return raw < 0 || raw >= count ? (-1, 0) : (raw, 0)
    }
}
