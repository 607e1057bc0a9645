// Kind selection (CPU features, LSTM_GEMM) and the per-thread packing buffer; the kernels are in
// gemm_avx512.c and gemm_avx2.c (one template, gemm_driver.h).
#include "ckernels.h"
#include "gemm_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static int xcr0_has(unsigned long long bits) {
    unsigned eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    unsigned long long xcr0 = ((unsigned long long)edx << 32) | eax;
    return (xcr0 & bits) == bits;
}

static int cpu_has_avx2_fma(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    if (!(fma && osxsave && avx) || !xcr0_has(0x6)) return 0;  // XMM and YMM state
    if (__get_cpuid_max(0, 0) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return (b >> 5) & 1;  // AVX2
}

static int cpu_has_avx512(void) {
    if (!cpu_has_avx2_fma()) return 0;
    unsigned a, b, c, d;
    __cpuid_count(7, 0, a, b, c, d);
    int f = (b >> 16) & 1, dq = (b >> 17) & 1, bw = (b >> 30) & 1, vl = (b >> 31) & 1;
    return f && dq && bw && vl && xcr0_has(0xE6);  // opmask, ZMM_Hi256, Hi16_ZMM state too
}

static int cpu_has_avx512_bf16(void) {
    if (!cpu_has_avx512() || __get_cpuid_max(0, 0) < 7) return 0;
    unsigned a, b, c, d;
    __cpuid_count(7, 1, a, b, c, d);
    return (a >> 5) & 1;  // AVX512_BF16
}
#else  // not x86: OpenBLAS only
static int cpu_has_avx2_fma(void) { return 0; }
static int cpu_has_avx512(void) { return 0; }
static int cpu_has_avx512_bf16(void) { return 0; }
#endif

int lstm_gemm_supported(int kind) {
    switch (kind) {
    case LSTM_GEMM_OPENBLAS: return 1;
    case LSTM_GEMM_AVX2: return cpu_has_avx2_fma();
    case LSTM_GEMM_AVX512: return cpu_has_avx512();
    case LSTM_GEMM_AVX512_BF16: return cpu_has_avx512_bf16();
    default: return 0;
    }
}

const char *lstm_gemm_kind_name(int kind) {
    switch (kind) {
    case LSTM_GEMM_OPENBLAS: return "openblas";
    case LSTM_GEMM_AVX2: return "avx2";
    case LSTM_GEMM_AVX512: return "avx512";
    case LSTM_GEMM_AVX512_BF16: return "avx512-bf16";
    default: return "unknown";
    }
}

static pthread_once_t choose_once = PTHREAD_ONCE_INIT;
static int chosen_kind = LSTM_GEMM_OPENBLAS;
static const char *chosen_reason = "";

int lstm_gemm_preferred_kind(void) { return cpu_has_avx512() ? LSTM_GEMM_AVX512 : LSTM_GEMM_OPENBLAS; }

static void choose(void) {
    chosen_kind = lstm_gemm_preferred_kind();
    chosen_reason = chosen_kind == LSTM_GEMM_AVX512 ? "the default on AVX-512 CPUs"
                    : cpu_has_avx2_fma()           ? "the default without AVX-512; LSTM_GEMM=avx2 selects our AVX2 kernel"
                                                   : "this CPU has neither AVX-512 nor AVX2+FMA";
    const char *env = getenv("LSTM_GEMM");
    if (!env || !*env) return;
    for (int kind = LSTM_GEMM_OPENBLAS; kind <= LSTM_GEMM_AVX512; kind++) {
        if (strcmp(env, lstm_gemm_kind_name(kind)) != 0) continue;
        if (lstm_gemm_supported(kind)) {
            chosen_kind = kind;
            chosen_reason = kind == LSTM_GEMM_OPENBLAS ? "LSTM_GEMM=openblas"
                            : kind == LSTM_GEMM_AVX2   ? "LSTM_GEMM=avx2"
                                                       : "LSTM_GEMM=avx512";
        } else {
            chosen_reason = kind == LSTM_GEMM_AVX2 ? "LSTM_GEMM=avx2 ignored: this CPU lacks AVX2/FMA"
                                                   : "LSTM_GEMM=avx512 ignored: this CPU lacks AVX-512 F/VL/BW/DQ";
        }
        return;
    }
    chosen_reason = "LSTM_GEMM ignored: expected openblas, avx2 or avx512";
}

int lstm_gemm_default_kind(void) {
    pthread_once(&choose_once, choose);
    return chosen_kind;
}

const char *lstm_gemm_default_reason(void) {
    pthread_once(&choose_once, choose);
    return chosen_reason;
}

// One packing buffer per thread, grown on demand (in practice allocated once, at the first GEMM of
// a worker thread) and freed when the thread exits.
static pthread_key_t buffer_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static __thread float *tls_buffer;
static __thread long tls_capacity;

static void free_buffer(void *p) { free(p); }
static void make_key(void) { pthread_key_create(&buffer_key, free_buffer); }

float *lstm_gemm_thread_buffer(long floats) {
    if (tls_capacity >= floats) return tls_buffer;
    pthread_once(&key_once, make_key);
    free(tls_buffer);
    void *p = lstm_allocate((size_t)floats * sizeof(float), 64);  // ≥ 4 MiB: on huge pages
    if (!p) abort();
    tls_buffer = p;
    tls_capacity = floats;
    pthread_setspecific(buffer_key, p);
    return tls_buffer;
}

#if !(defined(__x86_64__) || defined(__i386__))
#define lstm_gemm_streaming_avx512 0
#define lstm_gemm_streaming_avx2 0
#define lstm_gemm_streaming_avx512_bf16 0
#define lstm_gemm_tile_columns_avx512 32
#define lstm_gemm_tile_columns_avx512_wide 48
#define lstm_gemm_tile_columns_avx2 16
#define lstm_gemm_tile_columns_avx512_bf16 32
#define lstm_sgemm_avx512(...) abort()
#define lstm_sgemm_avx512_wide(...) abort()
#define lstm_sgemm_pack_b_avx512_wide(...) abort()
#define lstm_sgemm_packed_avx512_wide(...) abort()
#define lstm_sgemm_packed_rows_avx512_wide(...) abort()
#define lstm_sgemm_avx2(...) abort()
#define lstm_sgemm_pack_b_avx512(...) abort()
#define lstm_sgemm_pack_b_avx2(...) abort()
#define lstm_sgemm_packed_avx512(...) abort()
#define lstm_sgemm_packed_avx2(...) abort()
#define lstm_sgemm_packed_rows_avx512(...) abort()
#define lstm_sgemm_packed_rows_avx2(...) abort()
#define lstm_sgemm_avx512_bf16(...) abort()
#define lstm_sgemm_pack_b_avx512_bf16(...) abort()
#define lstm_sgemm_packed_avx512_bf16(...) abort()
#define lstm_sgemm_packed_rows_avx512_bf16(...) abort()
void lstm_f32_to_bf16_instruction(const float *x, unsigned short *out, long n) { abort(); }
#endif

// The AVX-512 tile policy (lstm_gemm_wide_tiles), decided once like the kind: LSTM_GEMM_WIDE=on|off,
// else whether the 8×48 tile's B sliver (KC × 48 floats, 48 KiB) fits this CPU's L1d (48 KiB on
// recent Intel cores; 32 KiB on AMD Zen 4, where 8×32 measured faster: docs/results/kernels.md).
static pthread_once_t tiles_once = PTHREAD_ONCE_INIT;
static int wide_tiles = 1;
static char tiles_summary[128];

static void choose_tiles(void) {
    long l1 = sysconf(_SC_LEVEL1_DCACHE_SIZE);
    long sliver = (long)LSTM_GEMM_KC * lstm_gemm_tile_columns_avx512_wide * sizeof(float);  // 8×48's B sliver
    const char *env = getenv("LSTM_GEMM_WIDE");
    char why[64];
    if (env && (strcmp(env, "on") == 0 || strcmp(env, "off") == 0)) {
        wide_tiles = strcmp(env, "on") == 0;
        snprintf(why, sizeof why, "LSTM_GEMM_WIDE=%s", env);
    } else {
        wide_tiles = l1 <= 0 || l1 >= sliver;  // unknown L1d: the 8×48 tile, as before the policy
        if (l1 > 0) snprintf(why, sizeof why, "L1d %ld KiB%s", l1 / 1024, env && *env ? "; LSTM_GEMM_WIDE ignored" : "");
        else snprintf(why, sizeof why, "L1d unknown");
    }
    snprintf(tiles_summary, sizeof tiles_summary, "tiles %s, %s", wide_tiles ? "8×32 and 8×48 from n = 1024" : "8×32", why);
}

int lstm_gemm_wide_tiles(void) {
    pthread_once(&tiles_once, choose_tiles);
    return wide_tiles;
}

int lstm_gemm_set_wide_tiles(int on) {
    int was = lstm_gemm_wide_tiles();
    wide_tiles = on != 0;
    return was;
}

const char *lstm_gemm_tiles_summary(void) {
    pthread_once(&tiles_once, choose_tiles);
    return tiles_summary;
}

/// Whether `kind` runs its 8×48 object for an n-column GEMM: every entry point decides by the same
/// rule, so a B packed for n is multiplied by the object that packed it.
static int wide(int kind, long n) {
    return kind == LSTM_GEMM_AVX512 && n >= LSTM_GEMM_WIDE_N && lstm_gemm_wide_tiles();
}

int lstm_gemm_tile_columns(int kind, long n) {
    if (wide(kind, n)) return lstm_gemm_tile_columns_avx512_wide;
    if (kind == LSTM_GEMM_AVX512) return lstm_gemm_tile_columns_avx512;
    if (kind == LSTM_GEMM_AVX2) return lstm_gemm_tile_columns_avx2;
    if (kind == LSTM_GEMM_AVX512_BF16) return lstm_gemm_tile_columns_avx512_bf16;
    return 0;
}

static long round_up(long n, long w) { return (n + w - 1) / w * w; }

/// k rows of n in whole slivers of the widest kind's width for n (any kind's packing fits, and the
/// 8×48 tile's whatever lstm_gemm_wide_tiles() says).
long lstm_sgemm_packed_size(long k, long n) {
    long most = n >= LSTM_GEMM_WIDE_N ? round_up(n, lstm_gemm_tile_columns_avx512_wide) : n;
    for (int kind = LSTM_GEMM_AVX2; kind <= LSTM_GEMM_AVX512_BF16; kind++) {
        long padded = round_up(n, lstm_gemm_tile_columns(kind, n));
        if (padded > most) most = padded;
    }
    return k * most;
}

int lstm_gemm_streams_per_step(int kind) {
    if (kind == LSTM_GEMM_AVX512) return lstm_gemm_streaming_avx512;
    if (kind == LSTM_GEMM_AVX2) return lstm_gemm_streaming_avx2;
    if (kind == LSTM_GEMM_AVX512_BF16) return lstm_gemm_streaming_avx512_bf16;
    return 0;
}

void lstm_sgemm(int kind, int transA, int transB, long m, long n, long k,
                float alpha, const float *a, long lda, const float *b, long ldb,
                float beta, float *c, long ldc) {
    if (wide(kind, n))
        lstm_sgemm_avx512_wide(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    else if (kind == LSTM_GEMM_AVX512)
        lstm_sgemm_avx512(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    else if (kind == LSTM_GEMM_AVX2)
        lstm_sgemm_avx2(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    else if (kind == LSTM_GEMM_AVX512_BF16)
        lstm_sgemm_avx512_bf16(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    else
        abort();  // OpenBLAS is called from Swift, never through here
}

void lstm_sgemm_pack_b(int kind, int transB, long k, long n, const float *b, long ldb, float *packed) {
    if (wide(kind, n))
        lstm_sgemm_pack_b_avx512_wide(transB, k, n, b, ldb, packed);
    else if (kind == LSTM_GEMM_AVX512)
        lstm_sgemm_pack_b_avx512(transB, k, n, b, ldb, packed);
    else if (kind == LSTM_GEMM_AVX2)
        lstm_sgemm_pack_b_avx2(transB, k, n, b, ldb, packed);
    else if (kind == LSTM_GEMM_AVX512_BF16)
        lstm_sgemm_pack_b_avx512_bf16(transB, k, n, b, ldb, packed);
    else
        abort();
}

void lstm_sgemm_packed(int kind, int transA, long m, long n, long k,
                       float alpha, const float *a, long lda, const float *packed,
                       float beta, float *c, long ldc) {
    if (wide(kind, n))
        lstm_sgemm_packed_avx512_wide(transA, m, n, k, alpha, a, lda, packed, beta, c, ldc);
    else if (kind == LSTM_GEMM_AVX512)
        lstm_sgemm_packed_avx512(transA, m, n, k, alpha, a, lda, packed, beta, c, ldc);
    else if (kind == LSTM_GEMM_AVX2)
        lstm_sgemm_packed_avx2(transA, m, n, k, alpha, a, lda, packed, beta, c, ldc);
    else if (kind == LSTM_GEMM_AVX512_BF16)
        lstm_sgemm_packed_avx512_bf16(transA, m, n, k, alpha, a, lda, packed, beta, c, ldc);
    else
        abort();
}

void lstm_sgemm_packed_rows(int kind, long groups, const lstm_gemm_rows *g, long n, long j0, long j1, long k,
                            const float *packed, float beta) {
    if (wide(kind, n))
        lstm_sgemm_packed_rows_avx512_wide(groups, g, n, j0, j1, k, packed, beta);
    else if (kind == LSTM_GEMM_AVX512)
        lstm_sgemm_packed_rows_avx512(groups, g, n, j0, j1, k, packed, beta);
    else if (kind == LSTM_GEMM_AVX2)
        lstm_sgemm_packed_rows_avx2(groups, g, n, j0, j1, k, packed, beta);
    else if (kind == LSTM_GEMM_AVX512_BF16)
        lstm_sgemm_packed_rows_avx512_bf16(groups, g, n, j0, j1, k, packed, beta);
    else
        abort();
}
