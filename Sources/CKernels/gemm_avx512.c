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
#ifndef SUFFIX
#define SUFFIX avx512  // gemm_avx512_wide.c includes this file with its own MR, NR and SUFFIX
#endif

#include "gemm_avx512_tile.h"

/// `ahead` > 0 is the per-step variant (docs/results/kernels.md, "B prefetched inside the
/// micro-kernel" and "The per-step kernel's C tile and next sliver"): a B sliver serves few tiles
/// there, so B and C arrive from L2/L3. It prefetches into L1 the C tile before the k loop (C is read
/// after it: the input projection's gate pre-activations or δH, written long before), and at each k
/// the packed B row `ahead` k further on (two lines). `next_lines` > 0: the first next_lines k also
/// each prefetch one line at `next` into L2 (the tile's share of the next B sliver), one per k rather
/// than all at once, which stalled on full fill buffers. Prefetches change no result.
static inline __attribute__((always_inline)) void kernel_body(long kc, const float *a, const float *b, float *c,
                                                              long ldc, int mr, int nr, float alpha, float beta,
                                                              long ahead, const char *next, long next_lines) {
    if (ahead > 0)
        for (int i = 0; i < mr; i++)
            for (int v = 0; v < NV; v++) _mm_prefetch((const char *)(c + i * ldc + 16 * v), _MM_HINT_T0);
    __m512 acc[MR][NV];
    for (int i = 0; i < MR; i++)
        for (int v = 0; v < NV; v++) acc[i][v] = _mm512_setzero_ps();
    for (long p = 0; p < kc; p++) {
        if (ahead > 0)
            for (int l = 0; l < NR * 4; l += 64) _mm_prefetch((const char *)(b + ahead * NR) + l, _MM_HINT_T0);
        if (p < next_lines) _mm_prefetch(next + 64 * p, _MM_HINT_T1);
        __m512 bv[NV];
        for (int v = 0; v < NV; v++) bv[v] = _mm512_loadu_ps(b + 16 * v);
        for (int i = 0; i < MR; i++) {
            __m512 x = _mm512_set1_ps(a[i]);
            for (int v = 0; v < NV; v++) acc[i][v] = _mm512_fmadd_ps(x, bv[v], acc[i][v]);
        }
        a += MR;
        b += NR;
    }
    store_tile(acc, c, ldc, mr, nr, alpha, beta);
}

static void kernel(long kc, const float *a, const float *b, float *c, long ldc, int mr, int nr, float alpha,
                   float beta) {
    kernel_body(kc, a, b, c, ldc, mr, nr, alpha, beta, 0, 0, 0);
}

static void kernel_streaming(long kc, const float *a, const float *b, float *c, long ldc, int mr, int nr,
                             float alpha, float beta, const char *next, long next_lines) {
    kernel_body(kc, a, b, c, ldc, mr, nr, alpha, beta, 16, next, next_lines);
}
#define KERNEL_STREAMING kernel_streaming

#include "gemm_driver.h"

#pragma clang attribute pop

#endif  // x86
