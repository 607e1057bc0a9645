// Explicitly vectorised Float kernels (SIMD8). LLVM's loop vectoriser gives up on the fused
// LSTM cell (seven pointers, two transcendental calls), so the Float path spells out the
// vectors; Double keeps the plain loop in LSTMLayer.cellForwardReference as the reference.

typealias F8 = SIMD8<Float>
typealias I8 = SIMD8<Int32>
typealias U8 = SIMD8<UInt32>

/// e^x on eight lanes: the same Cephes scheme as `Float.exp` (error ≲ 2 ulp).
@inline(__always)
func simdExp(_ x: F8) -> F8 {
    let xc = x.clamped(lowerBound: F8(repeating: -87.3), upperBound: F8(repeating: 88.7))
    let shifter = F8(repeating: 12_582_912)
    let t = xc * 1.442_695_04 + shifter
    let nf = t - shifter
    let n = unsafeBitCast(t, to: I8.self) &- 0x4B40_0000
    var r = xc - nf * 0.693_359_375
    r = r - nf * -2.121_944_4e-4
    var p = F8(repeating: 1.987_569_15e-4)
    p = p * r + 1.398_199_95e-3
    p = p * r + 8.333_451_9e-3
    p = p * r + 4.166_579_59e-2
    p = p * r + 0.166_666_655
    p = p * r + 0.500_000_01
    let er = p * r * r + r + 1
    let n1 = n &>> 1
    let n2 = n &- n1
    let s1 = unsafeBitCast((n1 &+ 127) &<< 23, to: F8.self)
    let s2 = unsafeBitCast((n2 &+ 127) &<< 23, to: F8.self)
    return er * s1 * s2
}

/// σ(x) = 1 / (1 + e^−x) on eight lanes.
@inline(__always)
func simdSigmoid(_ x: F8) -> F8 { 1 / (1 + simdExp(-x)) }

/// tanh on eight lanes: the same split as `Float.tanh` (Taylor below |x| = 0.25).
@inline(__always)
func simdTanh(_ x: F8) -> F8 {
    let bits = unsafeBitCast(x, to: U8.self)
    let sign = bits & 0x8000_0000
    let ax = unsafeBitCast(bits & 0x7FFF_FFFF, to: F8.self)
    let e = simdExp(-2 * ax)
    let big = (1 - e) / (1 + e)
    let x2 = ax * ax
    var p = F8(repeating: -0.008_863_235_5)
    p = p * x2 + 0.021_869_488
    p = p * x2 - 0.053_968_254
    p = p * x2 + 0.133_333_33
    p = p * x2 - 0.333_333_34
    let small = ax + ax * x2 * p
    let m = big.replacing(with: small, where: ax .< 0.25)
    return unsafeBitCast(unsafeBitCast(m, to: U8.self) | sign, to: F8.self)
}

@inline(__always)
private func load(_ p: UnsafeMutablePointer<Float>) -> F8 {
    UnsafeRawPointer(p).loadUnaligned(as: F8.self)
}

@inline(__always)
private func store(_ v: F8, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: F8.self)
}

extension Float {
    /// The fused LSTM cell step (eqs. 1–6) eight lanes at a time; see `LSTMLayer.cellForward`.
    static func simdCellForward(
        gates: UnsafeMutablePointer<Float>, bias: UnsafeMutablePointer<Float>,
        cPrev: UnsafeMutablePointer<Float>, cNext: UnsafeMutablePointer<Float>,
        hNext: UnsafeMutablePointer<Float>, tanhC: UnsafeMutablePointer<Float>,
        batch b: Int, hidden h: Int
    ) {
        let vecEnd = h - h % 8
        for row in 0..<b {
            let a = gates + row * 4 * h
            let cp = cPrev + row * h, cn = cNext + row * h
            let hn = hNext + row * h, tc = tanhC + row * h
            var j = 0
            while j < vecEnd {
                let i = simdSigmoid(load(a + j) + load(bias + j))  // eq. 2
                let f = simdSigmoid(load(a + h + j) + load(bias + h + j))  // eq. 1
                let g = simdTanh(load(a + 2 * h + j) + load(bias + 2 * h + j))  // eq. 4
                let o = simdSigmoid(load(a + 3 * h + j) + load(bias + 3 * h + j))  // eq. 3
                let c = g * i + load(cp + j) * f  // eq. 5
                let t = simdTanh(c)
                store(i, a + j)
                store(f, a + h + j)
                store(g, a + 2 * h + j)
                store(o, a + 3 * h + j)
                store(c, cn + j)
                store(t, tc + j)
                store(o * t, hn + j)  // eq. 6
                j += 8
            }
            while j < h {  // the scalar tail, same equations
                let i = Float.sigmoid(a[j] + bias[j])
                let f = Float.sigmoid(a[h + j] + bias[h + j])
                let g = Float.tanh(a[2 * h + j] + bias[2 * h + j])
                let o = Float.sigmoid(a[3 * h + j] + bias[3 * h + j])
                let c = g * i + cp[j] * f
                let t = Float.tanh(c)
                a[j] = i
                a[h + j] = f
                a[2 * h + j] = g
                a[3 * h + j] = o
                cn[j] = c
                tc[j] = t
                hn[j] = o * t
                j += 1
            }
        }
    }
}
