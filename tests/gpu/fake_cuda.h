/* fake_cuda.h: control of the host-only fake device (fake_cuda.c) under which
 * engine/cuda/backend_cuda.c runs in tests/gpu/test_fake_cuda: a log of every runtime, cuBLAS
 * and kernel-wrapper call (name, stream), live allocation tracking, and injected failures. */
#ifndef MOESIM_FAKE_CUDA_H
#define MOESIM_FAKE_CUDA_H

#include <stddef.h>

typedef struct fake_call {
    const char *name;    /* "cudaMalloc", "ek_topk", "cublasGemmEx", ... */
    const void *stream;  /* the stream the call was issued on (NULL: none, or the legacy stream) */
    size_t bytes;        /* cudaMalloc/cudaFree/cudaMemcpy*: bytes; GEMMs: groups */
    int status;          /* what the fake returned */
} fake_call;

/* Forget the log (allocations stay tracked). */
void fake_log_reset(void);
int fake_log_len(void);
const fake_call *fake_log_at(int i);
/* Calls named `name` since the last reset. */
int fake_log_count(const char *name);

/* The `nth` call (1 = next) to `name` from now returns `status` (a cudaError_t or
 * cublasStatus_t) without doing its work; every later call too when sticky. One fault at a time. */
void fake_fail(const char *name, int nth, int status, int sticky);
void fake_fail_clear(void);

/* Device allocations live now, and frees of pointers the fake never gave out (must stay 0). */
int fake_live_allocs(void);
size_t fake_live_bytes(void);
int fake_bad_frees(void);

#endif
