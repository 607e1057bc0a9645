// Cell kernel selection (CPU features, LSTM_CELL, LSTM_GEMM); the kernels are in cell_avx512.c and
// cell_avx2.c (one body, cell_body.h).
#include "cell_internal.h"
#include "ckernels.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

int lstm_cell_supported(int kind) {
    switch (kind) {
    case LSTM_CELL_SWIFT: return 1;
    case LSTM_CELL_AVX2: return lstm_gemm_supported(LSTM_GEMM_AVX2);
    case LSTM_CELL_AVX512: return lstm_gemm_supported(LSTM_GEMM_AVX512);
    default: return 0;
    }
}

const char *lstm_cell_kind_name(int kind) {
    switch (kind) {
    case LSTM_CELL_SWIFT: return "swift";
    case LSTM_CELL_AVX2: return "avx2";
    case LSTM_CELL_AVX512: return "avx512";
    default: return "unknown";
    }
}

static pthread_once_t choose_once = PTHREAD_ONCE_INIT;
static int chosen_kind = LSTM_CELL_SWIFT;
static const char *chosen_reason = "";

static int widest_c_kind(void) {
    return lstm_cell_supported(LSTM_CELL_AVX512) ? LSTM_CELL_AVX512
           : lstm_cell_supported(LSTM_CELL_AVX2) ? LSTM_CELL_AVX2
                                                 : LSTM_CELL_SWIFT;
}

static void choose(void) {
    const char *env = getenv("LSTM_CELL");
    if (env && strcmp(env, "swift") == 0) {
        chosen_kind = LSTM_CELL_SWIFT;
        chosen_reason = "LSTM_CELL=swift";
        return;
    }
    if (env && strcmp(env, "c") == 0) {
        chosen_kind = widest_c_kind();
        chosen_reason = chosen_kind == LSTM_CELL_SWIFT ? "LSTM_CELL=c ignored: this CPU has neither AVX-512 nor AVX2"
                                                       : "LSTM_CELL=c";
        return;
    }
    // Follow the GEMM: our GEMM kinds get the cell kernel of the same ISA; OpenBLAS keeps the Swift
    // SIMD8 cell (the default on CPUs without AVX-512, and LSTM_GEMM=openblas).
    switch (lstm_gemm_default_kind()) {
    case LSTM_GEMM_AVX512: chosen_kind = LSTM_CELL_AVX512; break;
    case LSTM_GEMM_AVX2: chosen_kind = LSTM_CELL_AVX2; break;
    default: chosen_kind = LSTM_CELL_SWIFT; break;
    }
    chosen_reason = env && *env ? "LSTM_CELL ignored: expected swift or c; following the GEMM kernel"
                                : "following the GEMM kernel";
}

int lstm_cell_default_kind(void) {
    pthread_once(&choose_once, choose);
    return chosen_kind;
}

const char *lstm_cell_default_reason(void) {
    pthread_once(&choose_once, choose);
    return chosen_reason;
}

void lstm_cell_forward(int kind, float *gates, const float *bias, const float *cPrev, float *cNext, float *hNext,
                       float *tanhC, long batch, long hidden) {
#if defined(__x86_64__) || defined(__i386__)
    if (kind == LSTM_CELL_AVX512) {
        lstm_cell_forward_avx512(gates, bias, cPrev, cNext, hNext, tanhC, batch, hidden);
        return;
    }
    if (kind == LSTM_CELL_AVX2) {
        lstm_cell_forward_avx2(gates, bias, cPrev, cNext, hNext, tanhC, batch, hidden);
        return;
    }
#endif
    abort();  // LSTM_CELL_SWIFT runs in Swift; anything else is a caller bug
}

void lstm_cell_backward(int kind, const float *gates, const float *cPrev, const float *tanhC, const float *dH,
                        float *dcCarry, float *dGates, long batch, long hidden) {
#if defined(__x86_64__) || defined(__i386__)
    if (kind == LSTM_CELL_AVX512) {
        lstm_cell_backward_avx512(gates, cPrev, tanhC, dH, dcCarry, dGates, batch, hidden);
        return;
    }
    if (kind == LSTM_CELL_AVX2) {
        lstm_cell_backward_avx2(gates, cPrev, tanhC, dH, dcCarry, dGates, batch, hidden);
        return;
    }
#endif
    abort();
}
