// Writing an AVX-512 micro-kernel's MR×NR tile of accumulators to C, shared by the float32 and the
// bf16 micro-kernels (gemm_avx512.c, gemm_avx512_bf16.c), which include it inside their AVX-512
// target region after defining MR and NV (= NR / 16). Column edges use AVX-512 masks.

/// alpha·acc + beta·C on one 16-lane piece of a row (beta = 0: C not read).
static inline __attribute__((always_inline)) __m512 finish(__m512 acc, float alpha, float beta, const float *c,
                                                           __mmask16 mask) {
    if (alpha != 1) acc = _mm512_mul_ps(acc, _mm512_set1_ps(alpha));
    if (beta == 0) return acc;
    __m512 old = _mm512_maskz_loadu_ps(mask, c);
    if (beta != 1) old = _mm512_mul_ps(old, _mm512_set1_ps(beta));
    return _mm512_add_ps(old, acc);
}

/// C[0..mr, 0..nr) ← alpha·acc + beta·C for the tile at c (rows ldc apart).
static inline __attribute__((always_inline)) void store_tile(__m512 acc[MR][NV], float *c, long ldc, int mr, int nr,
                                                             float alpha, float beta) {
    __mmask16 mask[NV];
    for (int v = 0; v < NV; v++) {
        int w = nr - 16 * v;
        mask[v] = w >= 16 ? 0xFFFF : w > 0 ? (__mmask16)((1u << w) - 1) : 0;
    }
    for (int i = 0; i < mr; i++) {
        float *cr = c + i * ldc;
        for (int v = 0; v < NV; v++)
            if (mask[v]) _mm512_mask_storeu_ps(cr + 16 * v, mask[v], finish(acc[i][v], alpha, beta, cr + 16 * v, mask[v]));
    }
}
