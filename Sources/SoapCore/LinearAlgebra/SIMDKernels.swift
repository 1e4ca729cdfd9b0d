/// The SIMD kernels of SoapCore, on raw pointers (no bounds checks, no ARC): short rows
/// (channels or K, often 8–32) kept 8 (then 4) columns at a time in SIMD registers, loaded
/// and stored unaligned. The bispectrum contraction's two kernels keep their 8 output
/// columns in registers across the reduction and write them once, instead of a load and a
/// store per term; the multispectrum's coupling adds one scaled row at a time (axpy).
enum SIMDKernels {
    @inline(__always)
    static func load8(_ p: UnsafePointer<Double>) -> SIMD8<Double> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Double>.self)
    }

    @inline(__always)
    static func load4(_ p: UnsafePointer<Double>) -> SIMD4<Double> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Double>.self)
    }

    /// dst[c] = Σ_{e ∈ range} w[e] · x[rows[e]·stride + c], for c ∈ columns.
    @inline(__always)
    static func combineRows(
        weights w: UnsafePointer<Double>, rows: UnsafePointer<Int32>, range: Range<Int>,
        x: UnsafePointer<Double>, stride: Int, columns: Range<Int>, into dst: UnsafeMutablePointer<Double>
    ) {
        var c = columns.lowerBound
        let end = columns.upperBound
        while c + 8 <= end {
            var acc = SIMD8<Double>(repeating: 0)
            for e in range { acc += w[e] * load8(x + Int(rows[e]) * stride + c) }
            UnsafeMutableRawPointer(dst + c).storeBytes(of: acc, as: SIMD8<Double>.self)
            c += 8
        }
        if c + 4 <= end {
            var acc = SIMD4<Double>(repeating: 0)
            for e in range { acc += w[e] * load4(x + Int(rows[e]) * stride + c) }
            UnsafeMutableRawPointer(dst + c).storeBytes(of: acc, as: SIMD4<Double>.self)
            c += 4
        }
        while c < end {
            var acc = 0.0
            for e in range { acc += w[e] * x[Int(rows[e]) * stride + c] }
            dst[c] = acc
            c += 1
        }
    }

    /// out[r·outStride + c] (+)= Σ_{m < depth} t[m·stride + r] · x[m·width + c],
    /// for r ∈ rows and c < width: two rows × 8 columns of accumulators.
    @inline(__always)
    static func transposedProduct(
        _ t: UnsafePointer<Double>, stride: Int, rows: Range<Int>, depth: Int,
        x: UnsafePointer<Double>, width: Int, into out: UnsafeMutablePointer<Double>,
        outStride: Int, assign: Bool
    ) {
        @inline(__always) func put8(_ v: SIMD8<Double>, _ p: UnsafeMutablePointer<Double>) {
            let raw = UnsafeMutableRawPointer(p)
            raw.storeBytes(of: assign ? v : v + load8(p), as: SIMD8<Double>.self)
        }
        @inline(__always) func put4(_ v: SIMD4<Double>, _ p: UnsafeMutablePointer<Double>) {
            let raw = UnsafeMutableRawPointer(p)
            raw.storeBytes(of: assign ? v : v + load4(p), as: SIMD4<Double>.self)
        }
        var r = rows.lowerBound
        let end = rows.upperBound
        while r + 2 <= end {
            let o0 = out + r * outStride
            let o1 = o0 + outStride
            var c = 0
            while c + 8 <= width {
                var a0 = SIMD8<Double>(repeating: 0)
                var a1 = SIMD8<Double>(repeating: 0)
                for m in 0..<depth {
                    let v = load8(x + m * width + c)
                    a0 += t[m * stride + r] * v
                    a1 += t[m * stride + r + 1] * v
                }
                put8(a0, o0 + c)
                put8(a1, o1 + c)
                c += 8
            }
            if c + 4 <= width {
                var a0 = SIMD4<Double>(repeating: 0)
                var a1 = SIMD4<Double>(repeating: 0)
                for m in 0..<depth {
                    let v = load4(x + m * width + c)
                    a0 += t[m * stride + r] * v
                    a1 += t[m * stride + r + 1] * v
                }
                put4(a0, o0 + c)
                put4(a1, o1 + c)
                c += 4
            }
            while c < width {
                var s0 = 0.0
                var s1 = 0.0
                for m in 0..<depth {
                    let v = x[m * width + c]
                    s0 += t[m * stride + r] * v
                    s1 += t[m * stride + r + 1] * v
                }
                if assign {
                    o0[c] = s0
                    o1[c] = s1
                } else {
                    o0[c] += s0
                    o1[c] += s1
                }
                c += 1
            }
            r += 2
        }
        if r < end {
            let o0 = out + r * outStride
            var c = 0
            while c + 8 <= width {
                var a0 = SIMD8<Double>(repeating: 0)
                for m in 0..<depth { a0 += t[m * stride + r] * load8(x + m * width + c) }
                put8(a0, o0 + c)
                c += 8
            }
            if c + 4 <= width {
                var a0 = SIMD4<Double>(repeating: 0)
                for m in 0..<depth { a0 += t[m * stride + r] * load4(x + m * width + c) }
                put4(a0, o0 + c)
                c += 4
            }
            while c < width {
                var s0 = 0.0
                for m in 0..<depth { s0 += t[m * stride + r] * x[m * width + c] }
                if assign { o0[c] = s0 } else { o0[c] += s0 }
                c += 1
            }
        }
    }

    /// y[i] += a · x[i], i < n.
    @inline(__always)
    static func axpy(_ a: Double, _ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, _ n: Int) {
        var i = 0
        while i + 8 <= n {
            let v = load8(x + i)
            let w = load8(y + i)
            UnsafeMutableRawPointer(y + i).storeBytes(of: w + a * v, as: SIMD8<Double>.self)
            i += 8
        }
        while i < n {
            y[i] += a * x[i]
            i += 1
        }
    }
}
