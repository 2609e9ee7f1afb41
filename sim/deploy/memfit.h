/* memfit.h: what one device of a deployment must hold (weights of its stage and experts,
 * KV cache, workspace) and where it goes: the device's own memory first; weights that do
 * not fit spill to slower tiers the hwmodel allows (or all, with offload), routed experts
 * first (what every token reads is placed in the fast tier before them), and pay those
 * tiers' bandwidth in the step model; otherwise the deployment does not fit,
 * and `reason` says why in numbers. */
#ifndef MOESIM_MEMFIT_H
#define MOESIM_MEMFIT_H

#include <stdbool.h>

#include "deploy/deploy.h"

typedef struct sim_memfit {
    bool fits;
    char reason[512];
    double capacity_bytes;            /* tier 0 per device (one socket's, --numa single) */
    double numa_copies;               /* copies of the tier-0 weights (sockets, --numa duplicate; else 1) */
    double usable_bytes;              /* after the runtime's reserve */
    double mem_fraction;              /* the share of memory the runtime or engine takes */
    double expert_weight_bytes;       /* per device, heaviest pipeline stage */
    double other_weight_bytes;        /* attention, dense FFN, router, norms, embeddings/LM head */
    double weight_bytes;
    double draft_weight_bytes;        /* a draft model's weights (d->draft_model), or an EAGLE-3 head's
                                         (one layer and its 3h -> h fusion), in other_weight_bytes:
                                         read every step, placed with the hot weights */
    double mtp_weight_bytes;          /* the MTP module's weights (d->mtp_loaded: speculative decoding drafts
                                         with it), in expert_weight_bytes (its routed and shared experts)
                                         and other_weight_bytes (the rest); 0 when not loaded */
    double workspace_bytes;           /* activations and buffers for one full iteration */
    double kv_bytes_per_token;        /* per device, every layer of its stage, full attention (and the
                                         draft model's, which keeps a KV cache of its own) */
    double kv_bytes_per_seq;          /* per device, one sequence at the evaluated context (with its state) */
    double state_bytes_per_seq;       /* of which the recurrent state of the stage's state-space layers */
    double kv_budget_bytes;           /* tier-0 bytes left for KV */
    long max_seqs;                    /* sequences whose KV fits per device group (attention rank) */
    double total_bytes;               /* tier-0 bytes used at the evaluated batch */
    /* With an engine (d->engine): its KV pool in tokens per device (whole blocks), and the
     * concurrency it prints for requests of the evaluated length (vLLM's "Maximum concurrency
     * for N tokens per request": pool tokens / N). 0 without an engine. */
    double device_total_bytes;        /* the total the engine takes its fraction of */
    int kv_block_tokens;              /* the engine's KV block (page) size */
    double kv_tokens;
    double max_concurrency;
    double expert_frac[SIM_MAX_TIERS];/* share of expert weights (routed and shared) held in each tier */
    double other_frac[SIM_MAX_TIERS];
    int tiers_used;
    /* Routed experts on the host CPU (d->cpu_moe_layers): their bytes, out of the GPU's
     * weights above and held in the host CPU's DRAM (its tier 0), and what that DRAM offers
     * (capacity x the CPU class's usable share). 0 when none. */
    double host_expert_bytes;
    double host_usable_bytes;
    /* When they exceed it (llama.cpp and ktransformers both read the GGUF file through a
     * memory mapping), the rest are read through the OS page cache from the host CPU's
     * page-cache tier (its hwmodel's tier index; 0 = none, all in DRAM): host_resident_share
     * of them is held in DRAM (1 when all fit), the others fault in on a miss (step.c). */
    int host_paged_tier;
    double host_resident_share;
    double host_weight_copies;        /* copies of them host_expert_bytes counts (2: --numa duplicate) */
    /* The expert weights by kind: shared experts, which every token reads, are placed with the
     * other hot weights before the routed ones. */
    double shared_weight_bytes;       /* of expert_weight_bytes */
    double shared_frac[SIM_MAX_TIERS];
    double routed_frac[SIM_MAX_TIERS];
    double expert_slots;              /* routed expert slots per MoE layer on this device */
    double resident_experts;          /* ... of which held in tier 0 (routed_frac[0] x slots) */
    int paged_tier;                   /* > 0: the routed experts not in tier 0 all lie in this tier, a
                                         page-cache tier (sim_mem_tier.page_cache): they are read on
                                         misses (step.c); -1: none, spilled bytes are read in proportion */
} sim_memfit;

/* Share of tier-0 memory a serving runtime can use, by device class (why: see memfit.c). */
double sim_memfit_usable_fraction(const sim_hw *hw);

/* Evaluate for sequences of `ctx` tokens, `seqs` of them per attention rank (per
 * pipeline stage's micro-batches together). Always fills `out`; returns SIM_OK even when
 * it does not fit (out->fits says so). */
void sim_memfit_eval(const sim_deploy *d, double ctx, double seqs, sim_memfit *out);

#endif
