// The LSTM layer: eqs. 1–6 (forward) and 8–25 (backward) of docs/math.md in batched matrix form.
//
// Dimension letters: B batch, T steps, I layer input width, H hidden width, G = 4H gate width.
// Every activation buffer is time-major, [T, B, ·], so one step's minibatch is a contiguous
// B×n matrix and the whole sequence is one (T·B)×n matrix for the all-steps GEMMs.
// Gate blocks along G are in the order i, f, g, o (PyTorch's layout; eqs. 1–4 number them f, i, o, g).

/// Activations one layer keeps from forward for backward, sized once for (maxBatch, maxSteps).
public struct LayerActivations<T: LSTMScalar>: @unchecked Sendable {
    /// (T, B, G): pre-activations a = Wx + Rh + b, overwritten in place by the gate values i, f, g, o.
    let gates: Buffer<T>
    /// (T+1, B, H): slot 0 is h⁽⁰⁾ (the initial state), slot t+1 is h⁽ᵗ⁾.
    let h: Buffer<T>
    /// (T+1, B, H): slot 0 is c⁽⁰⁾, slot t+1 is c⁽ᵗ⁾.
    let c: Buffer<T>
    /// (T, B, H): tanh(c⁽ᵗ⁾), kept for eqs. 16–17.
    let tanhC: Buffer<T>
    /// R packed for `T.gemmPacked` (Rᵀ during forward, R during backward), or empty when T has no
    /// packed GEMM. One buffer shared by all layers of a workspace: each pass packs its layer's R once.
    let packedR: Buffer<T>
    /// The workspace's place in the shard workers' step group (`StepGroup`): when engaged, the
    /// per-step GEMMs are computed together with the other shards (same bits).
    let stepGroup: StepGroupSlot

    /// The layer's outputs h⁽¹⁾…h⁽ᵀ⁾ as one (T·B) × H matrix (the next layer's input).
    func outputs(batch b: Int, steps t: Int, hidden: Int) -> Matrix<T> {
        Matrix(h.base + b * hidden, rows: t * b, cols: hidden)
    }
}

/// One pass's GEMMs, chosen once from the precision: float32 (`gemm`, `T.gemmPackB`,
/// `T.gemmPacked`) or bf16 operands with float32 accumulation (`BF16GEMM`), so the layer's
/// equations read the same in both.
struct LayerGEMMs<T: LSTMScalar> {
    let precision: Precision
    var bf16: Bool { precision == .bf16 }

    init(_ precision: Precision) { self.precision = precision }

    /// c ← op(a)·op(b) + beta·c over all steps (eqs. 1–4's input part, 23, 24 and ∂L/∂x).
    @inline(__always)
    func all(
        _ a: Matrix<T>, transposeA: Bool = false, _ b: Matrix<T>, transposeB: Bool = false, into c: Matrix<T>,
        beta: T = 0
    ) {
        if bf16 {
            BF16GEMM.gemm(a, transposeA: transposeA, b, transposeB: transposeB, into: c, beta: Float(beta))
        } else {
            gemm(a, transposeA: transposeA, b, transposeB: transposeB, into: c, beta: beta)
        }
    }

    /// Packs op(R) once for all steps' `step` calls.
    @inline(__always)
    func packB(transB: Bool, k: Int, n: Int, b: UnsafeMutablePointer<T>, ldb: Int, into packed: UnsafeMutablePointer<T>)
    {
        if bf16 {
            BF16GEMM.packB(transB: transB, k: k, n: n, b: b, ldb: ldb, into: packed)
        } else {
            T.gemmPackB(transB: transB, k: k, n: n, b: b, ldb: ldb, into: packed)
        }
    }

    /// One step's C ← A·B + C with B packed by `packB`: in the step group while it is engaged.
    @inline(__always)
    func step(
        m: Int, n: Int, k: Int, a: UnsafeMutablePointer<T>, lda: Int, packed: UnsafeMutablePointer<T>,
        c: UnsafeMutablePointer<T>, ldc: Int, group: StepGroupSlot
    ) {
        if group.engaged {
            group.gemmPacked(
                m: m, n: n, k: k, a: a, lda: lda, packed: packed, beta: 1, c: c, ldc: ldc, precision: precision)
        } else if bf16 {
            BF16GEMM.packed(m: m, n: n, k: k, a: a, lda: lda, packed: packed, beta: 1, c: c, ldc: ldc)
        } else {
            T.gemmPacked(m: m, n: n, k: k, a: a, lda: lda, packed: packed, beta: 1, c: c, ldc: ldc)
        }
    }
}

/// Forward and backward of one LSTM layer over a whole minibatch of sequences.
public enum LSTMLayer {
    /// Scalars R (4H × H) takes packed for either per-step GEMM (forward h Rᵀ, backward δG R),
    /// or 0 when T has no packed GEMM.
    public static func packedRCount<T: LSTMScalar>(_: T.Type, hidden h: Int) -> Int {
        max(T.gemmPackedCount(k: h, n: 4 * h), T.gemmPackedCount(k: 4 * h, n: h))
    }

    /// Runs eqs. 1–6 for all T steps.
    ///
    /// - Parameters:
    ///   - x: (T·B, I) layer input, time-major.
    ///   - acts: h and c slot 0 must already hold the initial state (B, H).
    ///   - bias: the (G) bias added to every step's pre-activations: `p.b`, or b_ih + b_hh.
    ///   - precision: `.bf16` runs every GEMM here on bf16 operands with float32 accumulation
    ///     (`BF16GEMM`; Float on our AVX-512 kernel only, as `Precision.unsupportedReason` checks).
    @inline(__always)
    static func forward<T: LSTMScalar>(
        _ p: LayerParameters<T>, x: Matrix<T>, batch b: Int, steps t: Int, hidden h: Int,
        acts: LayerActivations<T>, bias: UnsafeMutablePointer<T>, precision: Precision = .float32
    ) {
        let g = 4 * h
        let gates = Matrix(acts.gates.base, rows: t * b, cols: g)  // (T·B, G)
        let gemms = LayerGEMMs<T>(precision)
        // Eqs. 1–4, input part for all T steps in one GEMM: A = X Wᵀ, (T·B, I)·(I, G).
        gemms.all(x, p.w, transposeB: true, into: gates)
        // Rᵀ packed once for all T steps (the per-step GEMM would otherwise repack it every step).
        let packed = acts.packedR.count > 0 ? acts.packedR.base : nil
        if let packed { gemms.packB(transB: true, k: h, n: g, b: p.r.base, ldb: p.r.stride, into: packed) }
        for s in 0..<t {
            let hPrev = Matrix(acts.h.base + s * b * h, rows: b, cols: h)  // (B, H)
            let aStep = gates.rows(s * b, b)  // (B, G)
            // Eqs. 1–4, recurrent part: A⁽ˢ⁾ += h⁽ˢ⁻¹⁾ Rᵀ, one fused GEMM for all four gates.
            if let packed {
                gemms.step(
                    m: b, n: g, k: h, a: hPrev.base, lda: hPrev.stride, packed: packed, c: aStep.base,
                    ldc: aStep.stride, group: acts.stepGroup)
            } else {
                gemm(hPrev, p.r, transposeB: true, into: aStep, beta: 1)
            }
            T.lstmCellForward(
                gates: aStep.base, bias: bias,
                cPrev: acts.c.base + s * b * h, cNext: acts.c.base + (s + 1) * b * h,
                hNext: acts.h.base + (s + 1) * b * h, tanhC: acts.tanhC.base + s * b * h,
                batch: b, hidden: h)
        }
    }

    /// One step's gate nonlinearities, cell and hidden state, fused in one pass over (B, H):
    /// the plain reference loop (Double uses it; Float's SIMD kernel is tested against it).
    ///
    /// Eqs. 1–4: i = σ(a_i + b_i), f = σ(a_f + b_f), g = tanh(a_g + b_g), o = σ(a_o + b_o);
    /// eq. 5: c = g⊙i + c⁽ᵗ⁻¹⁾⊙f; eq. 6: h = o⊙tanh(c). Gate values replace the pre-activations.
    /// Shapes: gates (B, G), bias (G), cPrev, cNext, hNext, tanhC (B, H).
    @inlinable @inline(__always)
    public static func cellForwardReference<T: LSTMScalar>(
        gates: UnsafeMutablePointer<T>, bias: UnsafeMutablePointer<T>,
        cPrev: UnsafeMutablePointer<T>, cNext: UnsafeMutablePointer<T>,
        hNext: UnsafeMutablePointer<T>, tanhC: UnsafeMutablePointer<T>,
        batch b: Int, hidden h: Int
    ) {
        for row in 0..<b {
            let a = gates + row * 4 * h
            let ai = a
            let af = a + h
            let ag = a + 2 * h
            let ao = a + 3 * h
            let bi = bias
            let bf = bias + h
            let bg = bias + 2 * h
            let bo = bias + 3 * h
            let cp = cPrev + row * h
            let cn = cNext + row * h
            let hn = hNext + row * h
            let tc = tanhC + row * h
            for j in 0..<h {
                let i = T.sigmoid(ai[j] + bi[j])  // eq. 2
                let f = T.sigmoid(af[j] + bf[j])  // eq. 1
                let gg = T.tanh(ag[j] + bg[j])  // eq. 4
                let o = T.sigmoid(ao[j] + bo[j])  // eq. 3
                let c = gg * i + cp[j] * f  // eq. 5
                let tcj = T.tanh(c)
                ai[j] = i
                af[j] = f
                ag[j] = gg
                ao[j] = o
                cn[j] = c
                tc[j] = tcj
                hn[j] = o * tcj  // eq. 6
            }
        }
    }

    /// One step of eqs. 14 (elementwise part), 16–20, fused over (B, H): the plain reference
    /// loop beside `cellForwardReference` (Double uses it; Float's SIMD kernel is tested against it).
    ///
    /// Shapes: gates (B, G) holding i, f, g, o; cPrev, tanhC, dH, dcCarry (B, H); dGates (B, G).
    /// Writes the gate pre-activation gradients δθ ⊙ f′_θ (the factor every one of eqs. 14 and
    /// 23–25 uses) and advances `dcCarry` from δc⁽ᵗ⁺¹⁾⊙f⁽ᵗ⁺¹⁾ to δc⁽ᵗ⁾⊙f⁽ᵗ⁾.
    @inlinable @inline(__always)
    public static func cellBackwardReference<T: LSTMScalar>(
        gates: UnsafeMutablePointer<T>, cPrev: UnsafeMutablePointer<T>,
        tanhC: UnsafeMutablePointer<T>, dH: UnsafeMutablePointer<T>,
        dcCarry: UnsafeMutablePointer<T>, dGates: UnsafeMutablePointer<T>,
        batch b: Int, hidden h: Int
    ) {
        for row in 0..<b {
            let a = gates + row * 4 * h
            let ai = a
            let af = a + h
            let ag = a + 2 * h
            let ao = a + 3 * h
            let d = dGates + row * 4 * h
            let di = d
            let df = d + h
            let dg = d + 2 * h
            let dO = d + 3 * h
            let cp = cPrev + row * h
            let tc = tanhC + row * h
            let dh = dH + row * h
            let dcc = dcCarry + row * h
            for j in 0..<h {
                let i = ai[j]
                let f = af[j]
                let gg = ag[j]
                let o = ao[j]
                let tcj = tc[j]
                let dhj = dh[j]
                let dc = dhj * o * (1 - tcj * tcj) + dcc[j]  // eq. 16
                let dOut = dhj * tcj  // eq. 17
                let dF = dc * cp[j]  // eq. 18
                let dIn = dc * gg  // eq. 19
                let dCand = dc * i  // eq. 20
                di[j] = dIn * i * (1 - i)  // ⊙ σ′
                df[j] = dF * f * (1 - f)  // ⊙ σ′
                dg[j] = dCand * (1 - gg * gg)  // ⊙ tanh′
                dO[j] = dOut * o * (1 - o)  // ⊙ σ′
                dcc[j] = dc * f  // δc⁽ᵗ⁾ ⊙ f⁽ᵗ⁾, eq. 16's second term one step earlier
            }
        }
    }

    /// Backpropagation through time for one layer (eqs. 8–25).
    ///
    /// - Parameters:
    ///   - x: (T·B, I) the input the forward pass saw.
    ///   - dH: (T·B, H) ∂L/∂h⁽ᵗ⁾ from above (the output layer or the next layer); the recurrent
    ///     term of eq. 14 is accumulated into it step by step, so it is overwritten.
    ///   - dGates: (T·B, G) scratch, left holding δθ⁽ᵗ⁾ ⊙ f′_θ for every step.
    ///   - dcCarry: (B, H) scratch for δc⁽ᵗ⁺¹⁾ ⊙ f⁽ᵗ⁺¹⁾.
    ///   - grads: accumulated into (+=).
    ///   - dX: if given, (T·B, I) receives ∂L/∂x (overwritten).
    ///   - precision: as for `forward` (δG·R, δW, δR and δX on bf16 operands).
    @inline(__always)
    static func backward<T: LSTMScalar>(
        _ p: LayerParameters<T>, grads: LayerParameters<T>, x: Matrix<T>,
        batch b: Int, steps t: Int, hidden h: Int, acts: LayerActivations<T>,
        dH: UnsafeMutablePointer<T>, dGates: UnsafeMutablePointer<T>,
        dcCarry: UnsafeMutablePointer<T>, dX: Matrix<T>?, precision: Precision = .float32
    ) {
        let g = 4 * h
        let dG = Matrix(dGates, rows: t * b, cols: g)  // (T·B, G)
        let gemms = LayerGEMMs<T>(precision)
        dcCarry.update(repeating: 0, count: b * h)  // δc⁽ᵀ⁺¹⁾ = 0 (no step after T)
        // R packed once for all T − 1 recurrent steps of eq. 14.
        let packed = acts.packedR.count > 0 && t > 1 ? acts.packedR.base : nil
        if let packed { gemms.packB(transB: false, k: g, n: h, b: p.r.base, ldb: p.r.stride, into: packed) }
        for s in stride(from: t - 1, through: 0, by: -1) {
            T.lstmCellBackward(
                gates: acts.gates.base + s * b * g, cPrev: acts.c.base + s * b * h,
                tanhC: acts.tanhC.base + s * b * h, dH: dH + s * b * h,
                dcCarry: dcCarry, dGates: dGates + s * b * g, batch: b, hidden: h)
            if s > 0 {
                // Eq. 14, recurrent term: δh⁽ˢ⁻¹⁾ += Σ_θ Rᵀ(δθ⁽ˢ⁾ ⊙ f′_θ); all four gates in one GEMM,
                // (B, G)·(G, H).
                if let packed {
                    gemms.step(
                        m: b, n: h, k: g, a: dGates + s * b * g, lda: g, packed: packed, c: dH + (s - 1) * b * h,
                        ldc: h, group: acts.stepGroup)
                } else {
                    gemm(dG.rows(s * b, b), p.r, into: Matrix(dH + (s - 1) * b * h, rows: b, cols: h), beta: 1)
                }
            }
        }
        let hs = Matrix(acts.h.base, rows: t * b, cols: h)
        // Eq. 23: δW += Σ_t (δθ⁽ᵗ⁾ ⊙ f′_θ) x⁽ᵗ⁾ᵀ, all steps in one GEMM, (G, T·B)·(T·B, I).
        gemms.all(dG, transposeA: true, x, into: grads.w, beta: 1)
        // Eq. 24: δR += Σ_t (δθ⁽ᵗ⁾ ⊙ f′_θ) h⁽ᵗ⁻¹⁾ᵀ; h slots 0..T−1 are h⁽ᵗ⁻¹⁾, (G, T·B)·(T·B, H).
        gemms.all(dG, transposeA: true, hs, into: grads.r, beta: 1)
        // Eq. 25: δb += Σ_t δθ⁽ᵗ⁾ ⊙ f′_θ; PyTorch's b_ih and b_hh both get this same gradient.
        addColumnSums(dG, into: grads.b)
        if let bHH = grads.bHH { addColumnSums(dG, into: bHH) }
        // ∂L/∂x⁽ᵗ⁾ = Σ_θ Wᵀ(δθ⁽ᵗ⁾ ⊙ f′_θ): the layer below's δh from above, (T·B, G)·(G, I).
        if let dX { gemms.all(dG, p.w, into: dX) }
    }
}

/// out[j] += Σ_r m[r, j]: the bias gradients (eqs. 22 and 25).
@inline(__always)
func addColumnSums<T: LSTMScalar>(_ m: Matrix<T>, into out: UnsafeMutablePointer<T>) {
    for r in 0..<m.rows {
        let row = m.base + r * m.stride
        for j in 0..<m.cols { out[j] += row[j] }
    }
}
