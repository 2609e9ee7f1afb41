/* deploy.h: a deployment: which model on which hardware, how it is split (TP x EP x PP x
 * attention-DP), at what precision, and the serving-engine choices the step model needs
 * (all-to-all transport, overlap scheme, routing skew, offload). sim_deploy_check says
 * whether the split can work at all, naming the constraint that fails. */
#ifndef MOESIM_DEPLOY_H
#define MOESIM_DEPLOY_H

#include <stdbool.h>

#include "base/err.h"
#include "model/hw.h"
#include "model/model.h"
#include "model/precision.h"

typedef enum {
    A2A_AUTO,          /* NVLink one-sided inside a scale-up domain; else per-expert (decode), per-node (prefill) */
    A2A_PER_EXPERT,    /* one copy per destination expert over RDMA (low-latency decode kernels) */
    A2A_PER_NODE,      /* one copy per destination node over the NIC, forwarded over NVLink (prefill kernels) */
    A2A_NVLINK,        /* one-sided NVLink writes inside a scale-up domain, one copy per destination rank */
} sim_a2a_transport;

typedef enum { OVERLAP_NONE, OVERLAP_TWO_BATCH } sim_overlap;

typedef struct sim_deploy {
    const sim_model *model;
    const sim_hw *hw;
    int gpus;                       /* devices in this deployment (one serving instance) */
    int tp, ep, pp, dp;             /* tp * dp * pp == gpus; experts split over ep of the tp*dp devices of a stage */
    sim_wformat expert_fmt;         /* routed + shared expert weights */
    sim_wformat dense_fmt;          /* attention, dense FFN (LM head and embeddings stay BF16) */
    sim_wformat kv_fmt;             /* KV cache */
    sim_wformat dispatch_fmt;       /* EP dispatch payload (combine is BF16) */
    sim_a2a_transport transport;
    sim_overlap overlap;
    double skew;                    /* expert-popularity exponent (routing.h) */
    int redundant_experts;          /* EPLB replicas, total over the EP group */
    bool eplb;
    bool offload;                   /* let weights spill to every slower tier, not only the default ones */
    int max_batched_tokens;         /* per-iteration token cap per attention rank (chunked prefill) */
    unsigned long seed;
    double observed_experts;        /* > 0: distinct experts a measured step touched on the busiest rank
                                       (calibration compares against one forward whose routing it knows);
                                       0 = the routing model's expectation */
} sim_deploy;

/* Defaults: 1 device, no parallelism, the model's native precisions (dense part of a
 * 4-bit model stays at its native 8/16 bits), BF16 KV, FP8 dispatch, auto transport, no
 * overlap, default skew, 8192 batched tokens. */
void sim_deploy_defaults(sim_deploy *d, const sim_model *m, const sim_hw *hw);

/* Set the weight precision the way `--precision P` does: experts in P; dense weights in P
 * when P is 8 or 16 bits, else the model's native dense format (a "4-bit" checkpoint keeps
 * attention in 8/16 bits). */
void sim_deploy_set_precision(sim_deploy *d, sim_wformat p);

/* A split as a user asks for it: each degree > 0 is taken as given, 0 is derived. */
typedef struct sim_split_req {
    int gpus, tp, ep, pp, dp;
} sim_split_req;

/* The default split rules, in one place for every front end and the search: dp and pp
 * default to 1; gpus to tp x dp x pp; tp to what is left of gpus; ep to the whole stage
 * (tp x dp) when that divides the routed experts, else 1. Products are checked in 64 bits.
 * Fills d->gpus, tp, ep, pp, dp; `pool` prefixes messages ("prefill pool: " or ""). Does not
 * run sim_deploy_check. */
int sim_deploy_split(sim_deploy *d, const sim_split_req *req, const char *pool, sim_err *err);

/* Redundant expert slots (EPLB replicas); any imply EPLB placement. */
void sim_deploy_set_redundant(sim_deploy *d, int redundant_experts, bool eplb);

/* Check the split: tp*dp*pp == gpus, TP divides the heads, EP divides the experts and the
 * devices of a stage, PP no more than the layers... Fails with SIM_EINPUT naming it. */
int sim_deploy_check(const sim_deploy *d, sim_err *err);

/* Derived shapes of a checked deployment. */
int sim_deploy_moe_tp(const sim_deploy *d);          /* tp*dp/ep: each expert's FFN split this many ways */
int sim_deploy_layers_per_stage(const sim_deploy *d); /* ceil(layers / pp): the heaviest stage */
/* Devices one stage spans, and whether a group of n consecutive devices stays inside one
 * scale-up domain. */
bool sim_deploy_in_scale_up(const sim_deploy *d, int n);

const char *sim_a2a_name(sim_a2a_transport t);
int sim_a2a_parse(const char *s, sim_a2a_transport *out);
const char *sim_overlap_name(sim_overlap o);
int sim_overlap_parse(const char *s, sim_overlap *out);

#endif
