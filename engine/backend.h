/* backend.h: what a backend provides behind eng_layer (engine.c dispatches to it). The CPU
 * backend is cpu.c; the CUDA backend (engine/cuda) registers a create function and adds extras. */
#ifndef MOESIM_ENG_BACKEND_H
#define MOESIM_ENG_BACKEND_H

#include "weights.h"

typedef struct eng_backend_ops {
    int (*forward)(void *impl, const float *x, int tokens, float *y, const eng_routing *force,
                   eng_routing *routing_out, eng_timing *timing, sim_err *err);
    const eng_weights *(*weights)(const void *impl);
    void (*destroy)(void *impl);
} eng_backend_ops;

/* Kernel switches, for calibration (the bench JSON's `kernel_switch`): the CPU backend runs
 * each expert's GEMMs of at most ENG_CPU_SMALL_ROWS rows through its streaming kernel, and
 * larger ones through BLAS, expert by expert; the CUDA backend runs the whole layer on its
 * memory-bound kernel while no expert can have more than ENG_CUDA_SMALL_ROWS rows (tokens on
 * one rank; the largest local count with EP), else on cuBLAS. */
#define ENG_CPU_SMALL_ROWS 8
#define ENG_CUDA_SMALL_ROWS 64

/* The CPU backend: weights for tr's rank drawn from seed; tr is borrowed. */
int eng_cpu_create(void **impl, const eng_backend_ops **ops, const eng_config *c, eng_transport *tr,
                   uint64_t seed, sim_err *err);

/* What a GPU backend adds for the bench (the CPU backend has none): cache flushing between
 * timed runs, the bytes its stored experts really take, the device, and the primitives its
 * speed checks compare against. */
typedef struct eng_gpu_info {
    char name[128], targets[128];
    int cc_major, cc_minor, sms, driver, runtime;   /* driver/runtime: CUDA versions, e.g. 13000 */
    double mem_gib, l2_mib;
} eng_gpu_info;

typedef struct eng_backend_extra {
    int (*flush)(void *impl, sim_err *err);          /* evict the L2 before a timed forward */
    double (*expert_bytes)(const void *impl);        /* one routed expert as stored on the device */
    const char *(*precision)(const void *impl);      /* "fp8" when weights were quantized, else NULL */
    void (*info)(const void *impl, eng_gpu_info *out);
    /* read-bandwidth yardstick: times[reps] seconds per read of *bytes bytes */
    int (*membw)(void *impl, long reps, double *times, double *bytes, sim_err *err);
    /* cuBLAS BF16 GEMM C[M][N] = A[M][K] B[N][K]^T, FP32 accumulation, B cycling through enough
     * distinct matrices to stream from HBM; times[reps] seconds */
    int (*gemm)(void *impl, int M, int N, int K, long reps, double *times, sim_err *err);
    /* how the routed experts ran in the last forward ("cublas-grouped-bf16", "small-kernel",
     * ...; BENCH_JSON.md, expert_path); NULL when no expert had rows */
    const char *(*expert_path)(const void *impl);
} eng_backend_extra;

/* A backend built into this binary besides the CPU one (engine/cuda registers itself here when
 * built with CUDA); NULL: not built. */
typedef int (*eng_backend_create_fn)(void **impl, const eng_backend_ops **ops, const eng_backend_extra **extra,
                                     const eng_config *c, eng_transport *tr, uint64_t seed, sim_err *err);
extern eng_backend_create_fn eng_cuda_create_hook;
/* --fp8: the CUDA backend stores expert and shared weights as FP8 E4M3 with a power-of-two
 * scale per row, quantized from the weights as drawn; the layer's weights (and so the
 * reference) become the dequantized values. Set by the command line before layers are made. */
extern int eng_fp8_weights;

/* The layer's GPU extras (NULL on the CPU backend). */
const eng_backend_extra *eng_layer_extra(const eng_layer *l);
void *eng_layer_impl(const eng_layer *l);

/* Seconds on a monotonic clock. */
double eng_now(void);

/* Check a routing given to eng_forward: ids in range and distinct per token. */
int eng_routing_check(const eng_routing *r, int tokens, const eng_config *c, sim_err *err);

const eng_weights *eng_layer_weights(const eng_layer *l);

#endif
