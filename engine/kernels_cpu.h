/* kernels_cpu.h: the CPU backend's own kernels for the memory-bound case: Y = X W^T with few
 * rows in X (decode: a handful of tokens per expert), reading FP32, BF16, INT8 or INT4_G32
 * weights once and accumulating in FP32. eng_k_nt_plain is the loop they are tested against. */
#ifndef MOESIM_ENG_KERNELS_CPU_H
#define MOESIM_ENG_KERNELS_CPU_H

#include <stddef.h>
#include <stdint.h>

#include "weights.h"

/* y[m * ldy + n] = sum_k x[m * ldx + k] * w(row0 + n, k) for m < M, n < N, k < w->cols. */
void eng_k_nt_small(int M, int N, const float *x, size_t ldx, const eng_mat *w, int row0,
                    float *y, size_t ldy);

/* The same sum, one multiply-add at a time. */
void eng_k_nt_plain(int M, int N, const float *x, size_t ldx, const eng_mat *w, int row0,
                    float *y, size_t ldy);

/* Rows [row0, row0 + n) of w as FP32, into out[n][w->cols] (for BLAS at larger batches). */
void eng_k_dequant(const eng_mat *w, int row0, int n, float *out);

/* out[m][f] = silu(g[m][f]) * u[m][f]. */
void eng_k_swiglu(int M, int n, const float *g, size_t ldg, const float *u, size_t ldu, float *out, size_t ldo);

/* The instruction set the kernels run with: 4 (x86-64-v4, AVX-512), 3 (x86-64-v3, AVX2) or
 * 1 (plain x86-64, or the baseline of another architecture): the widest the CPU has, capped
 * by the environment: MOESIM_GENERIC=1 asks for 1, MOESIM_CPU_KERNELS=x86-64|x86-64-v3|
 * x86-64-v3+vnni|x86-64-v4|x86-64-v4+vnni for that level, so each level is tested and measured
 * on a machine that has it. */
int eng_k_isa_level(void);
int eng_k_isa_cpu_level(void);    /* the widest this CPU runs, whatever the environment asks */
/* Whether INT8 runs VNNI's vpdpwssd at the level in force: where the CPU has it at that level
 * (AVX512-VNNI at 4, AVX-VNNI at 3) and the environment does not name the level without it
 * (MOESIM_CPU_KERNELS=x86-64-v4 is v4 without VNNI; x86-64-v4+vnni asks for it). The sums are
 * the same either way; only the speed differs. */
int eng_k_isa_vnni(void);
int eng_k_isa_cpu_vnni(int level); /* whether this CPU has VNNI at that level */
/* "x86-64-v4+vnni", "x86-64-v4", "x86-64-v3+vnni", "x86-64-v3", "x86-64" or "baseline" (another
 * architecture's) */
const char *eng_k_isa_name(void);

/* Where the decode tiles prefetch the weights they read next: "l1" or "l2" (kernels_cpu.c,
 * prefetch_choice: L2 on Intel CPUs, L1 elsewhere; MOESIM_CPU_PREFETCH=l1|l2 asks for one).
 * Only the speed depends on it. */
const char *eng_k_prefetch_name(void);
int eng_k_prefetch_l2(void);        /* 1 when that is L2 */

/* 0 when the environment's request can be met; else -1 and msg says why (an unknown
 * MOESIM_CPU_KERNELS or MOESIM_CPU_PREFETCH, or a level above this CPU's). Front ends refuse
 * such a run (exit 2). */
int eng_k_isa_check(char *msg, size_t cap);

/* a[i] = b[i] + s * c[i], for the memory-bandwidth (triad) test; at the widest level the CPU
 * has, whatever the environment asks (the memory's bandwidth does not depend on the level). */
void eng_k_triad(float *a, const float *b, const float *c, float s, size_t n);

/* *sum = the sum of b[0, n) (n a multiple of 4), for the plain-read test: what a read-only
 * stream gets from memory with no kernel around it; at the widest level, as the triad. */
void eng_k_read_sum(const uint64_t *b, size_t n, uint64_t *sum);

#endif
