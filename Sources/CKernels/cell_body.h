// The fused LSTM cell kernels, written once over a small vector vocabulary that cell_avx512.c
// (16 lanes) and cell_avx2.c (8 lanes) define before including this file.
//
// Bitwise contract: every lane does exactly the IEEE operations of the Swift SIMD8 kernels in
// Sources/LSTMKit/Tensor/SIMDKernels.swift (simdExp, simdSigmoid, simdTanh, simdCellForward,
// simdCellBackward), in the same order: separate multiplies and adds (the including files say
// `#pragma clang fp contract(off)` and use no FMA intrinsic), the same constants (hex literals equal
// to Swift's Float literals), clamps by ordered compare-and-select (a NaN stays NaN), negation as a
// sign flip. The ragged end of a row (h not a multiple of the width) runs the same vector code on
// masked loads and stores, so every element gets the vector result, which equals the Swift scalar tail
// (Float.exp/sigmoid/tanh are lane for lane equal to the SIMD8 functions; see KernelTests).
//
// Needs: VF (float vector), VI (int vector), W (lanes), MASK, plus the V_* / I_* operations below.

static inline __attribute__((always_inline)) VF cell_exp(VF x) {
    VF lo = V_SET1(-0x1.5d3334p+6f);  // -87.3
    VF hi = V_SET1(0x1.62ccccp+6f);   // 88.7
    VF xc = V_SEL_LT_ELSE(x, lo, lo, x);   // x < lo ? lo : x (ordered: NaN stays)
    xc = V_SEL_GT_ELSE(xc, hi, hi, xc);    // xc > hi ? hi : xc
    VF shifter = V_SET1(0x1.8p+23f);  // 12582912 = 1.5·2^23
    VF t = V_ADD(V_MUL(xc, V_SET1(0x1.715476p+0f)), shifter);
    VF nf = V_SUB(t, shifter);
    VI n = I_SUB(V_AS_I(t), I_SET1(0x4B400000));
    VF r = V_SUB(xc, V_MUL(nf, V_SET1(0x1.63p-1f)));
    r = V_SUB(r, V_MUL(nf, V_SET1(-0x1.bd0106p-13f)));
    VF p = V_SET1(0x1.a0d2cep-13f);
    p = V_ADD(V_MUL(p, r), V_SET1(0x1.6e879cp-10f));
    p = V_ADD(V_MUL(p, r), V_SET1(0x1.11121p-7f));
    p = V_ADD(V_MUL(p, r), V_SET1(0x1.555382p-5f));
    p = V_ADD(V_MUL(p, r), V_SET1(0x1.555554p-3f));
    p = V_ADD(V_MUL(p, r), V_SET1(0x1p-1f));
    VF one = V_SET1(1.0f);
    VF er = V_ADD(V_ADD(V_MUL(V_MUL(p, r), r), r), one);
    VI n1 = I_SRA1(n);
    VI n2 = I_SUB(n, n1);
    VF s1 = I_AS_V(I_SLL23(I_ADD(n1, I_SET1(127))));
    VF s2 = I_AS_V(I_SLL23(I_ADD(n2, I_SET1(127))));
    return V_MUL(V_MUL(er, s1), s2);
}

static inline __attribute__((always_inline)) VF cell_sigmoid(VF x) {
    VF one = V_SET1(1.0f);
    return V_DIV(one, V_ADD(one, cell_exp(V_NEG(x))));
}

static inline __attribute__((always_inline)) VF cell_tanh(VF x) {
    VI bits = V_AS_I(x);
    VI sign = I_AND(bits, I_SET1((int)0x80000000u));
    VF ax = I_AS_V(I_AND(bits, I_SET1(0x7FFFFFFF)));
    VF one = V_SET1(1.0f);
    VF e = cell_exp(V_MUL(V_SET1(-2.0f), ax));
    VF big = V_DIV(V_SUB(one, e), V_ADD(one, e));
    VF x2 = V_MUL(ax, ax);
    VF p = V_SET1(-0x1.226e36p-7f);                        // -1382/155925
    p = V_ADD(V_MUL(p, x2), V_SET1(0x1.664f48p-6f));       // 62/2835
    p = V_SUB(V_MUL(p, x2), V_SET1(0x1.ba1ba2p-5f));       // 17/315
    p = V_ADD(V_MUL(p, x2), V_SET1(0x1.11111p-3f));        // 2/15
    p = V_SUB(V_MUL(p, x2), V_SET1(0x1.555556p-2f));       // 1/3
    VF small = V_ADD(ax, V_MUL(V_MUL(ax, x2), p));
    VF m = V_SEL_LT_ELSE(ax, V_SET1(0x1p-2f), small, big);  // ax < 0.25 ? small : big
    return I_AS_V(I_OR(V_AS_I(m), sign));
}

// One vector of the forward step at column j of a row (eqs. 1-6); `mask` selects the live lanes.
#define CELL_FORWARD_STEP(LOAD, STORE)                                                             \
    do {                                                                                           \
        VF i = cell_sigmoid(V_ADD(LOAD(a + j), LOAD(bias + j)));                                   \
        VF f = cell_sigmoid(V_ADD(LOAD(a + h + j), LOAD(bias + h + j)));                           \
        VF g = cell_tanh(V_ADD(LOAD(a + 2 * h + j), LOAD(bias + 2 * h + j)));                      \
        VF o = cell_sigmoid(V_ADD(LOAD(a + 3 * h + j), LOAD(bias + 3 * h + j)));                   \
        VF c = V_ADD(V_MUL(g, i), V_MUL(LOAD(cp + j), f));                                         \
        VF t = cell_tanh(c);                                                                       \
        STORE(a + j, i);                                                                           \
        STORE(a + h + j, f);                                                                       \
        STORE(a + 2 * h + j, g);                                                                   \
        STORE(a + 3 * h + j, o);                                                                   \
        STORE(cn + j, c);                                                                          \
        STORE(tc + j, t);                                                                          \
        STORE(hn + j, V_MUL(o, t));                                                                \
    } while (0)

#define CELL_BACKWARD_STEP(LOAD, STORE)                                                            \
    do {                                                                                           \
        VF one = V_SET1(1.0f);                                                                     \
        VF i = LOAD(a + j);                                                                        \
        VF f = LOAD(a + h + j);                                                                    \
        VF gg = LOAD(a + 2 * h + j);                                                               \
        VF o = LOAD(a + 3 * h + j);                                                                \
        VF tcj = LOAD(tc + j);                                                                     \
        VF dhj = LOAD(dh + j);                                                                     \
        VF dc = V_ADD(V_MUL(V_MUL(dhj, o), V_SUB(one, V_MUL(tcj, tcj))), LOAD(dcc + j));           \
        VF dOut = V_MUL(dhj, tcj);                                                                 \
        VF dF = V_MUL(dc, LOAD(cp + j));                                                           \
        VF dIn = V_MUL(dc, gg);                                                                    \
        VF dCand = V_MUL(dc, i);                                                                   \
        STORE(d + j, V_MUL(V_MUL(dIn, i), V_SUB(one, i)));                                         \
        STORE(d + h + j, V_MUL(V_MUL(dF, f), V_SUB(one, f)));                                      \
        STORE(d + 2 * h + j, V_MUL(dCand, V_SUB(one, V_MUL(gg, gg))));                             \
        STORE(d + 3 * h + j, V_MUL(V_MUL(dOut, o), V_SUB(one, o)));                                \
        STORE(dcc + j, V_MUL(dc, f));                                                              \
    } while (0)

#define FULL_LOAD(p) V_LOADU(p)
#define FULL_STORE(p, v) V_STOREU(p, v)
#define TAIL_LOAD(p) V_MASKLOAD(mask, p)
#define TAIL_STORE(p, v) V_MASKSTORE(mask, p, v)

#define CELL_CAT2(a, b) a##_##b
#define CELL_CAT(a, b) CELL_CAT2(a, b)

void CELL_CAT(lstm_cell_forward, SUFFIX)(float *gates, const float *bias, const float *cPrev, float *cNext,
                                         float *hNext, float *tanhC, long batch, long h) {
    long vecEnd = h - h % W;
    MASK mask = MAKE_MASK(h - vecEnd);
    for (long row = 0; row < batch; row++) {
        float *a = gates + row * 4 * h;
        const float *cp = cPrev + row * h;
        float *cn = cNext + row * h;
        float *hn = hNext + row * h;
        float *tc = tanhC + row * h;
        long j = 0;
        for (; j < vecEnd; j += W) CELL_FORWARD_STEP(FULL_LOAD, FULL_STORE);
        if (j < h) CELL_FORWARD_STEP(TAIL_LOAD, TAIL_STORE);
    }
}

void CELL_CAT(lstm_cell_backward, SUFFIX)(const float *gates, const float *cPrev, const float *tanhC,
                                          const float *dH, float *dcCarry, float *dGates, long batch, long h) {
    long vecEnd = h - h % W;
    MASK mask = MAKE_MASK(h - vecEnd);
    for (long row = 0; row < batch; row++) {
        const float *a = gates + row * 4 * h;
        float *d = dGates + row * 4 * h;
        const float *cp = cPrev + row * h;
        const float *tc = tanhC + row * h;
        const float *dh = dH + row * h;
        float *dcc = dcCarry + row * h;
        long j = 0;
        for (; j < vecEnd; j += W) CELL_BACKWARD_STEP(FULL_LOAD, FULL_STORE);
        if (j < h) CELL_BACKWARD_STEP(TAIL_LOAD, TAIL_STORE);
    }
}
