// The AVX2+FMA micro-kernel: a 6×16 tile of C in 12 ymm accumulators, per k one broadcast of packed A
// per row and two loads of packed B. Column edges use masked loads/stores.
#include "gemm_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)

#define MR 6
#define NR 16
#define NV (NR / 8)
#define MC (MR * 20)  // a multiple of MR: the A block packs whole slivers
#define SUFFIX avx2

static inline __attribute__((always_inline)) __m256i lane_mask(int n) {  // lanes < n set
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static inline __attribute__((always_inline)) __m256 finish(__m256 acc, float alpha, float beta, const float *c,
                                                           __m256i mask) {
    if (alpha != 1) acc = _mm256_mul_ps(acc, _mm256_set1_ps(alpha));
    if (beta == 0) return acc;
    __m256 old = _mm256_maskload_ps(c, mask);
    if (beta != 1) old = _mm256_mul_ps(old, _mm256_set1_ps(beta));
    return _mm256_add_ps(old, acc);
}

static void kernel(long kc, const float *a, const float *b, float *c, long ldc, int mr, int nr, float alpha,
                   float beta) {
    __m256 acc[MR][NV];
    for (int i = 0; i < MR; i++)
        for (int v = 0; v < NV; v++) acc[i][v] = _mm256_setzero_ps();
    for (long p = 0; p < kc; p++) {
        __m256 bv[NV];
        for (int v = 0; v < NV; v++) bv[v] = _mm256_loadu_ps(b + 8 * v);
        for (int i = 0; i < MR; i++) {
            __m256 x = _mm256_broadcast_ss(a + i);
            for (int v = 0; v < NV; v++) acc[i][v] = _mm256_fmadd_ps(x, bv[v], acc[i][v]);
        }
        a += MR;
        b += NR;
    }
    __m256i mask[NV];
    for (int v = 0; v < NV; v++) mask[v] = lane_mask(nr - 8 * v);
    for (int i = 0; i < mr; i++) {
        float *cr = c + i * ldc;
        for (int v = 0; v < NV; v++)
            if (nr > 8 * v) _mm256_maskstore_ps(cr + 8 * v, mask[v], finish(acc[i][v], alpha, beta, cr + 8 * v, mask[v]));
    }
}

#include "gemm_driver.h"

#pragma clang attribute pop

#endif  // x86
