/* topk_rule.h: the router's top-k rule, shared by the CUDA kernel (kernels.cu, one warp per
 * token) and the host (tests/gpu/test_topk.c runs it on this CPU-only machine): which expert
 * is better, which are already taken, and the weights of the k chosen. Plain C that nvcc also
 * compiles as device code, so the kernel and its host test cannot drift apart.
 *
 * Why a total order over every expert, not "skip -inf": a token can have fewer than k finite
 * logits (-inf from a masked expert, NaN from a broken input); the old kernel then found no
 * candidate and wrote id 0x7fffffff, which the count kernel used as an index (out of bounds).
 * Here every expert not yet taken is a candidate, so with k <= E (config.c checks it) each of
 * the k picks is a valid, distinct id. */
#ifndef MOESIM_ENG_CUDA_TOPK_RULE_H
#define MOESIM_ENG_CUDA_TOPK_RULE_H

#include <math.h>

#ifdef __CUDACC__
#define EK_HD static __host__ __device__ __forceinline__
#else
#define EK_HD static inline
#endif

/* Is (v, i) ranked above (bv, bi)? bi < 0: nothing chosen yet. Larger logit first, NaN below
 * every number (-inf included), ties (and NaN against NaN) to the lower id, as the reference
 * breaks them. A total order on distinct ids, so a warp's butterfly reduction agrees in every
 * lane whatever the order of its comparisons. */
EK_HD int ek_topk_better(float v, int i, float bv, int bi)
{
    if (bi < 0)
        return 1;
    const int vn = v != v, bn = bv != bv;
    if (vn != bn)
        return bn;
    if (!vn && v != bv)
        return v > bv;
    return i < bi;
}

/* Is expert e among the j already chosen? (k is small: a scan beats a bitmap of E bits) */
EK_HD int ek_topk_taken(const int *ids, int j, int e)
{
    for (int i = 0; i < j; i++)
        if (ids[i] == e)
            return 1;
    return 0;
}

/* w[0..k): the chosen logits, best first, replaced by their renormalized weights. Softmax over
 * the chosen is exp(l - l_best) / sum (the full softmax's normalizer cancels); sigmoid scores
 * are renormalized over the k. A -inf or NaN logit weighs 0; when nothing has weight (every
 * chosen logit -inf or NaN) or the sum overflows, the k share equally rather than divide 0/0. */
EK_HD void ek_topk_weights(float *w, int k, int sigmoid)
{
    const float top = w[0];
    float sum = 0.f;
    for (int j = 0; j < k; j++) {
        const float v = w[j];
        float p;
        if (v != v)
            p = 0.f;
        else if (sigmoid)
            p = 1.f / (1.f + expf(-v));
        else if (top == INFINITY)
            p = v == INFINITY ? 1.f : 0.f;
        else
            p = v == -INFINITY ? 0.f : expf(v - top);
        w[j] = p;
        sum += p;
    }
    const int even = !(sum > 0.f) || sum == INFINITY;
    for (int j = 0; j < k; j++)
        w[j] = even ? 1.f / (float)k : w[j] / sum;
}

/* One token serially: the rule the kernel applies, for host tests and references. */
EK_HD void ek_topk_row(const float *l, int E, int k, int sigmoid, int *ids, float *wts)
{
    for (int j = 0; j < k; j++) {
        float bv = 0.f;
        int bi = -1;
        for (int e = 0; e < E; e++)
            if (!ek_topk_taken(ids, j, e) && ek_topk_better(l[e], e, bv, bi))
                bv = l[e], bi = e;
        ids[j] = bi;
        wts[j] = bv;
    }
    ek_topk_weights(wts, k, sigmoid);
}

#endif
