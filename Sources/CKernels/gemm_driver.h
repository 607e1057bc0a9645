// The blocked sgemm around one micro-kernel, included once per ISA by gemm_avx512.c and
// gemm_avx2.c after they define MR, NR, MC (a multiple of MR), SUFFIX and
//   static void kernel(long kc, const float *a, const float *b, float *c, long ldc, int mr, int nr,
//                      float alpha, float beta);
// which computes the mr×nr tile C ← beta·C + alpha·Σ_p A[i][p]·B[p][j] (beta = 0: C not read) from
// an MR-tall packed sliver of A (kc columns of MR floats) and an NR-wide packed sliver of B (kc rows
// of NR floats), accumulating each element with one FMA per p, in p order, from zero.
// An includer may also define KERNEL_STREAMING, a kernel with the same contract and arithmetic for
// the per-step GEMMs (few tiles per B sliver, B and C arriving from L2/L3) and two more arguments,
// `const char *next, long next_lines`: lines at `next` it prefetches into L2 as its k loop goes.
// Without one the driver runs `kernel` there (the rows path prefetching those lines itself, at once).
//
// Loops: columns in blocks whose packed B over all k fits 4 MiB (pack it) → rows in MC blocks (that
// block of C stays in cache) → k in KC blocks (pack that MC×KC block of A; it stays in L2) → NR
// slivers of B (one sliver in L1) → MR tiles. lstm_sgemm_packed is the same without the first step.
// Packing uses 8×8 AVX transposes where the source is not laid out as the slivers, and the next A
// block's source (plus, for the all-steps GEMMs, the next B sliver and each C tile) is prefetched
// while the current one is multiplied: without that, packing A was 20–26 % of δW/δR/δX
// (docs/results/kernels.md). None of it changes which FMAs run or their order.

// An includer with a different packed element (the bf16 kernel, gemm_avx512_bf16.c) also defines
// PACKED_T (the packed element type), KPAD(kc) (packed elements per row/column of a K block of kc)
// and DRIVER_OWN_PACKING with its own pack_block and pack_a (same contracts, its layout); the
// defaults below are the float driver, unchanged.
#ifndef PACKED_T
#define PACKED_T float
#endif
#ifndef KPAD
#define KPAD(kc) (kc)
#endif
/// 64-byte lines of one packed NR-wide sliver of a K block of kc.
#define SLIVER_LINES(kc) (KPAD(kc) * NR * (long)sizeof(PACKED_T) / 64)

#ifdef KERNEL_STREAMING
#define HAS_STREAMING_KERNEL 1
#else
#define HAS_STREAMING_KERNEL 0  // every call is `kernel`: the same code as without it
#endif

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define NAME(x) CAT(x, SUFFIX)

/// Whether this kind's per-step GEMMs run a streaming kernel (lstm_gemm_streams_per_step).
const int NAME(lstm_gemm_streaming_) = HAS_STREAMING_KERNEL;
/// This object's tile width, the sliver width its pack_b packs into (lstm_gemm_tile_columns).
const int NAME(lstm_gemm_tile_columns_) = NR;

#define KC LSTM_GEMM_KC
/// Tiles per B sliver from which a GEMM is an all-steps one (fewer: a per-step GEMM, m = B/S rows).
#define MANY_TILES 8
/// Packed A (all k) up to which a streaming kernel's per-step GEMM goes column by column
/// (multiply_packed_columns): 512 KiB, half of a 1 MiB L2 (H = 1024's δG·R packs 32 × 4096).
#define COLUMNS_A_FLOATS (1L << 17)

static inline long min_l(long a, long b) { return a < b ? a : b; }

#if HAS_STREAMING_KERNEL
/// The streaming kernel on one tile, t-th of those sharing the next B sliver (nb_lines lines at nb,
/// nb_per to a tile): it prefetches its share one line per k.
static inline __attribute__((always_inline)) void stream_tile(long kc, const PACKED_T *a, const PACKED_T *b, float *c,
                                                              long ldc, int mr, int nr, float alpha, float beta,
                                                              const char *nb, long nb_lines, long nb_per, long t) {
    long first = t * nb_per, lines = min_l(nb_lines, first + nb_per) - first;
    KERNEL_STREAMING(kc, a, b, c, ldc, mr, nr, alpha, beta, lines > 0 ? nb + 64 * first : nb, lines > 0 ? lines : 0);
}
#endif

/// dst[c·ds + r] = src[r·ss + c] for r, c < 8: an 8×8 block transposed with AVX shuffles (both ISAs
/// have them). Moves floats without arithmetic, so packing this way changes no result bit.
static inline __attribute__((always_inline)) void transpose8x8(const float *src, long ss, float *dst, long ds) {
    __m256 r0 = _mm256_loadu_ps(src), r1 = _mm256_loadu_ps(src + ss), r2 = _mm256_loadu_ps(src + 2 * ss),
           r3 = _mm256_loadu_ps(src + 3 * ss), r4 = _mm256_loadu_ps(src + 4 * ss), r5 = _mm256_loadu_ps(src + 5 * ss),
           r6 = _mm256_loadu_ps(src + 6 * ss), r7 = _mm256_loadu_ps(src + 7 * ss);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1), t2 = _mm256_unpacklo_ps(r2, r3),
           t3 = _mm256_unpackhi_ps(r2, r3), t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
           t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE),
           u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE),
           u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE),
           u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    _mm256_storeu_ps(dst, _mm256_permute2f128_ps(u0, u4, 0x20));
    _mm256_storeu_ps(dst + ds, _mm256_permute2f128_ps(u1, u5, 0x20));
    _mm256_storeu_ps(dst + 2 * ds, _mm256_permute2f128_ps(u2, u6, 0x20));
    _mm256_storeu_ps(dst + 3 * ds, _mm256_permute2f128_ps(u3, u7, 0x20));
    _mm256_storeu_ps(dst + 4 * ds, _mm256_permute2f128_ps(u0, u4, 0x31));
    _mm256_storeu_ps(dst + 5 * ds, _mm256_permute2f128_ps(u1, u5, 0x31));
    _mm256_storeu_ps(dst + 6 * ds, _mm256_permute2f128_ps(u2, u6, 0x31));
    _mm256_storeu_ps(dst + 7 * ds, _mm256_permute2f128_ps(u3, u7, 0x31));
}

#ifndef DRIVER_OWN_PACKING
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
            continue;
        }
        long j = 0;
        if (rsb == 1)  // B transposed: 8 columns × 8 rows at a time
            for (; j + 8 <= w; j += 8) {
                const float *src = b + (j0 + j) * csb;
                long p = 0;
                for (; p + 8 <= kc; p += 8) transpose8x8(src + p, csb, o + p * NR + j, NR);
                for (; p < kc; p++)
                    for (long q = 0; q < 8; q++) o[p * NR + j + q] = src[q * csb + p];
            }
        for (; j < w; j++) {
            const float *src = b + (j0 + j) * csb;
            for (long p = 0; p < kc; p++) o[p * NR + j] = src[p * rsb];
        }
        for (; j < NR; j++)
            for (long p = 0; p < kc; p++) o[p * NR + j] = 0;
    }
}

/// Packs A[0..mc, 0..kc) (element (i, p) at a[i·rsa + p·csa]) as MR-tall slivers of kc columns,
/// the last one zero-padded.
static void pack_a(long mc, long kc, const float *a, long rsa, long csa, float *out) {
    long full = mc / MR * MR, h = mc - full;
    if (rsa == 1) {  // A transposed: column p of the block is contiguous; 16 columns (in L1) at a time
        for (long p0 = 0; p0 < kc; p0 += 16) {
            long pe = min_l(kc, p0 + 16);
            for (long i0 = 0; i0 < full; i0 += MR) {
                float *dst = out + i0 * kc;
                for (long p = p0; p < pe; p++) __builtin_memcpy(dst + p * MR, a + p * csa + i0, MR * sizeof(float));
            }
            if (h) {
                float *dst = out + full * kc;
                for (long p = p0; p < pe; p++) {
                    long i = 0;
                    for (; i < h; i++) dst[p * MR + i] = a[p * csa + full + i];
                    for (; i < MR; i++) dst[p * MR + i] = 0;
                }
            }
        }
        return;
    }
    for (long i0 = 0; i0 < mc; i0 += MR) {
        float *o = out + i0 * kc;
        long hh = min_l(MR, mc - i0), p = 0;
        if (hh == MR && MR % 8 == 0 && csa == 1)  // rows of A contiguous: 8 rows × 8 columns at a time
            for (; p + 8 <= kc; p += 8)
                for (long r = 0; r < MR; r += 8) transpose8x8(a + (i0 + r) * rsa + p, rsa, o + p * MR + r, MR);
        for (long i = 0; i < hh; i++) {
            const float *src = a + (i0 + i) * rsa;
            for (long q = p; q < kc; q++) o[q * MR + i] = src[q * csa];
        }
        for (long i = hh; i < MR; i++)
            for (long q = 0; q < kc; q++) o[q * MR + i] = 0;
    }
}

#endif  // DRIVER_OWN_PACKING

/// The source lines of the next block of A, fetched into L2 a few per micro-kernel call while the
/// current block is multiplied: packing then reads L2 instead of waiting on memory for rows that are
/// lda apart (the transposed δGᵀ of δW/δR and the row-major δG of δX span megabytes). Prefetches
/// change no result.
typedef struct {
    const char *base;
    long rows, stride, bytes;  // strides and lengths in bytes
    long r;                    // next row
    long per_call;             // rows per micro-kernel call
} prefetcher;

static void prefetch_plan(prefetcher *pf, const float *a, long rsa, long csa, long mc, long kc, long calls) {
    int rows_contiguous = csa == 1;
    pf->base = (const char *)a;
    pf->rows = rows_contiguous ? mc : kc;
    pf->stride = (rows_contiguous ? rsa : csa) * (long)sizeof(float);
    pf->bytes = (rows_contiguous ? kc : mc) * (long)sizeof(float);
    pf->r = 0;
    pf->per_call = pf->rows / (calls > 0 ? calls : 1) + 1;
}

static inline __attribute__((always_inline)) void prefetch_step(prefetcher *pf) {
    long end = min_l(pf->rows, pf->r + pf->per_call);
    for (; pf->r < end; pf->r++) {
        const char *row = pf->base + pf->r * pf->stride;
        for (const char *line = row; line < row + pf->bytes; line += 64) _mm_prefetch(line, _MM_HINT_T1);
        _mm_prefetch(row + pf->bytes - 1, _MM_HINT_T1);  // the last line when the row is not 64-byte aligned
    }
}

/// C (m×n) ← alpha·A·B + beta·C with B packed for all k (the lstm_sgemm_pack_b layout, K blocks
/// `bstride` floats apart): rows in MC blocks outermost, so an MC×n block of C stays in cache while
/// the K blocks are added to it in order; `ap` has room for an MC×KC block of A.
static void multiply_packed(long m, long n, long k, float alpha, const float *a, long rsa, long csa,
                            const PACKED_T *bp, long bstride, float beta, float *c, long ldc, PACKED_T *ap) {
    prefetcher pf;
    for (long ic = 0; ic < m; ic += MC) {
        long mc = min_l(MC, m - ic);
        for (long pc = 0; pc < k; pc += KC) {
            long kc = min_l(KC, k - pc);
            float bt = pc == 0 ? beta : 1;
            pack_a(mc, kc, a + ic * rsa + pc * csa, rsa, csa, ap);
            long calls = (n + NR - 1) / NR * ((mc + MR - 1) / MR);
            long nic = pc + KC < k ? ic : ic + MC, npc = pc + KC < k ? pc + KC : 0;
            if (nic < m)
                prefetch_plan(&pf, a + nic * rsa + npc * csa, rsa, csa, min_l(MC, m - nic), min_l(KC, k - npc), calls);
            else
                pf.rows = 0, pf.r = 0, pf.per_call = 0;
            const PACKED_T *bk = bp + (pc / KC) * bstride;
            for (long jr = 0; jr < n; jr += NR) {
                int nr = (int)min_l(NR, n - jr);
                const PACKED_T *bs = bk + jr * KPAD(kc);
                // the next sliver of B (the next jr, else the next K block's or row block's first),
                // into L2 a few lines per call: it is read from L3 otherwise, by the first tile
                const char *nb = NULL;
                long nb_lines = 0;
                if (jr + NR < n)
                    nb = (const char *)(bs + NR * KPAD(kc)), nb_lines = SLIVER_LINES(kc);
                else if (pc + KC < k)
                    nb = (const char *)(bp + (pc / KC + 1) * bstride), nb_lines = SLIVER_LINES(min_l(KC, k - pc - KC));
                else if (ic + MC < m)
                    nb = (const char *)bp, nb_lines = SLIVER_LINES(min_l(KC, k));
                long tiles = (mc + MR - 1) / MR, nb_per = nb_lines / tiles + 1;
                // Here when the sliver serves many tiles (the all-steps GEMMs). For the per-step GEMMs
                // (m = B/S rows, a few tiles) prefetched here in a burst they measured slower than none;
                // a streaming kernel takes them one per k instead.
                int many = tiles >= MANY_TILES;
                for (long ir = 0, t = 0; ir < mc; ir += MR, t++) {
                    int mr = (int)min_l(MR, mc - ir);
                    float *ct = c + (ic + ir) * ldc + jr;
                    prefetch_step(&pf);
                    if (many) {
                        for (long l = t * nb_per; l < min_l(nb_lines, (t + 1) * nb_per); l++)
                            _mm_prefetch(nb + 64 * l, _MM_HINT_T1);
                        for (int i = 0; i < mr; i++)  // the C tile, read and written after the k loop
                            for (int v = 0; v < NR; v += 16) _mm_prefetch((const char *)(ct + i * ldc + v), _MM_HINT_T0);
                    }
#if HAS_STREAMING_KERNEL
                    if (!many) {
                        stream_tile(kc, ap + ir * KPAD(kc), bs, ct, ldc, mr, nr, alpha, bt, nb, nb_lines, nb_per, t);
                        continue;
                    }
#endif
                    kernel(kc, ap + ir * KPAD(kc), bs, ct, ldc, mr, nr, alpha, bt);
                }
            }
        }
    }
}

#if HAS_STREAMING_KERNEL
/// The per-step GEMMs over several K blocks (few tiles, k > KC), C ← alpha·A·B + beta·C with B packed
/// for all k: A packed for all k first (its K blocks roundUp(m, MR)·KC floats apart at `ap`), then
/// columns outermost, each NR-wide column of C taking its K blocks in order while its few tiles stay
/// in L1. multiply_packed would stream all of C (B/S × 4H, beyond L2 at H = 1024 once R streams
/// through) once per K block. Each element sees the same FMAs in the same order (each K block from
/// zero, added to C in block order), so the bits are multiply_packed's (docs/results/kernels.md,
/// "The per-step GEMMs column by column").
static void multiply_packed_columns(long m, long n, long k, float alpha, const float *a, long rsa, long csa,
                                    const PACKED_T *bp, long bstride, float beta, float *c, long ldc,
                                    PACKED_T *ap) {
    long mp = (m + MR - 1) / MR * MR, tiles = mp / MR;
    for (long pc = 0; pc < k; pc += KC) pack_a(m, min_l(KC, k - pc), a + pc * csa, rsa, csa, ap + (pc / KC) * mp * KC);
    for (long jr = 0; jr < n; jr += NR) {
        int nr = (int)min_l(NR, n - jr);
        for (long pc = 0; pc < k; pc += KC) {
            long kc = min_l(KC, k - pc);
            const PACKED_T *bs = bp + (pc / KC) * bstride + jr * KPAD(kc), *ak = ap + (pc / KC) * mp * KC;
            // the next sliver in this order (this column's next K block, else the next column's first),
            // into L2 one line per k, shared out among the tiles
            const char *nb = NULL;
            long nb_lines = 0;
            if (pc + KC < k) {
                long nkc = min_l(KC, k - pc - KC);
                nb = (const char *)(bp + (pc / KC + 1) * bstride + jr * KPAD(nkc)), nb_lines = SLIVER_LINES(nkc);
            } else if (jr + NR < n)
                nb = (const char *)(bp + (jr + NR) * KPAD(min_l(KC, k))), nb_lines = SLIVER_LINES(min_l(KC, k));
            long nb_per = nb_lines / tiles + 1;
            for (long ir = 0, t = 0; ir < m; ir += MR, t++)
                stream_tile(kc, ak + ir * KPAD(kc), bs, c + ir * ldc + jr, ldc, (int)min_l(MR, m - ir), nr, alpha,
                            pc == 0 ? beta : 1, nb, nb_lines, nb_per, t);
        }
    }
}
#endif

static void scale_c(long m, long n, float beta, float *c, long ldc) {
    for (long i = 0; i < m; i++)
        for (long j = 0; j < n; j++) c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j];
}

/// Packs op(B)[0..k, 0..n) (element (p, j) at b[p·rsb + j·csb]) in K blocks of KC rows, block pc/KC at
/// packed + (pc/KC)·KC·roundUp(n, NR).
static void pack_b_all(long k, long n, const float *b, long rsb, long csb, PACKED_T *packed) {
    long np = (n + NR - 1) / NR * NR;
    for (long pc = 0; pc < k; pc += KC) pack_block(min_l(KC, k - pc), n, b + pc * rsb, rsb, csb, packed + (pc / KC) * KC * np);
}

#define B_FLOATS (1L << 20)  // packed B per column block: at most 4 MiB (L2/L3-resident)
#define A_FLOATS ((long)MC * KC)
_Static_assert(COLUMNS_A_FLOATS <= B_FLOATS + A_FLOATS, "the thread buffer holds multiply_packed_columns' A");

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
        pack_b_all(k, nc, b + jc * csb, rsb, csb, (PACKED_T *)buf);
        multiply_packed(m, nc, k, alpha, a, rsa, csa, (const PACKED_T *)buf, KC * np, beta, c + jc, ldc,
                        (PACKED_T *)(buf + kp * nc_max));
    }
}

void NAME(lstm_sgemm_pack_b_)(int transB, long k, long n, const float *b, long ldb, float *packed) {
    pack_b_all(k, n, b, transB ? 1 : ldb, transB ? ldb : 1, (PACKED_T *)packed);
}

void NAME(lstm_sgemm_packed_)(int transA, long m, long n, long k, float alpha, const float *a,
                               long lda, const float *packed, float beta, float *c, long ldc) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
        if (beta != 1) scale_c(m, n, beta, c, ldc);
        return;
    }
    long np = (n + NR - 1) / NR * NR;
    float *buf = lstm_gemm_thread_buffer(B_FLOATS + A_FLOATS);  // one allocation per thread
#if HAS_STREAMING_KERNEL
    long mp = (m + MR - 1) / MR * MR;
    if (mp / MR < MANY_TILES && k > KC && mp * ((k + KC - 1) / KC * KC) <= COLUMNS_A_FLOATS) {
        multiply_packed_columns(m, n, k, alpha, a, transA ? 1 : lda, transA ? lda : 1, (const PACKED_T *)packed, KC * np,
                                beta, c, ldc, (PACKED_T *)buf);
        return;
    }
#endif
    PACKED_T *ap = (PACKED_T *)(buf + B_FLOATS);
    multiply_packed(m, n, k, alpha, a, transA ? 1 : lda, transA ? lda : 1, (const PACKED_T *)packed, KC * np, beta, c,
                    ldc, ap);
}

/// Columns [j0, j1) of C_g ← A_g·B + beta·C_g for every row group g (A_g m_g×k row-major, B packed
/// for all k by lstm_sgemm_pack_b, n its column count; j0 a multiple of NR). The groups' rows are
/// packed side by side (whole slivers each, at most MC rows per pass), so one sweep over the B
/// slivers of [j0, j1) serves all of them. Per element the FMAs and their order are those of
/// multiply_packed (zero, one FMA per k in k order within a KC block, blocks added to C in order,
/// the first with beta): which group, pass, tile or column range an element falls in changes no bit.
void NAME(lstm_sgemm_packed_rows_)(long groups, const lstm_gemm_rows *g, long n, long j0, long j1, long k,
                                    const float *packed, float beta) {
    if (j1 > n) j1 = n;
    if (j0 >= j1) return;
    if (k <= 0) {
        for (long q = 0; q < groups; q++)
            if (beta != 1) scale_c(g[q].m, j1 - j0, beta, g[q].c + j0, g[q].ldc);
        return;
    }
    long np = (n + NR - 1) / NR * NR, bstride = KC * np;
    PACKED_T *ap = (PACKED_T *)(lstm_gemm_thread_buffer(B_FLOATS + A_FLOATS) + B_FLOATS);
    enum { SLIVERS = MC / MR };
    struct { long q, r0, m, off; } part[SLIVERS];
    long q = 0, r = 0;
    while (q < groups) {
        // one pass: consecutive (group, rows) pieces filling at most MC packed rows
        int parts = 0;
        long left = SLIVERS;
        while (q < groups && left > 0) {
            long take = min_l(g[q].m - r, left * MR);
            if (take > 0) {
                part[parts].q = q, part[parts].r0 = r, part[parts].m = take;
                part[parts].off = (SLIVERS - left) * MR;
                parts++;
                left -= (take + MR - 1) / MR;
                r += take;
            }
            if (r >= g[q].m) q++, r = 0;
        }
        for (long pc = 0; pc < k; pc += KC) {
            long kc = min_l(KC, k - pc);
            float bt = pc == 0 ? beta : 1;
            for (int i = 0; i < parts; i++) {
                const lstm_gemm_rows *s = &g[part[i].q];
                pack_a(part[i].m, kc, s->a + part[i].r0 * s->lda + pc, s->lda, 1, ap + part[i].off * KPAD(kc));
            }
            const PACKED_T *bk = (const PACKED_T *)packed + (pc / KC) * bstride;
            for (long jr = j0; jr < j1; jr += NR) {
                int nr = (int)min_l(NR, j1 - jr);
                const PACKED_T *bs = bk + jr * KPAD(kc);
                // The next sliver of this K block into L2, each tile's share prefetched one line per k
                // by a streaming kernel (measured 1.15-1.25x per thread on the H = 1024 per-step GEMMs
                // of two shards, and 1.05-1.15x more spread over the k loop, docs/results/kernels.md).
                const char *nb = jr + NR < j1 ? (const char *)(bs + NR * KPAD(kc)) : NULL;
                long nb_lines = nb ? SLIVER_LINES(kc) : 0, tiles = 0;
                for (int i = 0; i < parts; i++) tiles += (part[i].m + MR - 1) / MR;
                long nb_per = nb_lines / tiles + 1, t = 0;
                for (int i = 0; i < parts; i++) {
                    const lstm_gemm_rows *s = &g[part[i].q];
                    for (long ir = 0; ir < part[i].m; ir += MR) {
#if HAS_STREAMING_KERNEL
                        int mr = (int)min_l(MR, part[i].m - ir);
                        stream_tile(kc, ap + (part[i].off + ir) * KPAD(kc), bs, s->c + (part[i].r0 + ir) * s->ldc + jr,
                                    s->ldc, mr, nr, 1, bt, nb, nb_lines, nb_per, t++);
#else
                        for (long l = t * nb_per; l < min_l(nb_lines, (t + 1) * nb_per); l++)
                            _mm_prefetch(nb + 64 * l, _MM_HINT_T1);
                        t++;
                        int mr = (int)min_l(MR, part[i].m - ir);
                        kernel(kc, ap + (part[i].off + ir) * KPAD(kc), bs, s->c + (part[i].r0 + ir) * s->ldc + jr,
                               s->ldc, mr, nr, 1, bt);
#endif
                    }
                }
            }
        }
    }
}
