// The machine's floating-point peak: 12 independent chains of AVX-512 single-precision FMAs per
// thread (enough to cover the FMA latency on both ports), no memory traffic, on 1 and on N threads.
// This is the hardware's ceiling for any float32 GEMM; docs/results/speed.md compares lstm's and
// PyTorch's achieved GFLOP/s with it. Build and run (from the repository root):
//   cc -O3 -funroll-loops -mavx512f -pthread Benchmarks/Kernels/fma_peak.c -o /tmp/fma_peak && /tmp/fma_peak 2
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { CHAINS = 12, ITERATIONS = 400000000 / CHAINS };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void *run(void *out) {
    __m512 acc[CHAINS];
    const __m512 b = _mm512_set1_ps(1.0000001f), c = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_set1_ps((float)i);
    for (long k = 0; k < ITERATIONS; k++)
        for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_fmadd_ps(acc[i], b, c);
    float s = 0;
    for (int i = 0; i < CHAINS; i++) s += _mm512_reduce_add_ps(acc[i]);
    *(float *)out = s;  // keeps the chains alive
    return NULL;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    if (threads < 1 || threads > 64) return 2;
    pthread_t th[64];
    float sink[64];
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now();
        for (int i = 0; i < threads; i++) pthread_create(&th[i], NULL, run, &sink[i]);
        for (int i = 0; i < threads; i++) pthread_join(th[i], NULL);
        double flops = (double)threads * ITERATIONS * CHAINS * 16 * 2;
        printf("%d thread(s): %.1f GFLOP/s\n", threads, flops / (now() - t0) / 1e9);
    }
    return 0;
}
