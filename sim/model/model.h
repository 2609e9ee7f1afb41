/* model.h: a Mixture-of-Experts (or dense) model card and what follows from it: parameter
 * counts, KV-cache bytes per token, FLOPs per token. Cards are JSON files in
 * scenarios/models/ (schema: scenarios/models/SCHEMA.md). */
#ifndef MOESIM_MODEL_H
#define MOESIM_MODEL_H

#include <stdbool.h>

#include "base/err.h"
#include "model/precision.h"

typedef enum { SIM_ATTN_GQA, SIM_ATTN_MLA } sim_attn_kind;
typedef enum { SIM_ACT_SWIGLU, SIM_ACT_RELU2 } sim_ffn_act;
typedef enum { SIM_SCORE_SOFTMAX, SIM_SCORE_SIGMOID } sim_scoring;
/* Hybrid models (SCHEMA.md, "hybrid"): what mixes tokens in a layer, and what FFN follows.
 * A layer of a plain card is (attention, MoE or dense); a Nemotron-H block holds one of the
 * two (a mixer or an FFN); a Qwen3-Next layer is (linear attention or attention, MoE). */
typedef enum { SIM_MIX_ATTN, SIM_MIX_SSM, SIM_MIX_NONE, SIM_MIX_COUNT } sim_mixer;
typedef enum { SIM_FFN_MOE, SIM_FFN_DENSE, SIM_FFN_NONE, SIM_FFN_COUNT } sim_ffn_slot;
/* The state-space / linear-attention mixer: Mamba-2 (SSD) or Gated DeltaNet. */
typedef enum { SIM_SSM_MAMBA2, SIM_SSM_GDN } sim_ssm_kind;
#define SIM_MAX_PATTERN 512

typedef struct sim_model {
    char name[64];
    char display_name[128];
    char aliases[128];           /* other names the registry finds it by, comma-separated ("" = none) */
    char path[512];                /* file it was loaded from */
    char source[4096];             /* where the card comes from (and, where no config could be round-tripped, what was searched) */

    int hidden;
    int layers;                    /* decoder layers (MTP layers not included) */
    int vocab;
    bool tied_embeddings;
    int max_context;

    struct {
        sim_attn_kind kind;
        int heads, kv_heads, head_dim;          /* GQA (head_dim may exceed hidden/heads) */
        int q_lora_rank, kv_lora_rank;          /* MLA; q_lora_rank 0 = queries not compressed */
        int qk_nope_head_dim, qk_rope_head_dim, v_head_dim;
        int local_window;                       /* sliding-window / chunked-local span, tokens */
        int local_layers;                       /* how many layers use it (0 = none) */
        bool bias;                              /* q/k/v/o biases */
        bool output_gate;                       /* gated attention: the query projection also yields a
                                                   per-head output gate (Qwen3-Next), nq*d more outputs */
    } attn;

    /* Layer pattern and the state-space / linear-attention mixer. On a card without a
     * "hybrid" section every layer is (attention, its FFN): attn_layers = layers, combo holds
     * the MoE and dense layers under attention, ssm_layers = 0. */
    struct {
        bool on;                                /* the card has a hybrid section */
        char mixers[SIM_MAX_PATTERN + 1];       /* per layer: A attention, S the mixer below, - none */
        char ffns[SIM_MAX_PATTERN + 1];         /* per layer: E MoE, D dense, - none */
        int attn_layers, ssm_layers;
        int combo[SIM_MIX_COUNT][SIM_FFN_COUNT];/* layers by (mixer, FFN) */
        sim_ssm_kind kind;
        int heads;                              /* Mamba-2 heads / GDN value heads */
        int head_dim;                           /* P: Mamba-2 head dim / GDN value head dim */
        int state;                              /* N: Mamba-2 state size / GDN key head dim */
        int groups;                             /* G: Mamba-2 B/C groups / GDN key heads */
        int conv_width;                         /* causal depthwise convolution, taps */
        int chunk;                              /* chunk length of the prefill scan */
        bool conv_bias;
        sim_wformat state_format;               /* what the serving engine keeps the recurrent state in */
        char source[1024];
    } hybrid;

    struct {
        sim_ffn_act activation;
        int dense_layers, dense_intermediate;
        int moe_layers, experts, top_k, expert_intermediate;
        int shared_experts, shared_intermediate;
        sim_scoring scoring;
        bool expert_bias;                       /* gpt-oss experts carry biases */
    } ffn;

    int mtp_layers;
    /* What the published checkpoint holds, tensor class by tensor class: routed experts; shared
     * experts (native_precision.shared_experts, default the routed experts' format); attention
     * and dense FFN; embeddings and LM head. A deployment given no precision runs these
     * (sim/deploy). */
    sim_wformat native_experts, native_shared, native_dense, native_head;
    char native_source[1024];      /* where the checkpoint's formats are stated */

    /* The expert-imbalance law from measured routing (SCHEMA.md, "routing"): at most one of
     * imbalance and skew; neither = none published, the fallback applies (deploy.h). */
    struct {
        bool given;                             /* the card has a routing section */
        double imbalance;                       /* expected busiest/idlest expert tokens (0 = not given) */
        double skew;                            /* popularity exponent (< 0 = not given) */
        char source[1024];                      /* where the figure comes from, or why there is none */
    } routing;

    /* Published MTP acceptance (SCHEMA.md, "speculative"): accepted[i] is the mean number of
     * tokens a decode step produces per sequence with i + 1 draft tokens (1 .. i + 2);
     * n = 0: none published, so a user must give it. */
    struct {
        int n;
        double accepted[16];
        char source[1024];
    } spec;

    struct {
        double total_params, active_params;
        bool active_excludes_embedding;         /* the owner's active count leaves out the input embedding */
        bool active_excludes_head;              /* ... and the LM head ("non-embedding" active weights) */
        double active_rounded_to;               /* the owner gives the active figure only to this step
                                                   ("3B": 1e9); 0 = to its stated digits */
        char source[512];
    } published;
} sim_model;

/* Load and validate the card at path `file` (sim/registry.c turns shipped names into paths). */
int sim_model_load(sim_model *m, const char *file, sim_err *err);
/* The same checks on a card already parsed; `file` names it in messages and becomes m->path. */
struct cJSON;
int sim_model_from_json(sim_model *m, const struct cJSON *root, const char *file, sim_err *err);

/* --- derived figures (all exact arithmetic from the card) --- */
typedef struct sim_param_counts {
    double embedding, lm_head;
    double attention;            /* all attention layers */
    double ssm;                  /* all state-space / linear-attention mixers */
    double dense_ffn;            /* all dense-FFN layers */
    double routed_experts;       /* all experts, all MoE layers */
    double shared_experts;
    double router;
    double norms;
    double total;
    double active;               /* per token: k routed experts, shared, attention, dense, embeddings */
    double active_comparable;    /* active, counted the way the owner publishes it */
    /* per layer */
    double attn_per_layer, expert_each, shared_per_layer, dense_ffn_per_layer, router_per_layer;
    double ssm_per_layer;
} sim_param_counts;

void sim_model_params(const sim_model *m, sim_param_counts *out);

/* The MTP module's own weights, all mtp_layers of it (0 on a card without one). DeepSeek-V3's
 * module per depth (technical report section 2.2, arXiv:2412.19437; HF checkpoint layer 61):
 * one decoder layer of the model's kind (attention and, on a MoE card, a MoE FFN with its
 * router and shared experts), the projection eh_proj of [normed embedding; normed hidden] (2h x
 * h), and RMSNorms enorm, hnorm and shared_head.norm beside the layer's two. The embedding and
 * LM head are the target's: SGLang's nextn loader skips the checkpoint's copies ("Use shared
 * head and embed weights from target model", python/sglang/srt/models/deepseek_v2.py
 * load_weights). DeepSeek-V3 (README_WEIGHTS.md): 11.5B unique MTP parameters; derived 11.6B. */
typedef struct sim_mtp_params {
    double attention, routed_experts, shared_experts, router, dense_ffn, fusion, norms;
    double total;
} sim_mtp_params;

void sim_model_mtp_params(const sim_model *m, sim_mtp_params *out);

/* KV-cache elements per token for one layer, and for the whole model at context `ctx`
 * (sliding-window layers hold at most local_window tokens). */
double sim_model_kv_elems_per_token_layer(const sim_model *m);
double sim_model_kv_elems(const sim_model *m, double ctx);
/* Elements per token summed over all attention layers, as if every layer were full. */
double sim_model_kv_elems_per_token(const sim_model *m);

/* The recurrent state of ONE state-space / linear-attention layer for one sequence, whatever
 * its context: the scan state heads x head_dim x state (kept in hybrid.state_format), and the
 * convolution's last conv_width - 1 inputs of (heads x head_dim + 2 x groups x state)
 * channels (kept in the activations' BF16). Elements of each; 0 on a card without one. */
double sim_model_ssm_state_elems(const sim_model *m);
double sim_model_ssm_conv_elems(const sim_model *m);
/* Channels the convolution runs over: heads x head_dim + 2 x groups x state. */
double sim_model_ssm_conv_dim(const sim_model *m);

bool sim_model_is_moe(const sim_model *m);

#endif
