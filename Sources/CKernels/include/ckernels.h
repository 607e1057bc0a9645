// The runtime's own single-precision GEMM (see docs/results/kernels.md): a packed, cache-blocked
// sgemm with AVX-512 and AVX2+FMA micro-kernels chosen at run time, and a "pack B once, multiply
// many times" entry point for the LSTM's per-step recurrent GEMMs.
//
// Every call is single-threaded, and each element of C is summed in a fixed order that depends
// only on the kernel kind and on k (never on threads, addresses or the other dimensions), so
// results are bitwise reproducible.
#pragma once

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The GEMM implementations: OpenBLAS (cblas_sgemm, called from Swift) or one of ours.
enum {
    LSTM_GEMM_OPENBLAS = 0,
    LSTM_GEMM_AVX2 = 1,
    LSTM_GEMM_AVX512 = 2,
    /// Mixed precision (training.precision: bf16): operands rounded to bf16 when packed, float32
    /// accumulation (VDPBF16PS). Never chosen by LSTM_GEMM: only by the LSTM layers of a bf16 run.
    LSTM_GEMM_AVX512_BF16 = 3
};

/// 1 when this CPU can run `kind` (OpenBLAS always; AVX2 needs avx2+fma; AVX-512 needs F/VL/BW/DQ;
/// AVX-512 bf16 needs those and AVX512_BF16).
int lstm_gemm_supported(int kind);

/// The kind used without LSTM_GEMM: AVX-512 where the CPU has it, else OpenBLAS (measured in
/// docs/results/kernels.md: our AVX2 kernel is no faster end to end than OpenBLAS's Haswell kernel,
/// so AVX2-only machines keep today's path; LSTM_GEMM=avx2 opts in).
int lstm_gemm_preferred_kind(void);

/// The kind chosen for this process, decided once: the environment variable LSTM_GEMM
/// (openblas | avx2 | avx512) when set and valid for this CPU, else lstm_gemm_preferred_kind().
int lstm_gemm_default_kind(void);

/// Why the default kind is what it is ("the default on AVX-512 CPUs", "LSTM_GEMM=avx2", or an
/// explanation of an ignored/invalid LSTM_GEMM); a static string.
const char *lstm_gemm_default_reason(void);

/// `bytes` at `alignment` (a power of two), freed with free(); NULL when refused. Where
/// lstm_huge_pages(), blocks of at least lstm_huge_page_bytes() start on a huge page boundary and are
/// advised MADV_HUGEPAGE: the kernel then backs them with 2 MiB pages where transparent huge pages are
/// "always" or "madvise", and the per-step GEMMs' streams over R and the activations miss the TLB
/// far less (H = 1024: 1.025–1.036× end to end, docs/results/kernels.md). No result depends on it.
void *lstm_allocate(size_t bytes, size_t alignment);

/// 1 when lstm_allocate advises huge pages: unless LSTM_HUGE_PAGES=off (read once), on Linux.
int lstm_huge_pages(void);

/// The huge page size lstm_allocate aligns large blocks to (2 MiB).
long lstm_huge_page_bytes(void);

/// The kind's name: "openblas", "avx2", "avx512", "avx512-bf16".
const char *lstm_gemm_kind_name(int kind);

/// The columns of the micro-kernel tile every GEMM of `kind` (packed or not) runs for an n-column C,
/// and the width of the slivers lstm_sgemm_pack_b packs n columns into (AVX-512 float32: 48 from
/// n = 1024 on where lstm_gemm_wide_tiles(), else 32; AVX2 16; bf16 32; OpenBLAS 0). The tile
/// changes no result bit.
int lstm_gemm_tile_columns(int kind, long n);

/// 1 when AVX-512 float32 GEMMs of n ≥ 1024 columns run the 8×48 tile, 0 when every AVX-512 float32
/// GEMM runs 8×32. Decided once per process: LSTM_GEMM_WIDE=on|off when set, else whether the 8×48
/// tile's B sliver (48 KiB) fits this CPU's L1d. No result bit depends on it.
int lstm_gemm_wide_tiles(void);

/// Sets the tile policy above for the rest of the process and returns the previous one: for tests
/// and benchmarks that compare the two tiles in one process. Not while GEMMs run, nor between
/// packing a B and multiplying by it.
int lstm_gemm_set_wide_tiles(int on);

/// The AVX-512 float32 tiles and why, for the start line: e.g. "tiles 8×32, L1d 32 KiB" or
/// "tiles 8×32 and 8×48 from n = 1024, LSTM_GEMM_WIDE=on"; a static string.
const char *lstm_gemm_tiles_summary(void);

/// 1 when the kind's per-step GEMMs (lstm_sgemm_packed with few rows, lstm_sgemm_packed_rows) run a
/// streaming micro-kernel, which prefetches its C tile and the next B sliver as it goes (AVX-512
/// float32); 0 otherwise (and for OpenBLAS). The step group's default threshold depends on it.
int lstm_gemm_streams_per_step(int kind);

/// float32 → bf16 as VCVTNEPS2BF16 rounds it: to nearest, ties to even; a NaN stays a NaN (quieted,
/// sign and top payload bits kept); zeros and denormals become a zero of the same sign (the
/// instruction treats denormal inputs as zero). The packing of LSTM_GEMM_AVX512_BF16 gives these bits.
unsigned short lstm_f32_to_bf16(float x);

/// The same conversion by the instruction itself (tests compare the two); needs AVX512_BF16.
void lstm_f32_to_bf16_instruction(const float *x, unsigned short *out, long n);

/// C ← alpha·op(A)·op(B) + beta·C, row-major, with our kernel `kind` (AVX2 or AVX-512).
/// op(A) is m×k, op(B) is k×n, C is m×n; lda/ldb/ldc are row strides. beta = 0 never reads C.
/// Per element, the k products are accumulated in k order in blocks of LSTM_GEMM_KC, each block
/// added to C in turn (the first block after C is scaled by beta).
void lstm_sgemm(int kind, int transA, int transB, long m, long n, long k,
                float alpha, const float *a, long lda, const float *b, long ldb,
                float beta, float *c, long ldc);

/// Floats a packed op(B) of k×n needs (any kind; bf16 kinds use at most that many bytes).
long lstm_sgemm_packed_size(long k, long n);

/// Packs op(B) (k×n; B row-major with row stride ldb, transposed when transB) for `kind` into
/// `packed`, which holds lstm_sgemm_packed_size(k, n) floats.
void lstm_sgemm_pack_b(int kind, int transB, long k, long n, const float *b, long ldb, float *packed);

/// C ← alpha·op(A)·B + beta·C with B packed by lstm_sgemm_pack_b for the same kind, k and n.
/// Same per-element sum order as lstm_sgemm.
void lstm_sgemm_packed(int kind, int transA, long m, long n, long k,
                       float alpha, const float *a, long lda, const float *packed,
                       float beta, float *c, long ldc);

/// One group of rows for lstm_sgemm_packed_rows: C (m×n, row stride ldc) and A (m×k, row stride lda).
typedef struct {
    const float *a;
    long lda;
    float *c;
    long ldc;
    long m;
} lstm_gemm_rows;

/// Columns [j0, j1) of C_g ← A_g·B + beta·C_g for each of `groups` row groups, B packed by
/// lstm_sgemm_pack_b (kind, transB any, k, n); j0 a multiple of 32. Every element gets the bits
/// lstm_sgemm_packed gives it: the sum order depends on k only, not on the group or column range.
void lstm_sgemm_packed_rows(int kind, long groups, const lstm_gemm_rows *g, long n, long j0, long j1, long k,
                            const float *packed, float beta);

/// A step group: the P shard workers of one process running the LSTM's per-step GEMMs together
/// (docs/results/kernels.md, "The per-step GEMMs shared by the shard workers"). Each step, every
/// participant publishes its rows (its shard's h·Rᵀ or δG·R), all wait for each other, and participant
/// i computes columns [i·n/P, (i+1)·n/P) (rounded to 32) of every participant's C; all wait again.
/// Each core then streams 1/P of the packed R per step instead of all of it. Bits are those of
/// lstm_sgemm_packed (see lstm_sgemm_packed_rows), so S and the results do not change.
typedef struct lstm_step_group lstm_step_group;

/// A group of `participants` (≥ 1); NULL when out of memory.
lstm_step_group *lstm_step_group_create(int participants);
void lstm_step_group_destroy(lstm_step_group *group);

/// Opens a new round; call while no participant is inside the group (before starting the workers).
/// Returns 0 when the round is to run alone without trying: after a lockstep round in which the
/// participants spent over a quarter of their time waiting for each other (the cores are shared
/// with other work, so lockstep would run at the pace of the slowest), the next 4, 8, … 256 rounds
/// run alone (join returns 0 at once), then lockstep is tried again.
int lstm_step_group_reset(lstm_step_group *group);

/// Participant `index` leaves a lockstep round it joined at `joined_at` (lstm_step_group_clock()).
void lstm_step_group_leave(lstm_step_group *group, int index, double joined_at);

/// The monotonic clock the group measures with, in seconds.
double lstm_step_group_clock(void);

/// 0: never run rounds alone for having waited (tests that count lockstep rounds); 1 (the default): do.
void lstm_step_group_set_adaptive(lstm_step_group *group, int adaptive);

/// Participant `index` arrives for this round. Returns 1 when every participant arrived within
/// `timeout_s` of the first (they then run on distinct threads at once and must make the same
/// sequence of lstm_step_group_sgemm_packed calls), 0 when the round fell back to each participant
/// alone (then none of them may call lstm_step_group_sgemm_packed). All participants get the same answer.
int lstm_step_group_join(lstm_step_group *group, int index, double timeout_s);

/// Participant `index`'s C ← A·B + beta·C (A m×k row stride lda, B packed for kind, k, n) computed
/// together with the other participants' calls of the same step (same kind, n, k; each with its own
/// identical packed copy of B). Only in a round where lstm_step_group_join returned 1.
void lstm_step_group_sgemm_packed(lstm_step_group *group, int index, int kind, long m, long n, long k,
                                  const float *a, long lda, const float *packed, float beta, float *c, long ldc);

/// Rounds in which join returned 1 since the group was created (a guard for tests).
long lstm_step_group_lockstep_rounds(const lstm_step_group *group);

/// The fused LSTM cell kernels (eqs. 1-6 forward, 14 and 16-20 backward): the Swift SIMD8 kernels
/// (Sources/LSTMKit/Tensor/SIMDKernels.swift) or C versions of them on 8 (AVX2) or 16 (AVX-512) lanes,
/// bitwise equal to the Swift ones (the same IEEE operations per lane, no FMA).
enum {
    LSTM_CELL_SWIFT = 0,
    LSTM_CELL_AVX2 = 1,
    LSTM_CELL_AVX512 = 2
};

/// 1 when this CPU can run `kind` (Swift always; AVX2 needs avx2+fma; AVX-512 needs F/VL/BW/DQ).
int lstm_cell_supported(int kind);

/// The kind chosen for this process, decided once: LSTM_CELL=swift, LSTM_CELL=c (the widest C kind this
/// CPU runs), else the ISA of lstm_gemm_default_kind() (OpenBLAS: the Swift kernels).
int lstm_cell_default_kind(void);

/// Why the default kind is what it is ("LSTM_CELL=c", "following the GEMM kernel", ...); a static string.
const char *lstm_cell_default_reason(void);

/// The kind's name: "swift", "avx2", "avx512".
const char *lstm_cell_kind_name(int kind);

/// The forward cell step with C kernel `kind` (AVX2 or AVX-512): gates (B×4H: i, f, g, o) += bias and
/// squashed in place; cNext, hNext, tanhC (B×H) written. Same contract as Float.simdCellForward.
void lstm_cell_forward(int kind, float *gates, const float *bias, const float *cPrev, float *cNext,
                       float *hNext, float *tanhC, long batch, long hidden);

/// The backward cell step with C kernel `kind`: dGates (B×4H) written, dcCarry (B×H) updated in place.
/// Same contract as Float.simdCellBackward.
void lstm_cell_backward(int kind, const float *gates, const float *cPrev, const float *tanhC,
                        const float *dH, float *dcCarry, float *dGates, long batch, long hidden);

#ifdef __cplusplus
}
#endif
