// The fused LSTM cell kernels on 8 lanes (AVX2; no FMA is used); the body is cell_body.h.
#pragma clang fp contract(off)
#include "cell_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)

#define SUFFIX avx2
#define W 8
typedef __m256 VF;
typedef __m256i VI;
typedef __m256i MASK;
// Lane k live when k < n (maskload/maskstore test each lane's sign bit).
#define MAKE_MASK(n) _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define V_SET1(x) _mm256_set1_ps(x)
#define I_SET1(x) _mm256_set1_epi32(x)
#define V_ADD(a, b) _mm256_add_ps(a, b)
#define V_SUB(a, b) _mm256_sub_ps(a, b)
#define V_MUL(a, b) _mm256_mul_ps(a, b)
#define V_DIV(a, b) _mm256_div_ps(a, b)
#define V_NEG(a) _mm256_xor_ps(a, _mm256_set1_ps(-0.0f))
#define V_SEL_LT_ELSE(x, lim, a, b) _mm256_blendv_ps(b, a, _mm256_cmp_ps(x, lim, _CMP_LT_OQ))
#define V_SEL_GT_ELSE(x, lim, a, b) _mm256_blendv_ps(b, a, _mm256_cmp_ps(x, lim, _CMP_GT_OQ))
#define V_AS_I(v) _mm256_castps_si256(v)
#define I_AS_V(v) _mm256_castsi256_ps(v)
#define I_ADD(a, b) _mm256_add_epi32(a, b)
#define I_SUB(a, b) _mm256_sub_epi32(a, b)
#define I_AND(a, b) _mm256_and_si256(a, b)
#define I_OR(a, b) _mm256_or_si256(a, b)
#define I_SRA1(a) _mm256_srai_epi32(a, 1)
#define I_SLL23(a) _mm256_slli_epi32(a, 23)
#define V_LOADU(p) _mm256_loadu_ps(p)
#define V_STOREU(p, v) _mm256_storeu_ps(p, v)
#define V_MASKLOAD(m, p) _mm256_maskload_ps(p, m)
#define V_MASKSTORE(m, p, v) _mm256_maskstore_ps(p, m, v)

#include "cell_body.h"

#pragma clang attribute pop
#endif
