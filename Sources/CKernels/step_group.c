// The step group (ckernels.h): shard workers computing their per-step GEMMs together, each core
// taking a column range of every participant's C. Synchronisation is a sense-reversing spinning
// barrier (a step is milliseconds; a barrier a few microseconds), which yields the CPU after a short
// spin so a loaded machine does not burn a core waiting for a descheduled participant.
#include "ckernels.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_PARTICIPANTS 64

enum { OPEN = 0, LOCKSTEP = 1, ALONE = 2 };

struct lstm_step_group {
    _Alignas(64) atomic_int arrived;  // barrier: participants arrived at the current barrier
    _Alignas(64) atomic_int sense;    // barrier: flips when all arrived
    _Alignas(64) atomic_int joined;   // join: participants arrived this round
    atomic_int decision;              // join: OPEN, LOCKSTEP or ALONE
    atomic_long rounds;               // rounds that ran in lockstep
    atomic_long waited_ns;            // this round: time participants spent waiting in barriers
    atomic_long spent_ns;             // this round: time participants spent from join to leave
    int participants;
    int skip;                         // rounds still to run alone after a round that waited too much
    int penalty;                      // how many rounds the next such round skips
    int adaptive;                     // 0: never skip (tests)
    _Alignas(64) lstm_gemm_rows rows[MAX_PARTICIPANTS];
};

static double now_s(void);

lstm_step_group *lstm_step_group_create(int participants) {
    if (participants < 1 || participants > MAX_PARTICIPANTS) return NULL;
    void *p = NULL;
    if (posix_memalign(&p, 64, sizeof(lstm_step_group)) != 0) return NULL;
    lstm_step_group *g = p;
    memset(g, 0, sizeof *g);
    g->participants = participants;
    atomic_init(&g->arrived, 0);
    atomic_init(&g->sense, 0);
    atomic_init(&g->joined, 0);
    atomic_init(&g->decision, OPEN);
    atomic_init(&g->rounds, 0);
    atomic_init(&g->waited_ns, 0);
    atomic_init(&g->spent_ns, 0);
    g->penalty = 4;
    g->adaptive = 1;
    return g;
}

void lstm_step_group_destroy(lstm_step_group *g) { free(g); }

int lstm_step_group_reset(lstm_step_group *g) {
    long waited = atomic_exchange(&g->waited_ns, 0), spent = atomic_exchange(&g->spent_ns, 0);
    if (g->adaptive && spent > 0 && waited * 4 > spent) {  // the last lockstep round waited > 25 %: the cores are shared
        g->skip = g->penalty;
        g->penalty = g->penalty < 256 ? 2 * g->penalty : 256;
    } else if (spent > 0) {
        g->penalty = 4;
    }
    atomic_store(&g->joined, 0);
    atomic_store(&g->decision, g->skip > 0 ? ALONE : OPEN);
    if (g->skip > 0) {
        g->skip--;
        return 0;
    }
    return 1;
}

void lstm_step_group_leave(lstm_step_group *g, int index, double joined_at) {
    (void)index;
    atomic_fetch_add(&g->spent_ns, (long)((now_s() - joined_at) * 1e9));
}

long lstm_step_group_lockstep_rounds(const lstm_step_group *g) {
    return atomic_load(&((lstm_step_group *)g)->rounds);
}

static inline void pause_or_yield(long *spins) {
    if (++*spins < 4000) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    } else {
        sched_yield();
    }
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int lstm_step_group_join(lstm_step_group *g, int index, double timeout_s) {
    (void)index;
    if (g->participants == 1) {
        atomic_fetch_add(&g->rounds, 1);
        return 1;
    }
    if (atomic_fetch_add(&g->joined, 1) + 1 == g->participants) {
        int open = OPEN;
        if (atomic_compare_exchange_strong(&g->decision, &open, LOCKSTEP)) atomic_fetch_add(&g->rounds, 1);
    }
    // Wait for the last arrival or the deadline; whoever decides first (the last arrival: lockstep,
    // a participant past the deadline: alone) decides for everyone, late arrivals included.
    double deadline = now_s() + timeout_s;
    long spins = 0;
    int d;
    while ((d = atomic_load(&g->decision)) == OPEN) {
        if ((spins & 255) == 0 && now_s() > deadline) {
            int open = OPEN;
            atomic_compare_exchange_strong(&g->decision, &open, ALONE);
            continue;
        }
        pause_or_yield(&spins);
    }
    return d == LOCKSTEP;
}

static void barrier(lstm_step_group *g) {
    int s = atomic_load_explicit(&g->sense, memory_order_relaxed);
    if (atomic_fetch_add_explicit(&g->arrived, 1, memory_order_acq_rel) + 1 == g->participants) {
        atomic_store_explicit(&g->arrived, 0, memory_order_relaxed);
        atomic_store_explicit(&g->sense, !s, memory_order_release);
        return;
    }
    long spins = 0;
    if (atomic_load_explicit(&g->sense, memory_order_acquire) != s) return;
    double t0 = now_s();
    while (atomic_load_explicit(&g->sense, memory_order_acquire) == s) pause_or_yield(&spins);
    atomic_fetch_add_explicit(&g->waited_ns, (long)((now_s() - t0) * 1e9), memory_order_relaxed);
}

double lstm_step_group_clock(void) { return now_s(); }

void lstm_step_group_set_adaptive(lstm_step_group *g, int adaptive) { g->adaptive = adaptive; }

void lstm_step_group_sgemm_packed(lstm_step_group *g, int index, int kind, long m, long n, long k,
                                  const float *a, long lda, const float *packed, float beta, float *c, long ldc) {
    int p = g->participants;
    g->rows[index] = (lstm_gemm_rows){.a = a, .lda = lda, .c = c, .ldc = ldc, .m = m};
    barrier(g);  // every participant's rows published, and its A (last step's h or δG) complete
    long w = lstm_gemm_tile_columns(kind, n);  // whole slivers of the packed B each
    long slivers = (n + w - 1) / w;
    long j0 = slivers * index / p * w, j1 = slivers * (index + 1) / p * w;
    lstm_sgemm_packed_rows(kind, p, g->rows, n, j0, j1 < n ? j1 : n, k, packed, beta);
    barrier(g);  // every column of every participant's C written
}
