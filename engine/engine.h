/* engine.h: one expert-parallel Mixture-of-Experts layer that really runs. A config, weights
 * drawn from a seed, forward(X) -> Y on a chosen backend, and the time each stage took.
 * Expert parallelism goes through an eng_transport (transport.h); reference.h defines the layer. */
#ifndef MOESIM_ENGINE_H
#define MOESIM_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "transport.h"

typedef enum { ENG_FP32, ENG_BF16, ENG_INT8, ENG_INT4_G32, ENG_DTYPE_COUNT } eng_dtype;
/* ENG_INT4_G32: symmetric 4-bit integers with a BF16 scale per group of ENG_Q4_GROUP columns
 * (the simulator's int4_g32; the block of llama.cpp's Q4_0 with a BF16 scale: weights.h). */
#define ENG_Q4_GROUP 32
typedef enum { ENG_SOFTMAX, ENG_SIGMOID } eng_scoring;
typedef enum { ENG_BACKEND_CPU, ENG_BACKEND_CUDA } eng_backend;

/* One MoE layer. Expert e is a SwiGLU FFN: h = silu(x Wg_e^T) * (x Wu_e^T), y = h Wd_e^T.
 * Scoring: softmax over all experts or a sigmoid per expert, then top-k, and the k chosen
 * scores renormalized to sum to 1. The shared experts run on every token, unweighted, as one
 * SwiGLU FFN of width shared * shared_ffn. Activations are FP32; `dtype` is the storage of the
 * expert and shared weights (INT8: symmetric, one FP32 scale per output row; INT4_G32:
 * symmetric, one BF16 scale per 32 columns of a row). The router stays FP32, as models ship it. */
typedef struct eng_config {
    int hidden;          /* d */
    int ffn;             /* expert intermediate size */
    int experts;         /* E routed experts */
    int top_k;           /* k distinct experts per token, 1 <= k <= E */
    int shared;          /* shared experts (0 = none) */
    int shared_ffn;      /* intermediate size of one shared expert */
    eng_scoring scoring;
    eng_dtype dtype;
} eng_config;

/* Seconds per stage of one forward. `dispatch` and `combine` include the all-to-all exchange
 * (and, for combine, the weighted sum); `permute` is top-k bookkeeping, counts and gather. */
typedef struct eng_timing {
    double router, permute, dispatch, experts, shared, combine, total;
} eng_timing;
#define ENG_STAGES 6
extern const char *const eng_stage_names[ENG_STAGES];   /* "router", ... in struct order */
double eng_timing_stage(const eng_timing *t, int stage);

/* A routing: for each of `tokens` tokens, k expert ids (distinct) and their weights. */
typedef struct eng_routing {
    int tokens, top_k;
    int *expert;         /* [tokens * top_k] */
    float *weight;       /* [tokens * top_k] */
} eng_routing;

typedef struct eng_layer eng_layer;

const char *eng_dtype_name(eng_dtype d);
int eng_dtype_parse(const char *name, eng_dtype *out);          /* 0 or -1 */
const char *eng_backend_name(eng_backend b);
int eng_backend_parse(const char *name, eng_backend *out);      /* 0 or -1 */
/* Bytes of one stored weight element (INT8 scales not included); 0 for INT4_G32, whose
 * elements are half a byte in blocks with their scales (eng_mat_row_bytes, weights.h). */
size_t eng_dtype_bytes(eng_dtype d);
/* Bytes a weight takes with its share of the scales: 4, 2, 1 + 4 / cols (per-row scale, not
 * counted here), 18 / 32. */
double eng_dtype_weight_bytes(eng_dtype d);

/* Validate a config for `ep` ranks: sizes positive, k <= E, ep divides E, sizes that fit
 * in memory arithmetic. The message names the field. */
int eng_config_check(const eng_config *c, int ep, sim_err *err);

/* One MoE layer of a model card: `name` is a card in scenarios/models/ (under $MOESIM_HOME,
 * else the source tree), or a path to a .json file. A dense model is an error naming it. */
int eng_config_from_model(eng_config *c, const char *name, eng_dtype dtype, sim_err *err);

/* Create a layer on `backend`, holding the experts of `tr`'s rank (E / tr->size of them, in
 * contiguous blocks: rank r holds experts [r E/ep, (r+1) E/ep)). tr == NULL means one rank.
 * Weights are a pure function of (seed, tensor, expert, row, column), so every rank and every
 * backend draws the same layer. The layer borrows tr; tr must outlive it. */
int eng_layer_create(eng_layer **out, const eng_config *c, eng_backend backend,
                     eng_transport *tr, uint64_t seed, sim_err *err);
void eng_layer_destroy(eng_layer *l);
const eng_config *eng_layer_config(const eng_layer *l);

/* Y[tokens][hidden] = layer(X[tokens][hidden]) for this rank's shard of tokens (tokens may
 * be 0; every rank must call it, since the exchange is collective). force != NULL skips the
 * router and uses the given routing (benchmarks with controlled expert loads; edge-case
 * tests). routing_out != NULL receives the routing used (caller allocates tokens*k entries).
 * timing may be NULL. On failure every rank returns non-zero (the ranks agree on status
 * before each exchange). */
int eng_forward(eng_layer *l, const float *x, int tokens, float *y, const eng_routing *force,
                eng_routing *routing_out, eng_timing *timing, sim_err *err);

/* Deterministic activations in [-1, 1): row t of a batch drawn from seed (global token index
 * t0 + i), so a shard drawn on one rank equals the same rows of the whole batch. */
void eng_fill_input(float *x, int tokens, int hidden, uint64_t seed, long t0);

/* Allocation with a message naming what was allocated; honours MOE_ENGINE_FAIL_ALLOC=N (the
 * N-th allocation fails) so tests can reach every out-of-memory path. */
void *eng_alloc(size_t bytes, const char *what, sim_err *err);
/* The same for a large block read as a stream (the CPU backend's packed weights): aligned to
 * 2 MiB and advised to the kernel as transparent huge pages (MADV_HUGEPAGE) where there are
 * any. Free with free(). */
void *eng_alloc_huge(size_t bytes, const char *what, sim_err *err);

#endif
