/* alloc.c: the engine's one allocation function (aligned, with a huge-page variant for the
 * expert weights) and its fault injection for tests. Apart from config.c so the kernels and
 * their weights build with nothing of the simulator but base/err (the Arm cross check,
 * tests/engine/arm_cross.sh, links just those). */
#include "engine.h"

#include <stdlib.h>
#include <sys/mman.h>

/* Fault injection for tests: MOE_ENGINE_FAIL_ALLOC=N makes the N-th call fail. */
static long alloc_calls, alloc_fail_at = -1;

static void *alloc_aligned(size_t bytes, size_t align, const char *what, sim_err *err)
{
    if (alloc_fail_at < 0) {
        const char *s = getenv("MOE_ENGINE_FAIL_ALLOC");
        alloc_fail_at = s && *s ? atol(s) : 0;
    }
    void *p = NULL;
    long call;
    #pragma omp atomic capture
    call = ++alloc_calls;
    if (call != alloc_fail_at && posix_memalign(&p, align, bytes ? bytes : 1) != 0)
        p = NULL;
    if (!p)
        sim_fail(err, SIM_EFAIL, "out of memory allocating %zu bytes for %s", bytes, what);
    return p;
}

void *eng_alloc(size_t bytes, const char *what, sim_err *err)
{
    /* 64-byte alignment: whole cache lines and aligned vector loads for the kernels */
    return alloc_aligned(bytes, 64, what, err);
}

void *eng_alloc_huge(size_t bytes, const char *what, sim_err *err)
{
    const size_t huge = (size_t)2 << 20;
    if (bytes < huge)
        return eng_alloc(bytes, what, err);
    void *p = alloc_aligned(bytes, huge, what, err);
#ifdef MADV_HUGEPAGE
    /* only the whole 2 MiB pages inside the block, so the tail costs no more than it holds;
     * advice, so a kernel without transparent huge pages just ignores it */
    if (p)
        (void)madvise(p, bytes / huge * huge, MADV_HUGEPAGE);
#endif
    return p;
}
