// The fused LSTM cell kernels on 16 lanes (AVX-512 F/DQ/VL/BW); the body is cell_body.h.
#pragma clang fp contract(off)
#include "cell_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512dq,avx512vl,avx512bw"))), apply_to = function)

#define SUFFIX avx512
#define W 16
typedef __m512 VF;
typedef __m512i VI;
typedef __mmask16 MASK;
#define MAKE_MASK(n) ((__mmask16)((1u << (n)) - 1))
#define V_SET1(x) _mm512_set1_ps(x)
#define I_SET1(x) _mm512_set1_epi32(x)
#define V_ADD(a, b) _mm512_add_ps(a, b)
#define V_SUB(a, b) _mm512_sub_ps(a, b)
#define V_MUL(a, b) _mm512_mul_ps(a, b)
#define V_DIV(a, b) _mm512_div_ps(a, b)
#define V_NEG(a) _mm512_xor_ps(a, _mm512_set1_ps(-0.0f))
#define V_SEL_LT_ELSE(x, lim, a, b) _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, lim, _CMP_LT_OQ), b, a)
#define V_SEL_GT_ELSE(x, lim, a, b) _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, lim, _CMP_GT_OQ), b, a)
#define V_AS_I(v) _mm512_castps_si512(v)
#define I_AS_V(v) _mm512_castsi512_ps(v)
#define I_ADD(a, b) _mm512_add_epi32(a, b)
#define I_SUB(a, b) _mm512_sub_epi32(a, b)
#define I_AND(a, b) _mm512_and_si512(a, b)
#define I_OR(a, b) _mm512_or_si512(a, b)
#define I_SRA1(a) _mm512_srai_epi32(a, 1)
#define I_SLL23(a) _mm512_slli_epi32(a, 23)
#define V_LOADU(p) _mm512_loadu_ps(p)
#define V_STOREU(p, v) _mm512_storeu_ps(p, v)
#define V_MASKLOAD(m, p) _mm512_maskz_loadu_ps(m, p)
#define V_MASKSTORE(m, p, v) _mm512_mask_storeu_ps(p, m, v)

#include "cell_body.h"

#pragma clang attribute pop
#endif
