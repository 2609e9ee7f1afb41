/* step.h: the time of one engine step on the slowest device of a deployment. A step
 * carries decode tokens (one per running sequence) and prefill tokens (chunked prompts);
 * each layer is a list of operations with FLOPs, bytes and communication, costed as
 *   t_op = max(F / (P_dtype * eta_c(shape)), B / (BW * eta_m(bytes))) + kernels * t_kernel
 * with the efficiency curves of the hwmodel, plus alpha-beta communication, and the MoE
 * routing statistics of routing.h for the busiest expert-parallel rank. */
#ifndef MOESIM_STEP_H
#define MOESIM_STEP_H

#include "deploy/deploy.h"
#include "deploy/memfit.h"

/* Layer kinds of the breakdown. */
typedef enum {
    SIM_LK_ATTN_PROJ,      /* QKV / MLA projections and output projection */
    SIM_LK_ATTN_CORE,      /* attention over the KV cache (flash / MLA absorbed kernel) */
    SIM_LK_SSM,            /* state-space / linear-attention mixer: projections, convolution, scan */
    SIM_LK_DENSE_FFN,
    SIM_LK_ROUTER,         /* gate GEMM, top-k, permutation */
    SIM_LK_EXPERTS,        /* routed expert GEMMs */
    SIM_LK_SHARED,         /* shared experts */
    SIM_LK_LM_HEAD,
    SIM_LK_TP_COMM,        /* tensor-parallel all-reduce */
    SIM_LK_EP_COMM,        /* expert-parallel dispatch + combine */
    SIM_LK_PP_COMM,        /* pipeline sends */
    SIM_LK_STEP,           /* per-step fixed cost (scheduler, sampling) */
    SIM_LK_DRAFT,          /* speculative decoding: the MTP module's passes that propose draft tokens */
    SIM_LK_CPU_EXPERTS,    /* routed experts computed on the host CPU from its DRAM (--experts-on cpu) */
    SIM_LK_PCIE,           /* host <-> GPU over PCIe for CPU experts: activations each way, or (llama.cpp, >= 32
                              tokens) the layer's expert weights copied to the GPU */
    SIM_LK_ELEMENTWISE,    /* the memory passes between GEMMs that measured kernel rows leave out: the
                              residual-add + RMSNorm before each block, the FFN activation */
    SIM_LK_COUNT
} sim_layer_kind;

const char *sim_layer_kind_name(sim_layer_kind k);

typedef enum { SIM_BASIS_NONE, SIM_BASIS_PRIOR, SIM_BASIS_CALIBRATED, SIM_BASIS_MEASURED, SIM_BASIS_MIXED } sim_basis;
const char *sim_basis_name(sim_basis b);

typedef enum { SIM_BOUND_COMPUTE, SIM_BOUND_MEMORY, SIM_BOUND_COMM, SIM_BOUND_OVERHEAD } sim_bound;
const char *sim_bound_name(sim_bound b);
/* The part that took the most time. */
sim_bound sim_bound_of(double compute, double memory, double comm, double overhead);

/* What one step carries, per attention rank (one device group of tp devices). */
typedef struct sim_step_shape {
    double decode_seqs;      /* running sequences, one token each */
    double decode_ctx;       /* mean context of those sequences */
    double prefill_tokens;   /* prompt tokens in this step */
    double prefill_ctx;      /* mean number of keys each prompt token attends to */
    double prefill_seqs;     /* prompts those tokens belong to (one logits row each when they finish) */
    double group_tokens;     /* tokens entering each MoE layer across the whole EP group (all attention ranks); 0 = dp x this rank's */
    /* Speculative decoding (MTP). Verification: each decoding sequence carries decode_q
     * query tokens (1 + draft tokens; 0 means 1), so every GEMM, the all-to-all and the LM
     * head see decode_seqs x decode_q rows while attention reads each sequence's context once
     * (a query of decode_q tokens against it). Drafting: draft_tokens passes of the MTP
     * module per step (one decoder layer, its 2h -> h projection and the LM head, one row
     * per decoding sequence), costed as the kind SIM_LK_DRAFT. */
    double decode_q;
    double draft_tokens;
} sim_step_shape;

typedef struct sim_step_result {
    double time_s;                      /* one pass through every stage's layers (= pp x stage time) */
    double stage_time_s;                /* the heaviest stage */
    double compute_s, memory_s, comm_s, overhead_s;   /* parts of stage_time_s */
    double comm_total_s;                /* communication before overlap hid any of it */
    double by_kind_s[SIM_LK_COUNT];         /* stage time by layer kind (exposed time) */
    double flops, bytes, comm_bytes;    /* per device, per stage */
    double slow_tier_bytes;             /* weight bytes read from spill tiers */
    double tier_weight_bytes[SIM_MAX_TIERS]; /* weight bytes read from each memory tier (per device, stage) */
    double tokens;                      /* tokens the step carries on the attention rank (per-token figures) */
    /* Routed experts behind a page cache (memfit's paged_tier > 0), per MoE layer; page_tier 0 = none */
    int page_tier;
    double resident_share;              /* routed expert slots held in memory / slots */
    double page_hit_rate;               /* share of a token's expert picks found in memory (LRU, Che) */
    /* Routed experts on the host CPU behind its page cache (memfit's host_paged_tier > 0): the
     * host hwmodel's tier they fault in from (0 = none), the share DRAM holds, the hit rate */
    int host_page_tier;
    const char *host_page_tier_name;    /* that tier's name (the host hwmodel's, which outlives this) */
    double host_resident_share;
    double host_page_hit_rate;
    double pinned_hit_rate;             /* ... were the hottest experts pinned instead (static placement) */
    sim_bound bound;
    /* MoE facts for the busiest rank */
    double tokens_per_expert;           /* mean tokens per touched expert on the busiest rank */
    double experts_touched_per_rank;
    double max_tokens_per_rank;
    double imbalance;                   /* busiest rank / mean */
    /* What each layer kind's time rests on: a published kernel measurement (the key of its
     * source in the device's kernel table), the hwmodel's curves (prior or calibrated), or a
     * mix of the two across that kind's operations. */
    sim_basis basis[SIM_LK_COUNT];
    int basis_source[SIM_LK_COUNT];     /* index into hw->kernels.sources, -1 = none (an index, not the
                                           key, so the hot path copies no strings: sim_step_basis_key) */
    bool basis_held[SIM_LK_COUNT];      /* a measured share held beyond its rows (kernels.h) */
    bool basis_matvec[SIM_LK_COUNT];    /* some of its operations ran at the hwmodel's GGUF mat-vec shares
                                           per tensor type (efficiency.gguf_matvec), not its GEMM curve */
    bool basis_gemm_shares[SIM_LK_COUNT]; /* ... at the GGUF GEMM shares per tensor type (efficiency.gguf_gemm),
                                           the curve giving only the shape in rows */
    double imbalance_unbalanced;        /* the same without EPLB placement and redundant slots (= imbalance
                                           without EPLB; NAN when no placement exists without the slots) */
    double imbalance_placed;            /* EPLB: the same if every batch followed the statistics EPLB placed
                                           by (one batch's sampling noise alone; routing.h,
                                           SIM_ROUTING_EPLB_DRIFT); = imbalance without EPLB */
    sim_dtype expert_dtype, dense_dtype;/* compute types used */
} sim_step_result;

/* The key of the kernel-table source kind `kind`'s basis rests on (basis_source), "" when none. */
const char *sim_step_basis_key(const sim_step_result *r, const sim_hw *hw, sim_layer_kind kind);

/* Time one step. `fit` gives the weight placement (memfit); it must come from the same
 * deployment. Fails only on bad input (routing statistics that cannot be formed). */
int sim_step_eval(const sim_deploy *d, const sim_memfit *fit, const sim_step_shape *s, sim_step_result *out,
                  sim_err *err);

/* A plan: the deployment's constants (compute types and peaks, bytes per weight class, the
 * unpacking terms, each operation's shape-free terms) resolved once, each kernel-table lookup's
 * candidate series found on its first use, and each shape's kernel-table answers kept on a tape
 * in the order the step asks for them (up to 128 shapes; then it starts again), so a sweep over
 * shapes pays for them once and a shape seen before replays its answers (each checked against
 * its query). sim_step_plan_eval gives exactly sim_step_eval's result. The plan keeps d and fit
 * by address: they must outlive it and not change while it is used (make a new plan after
 * changing either, the model or the hwmodel). About 1.1 MB, most of it touched only as shapes
 * come. NULL (with err set) when out of memory. One plan per thread. */
typedef struct sim_step_plan sim_step_plan;
sim_step_plan *sim_step_plan_new(const sim_deploy *d, const sim_memfit *fit, sim_err *err);
int sim_step_plan_eval(sim_step_plan *p, const sim_step_shape *s, sim_step_result *out, sim_err *err);
void sim_step_plan_free(sim_step_plan *p);
/* The step's time alone (sim_step_plan_eval's time_s, bit for bit) for sweeps that need no
 * breakdown: slim accumulators, no basis, no per-kind times. */
int sim_step_plan_time(sim_step_plan *p, const sim_step_shape *s, double *time_s, sim_err *err);
/* Point the plan at another weight placement of the same deployment. The plan derives nothing
 * from the placement (its constants come from the deployment; kernel answers and routing
 * statistics do not depend on where the weights sit; the placement is read at every
 * evaluation), so a sweep whose placement moves with the batch (the steady-state serving
 * model sizes KV, and so the tiers, by concurrency) keeps one plan per deployment. */
void sim_step_plan_set_fit(sim_step_plan *p, const sim_memfit *fit);

/* One GEMM of m rows, n x k weights (dense or grouped expert GEMM), as the step model costs
 * it: max(2mnk / (P * eta(m)), bytes / (BW * eta_m(bytes))) + one kernel's fixed cost,
 * bytes = weights (n k weight_bytes_per_elem) + activations in and out (BF16).
 * *t_compute and *t_memory (may be NULL) receive the two sides. */
double sim_gemm_time(const sim_hw *hw, sim_dtype t, double m, double n, double k, double weight_bytes_per_elem,
                     bool grouped, double *t_compute, double *t_memory);

/* The MoE block of ONE layer (router, routed experts on the busiest rank, shared experts,
 * expert-parallel exchange) for `tokens` tokens entering it across the EP group: what the
 * bundled engine times, so calibration can compare prediction and measurement. */
int sim_moe_layer_eval(const sim_deploy *d, const sim_memfit *fit, double tokens, sim_step_result *out, sim_err *err);

/* One MoE layer of two micro-batches under two-batch overlap, from one micro-batch's parts:
 * the work before the dispatch (`attn_s`: mixer, its all-reduce, the gate), the MoE work
 * (`moe_s`: routed and shared experts), the dispatch and the combine. DeepEP's schedule:
 * seg(attn, dispatch) + seg(moe, dispatch) + seg(moe, combine) + seg(attn, combine) (step.c),
 * seg(w, e) = max(w, e) when the exchange leaves the work every SM (compute_share 1), and
 * w + (1 - compute_share) e when the work outlasts compute_share x e otherwise. */
double sim_step_tbo_layer_s(double attn_s, double moe_s, double dispatch_s, double combine_s, double compute_share);

/* FLOPs per token of one state-space / linear-attention layer's scan on a device holding
 * `heads` heads and `groups` groups: the recurrent step (decode) or the chunked scan
 * (prefill), without the convolution. The formulas and their sources are in step.c. */
double sim_step_ssm_scan_flops(const sim_model *m, double heads, double groups, bool prefill);

#endif
