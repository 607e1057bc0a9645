import Foundation

// Explicitly vectorised Float kernels (SIMD8). LLVM's loop vectoriser gives up on the fused
// LSTM cell (seven pointers, two transcendental calls), so the Float path spells out the
// vectors; Double keeps the plain loops (LSTMLayer.cellForwardReference / cellBackwardReference,
// OutputLayer.softmaxRowReference / scaledDifferenceReference) as the references.
// Every kernel has a scalar tail for widths not divisible by 8 and uses only separate IEEE
// multiplies and adds (Swift does not contract them into FMA), in the reference's order.

typealias F8 = SIMD8<Float>
typealias I8 = SIMD8<Int32>
typealias U8 = SIMD8<UInt32>

/// e^x on eight lanes: the same Cephes scheme as `Float.exp`, lane for lane bitwise equal to it
/// (error < 1 ulp measured on [-87, 88.5], see KernelTests).
@inline(__always)
func simdExp(_ x: F8) -> F8 {
    // Clamp by compare-and-select, not `clamped` (min/max), which turns NaN into a bound;
    // a NaN must come out NaN, as it does from `Float.exp`.
    let lo = F8(repeating: -87.3)
    let hi = F8(repeating: 88.7)
    let xc = x.replacing(with: lo, where: x .< lo).replacing(with: hi, where: x .> hi)
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
    /// The fused LSTM cell step (eqs. 1–6) eight lanes at a time; bitwise equal to
    /// `LSTMLayer.cellForwardReference`.
    static func simdCellForward(
        gates: UnsafeMutablePointer<Float>, bias: UnsafeMutablePointer<Float>,
        cPrev: UnsafeMutablePointer<Float>, cNext: UnsafeMutablePointer<Float>,
        hNext: UnsafeMutablePointer<Float>, tanhC: UnsafeMutablePointer<Float>,
        batch b: Int, hidden h: Int
    ) {
        let vecEnd = h - h % 8
        for row in 0..<b {
            let a = gates + row * 4 * h
            let cp = cPrev + row * h
            let cn = cNext + row * h
            let hn = hNext + row * h
            let tc = tanhC + row * h
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

extension Float {
    /// The fused backward cell step (eqs. 14, 16–20) eight lanes at a time; see
    /// `LSTMLayer.cellBackwardReference`. Same IEEE operations in the same order (no FMA), so
    /// the result is bitwise equal to the reference.
    static func simdCellBackward(
        gates: UnsafeMutablePointer<Float>, cPrev: UnsafeMutablePointer<Float>,
        tanhC: UnsafeMutablePointer<Float>, dH: UnsafeMutablePointer<Float>,
        dcCarry: UnsafeMutablePointer<Float>, dGates: UnsafeMutablePointer<Float>,
        batch b: Int, hidden h: Int
    ) {
        let vecEnd = h - h % 8
        for row in 0..<b {
            let a = gates + row * 4 * h  // (G): i, f, g, o
            let d = dGates + row * 4 * h  // (G)
            let cp = cPrev + row * h
            let tc = tanhC + row * h  // (H)
            let dh = dH + row * h
            let dcc = dcCarry + row * h  // (H)
            var j = 0
            while j < vecEnd {
                let i = load(a + j)
                let f = load(a + h + j)
                let gg = load(a + 2 * h + j)
                let o = load(a + 3 * h + j)
                let tcj = load(tc + j)
                let dhj = load(dh + j)
                let dc = dhj * o * (1 - tcj * tcj) + load(dcc + j)  // eq. 16
                let dOut = dhj * tcj  // eq. 17
                let dF = dc * load(cp + j)  // eq. 18
                let dIn = dc * gg  // eq. 19
                let dCand = dc * i  // eq. 20
                store(dIn * i * (1 - i), d + j)  // ⊙ σ′
                store(dF * f * (1 - f), d + h + j)  // ⊙ σ′
                store(dCand * (1 - gg * gg), d + 2 * h + j)  // ⊙ tanh′
                store(dOut * o * (1 - o), d + 3 * h + j)  // ⊙ σ′
                store(dc * f, dcc + j)  // δc⁽ᵗ⁾ ⊙ f⁽ᵗ⁾
                j += 8
            }
            while j < h {  // the scalar tail, same equations
                let i = a[j]
                let f = a[h + j]
                let gg = a[2 * h + j]
                let o = a[3 * h + j]
                let tcj = tc[j]
                let dhj = dh[j]
                let dc = dhj * o * (1 - tcj * tcj) + dcc[j]
                let dOut = dhj * tcj
                let dF = dc * cp[j]
                let dIn = dc * gg
                let dCand = dc * i
                d[j] = dIn * i * (1 - i)
                d[h + j] = dF * f * (1 - f)
                d[2 * h + j] = dCand * (1 - gg * gg)
                d[3 * h + j] = dOut * o * (1 - o)
                dcc[j] = dc * f
                j += 1
            }
        }
    }

    /// One output row's softmax (eq. 7's F) and cross-entropy in three in-cache sweeps of O:
    /// z += b and the max; e = exp(z − max) into y and its sum; y ·= 1/sum. The loss
    /// max + log(sum) − z_k is formed in Double (`target` < 0: no loss). See
    /// `OutputLayer.softmaxRowReference`; lane-wise sums make y differ from it by a few ulp.
    static func simdSoftmaxRow(
        z: UnsafeMutablePointer<Float>, bias: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>,
        count o: Int, target k: Int
    ) -> Double {
        let vecEnd = o - o % 8
        var mv = F8(repeating: -.infinity)
        var j = 0
        while j < vecEnd {  // z += b, running max
            let v = load(z + j) + load(bias + j)
            store(v, z + j)
            // pointwiseMax(mv, v) lane for lane (Swift.max(x, y) is y >= x ? y : x), as one select:
            // the stdlib's generic pointwiseMax is not inlined here and cost a call per 8 values.
            mv = mv.replacing(with: v, where: v .>= mv)
            j += 8
        }
        var mx = mv.max()
        while j < o {
            z[j] += bias[j]
            mx = Swift.max(mx, z[j])
            j += 1
        }
        let m8 = F8(repeating: mx)
        var sv = F8(repeating: 0)
        j = 0
        while j < vecEnd {  // e = exp(z − max), Σe
            let e = simdExp(load(z + j) - m8)
            store(e, y + j)
            sv += e
            j += 8
        }
        var sum = sv.sum()
        while j < o {
            let e = Float.exp(z[j] - mx)
            y[j] = e
            sum += e
            j += 1
        }
        let inv = 1 / sum
        let inv8 = F8(repeating: inv)
        j = 0
        while j < vecEnd {
            store(load(y + j) * inv8, y + j)
            j += 8
        }
        while j < o {
            y[j] *= inv
            j += 1
        }
        guard k >= 0 else { return 0 }
        return Double(mx) + Foundation.log(Double(sum)) - Double(z[k])
    }

    /// dz = (y − t)·scale, or y·scale when `t` is nil, eight lanes at a time; bitwise equal to
    /// `OutputLayer.scaledDifferenceReference`.
    static func simdScaledDifference(
        _ y: UnsafeMutablePointer<Float>, _ t: UnsafePointer<Float>?, scale: Float,
        into dz: UnsafeMutablePointer<Float>, count o: Int
    ) {
        let vecEnd = o - o % 8
        let s8 = F8(repeating: scale)
        var j = 0
        if let t {
            while j < vecEnd {
                store((load(y + j) - UnsafeRawPointer(t + j).loadUnaligned(as: F8.self)) * s8, dz + j)
                j += 8
            }
            while j < o {
                dz[j] = (y[j] - t[j]) * scale
                j += 1
            }
        } else {
            while j < vecEnd {
                store(load(y + j) * s8, dz + j)
                j += 8
            }
            while j < o {
                dz[j] = y[j] * scale
                j += 1
            }
        }
    }
}
