// The AVX-512 float32 kernel with an 8×48 tile, which every AVX-512 entry point (packed or not)
// runs for GEMMs with n ≥ LSTM_GEMM_WIDE_N (docs/results/kernels.md, "An 8×48 tile for the wide
// GEMMs"): the same driver and micro-kernel as gemm_avx512.c, compiled again at another NR. The
// tile changes no result bit (each element is still one FMA per k, in k order, in KC blocks).
#define MR 8
#define NR 48
#define SUFFIX avx512_wide
#include "gemm_avx512.c"
