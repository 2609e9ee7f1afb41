/* reference.h: the definition of the MoE layer, in the plainest loops (double accumulators,
 * one token and one expert at a time). Every backend is checked against it; it is never fast. */
#ifndef MOESIM_ENG_REFERENCE_H
#define MOESIM_ENG_REFERENCE_H

#include "weights.h"

/* Router scores for one token: p[e] = softmax(x R^T)[e] or sigmoid((x R^T)[e]). */
void eng_ref_scores(const eng_weights *w, const float *x, double *p);

/* Top-k of p (ties to the lower expert id) with the k scores renormalized to sum to 1. */
void eng_ref_topk(const double *p, int experts, int k, int *ids, float *weights);

/* Y = layer(X) for T tokens. ids/weights (T*k each) give the routing; NULL routes with
 * eng_ref_scores + eng_ref_topk. Needs every expert: w must be a one-rank weight set. */
int eng_ref_forward(const eng_weights *w, const float *x, int tokens, const int *ids,
                    const float *weights, float *y, sim_err *err);

#endif
