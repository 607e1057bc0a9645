// The AVX-512 micro-kernel: an MR×NR tile of C in MR·NR/16 zmm accumulators, per k one broadcast of
// packed A per row and NR/16 loads of packed B. Column edges use AVX-512 masks.
#include "gemm_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,fma"))), apply_to = function)

#ifndef MR
#define MR 8
#endif
#ifndef NR
#define NR 32
#endif
#define NV (NR / 16)
#define MC (MR * 16)  // a multiple of MR: the A block packs whole slivers
#define SUFFIX avx512

static inline __attribute__((always_inline)) __m512 finish(__m512 acc, float alpha, float beta, const float *c,
                                                           __mmask16 mask) {
    if (alpha != 1) acc = _mm512_mul_ps(acc, _mm512_set1_ps(alpha));
    if (beta == 0) return acc;
    __m512 old = _mm512_maskz_loadu_ps(mask, c);
    if (beta != 1) old = _mm512_mul_ps(old, _mm512_set1_ps(beta));
    return _mm512_add_ps(old, acc);
}

static void kernel(long kc, const float *a, const float *b, float *c, long ldc, int mr, int nr, float alpha,
                   float beta) {
    __m512 acc[MR][NV];
    for (int i = 0; i < MR; i++)
        for (int v = 0; v < NV; v++) acc[i][v] = _mm512_setzero_ps();
    for (long p = 0; p < kc; p++) {
        __m512 bv[NV];
        for (int v = 0; v < NV; v++) bv[v] = _mm512_loadu_ps(b + 16 * v);
        for (int i = 0; i < MR; i++) {
            __m512 x = _mm512_set1_ps(a[i]);
            for (int v = 0; v < NV; v++) acc[i][v] = _mm512_fmadd_ps(x, bv[v], acc[i][v]);
        }
        a += MR;
        b += NR;
    }
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

#include "gemm_driver.h"

#pragma clang attribute pop

#endif  // x86
