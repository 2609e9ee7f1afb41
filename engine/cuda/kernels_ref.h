/* kernels_ref.h: each CUDA kernel of kernels.h as a plain CPU loop over the same layouts, the
 * definition tests/gpu/test_kernels.c holds the GPU to. */
#ifndef MOESIM_ENG_CUDA_KERNELS_REF_H
#define MOESIM_ENG_CUDA_KERNELS_REF_H

#include "kernels.h"

/* Weight (row r, column k) of a matrix stored as the GPU stores it (scales per row). */
float ekr_weight(ek_wtype wt, const void *w, const float *scale, int K, long long r, int k);
/* ek_ffn_small on host arrays: off[n_exp + 1] (NULL: one expert with m rows); all experts run. */
void ekr_ffn(const ek_ffn *a, int n_exp, float *out);
void ekr_topk(const float *logits, int T, int E, int k, int sigmoid, int *ids, float *wts);
void ekr_combine(const float *ye, int d, const int *slot, const float *wts, int T, int k, float *y, int accumulate);
void ekr_swiglu(const float *gu, long rows, int F, float *h);

#endif
