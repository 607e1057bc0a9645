// Large blocks of memory: the tensors (LSTMKit's Allocation, behind every Buffer) and the GEMM
// packing buffers (lstm_gemm_thread_buffer) come from lstm_allocate.
#include "ckernels.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <sys/mman.h>
#endif

/// The transparent huge page size of x86-64 and most arm64 kernels.
#define HUGE_PAGE_BYTES (2L << 20)

static pthread_once_t advise_once = PTHREAD_ONCE_INIT;
static int advise_huge;

static void choose_advice(void) {
    const char *env = getenv("LSTM_HUGE_PAGES");
    advise_huge = !(env && strcmp(env, "off") == 0);
}

int lstm_huge_pages(void) {
    pthread_once(&advise_once, choose_advice);
#ifdef MADV_HUGEPAGE
    return advise_huge;
#else
    return 0;
#endif
}

long lstm_huge_page_bytes(void) { return HUGE_PAGE_BYTES; }

void *lstm_allocate(size_t bytes, size_t alignment) {
    int huge = lstm_huge_pages() && bytes >= (size_t)HUGE_PAGE_BYTES;
    if (huge && alignment < (size_t)HUGE_PAGE_BYTES) alignment = HUGE_PAGE_BYTES;
    if (alignment < sizeof(void *)) alignment = sizeof(void *);
    void *p = NULL;
    if (posix_memalign(&p, alignment, bytes > 0 ? bytes : 1) != 0) return NULL;
#ifdef MADV_HUGEPAGE
    // Advice only: where the kernel refuses it (transparent_hugepage "never") the block keeps 4 KiB
    // pages, as without it. The tail past the last whole huge page stays 4 KiB.
    if (huge) (void)madvise(p, bytes / HUGE_PAGE_BYTES * HUGE_PAGE_BYTES, MADV_HUGEPAGE);
#endif
    return p;
}
