// The blocked sgemm around one micro-kernel, included once per ISA by gemm_avx512.c and
// gemm_avx2.c after they define MR, NR, MC (a multiple of MR), SUFFIX and
//   static void kernel(long kc, const float *a, const float *b, float *c, long ldc, int mr, int nr,
//                      float alpha, float beta);
// which computes the mr×nr tile C ← beta·C + alpha·Σ_p A[i][p]·B[p][j] (beta = 0: C not read) from
// an MR-tall packed sliver of A (kc columns of MR floats) and an NR-wide packed sliver of B (kc rows
// of NR floats), accumulating each element with one FMA per p, in p order, from zero.
//
// Loops: columns in blocks whose packed B over all k fits 4 MiB (pack it) → rows in MC blocks (that
// block of C stays in cache) → k in KC blocks (pack that MC×KC block of A; it stays in L2) → NR
// slivers of B (one sliver in L1) → MR tiles. lstm_sgemm_packed is the same without the first step.

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define NAME(x) CAT(x, SUFFIX)
#define KC LSTM_GEMM_KC

static inline long min_l(long a, long b) { return a < b ? a : b; }

/// Packs op(B)[0..kc, 0..nc) (element (p, j) at b[p·rsb + j·csb]) as NR-wide slivers of kc rows,
/// the last one zero-padded.
static void pack_block(long kc, long nc, const float *b, long rsb, long csb, float *out) {
    for (long j0 = 0; j0 < nc; j0 += NR) {
        long w = min_l(NR, nc - j0);
        float *o = out + j0 * kc;
        if (csb == 1) {
            for (long p = 0; p < kc; p++) {
                const float *src = b + p * rsb + j0;
                float *dst = o + p * NR;
                long j = 0;
                for (; j < w; j++) dst[j] = src[j];
                for (; j < NR; j++) dst[j] = 0;
            }
        } else {
            for (long j = 0; j < w; j++) {
                const float *src = b + (j0 + j) * csb;
                for (long p = 0; p < kc; p++) o[p * NR + j] = src[p * rsb];
            }
            for (long j = w; j < NR; j++)
                for (long p = 0; p < kc; p++) o[p * NR + j] = 0;
        }
    }
}

/// Packs A[0..mc, 0..kc) (element (i, p) at a[i·rsa + p·csa]) as MR-tall slivers of kc columns,
/// the last one zero-padded.
static void pack_a(long mc, long kc, const float *a, long rsa, long csa, float *out) {
    for (long i0 = 0; i0 < mc; i0 += MR) {
        long h = min_l(MR, mc - i0);
        float *o = out + i0 * kc;
        if (rsa == 1) {  // column p of the sliver is contiguous
            for (long p = 0; p < kc; p++) {
                const float *src = a + i0 + p * csa;
                float *dst = o + p * MR;
                long i = 0;
                for (; i < h; i++) dst[i] = src[i];
                for (; i < MR; i++) dst[i] = 0;
            }
        } else {
            for (long i = 0; i < h; i++) {
                const float *src = a + (i0 + i) * rsa;
                for (long p = 0; p < kc; p++) o[p * MR + i] = src[p * csa];
            }
            for (long i = h; i < MR; i++)
                for (long p = 0; p < kc; p++) o[p * MR + i] = 0;
        }
    }
}

/// C (m×n) ← alpha·A·B + beta·C with B packed for all k (the lstm_sgemm_pack_b layout, K blocks
/// `bstride` floats apart): rows in MC blocks outermost, so an MC×n block of C stays in cache while
/// the K blocks are added to it in order; `ap` has room for an MC×KC block of A.
static void multiply_packed(long m, long n, long k, float alpha, const float *a, long rsa, long csa,
                            const float *bp, long bstride, float beta, float *c, long ldc, float *ap) {
    for (long ic = 0; ic < m; ic += MC) {
        long mc = min_l(MC, m - ic);
        for (long pc = 0; pc < k; pc += KC) {
            long kc = min_l(KC, k - pc);
            float bt = pc == 0 ? beta : 1;
            pack_a(mc, kc, a + ic * rsa + pc * csa, rsa, csa, ap);
            const float *bk = bp + (pc / KC) * bstride;
            for (long jr = 0; jr < n; jr += NR) {
                int nr = (int)min_l(NR, n - jr);
                const float *bs = bk + jr * kc;
                for (long ir = 0; ir < mc; ir += MR) {
                    int mr = (int)min_l(MR, mc - ir);
                    kernel(kc, ap + ir * kc, bs, c + (ic + ir) * ldc + jr, ldc, mr, nr, alpha, bt);
                }
            }
        }
    }
}

static void scale_c(long m, long n, float beta, float *c, long ldc) {
    for (long i = 0; i < m; i++)
        for (long j = 0; j < n; j++) c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j];
}

/// Packs op(B)[0..k, 0..n) (element (p, j) at b[p·rsb + j·csb]) in K blocks of KC rows, block pc/KC at
/// packed + (pc/KC)·KC·roundUp(n, NR).
static void pack_b_all(long k, long n, const float *b, long rsb, long csb, float *packed) {
    long np = (n + NR - 1) / NR * NR;
    for (long pc = 0; pc < k; pc += KC) pack_block(min_l(KC, k - pc), n, b + pc * rsb, rsb, csb, packed + (pc / KC) * KC * np);
}

#define B_FLOATS (1L << 20)  // packed B per column block: at most 4 MiB (L2/L3-resident)
#define A_FLOATS ((long)MC * KC)

void NAME(lstm_sgemm_)(int transA, int transB, long m, long n, long k, float alpha,
                        const float *a, long lda, const float *b, long ldb, float beta,
                        float *c, long ldc) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
        if (beta != 1) scale_c(m, n, beta, c, ldc);
        return;
    }
    long rsa = transA ? 1 : lda, csa = transA ? lda : 1;
    long rsb = transB ? 1 : ldb, csb = transB ? ldb : 1;
    float *buf = lstm_gemm_thread_buffer(B_FLOATS + A_FLOATS);
    long kp = (k + KC - 1) / KC * KC;
    long nc_max = B_FLOATS / kp / NR * NR;  // columns whose packed B (all k) fits the buffer
    if (nc_max < NR) nc_max = NR;
    if (kp * nc_max > B_FLOATS) buf = lstm_gemm_thread_buffer(kp * nc_max + A_FLOATS);  // only for k > 32768
    for (long jc = 0; jc < n; jc += nc_max) {
        long nc = min_l(nc_max, n - jc);
        long np = (nc + NR - 1) / NR * NR;
        pack_b_all(k, nc, b + jc * csb, rsb, csb, buf);
        multiply_packed(m, nc, k, alpha, a, rsa, csa, buf, KC * np, beta, c + jc, ldc, buf + kp * nc_max);
    }
}

void NAME(lstm_sgemm_pack_b_)(int transB, long k, long n, const float *b, long ldb, float *packed) {
    pack_b_all(k, n, b, transB ? 1 : ldb, transB ? ldb : 1, packed);
}

void NAME(lstm_sgemm_packed_)(int transA, long m, long n, long k, float alpha, const float *a,
                               long lda, const float *packed, float beta, float *c, long ldc) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
        if (beta != 1) scale_c(m, n, beta, c, ldc);
        return;
    }
    long np = (n + NR - 1) / NR * NR;
    float *ap = lstm_gemm_thread_buffer(B_FLOATS + A_FLOATS) + B_FLOATS;  // one allocation per thread
    multiply_packed(m, n, k, alpha, a, transA ? 1 : lda, transA ? lda : 1, packed, KC * np, beta, c, ldc, ap);
}
