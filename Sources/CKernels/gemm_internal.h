// Shared between gemm.c and the per-ISA files (not part of the module's public header).
#pragma once

#include "ckernels.h"

/// K block: per element, products are summed in blocks of this many k (the same for every kind).
#define LSTM_GEMM_KC 256

/// The AVX-512 GEMMs (packed or not) run the 8×48 tile (gemm_avx512_wide.c) from this n on, the 8×32
/// one below it (measured: docs/results/kernels.md).
#define LSTM_GEMM_WIDE_N 1024

float *lstm_gemm_thread_buffer(long floats);

#define LSTM_GEMM_DECLARE(SUFFIX)                                                                  \
    void lstm_sgemm_##SUFFIX(int transA, int transB, long m, long n, long k, float alpha,          \
                             const float *a, long lda, const float *b, long ldb, float beta,       \
                             float *c, long ldc);                                                  \
    void lstm_sgemm_pack_b_##SUFFIX(int transB, long k, long n, const float *b, long ldb,          \
                                    float *packed);                                                \
    void lstm_sgemm_packed_##SUFFIX(int transA, long m, long n, long k, float alpha,               \
                                    const float *a, long lda, const float *packed, float beta,     \
                                    float *c, long ldc);                                                  \
    void lstm_sgemm_packed_rows_##SUFFIX(long groups, const lstm_gemm_rows *g, long n, long j0, long j1, \
                                         long k, const float *packed, float beta);                 \
    extern const int lstm_gemm_streaming_##SUFFIX;                                                \
    extern const int lstm_gemm_tile_columns_##SUFFIX;

LSTM_GEMM_DECLARE(avx512)
LSTM_GEMM_DECLARE(avx512_wide)
LSTM_GEMM_DECLARE(avx2)
LSTM_GEMM_DECLARE(avx512_bf16)
