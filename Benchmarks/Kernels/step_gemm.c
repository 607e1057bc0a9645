// The per-step GEMMs of one LSTM layer at the H = 1024 shape (B = 64, 2 shards of 32 rows, T steps)
// three ways, interleaved (docs/results/kernels.md, "The per-step GEMMs shared by the shard workers"):
//   solo   one thread runs its shard's 32×4096×1024 (h·Rᵀ) or 32×1024×4096 (δG·R) GEMMs alone;
//   pair   two threads at once, each its own shard against its own packed copy of R (training today);
//   coop   two threads in a step group: both shards' rows, each thread half the columns.
// It also checks coop's C equals pair's bit for bit. Build and run (from the repository root):
//   clang -O3 -march=x86-64-v2 -pthread -ISources/CKernels/include Benchmarks/Kernels/step_gemm.c \
//       Sources/CKernels/gemm*.c Sources/CKernels/step_group.c -o /tmp/step_gemm && /tmp/step_gemm [H B T ROUNDS]
#include "ckernels.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long H = 1024, B = 64, T = 50;
static int ROUNDS = 9;
static int kind;

static double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static float *randoms(long n, unsigned seed) {
    float *p = aligned_alloc(64, ((size_t)n * 4 + 63) / 64 * 64);
    for (long i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = ((seed >> 8) / 16777216.0f - 0.5f) * 0.1f;
    }
    return p;
}

typedef struct {
    int index, mode;  // mode 0 solo/pair (plain calls), 1 coop
    int dir;          // 0 forward h·Rᵀ (n = 4H, k = H), 1 backward δG·R (n = H, k = 4H)
    float *a, *c, *packed;
    lstm_step_group *group;
    double cpu, wall;
} job;

static void *run(void *arg) {
    job *j = arg;
    long m = B / 2, n = j->dir ? H : 4 * H, k = j->dir ? 4 * H : H;
    double c0 = clock_s(CLOCK_THREAD_CPUTIME_ID), w0 = clock_s(CLOCK_MONOTONIC);
    if (j->mode == 1 && !lstm_step_group_join(j->group, j->index, 60)) abort();
    for (long s = 0; s < T; s++) {
        // A of step s: rows of a (T·m × k), C of step s: rows of c (T·m × n); beta 1 as the layer calls it
        const float *a = j->a + s * m * k;
        float *c = j->c + s * m * n;
        if (j->mode == 1)
            lstm_step_group_sgemm_packed(j->group, j->index, kind, m, n, k, a, k, j->packed, 1, c, n);
        else
            lstm_sgemm_packed(kind, 0, m, n, k, 1, a, k, j->packed, 1, c, n);
    }
    j->cpu = clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
    j->wall = clock_s(CLOCK_MONOTONIC) - w0;
    return NULL;
}

static int cmp(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

int main(int argc, char **argv) {
    if (argc > 1) H = atol(argv[1]);
    if (argc > 2) B = atol(argv[2]);
    if (argc > 3) T = atol(argv[3]);
    if (argc > 4) ROUNDS = atoi(argv[4]);
    kind = lstm_gemm_default_kind();
    if (kind == LSTM_GEMM_OPENBLAS) kind = LSTM_GEMM_AVX2;
    printf("kernel %s, H %ld, B %ld (2 shards of %ld), T %ld, %d rounds\n", lstm_gemm_kind_name(kind), H, B, B / 2, T,
           ROUNDS);
    long m = B / 2;
    float *r = randoms(4 * H * H, 1);
    lstm_step_group *group = lstm_step_group_create(2);
    for (int dir = 0; dir < 2; dir++) {
        long n = dir ? H : 4 * H, k = dir ? 4 * H : H;
        float *packed[2];
        for (int i = 0; i < 2; i++) {
            packed[i] = aligned_alloc(64, lstm_sgemm_packed_size(k, n) * 4);
            lstm_sgemm_pack_b(kind, dir ? 0 : 1, k, n, r, H, packed[i]);
        }
        float *a[2] = {randoms(T * m * k, 7), randoms(T * m * k, 9)};
        float *c[2][2];
        for (int v = 0; v < 2; v++)
            for (int i = 0; i < 2; i++) c[v][i] = calloc(T * m * n, 4);
        // the bits first: C from zero by pair (mode 0) and by coop (mode 1)
        for (int mode = 0; mode < 2; mode++) {
            while (!lstm_step_group_reset(group)) {
                    }
            job js[2];
            for (int i = 0; i < 2; i++)
                js[i] = (job){.index = i, .mode = mode, .dir = dir, .a = a[i], .c = c[mode][i], .packed = packed[i],
                              .group = group};
            pthread_t th;
            pthread_create(&th, NULL, run, &js[1]);
            run(&js[0]);
            pthread_join(th, NULL);
        }
        for (int i = 0; i < 2; i++)
            printf("shard %d: coop's C %s pair's bit for bit\n", i,
                   memcmp(c[0][i], c[1][i], T * m * n * 4) ? "DIFFERS FROM" : "equals");
        double flops = 2.0 * m * n * k * T;  // one shard's steps
        double t[3][2][64];                   // [candidate][cpu per shard, wall per round][round]
        for (int round = 0; round < ROUNDS; round++) {
            for (int o = 0; o < 3; o++) {
                int cand = (o + round) % 3;  // rotate the order each round
                job js[2];
                for (int i = 0; i < 2; i++)
                    js[i] = (job){.index = i, .mode = cand == 2, .dir = dir, .a = a[i],
                                  .c = c[cand == 2][i], .packed = packed[i], .group = group};
                if (cand == 0) {  // solo: shard 0 alone, then shard 1 alone
                    run(&js[0]);
                    run(&js[1]);
                    t[0][0][round] = (js[0].cpu + js[1].cpu) / 2;
                    t[0][1][round] = js[0].wall + js[1].wall;
                } else {
                    while (!lstm_step_group_reset(group)) {
                    }
                    pthread_t th;
                    double w0 = clock_s(CLOCK_MONOTONIC);
                    pthread_create(&th, NULL, run, &js[1]);
                    run(&js[0]);
                    pthread_join(th, NULL);
                    t[cand][0][round] = (js[0].cpu + js[1].cpu) / 2;
                    t[cand][1][round] = clock_s(CLOCK_MONOTONIC) - w0;
                }
            }
        }
        static const char *names[3] = {"solo (one shard at a time)", "pair (2 threads, each all columns)",
                                       "coop (2 threads, each half the columns)"};
        printf("%s: %ld×%ld×%ld per shard per step, %ld steps, 2 shards\n", dir ? "backward δG·R" : "forward h·Rᵀ", m, n,
               k, T);
        for (int cand = 0; cand < 3; cand++) {
            qsort(t[cand][0], ROUNDS, sizeof(double), cmp);
            qsort(t[cand][1], ROUNDS, sizeof(double), cmp);
            // per core: one shard's work per CPU second; both shards: 2 shards' work per wall second
            printf("  %-40s CPU/thread best %.1f median %.1f GFLOP/s; both shards wall best %.2f median %.2f ms "
                   "(%.0f GFLOP/s)\n",
                   names[cand], flops / t[cand][0][0] / 1e9, flops / t[cand][0][ROUNDS / 2] / 1e9, 1e3 * t[cand][1][0],
                   1e3 * t[cand][1][ROUNDS / 2], 2 * flops / t[cand][1][ROUNDS / 2] / 1e9);
        }
    }
    printf("lockstep rounds %ld\n", lstm_step_group_lockstep_rounds(group));
    return 0;
}
