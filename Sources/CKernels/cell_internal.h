// Shared between cell.c and the per-ISA cell files (not part of the module's public header).
#pragma once

#define LSTM_CELL_DECLARE(SUFFIX)                                                                  \
    void lstm_cell_forward_##SUFFIX(float *gates, const float *bias, const float *cPrev,           \
                                    float *cNext, float *hNext, float *tanhC, long batch, long h); \
    void lstm_cell_backward_##SUFFIX(const float *gates, const float *cPrev, const float *tanhC,   \
                                     const float *dH, float *dcCarry, float *dGates, long batch,   \
                                     long h);

LSTM_CELL_DECLARE(avx512)
LSTM_CELL_DECLARE(avx2)
