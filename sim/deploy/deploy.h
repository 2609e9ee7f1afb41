/* deploy.h: a deployment: which model on which hardware, how it is split (TP x EP x PP x
 * attention-DP), at what precision, and the serving-engine choices the step model needs
 * (all-to-all transport, overlap scheme, routing skew, offload). sim_deploy_check says
 * whether the split can work at all, naming the constraint that fails. */
#ifndef MOESIM_DEPLOY_H
#define MOESIM_DEPLOY_H

#include <stdbool.h>

#include "base/err.h"
#include "model/gguf.h"
#include "model/hw.h"
#include "model/model.h"
#include "model/precision.h"

/* The fallback popularity exponent (p_i ∝ (i+1)^-skew over the E routed experts), used when
 * neither the option (--skew, --expert-imbalance) nor the model card's routing section gives
 * the law (precedence: option > card > this fallback; SCHEMA.md "routing" lists which cards
 * carry a measured figure).
 * Source: ai-dynamo/aiconfigurator, collector/helper.py (_generate_power_law_distribution,
 * sample_power_law) and its power-law document: each expert's token count is drawn i.i.d.
 * from a truncated power-law *density* x^-alpha on [1, 0.8 T] (T k > E), scaled to T k, and
 * the busiest EP rank is benchmarked. alpha = 1.01 is their estimate for DeepSeek-V3/R1 (1.2
 * for Qwen3-235B) on CNN-DailyMail/OpenOrca, found by matching observed latency, not by
 * recording routing. That alpha is not a rank exponent: with alpha ~ 1 the loads are
 * log-uniform on [1, 0.8 T], so their max/mean grows like ln T. Mapping it by the quantity
 * that sets step time, E[max rank load]/mean, for E=256, k=8 with hot experts placed at random
 * (step/routing.c without EPLB): the matching Zipf exponent is 0.49/0.43 at T=64 (ep 8/32),
 * 0.69/0.60 at T=512, 0.73/0.67 at T=2048, 0.82/0.72 at T=8192. No single exponent
 * reproduces it at every T; 0.7 is the match at the batch sizes that dominate serving time
 * (T of 512-8192 tokens per step across the EP group), where aiconfigurator's alpha=1.01 gives
 * max/mean rank load 1.39-1.51 at ep 8 and 2.2-2.7 at ep 32. No published per-batch routing
 * trace of DeepSeek-V3 with a max/mean figure was found (DeepEP PR #393 shows such traces,
 * fitted by a log-normal, as plots only). Scenarios with a measured skew should set it.
 * For comparison, the one published per-step figure found since (TensorRT-LLM tech blog 4,
 * DeepSeek-R1 at EP32 without EPLB: busiest rank 2.56x the mean, the deepseek-v3 card's
 * source) needs skew 0.83 at that batch; the fallback stays at 0.7 rather than take one
 * model's measurement for all. */
#define SIM_DEPLOY_DEFAULT_SKEW 0.7

typedef enum {
    SIM_A2A_AUTO,          /* NVLink one-sided inside a scale-up domain; else per-expert (decode), per-node (prefill) */
    SIM_A2A_PER_EXPERT,    /* one copy per destination expert over RDMA (low-latency decode kernels) */
    SIM_A2A_PER_NODE,      /* one copy per destination node over the NIC, forwarded over NVLink (prefill kernels) */
    SIM_A2A_NVLINK,        /* one-sided NVLink writes inside a scale-up domain, one copy per destination rank */
} sim_a2a_transport;

typedef enum { SIM_OVERLAP_NONE, SIM_OVERLAP_TWO_BATCH } sim_overlap;
/* The drafter of speculative decoding beside the target (a separate draft model is draft_model). */
typedef enum { SIM_SPEC_MTP, SIM_SPEC_EAGLE3 } sim_spec_method;

/* Routed experts computed on the host CPU beside one GPU (--experts-on cpu, --cpu-moe-layers):
 * whose schedule the layer follows (step.c cpu_experts_ops states each runtime's source).
 * LLAMACPP: llama.cpp's -ot exps=CPU / --n-cpu-moe N: the GPU and the CPU take turns (graph
 *   splits run one after the other), and a batch of >= 32 tokens copies the layer's expert
 *   tensors to the GPU and computes them there;
 * KTRANSFORMERS: the CPU computes the routed experts while the GPU computes the shared experts. */
typedef enum { SIM_CPU_MOE_LLAMACPP, SIM_CPU_MOE_KTRANSFORMERS } sim_cpu_moe_runtime;

/* How the runtime spreads a multi-socket CPU's work and weights over its sockets (--numa; the
 * hwmodel's `numa` gives the sockets and their link). DEFAULT: the runtime's default
 * (sim_deploy_numa says which and why).
 * INTERLEAVE: every socket's cores compute, the weights' pages are spread over every socket's
 *   memory (llama.cpp --numa distribute, numactl --interleave=all): a thread finds 1/sockets of
 *   its weights local and reads the rest over the link;
 * DUPLICATE: every socket holds its own copy of the weights and its cores read only that
 *   (ktransformers' NUMA mode, llama.cpp's proposed mirror mode): memory for weights x sockets;
 * SINGLE: one socket's cores and its own memory (llama.cpp --numa isolate / --numa numactl under
 *   numactl --cpunodebind=0 --membind=0): one socket's bandwidth, compute and capacity. */
typedef enum { SIM_NUMA_DEFAULT, SIM_NUMA_INTERLEAVE, SIM_NUMA_DUPLICATE, SIM_NUMA_SINGLE } sim_numa_mode;

/* The serving engine whose memory accounting and scheduler defaults the deployment follows
 * (--engine). NONE keeps moesim's generic accounting (a 0.9 runtime share of capacity_gb). */
typedef enum { SIM_ENGINE_NONE, SIM_ENGINE_VLLM, SIM_ENGINE_SGLANG, SIM_ENGINE_TRTLLM, SIM_ENGINE_COUNT } sim_engine;

/* Where the deployment's imbalance law came from (precedence: option > card > fallback). */
typedef enum {
    SIM_IMBALANCE_FALLBACK,   /* SIM_DEPLOY_DEFAULT_SKEW: no option, the card gives no figure */
    SIM_IMBALANCE_CARD,       /* the model card's routing section (model->routing.source) */
    SIM_IMBALANCE_OPTION,     /* --skew / --expert-imbalance (or the Lua fields) */
} sim_imbalance_basis;

typedef struct sim_deploy {
    const sim_model *model;
    const sim_hw *hw;
    int gpus;                       /* devices in this deployment (one serving instance) */
    int tp, ep, pp, dp;             /* tp * dp * pp == gpus; experts split over ep of the tp*dp devices of a stage */
    sim_wformat expert_fmt;         /* routed expert weights */
    sim_wformat shared_fmt;         /* shared expert weights: the card's native_precision.shared_experts by
                                       default, expert_fmt's under --precision (sim_deploy_set_precision) */
    sim_wformat dense_fmt;          /* attention, dense FFN */
    bool head_native;               /* embeddings and LM head as the checkpoint holds them (no precision
                                       asked for); false: they follow dense_fmt (sim_deploy_head_fmt) */
    sim_wformat kv_fmt;             /* KV cache */
    sim_wformat dispatch_fmt;       /* EP dispatch payload (combine is BF16) */
    sim_a2a_transport transport;
    sim_overlap overlap;
    double skew;                    /* expert-popularity exponent (routing.h) */
    double expert_imbalance;        /* > 0: the law was given as this busiest/idlest expert token ratio
                                       (skew solved from it); 0: given as a skew */
    sim_imbalance_basis imbalance_basis;
    int redundant_experts;          /* EPLB replicas, total over the EP group */
    bool eplb;
    double eplb_drift;              /* with eplb: the lognormal sigma of each expert's batch popularity against
                                       the statistics EPLB placed by (routing.h sim_routing_query.eplb_drift);
                                       default SIM_ROUTING_EPLB_DRIFT (sourced there), 0 = the batch follows
                                       the statistics. Read only with eplb */
    bool eplb_drift_given;          /* eplb_drift came from the option (--eplb-drift), not the default */
    bool offload;                   /* let weights spill to every slower tier, not only the default ones */
    bool emulate;                   /* --emulate: run formats the hwmodel does not support on the fallback
                                       compute type of their chain (sim_deploy_emulated says which), instead
                                       of refusing them */
    int max_batched_tokens;         /* per-iteration token cap per attention rank (chunked prefill) */
    sim_engine engine;              /* whose memory accounting (memfit.c) and kernel preference */
    double mem_fraction;            /* > 0: the engine's memory fraction as given (vLLM gpu_memory_utilization,
                                       SGLang mem_fraction_static, TensorRT-LLM free_gpu_memory_fraction);
                                       0 = the engine's default (sim_engine_mem_fraction) */
    unsigned long seed;
    double observed_experts;        /* > 0: distinct experts a measured step touched on the busiest rank
                                       (calibration compares against one forward whose routing it knows);
                                       0 = the routing model's expectation */
    const sim_hw *host_cpu;         /* --host-cpu: the CPU hwmodel (class cpu) of the GPU's host that computes
                                       the routed experts of the first cpu_moe_layers MoE layers; NULL = none */
    int cpu_moe_layers;             /* MoE layers whose routed experts live in host DRAM and run on host_cpu
                                       (the first ones, as llama.cpp's --n-cpu-moe counts); 0 = none;
                                       more than the model's MoE layers = all (--experts-on cpu) */
    sim_cpu_moe_runtime cpu_moe_runtime;
    const sim_model *draft_model;   /* speculative decoding with a separate draft model (--draft-model):
                                       borrowed (a session owns it); NULL = the model's own MTP module
                                       drafts when speculative tokens are asked for. Its deployment is
                                       sim_deploy_draft's; memfit adds its weights and KV */
    sim_spec_method spec_method;    /* the drafter when speculative tokens are asked for and no draft_model:
                                       the model's MTP module (default) or an EAGLE-3 head (--spec-method) */
    bool mtp_loaded;                /* the card's MTP module is in memory (memfit adds its weights): set
                                       where speculative decoding drafts with it (sim_deploy_mtp_drafts);
                                       engines load it only then (see deploy.c) */
    sim_runtime runtime;            /* the inference program (--runtime): picks the hwmodels' GEMM curves for it
                                       (sim_hw_gemm_curve); default mainline llama.cpp */
    double gguf_file_bytes;         /* > 0: the GGUF file of format gguf_file_fmt is this size (a custom mix
                                       such as ByteShape's): the routed experts take what the recipe's other
                                       tensors leave (sim_gguf_fit_file); 0 = the llama-quantize recipe's size */
    sim_wformat gguf_file_fmt;      /* the file type gguf_file_bytes describes: applies while expert_fmt is it */
    sim_numa_mode numa;             /* --numa: on a multi-socket CPU (this device, or host_cpu) */
    struct sim_routing_cache *routing_cache; /* memo of routing statistics (step/routing.h), owned by
                                       whoever built the deployment (a session, a fit); NULL = none,
                                       every step recomputes them */
} sim_deploy;

/* Defaults: 1 device, no parallelism, the model's native precisions tensor class by tensor
 * class (experts, dense, embeddings/LM head: what the published checkpoint holds), BF16 KV,
 * FP8 dispatch, auto transport, no overlap, the card's imbalance law (else the fallback skew),
 * 8192 batched tokens. */
void sim_deploy_defaults(sim_deploy *d, const sim_model *m, const sim_hw *hw);

/* Set the weight precision the way `--precision P` does: every weight in P, routed and shared
 * experts and dense alike (a dense model quantizes whole); `--dense-precision` overrides the
 * dense part afterwards. */
void sim_deploy_set_precision(sim_deploy *d, sim_wformat p);

/* `--dense-precision P`: attention and dense weights in P (the head follows them), and
 * `--dense-precision native`: attention, dense weights and head as the checkpoint holds them. */
void sim_deploy_set_dense_precision(sim_deploy *d, sim_wformat p);
void sim_deploy_set_native_dense(sim_deploy *d);

/* Every weight class as the published checkpoint holds it (the card's native_precision:
 * routed experts, shared experts, attention and dense FFN, embeddings and LM head): what
 * sim_deploy_defaults sets, restored over an earlier --precision (a search's "native" entry). */
void sim_deploy_set_native_precision(sim_deploy *d);

/* The format of the embeddings and LM head: the checkpoint's while no precision was asked for
 * (or the dense part was asked to stay native); otherwise BF16 beside 8-bit and wider dense
 * weights, INT8 beside sub-8-bit ones (see deploy.c for the sources); beside a GGUF file type,
 * the type its recipe gives the output tensor (Q6_K for the K-quants). */
sim_wformat sim_deploy_head_fmt(const sim_deploy *d);

/* The stored types of every weight class (matrix elements by type, whole model, before any
 * split). A GGUF precision is its llama-quantize recipe over this model (sim/model/gguf.h): the
 * routed experts follow expert_fmt's recipe, the shared experts shared_fmt's, attention and dense
 * FFN dense_fmt's, and the embedding and head dense_fmt's as well unless they stay native. Other
 * formats hold one type per class, as expert_fmt, shared_fmt, dense_fmt and sim_deploy_head_fmt say. A tied head is the embedding's matrix: the
 * HEAD class then repeats EMBED's mix. */
void sim_deploy_weight_mix(const sim_deploy *d, sim_wmix out[SIM_WCLASS_COUNT]);

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

/* The imbalance law from an option: a popularity exponent (>= 0), or the expected busiest over
 * idlest expert tokens (>= 1, solved for the exponent with routing.h's law). Fails (SIM_EINPUT)
 * on a value the law cannot take; the deployment is unchanged then. */
int sim_deploy_set_skew(sim_deploy *d, double skew, sim_err *err);
int sim_deploy_set_imbalance(sim_deploy *d, double ratio, sim_err *err);
const char *sim_imbalance_basis_name(sim_imbalance_basis b);

/* Redundant expert slots (EPLB replicas); any imply EPLB placement. */
void sim_deploy_set_redundant(sim_deploy *d, int redundant_experts, bool eplb);

/* EPLB's batch drift as given (--eplb-drift): sigma in [0, SIM_DEPLOY_MAX_EPLB_DRIFT]. Fails
 * (SIM_EINPUT) outside it, or when the deployment has no EPLB (set it first: the drift is of
 * the statistics EPLB places by, and without EPLB nothing is placed by them); the deployment
 * is unchanged then. */
/* A bound of the model, not a measurement: at sigma 2 one expert in three has its share scaled
 * by more than e^2 = 7.4x either way, a batch that no longer resembles the statistics at all. */
#define SIM_DEPLOY_MAX_EPLB_DRIFT 2.0
int sim_deploy_set_eplb_drift(sim_deploy *d, double sigma, sim_err *err);

/* Whether `spec_tokens` draft tokens per step are drafted by the card's MTP module (no draft
 * model, no EAGLE-3 head, a card with mtp_layers): the module's weights must then be loaded. */
bool sim_deploy_mtp_drafts(const sim_deploy *d, int spec_tokens);

/* The draft model's deployment beside d (d->draft_model must be set): one copy on each
 * attention rank's tp devices, split tp ways like the target (vLLM's speculative_config
 * draft_tensor_parallel_size defaults to the target's tensor-parallel size), no EP, PP or
 * attention DP; its weights in the target's dense format (an MoE draft's experts in the
 * target's expert format), its KV like the target's, the same engine and token cap. */
void sim_deploy_draft(const sim_deploy *d, sim_deploy *out);

/* Check the split: tp*dp*pp == gpus, TP divides the heads, EP divides the experts and the
 * devices of a stage, PP no more than the layers... Fails with SIM_EINPUT naming it. */
int sim_deploy_check(const sim_deploy *d, sim_err *err);

/* The formats a deployment stores on its device, one by one, and whether the device runs them
 * (hwmodel `formats`): sim_deploy_check refuses an unsupported one unless d->emulate. */
typedef struct sim_deploy_fmt_use {
    const char *what;               /* "experts", "shared experts", "dense layers", "embeddings and LM head",
                                       "KV cache" */
    sim_wformat fmt;
    sim_fmt_support support;
    bool stored_only;               /* the KV cache: stored, not a GEMM's weights */
} sim_deploy_fmt_use;
/* At most this many uses: the shared experts are listed only when their format differs from
 * the routed experts'. */
#define SIM_DEPLOY_FMT_USES 5
int sim_deploy_formats(const sim_deploy *d, sim_deploy_fmt_use out[SIM_DEPLOY_FMT_USES]); /* returns the count */
/* True when the device runs every format the deployment stores (emulate aside). */
bool sim_deploy_formats_supported(const sim_deploy *d);

/* With --emulate: a description of what was emulated and assumed ("nvfp4 experts computed as fp8;
 * ..."), written to out; "" when every format is supported (or not emulating). */
void sim_deploy_emulated(const sim_deploy *d, char *out, int cap);

/* Check a deployment and, when `prefill` is not NULL, its prefill pool: both splits, and the
 * same model in both (the decode pool receives the prefill pool's KV cache). */
int sim_deploy_check_pools(const sim_deploy *d, const sim_deploy *prefill, sim_err *err);

/* Derived shapes of a checked deployment. */
/* A stated GGUF file size (--gguf-file-gib, --gguf-bpw) for the deployment's expert format, set
 * after the precisions: the routed experts absorb the difference from the recipe's size, every
 * other tensor keeps the recipe's type. *expert_bpw gets the routed experts' bits per weight.
 * Fails (SIM_EINPUT) when the format is not a GGUF type, the model has no routed experts, or the
 * experts would be left fewer bits than any GGUF type holds (SIM_GGUF_MIN_BPW) or more than F32. */
int sim_deploy_set_file_bytes(sim_deploy *d, double bytes, double *expert_bpw, sim_err *err);

int sim_deploy_moe_tp(const sim_deploy *d);          /* tp*dp/ep: each expert's FFN split this many ways */
int sim_deploy_layers_per_stage(const sim_deploy *d); /* ceil(layers / pp): the heaviest stage */
/* Devices one stage spans, and whether a group of n consecutive devices stays inside one
 * scale-up domain. */
bool sim_deploy_in_scale_up(const sim_deploy *d, int n);

/* --engine: set the engine and its scheduler default for the per-iteration token cap
 * (vLLM max_num_batched_tokens, SGLang chunked_prefill_size, TensorRT-LLM max_num_tokens) on
 * this hardware; options given afterwards override it. Sources in deploy.c. */
void sim_deploy_set_engine(sim_deploy *d, sim_engine e);
/* The engine's default decode-batch limits on this hardware: running sequences per rank
 * (0 = none: KV capacity alone) and the largest CUDA-graph batch (0 = not known). */
int sim_engine_default_max_seqs(sim_engine e, const sim_hw *hw);
int sim_engine_default_cuda_graph_max(sim_engine e, const sim_hw *hw);
/* The memory fraction in force: d->mem_fraction, else the engine's default (which for SGLang
 * depends on TP). */
double sim_engine_mem_fraction(const sim_deploy *d);
/* Library names (prefixes of a kernel source's `library`) whose kernels the engine runs,
 * NULL-terminated; NULL for SIM_ENGINE_NONE (the fastest published kernel answers). */
const char *const *sim_engine_kernel_libraries(sim_engine e);
/* The engine's KV block (page) size in tokens. */
int sim_engine_block(sim_engine e);
const char *sim_engine_name(sim_engine e);
int sim_engine_parse(const char *s, sim_engine *out);

/* MoE layers of the deployment whose routed experts the host CPU computes (0 when none;
 * d->cpu_moe_layers clamped to the model's MoE layers). */
int sim_deploy_cpu_moe_layers(const sim_deploy *d);
const char *sim_cpu_moe_runtime_name(sim_cpu_moe_runtime r);
int sim_cpu_moe_runtime_parse(const char *s, sim_cpu_moe_runtime *out);

/* A multi-socket CPU as the deployment uses it: which mode, and what it does to the CPU's
 * figures. Applies to `cpu` when it is the deployment's device (llama.cpp's CPU backend) or its
 * host_cpu (the runtime of cpu_moe_runtime). active false: one socket, every factor 1. */
typedef struct sim_numa_use {
    bool active;
    sim_numa_mode mode;             /* resolved: never DEFAULT */
    bool defaulted;                 /* mode is the runtime's default (not given) */
    const char *runtime;            /* whose default: "llama.cpp" or "ktransformers" */
    const char *why;                /* the default's source, or "as given" */
    int sockets;
    double bw_factor;               /* effective tier-0 read bandwidth (weights, and the KV beside them) /
                                       tier 0's (all sockets) */
    bool link_bound;                /* INTERLEAVE: the cross-socket link, not the memory, sets bw_factor */
    double compute_factor;          /* share of the CPU's peaks and unpacking rate in use */
    double capacity_factor;         /* share of tier 0's capacity the runtime can use */
    double weight_copies;           /* copies of the weights tier 0 holds */
} sim_numa_use;
void sim_deploy_numa(const sim_deploy *d, const sim_hw *cpu, sim_numa_use *out);
const char *sim_numa_name(sim_numa_mode m);
int sim_numa_parse(const char *s, sim_numa_mode *out);   /* interleave, duplicate, single */

const char *sim_a2a_name(sim_a2a_transport t);
int sim_a2a_parse(const char *s, sim_a2a_transport *out);
const char *sim_overlap_name(sim_overlap o);
int sim_overlap_parse(const char *s, sim_overlap *out);

#endif
