/* kernels.h: the CUDA backend's kernels behind a C API (kernels.cu, compiled by nvcc); each
 * launches on the given stream and returns a cudaError_t as int. kernels_ref.c holds the
 * plain CPU loop each one is tested against (tests/gpu/test_kernels.c). */
#ifndef MOESIM_ENG_CUDA_KERNELS_H
#define MOESIM_ENG_CUDA_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Storage of expert weights on the device. I8 and FP8 (E4M3) carry one FP32 scale per row. */
typedef enum { EK_F32, EK_BF16, EK_I8, EK_FP8 } ek_wtype;

/* One FFN matrix applied to rows grouped by expert (the memory-bound small-batch kernel).
 * Expert e's matrix is `rows` x K, row-major, at w + e * w_stride elements; its input rows are
 * x[off[e] .. off[e+1]) (K floats each). pair = 1 (gate/up): rows = 2F, row f is the gate and
 * row F + f the up projection, and out[r][f] = silu(gate) * up (F wide); pair = 0: out[r][n]
 * is the plain product (rows wide). Only experts listed in act[0 .. *nact) run, so the list
 * and the offsets can stay on the device (no host sync). off == NULL means one expert (0)
 * with m rows; act == NULL means expert 0 only. */
typedef struct ek_ffn {
    ek_wtype wt;
    const void *w;
    const float *scale;      /* I8/FP8: [experts][rows]; NULL otherwise */
    long long w_stride;
    int rows, K, pair;
    const float *x;
    const int *off, *act, *nact;
    int m;
    float *out;
} ek_ffn;

/* grid: blocks of the persistent grid (a few per multiprocessor). */
int ek_ffn_small(const ek_ffn *a, int grid, void *stream);

/* Router scoring and top-k, one warp per token: logits[T][E] (read only), ids/wts[T][k].
 * The rule is topk_rule.h's: ties go to the lower expert id, as in the reference, NaN ranks
 * last, every id is in range and distinct even with fewer than k finite logits; weights
 * renormalized over the k. */
int ek_topk(const float *logits, int T, int E, int k, int sigmoid, int *ids, float *wts, void *stream);

/* cnt[e] = rows routed to expert e (cnt zeroed here); n = T * k ids. */
int ek_count(const int *ids, long n, int E, int *cnt, void *stream);
/* off[0..n] = exclusive scan of cnt[0..n); act/nact (may be NULL) = experts with rows. */
int ek_offsets(const int *cnt, int n, int *off, int *act, int *nact, void *stream);
/* slot[i] = off[ids[i]] + arrival order within the expert; cursor[E] is scratch. */
int ek_scatter(const int *ids, long n, int E, const int *off, int *cursor, int *slot, void *stream);
/* xs[slot[i]] = x[i / k], d floats per row. */
int ek_gather(const float *x, int d, const int *slot, long n, int k, float *xs, void *stream);
/* Copy nseg segments of rows: seg[3s] source row, seg[3s+1] destination row, seg[3s+2] count. */
int ek_regroup(const float *src, float *dst, int d, const int *seg, int nseg, void *stream);
/* y[t] = (accumulate ? y[t] : 0) + sum_j wts[t][j] * ye[slot[t][j]]. */
int ek_combine(const float *ye, int d, const int *slot, const float *wts, int T, int k, float *y,
               int accumulate, void *stream);
/* h[r][f] = silu(gu[r][f]) * gu[r][F + f]; h FP32 or BF16 (h_bf16). */
int ek_swiglu(const float *gu, long rows, int F, void *h, int h_bf16, void *stream);
/* The same from BF16 gate/up rows (the grouped GEMM's BF16 output) into BF16 h. */
int ek_swiglu_bf16(const uint16_t *gu, long rows, int F, uint16_t *h, void *stream);
/* FP32 copy of n BF16 values (exact). */
int ek_bf16_to_f32(const uint16_t *x, long n, float *out, void *stream);
/* BF16 (round to nearest even) copy of n floats. */
int ek_to_bf16(const float *x, long n, uint16_t *out, void *stream);
/* rows x K weights of any type, times their row scales, as BF16 (for the tensor-core path). */
int ek_widen_bf16(ek_wtype wt, const void *w, const float *scale, int rows, int K, uint16_t *out,
                  void *stream);
/* Fills bytes (whole 32-bit words) with values from a hash of seed and index: kind 0 random
 * words, kind 1 BF16 uniform in [-1, 1). The yardsticks' operands, never zeros. */
int ek_fill_random(void *buf, size_t bytes, int kind, uint64_t seed, void *stream);
/* Reads bytes (a multiple of 16) with 16-byte loads: the memory-bandwidth yardstick, and the
 * L2 flush (reading a buffer twice the L2 evicts it without leaving dirty lines behind). */
int ek_read(const void *buf, size_t bytes, float *sink, int grid, void *stream);

#ifdef __cplusplus
}
#endif
#endif
