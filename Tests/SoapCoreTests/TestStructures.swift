import Foundation
import SoapCore
import TestSupport

/// Deterministic structures for tests. The seeded generator is TestSupport's SplitMix64,
/// one output ahead (`skipping: 1`): the stream this file's own copy produced, so every
/// seeded structure keeps the positions its tests were written against.
enum TestStructures {
    static let siLattice = 5.43

    /// Diamond Si, `reps`³ conventional cubic cells, positions rattled by `rattle` Å.
    static func silicon(reps: Int = 1, rattle: Double = 0.05, seed: UInt64 = 1) -> Structure {
        var rng = SplitMix64(seed: seed, skipping: 1)
        let basis: [[Double]] = [
            [0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0],
            [0.25, 0.25, 0.25], [0.25, 0.75, 0.75], [0.75, 0.25, 0.75], [0.75, 0.75, 0.25],
        ]
        var positions: [Double] = []
        for a in 0..<reps {
            for b in 0..<reps {
                for c in 0..<reps {
                    for f in basis {
                        positions += [
                            (Double(a) + f[0]) * siLattice + rattle * rng.gaussian(),
                            (Double(b) + f[1]) * siLattice + rattle * rng.gaussian(),
                            (Double(c) + f[2]) * siLattice + rattle * rng.gaussian(),
                        ]
                    }
                }
            }
        }
        let l = siLattice * Double(reps)
        return Structure(
            numbers: Array(repeating: 14, count: 8 * reps * reps * reps), positions: positions,
            cell: [l, 0, 0, 0, l, 0, 0, 0, l])
    }

    /// Si in its 2-atom primitive (fcc) cell.
    static var siliconPrimitive: Structure {
        let h = siLattice / 2
        return Structure(
            numbers: [14, 14], positions: [0, 0, 0, h / 2, h / 2, h / 2],
            cell: [0, h, h, h, 0, h, h, h, 0])
    }

    /// A small multi-species molecule (ethanol-like, rattled).
    static func molecule(seed: UInt64 = 3) -> Structure {
        var rng = SplitMix64(seed: seed, skipping: 1)
        let numbers = [6, 6, 8, 1, 1, 1, 1, 1, 1, 7]
        let base: [Double] = [
            0, 0, 0, 1.52, 0, 0, 2.0, 1.35, 0, -0.38, 1.02, 0, -0.38, -0.5, 0.88, -0.38, -0.5, -0.88,
            1.9, -0.5, 0.88, 1.9, -0.5, -0.88, 2.95, 1.3, 0.1, 0.4, 2.3, 1.1,
        ]
        return Structure(numbers: numbers, positions: base.map { $0 + 0.05 * rng.gaussian() })
    }

    /// A random triclinic NaCl-like cell with `n` atoms.
    static func triclinic(n: Int = 12, seed: UInt64 = 5) -> Structure {
        var rng = SplitMix64(seed: seed, skipping: 1)
        let cell = [5.1, 0.3, 0.0, 1.2, 4.6, 0.4, -0.7, 0.9, 5.4]
        var positions: [Double] = []
        for _ in 0..<n {
            let u = (rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0, 1))
            for c in 0..<3 { positions.append(u.0 * cell[c] + u.1 * cell[3 + c] + u.2 * cell[6 + c]) }
        }
        return Structure(numbers: (0..<n).map { $0 % 2 == 0 ? 11 : 17 }, positions: positions, cell: cell)
    }

    static func rotation(seed: UInt64) -> [Double] {
        var rng = SplitMix64(seed: seed, skipping: 1)
        // A random unit quaternion.
        var q = (rng.gaussian(), rng.gaussian(), rng.gaussian(), rng.gaussian())
        let n = (q.0 * q.0 + q.1 * q.1 + q.2 * q.2 + q.3 * q.3).squareRoot()
        q = (q.0 / n, q.1 / n, q.2 / n, q.3 / n)
        let (w, x, y, z) = q
        return [
            1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
            2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
            2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y),
        ]
    }

    /// Applies v → R v to positions and cell rows.
    static func rotated(_ s: Structure, by r: [Double]) -> Structure {
        func apply(_ v: [Double]) -> [Double] {
            var out = [Double](repeating: 0, count: v.count)
            for k in stride(from: 0, to: v.count, by: 3) {
                for i in 0..<3 { out[k + i] = r[3 * i] * v[k] + r[3 * i + 1] * v[k + 1] + r[3 * i + 2] * v[k + 2] }
            }
            return out
        }
        var t = s
        t.positions = apply(s.positions)
        t.cell = s.cell.map(apply)
        return t
    }
}

func primitiveBasis(_ hypers: SoapHypers, species: [Int]) throws -> ExpansionBasis {
    ExpansionBasis.primitive(hypers: hypers, species: species, table: try ExpansionBasis.gtoTable(for: hypers))
}

func maxAbs(_ a: [Double]) -> Double { a.reduce(0) { max($0, abs($1)) } }

func maxAbsDifference(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count)
    var d = 0.0
    for i in a.indices { d = max(d, abs(a[i] - b[i])) }
    return d
}
