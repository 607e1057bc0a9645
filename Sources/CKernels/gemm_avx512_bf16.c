// The AVX512_BF16 micro-kernel (training.precision: bf16, docs/results/kernels.md "bf16"): operands
// rounded to bf16 when packed (round to nearest even, as VCVTNEPS2BF16), products accumulated in
// float32 by VDPBF16PS, 32 multiply-adds per instruction against 16 for an fp32 FMA.
//
// Packed layouts (uint16 bf16 elements, k in pairs: one 32-bit lane holds k = 2q and 2q + 1):
//   B sliver (NR columns × kc): element (p, j) at o[(p & ~1)·NR + 2j + (p & 1)];
//   A sliver (MR rows × kc):    element (i, p) at o[(p & ~1)·MR + 2i + (p & 1)];
// an odd kc is padded with a zero k (KPAD). The tile is an MR×NR block of C in MR·NR/16 zmm
// accumulators; per k pair one 32-bit broadcast of packed A per row and NR/16 loads of packed B.
// Each C element is summed from zero, one VDPBF16PS per k pair in k order, in KC blocks added to C
// in order: the sum order depends on k only (never on threads or the other dimensions).
// The blocking, prefetching and the row-group entry point are the float driver's (gemm_driver.h).
#include "gemm_internal.h"

#include <stdint.h>
#include <string.h>

uint16_t lstm_f32_to_bf16(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 0x40u);  // NaN: quieted, sign and payload top kept
    if ((u & 0x7F800000u) == 0) return (uint16_t)((u >> 16) & 0x8000u);         // zero or denormal: a signed zero
    u += 0x7FFFu + ((u >> 16) & 1u);                                              // round to nearest, ties to even
    return (uint16_t)(u >> 16);
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx512bf16,fma"))), \
                             apply_to = function)

void lstm_f32_to_bf16_instruction(const float *x, uint16_t *out, long n) {
    float in[32];
    for (long i = 0; i < n; i += 32) {
        long w = n - i < 32 ? n - i : 32;
        memset(in, 0, sizeof in);
        memcpy(in, x + i, (size_t)w * sizeof(float));
        __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(in + 16), _mm512_loadu_ps(in));
        uint16_t o[32];
        _mm512_storeu_si512(o, (__m512i)v);
        memcpy(out + i, o, (size_t)w * sizeof(uint16_t));
    }
}

#define MR 8
#define NR 32
#define NV (NR / 16)
#define MC (MR * 16)  // a multiple of MR: the A block packs whole slivers
#define SUFFIX avx512_bf16
#define PACKED_T uint16_t
#define KPAD(kc) (((kc) + 1) & ~1L)
#define DRIVER_OWN_PACKING

#include "gemm_avx512_tile.h"

static void kernel(long kc, const uint16_t *a, const uint16_t *b, float *c, long ldc, int mr, int nr, float alpha,
                   float beta) {
    __m512 acc[MR][NV];
    for (int i = 0; i < MR; i++)
        for (int v = 0; v < NV; v++) acc[i][v] = _mm512_setzero_ps();
    for (long q = 0, pairs = (kc + 1) / 2; q < pairs; q++) {
        __m512bh bv[NV];
        for (int v = 0; v < NV; v++) bv[v] = (__m512bh)_mm512_loadu_si512(b + 32 * v);
        for (int i = 0; i < MR; i++) {
            int32_t pair;
            memcpy(&pair, a + 2 * i, sizeof pair);
            __m512bh x = (__m512bh)_mm512_set1_epi32(pair);
            for (int v = 0; v < NV; v++) acc[i][v] = _mm512_dpbf16_ps(acc[i][v], x, bv[v]);
        }
        a += 2 * MR;
        b += 2 * NR;
    }
    store_tile(acc, c, ldc, mr, nr, alpha, beta);
}

static inline long min_lb(long a, long b) { return a < b ? a : b; }

/// 16 k-pairs (32 consecutive floats of one source line) as 16 32-bit lanes of bf16 pairs.
static inline __attribute__((always_inline)) __m512i pairs32(const float *src) {
    return (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + 16), _mm512_loadu_ps(src));
}

/// 16 columns of two consecutive k rows (16 floats each) as 16 lanes of bf16 pairs (row p low).
static inline __attribute__((always_inline)) __m512i pairs_of_rows(const float *r0, const float *r1) {
    __m512i lo = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(r0)));
    __m512i hi = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(r1)));
    return _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16));
}

static inline __attribute__((always_inline)) void transpose8x8_bits(const uint32_t *src, long ss, uint32_t *dst,
                                                                    long ds);

/// Packs op(B)[0..kc, 0..nc) (element (p, j) at b[p·rsb + j·csb]) as NR-wide slivers of k pairs,
/// zero-padded to NR columns and to an even kc.
static void pack_block(long kc, long nc, const float *b, long rsb, long csb, uint16_t *out) {
    long kcp = KPAD(kc);
    for (long j0 = 0; j0 < nc; j0 += NR) {
        long w = min_lb(NR, nc - j0);
        uint16_t *o = out + j0 * kcp;
        long p = 0, j = 0;
        if (csb == 1 && w == NR)  // rows of B contiguous: 16 columns of a k pair at a time
            for (; p + 2 <= kc; p += 2)
                for (long v = 0; v < NR; v += 16)
                    _mm512_storeu_si512(o + p * NR + 2 * v, pairs_of_rows(b + p * rsb + j0 + v, b + (p + 1) * rsb + j0 + v));
        if (rsb == 1 && p == 0) {  // B transposed: 8 columns × 16 k pairs at a time
            long pe = kc / 32 * 32;
            for (; j + 8 <= w; j += 8)
                for (long p0 = 0; p0 < pe; p0 += 32) {
                    uint32_t tmp[8][16];
                    for (int r = 0; r < 8; r++) _mm512_storeu_si512(tmp[r], pairs32(b + (j0 + j + r) * csb + p0));
                    uint32_t *dst = (uint32_t *)(o + p0 * NR) + j;
                    transpose8x8_bits(&tmp[0][0], 16, dst, NR);
                    transpose8x8_bits(&tmp[0][8], 16, dst + 8 * NR, NR);
                }
            // the k rest of those columns, then the other columns
            for (long jj = 0; jj < j; jj++)
                for (long pp = pe; pp < kcp; pp++)
                    o[(pp & ~1L) * NR + 2 * jj + (pp & 1)] = pp < kc ? lstm_f32_to_bf16(b[pp * rsb + (j0 + jj) * csb]) : 0;
        }
        for (long jj = j; jj < NR; jj++)
            for (long pp = p; pp < kcp; pp++)
                o[(pp & ~1L) * NR + 2 * jj + (pp & 1)] =
                    pp < kc && jj < w ? lstm_f32_to_bf16(b[pp * rsb + (j0 + jj) * csb]) : 0;
    }
}

/// Packs A[0..mc, 0..kc) (element (i, p) at a[i·rsa + p·csa]) as MR-tall slivers of k pairs,
/// zero-padded to MR rows and to an even kc.
static void pack_a(long mc, long kc, const float *a, long rsa, long csa, uint16_t *out) {
    long kcp = KPAD(kc);
    for (long i0 = 0; i0 < mc; i0 += MR) {
        uint16_t *o = out + i0 * kcp;
        long hh = min_lb(MR, mc - i0), p = 0;
        if (hh == MR && rsa == 1) {  // A transposed: a k row of the sliver is contiguous
            for (; p + 2 <= kc; p += 2) {
                __m256i lo = _mm256_cvtepu16_epi32((__m128i)_mm256_cvtneps_pbh(_mm256_loadu_ps(a + p * csa + i0)));
                __m256i hi = _mm256_cvtepu16_epi32((__m128i)_mm256_cvtneps_pbh(_mm256_loadu_ps(a + (p + 1) * csa + i0)));
                _mm256_storeu_si256((__m256i *)(o + p * MR), _mm256_or_si256(lo, _mm256_slli_epi32(hi, 16)));
            }
        } else if (hh == MR && csa == 1) {  // rows of A contiguous: 8 rows × 16 k pairs at a time
            for (; p + 32 <= kc; p += 32) {
                uint32_t tmp[8][16];
                for (int r = 0; r < 8; r++) _mm512_storeu_si512(tmp[r], pairs32(a + (i0 + r) * rsa + p));
                uint32_t *dst = (uint32_t *)(o + p * MR);
                transpose8x8_bits(&tmp[0][0], 16, dst, MR);
                transpose8x8_bits(&tmp[0][8], 16, dst + 8 * MR, MR);
            }
        }
        for (long i = 0; i < MR; i++)
            for (long q = p; q < kcp; q++)
                o[(q & ~1L) * MR + 2 * i + (q & 1)] = q < kc && i < hh ? lstm_f32_to_bf16(a[(i0 + i) * rsa + q * csa]) : 0;
    }
}

// The float driver's 8×8 transpose moves 32-bit lanes without arithmetic: reused on bf16 pairs.
#include "gemm_driver.h"

static inline __attribute__((always_inline)) void transpose8x8_bits(const uint32_t *src, long ss, uint32_t *dst,
                                                                    long ds) {
    transpose8x8((const float *)src, ss, (float *)dst, ds);
}

#pragma clang attribute pop

#endif  // x86
