/* serving.h: steady-state serving. For C concurrent requests of isl prompt and osl output
 * tokens: the decode step (with chunked prefill mixed in when prefill and decode share the
 * devices), TTFT, TPOT, tokens/s per device and per user, memory fit with the batch
 * clipped to what the KV cache holds, and cost. Prefill and decode can also run in
 * separate pools (disaggregated), each with its own split. */
#ifndef MOESIM_SERVING_H
#define MOESIM_SERVING_H

#include <stdbool.h>

#include "deploy/cost.h"
#include "deploy/deploy.h"
#include "deploy/memfit.h"
#include "step/step.h"

typedef struct sim_serve_opts {
    double isl, osl;              /* prompt and output tokens per request */
    double concurrency;           /* requests in flight over the whole deployment */
    int replicas;                 /* independent copies of the instance sharing the load (>= 1) */
    const sim_deploy *prefill;    /* NULL = aggregated; else the prefill pool (same model) */
    /* xPyD (disaggregated only): prefill_instances copies of *prefill beside decode_instances
     * copies of the decode deployment, one serving instance (0 = 1). Requests spread evenly
     * over the decode instances; the prefill instances together feed them. */
    int prefill_instances, decode_instances;
    sim_cost_opts cost;
    /* Speculative decoding with the model's MTP module: each decode step drafts spec_tokens
     * tokens per sequence, verifies them with spec_tokens + 1 query tokens, and produces
     * spec_accept tokens on average (1 <= spec_accept <= spec_tokens + 1). 0 = off. */
    int spec_tokens;
    double spec_accept;
    const char *spec_source;      /* where spec_accept comes from (the card's source, or the option) */
    /* Share of each prompt already in the prefix cache, [0, 1): only the rest is computed,
     * while attention still reads the whole prompt. */
    double prefix_hit;
    /* Optional step plans (step.h), one made with sim_step_plan_new for the deployment passed
     * to sim_serve_eval and one for *prefill; NULL = every step from scratch. The results are
     * bit-identical either way; a plan makes repeated evaluations of one deployment (search's
     * candidates, sim_serve_at_rate) cheaper. The evaluation points each at its placement. */
    sim_step_plan *plan, *prefill_plan;
} sim_serve_opts;

typedef struct sim_eval {
    bool fits;
    char reason[512];
    bool clipped;                  /* the batch is smaller than asked */
    char clip_note[256];
    double concurrency, concurrency_served;
    double batch_per_rank;         /* decoding sequences per attention rank per micro-batch */
    double prefill_tokens_per_step;/* prompt tokens mixed into a decode step, busiest rank */
    double prompt_computed;        /* prompt tokens computed per request (isl less the prefix-cache hit) */
    int spec_tokens;               /* draft tokens per decode step (0 = no speculative decoding) */
    double spec_accept;            /* tokens a decode step produces per sequence (1 without) */
    const char *draft_model;       /* the draft model's name (the deployment's, borrowed); NULL = MTP or EAGLE-3 */
    bool eagle3;                   /* the drafter is an EAGLE-3 head (--spec-method eagle3), not the MTP module */
    double decode_steps_per_s;     /* decode steps per second one user sees (tokens/s per user = this x spec_accept) */
    double mixed_share;            /* share of steps that carry a prompt chunk on the busiest rank */
    int gpus;                      /* all devices, both pools when disaggregated */
    double ttft_s, tpot_s, e2e_s;
    double output_tps, input_tps;  /* whole deployment */
    double output_tps_per_gpu, input_tps_per_gpu, output_tps_per_user;
    double prefill_share;          /* share of device time spent on prefill */
    bool prefill_limited;          /* disaggregated: the prefill pool caps throughput */
    /* disaggregated (xPyD): the instances, each side's busy share at this point (the side that
     * limits is at 1 when the rate is balanced against it), the KV that moves per request and
     * the link it moves over */
    int prefill_instances, decode_instances;
    double prefill_utilization, decode_utilization;
    double kv_bytes_per_request, kv_transfer_s;
    const char *kv_link;           /* "scale-up" or "scale-out" */
    sim_step_result decode;        /* a decode step with no prompt chunk in it */
    sim_step_result first;         /* a step that carries a prompt chunk (aggregated: with the decodes) */
    sim_step_result prefill_pool;  /* disaggregated: one full prefill iteration */
    sim_memfit mem;                /* decode (or aggregated) devices */
    sim_memfit prefill_mem;
    double usd_per_hour, usd_per_mtok_output, usd_per_mtok_input, usd_per_mtok_blended;
    double joules_per_output_token, joules_per_input_token;
    const char *cost_mode;
    sim_bound bound;
} sim_eval;

void sim_serve_defaults(sim_serve_opts *o);

/* Evaluate. Returns SIM_EINPUT for impossible input (a split that cannot work, lengths
 * or concurrency not positive); a deployment that does not fit returns SIM_OK with
 * out->fits false and the reason. */
int sim_serve_eval(const sim_deploy *d, const sim_serve_opts *o, sim_eval *out, sim_err *err);

/* The steady state at a request rate (one instance, mean lengths o->isl/o->osl): whether the
 * rate is reachable, the concurrency that serves it, the end-to-end latency there, and the
 * largest request rate the deployment reaches (at the largest batch its KV cache holds).
 * When the rate is out of reach, e2e_s is the one at that largest batch. Figures
 * that cannot be computed (the deployment does not fit) are NaN. `moesim serve` sizes its
 * run and judges short runs with it. */
typedef struct sim_rate_point {
    bool reached;
    double concurrency;
    double e2e_s;                  /* the steady state has no queue: admission to last token */
    double relax_s;                /* how long a displaced backlog takes to settle (1 / dX/dC, at least e2e_s;
                                    * infinite where X no longer grows; NaN when the rate is out of reach) */
    double capacity_rps;
} sim_rate_point;

int sim_serve_at_rate(const sim_deploy *d, const sim_serve_opts *o, double rate, sim_rate_point *out, sim_err *err);

/* Step plans for d and o->prefill where o has none (for a caller about to evaluate one
 * deployment many times): made[] receives the ones made here, which sim_serve_plans_free
 * frees and takes out of o again. SIM_EFAIL when out of memory. */
int sim_serve_plans_new(const sim_deploy *d, sim_serve_opts *o, sim_step_plan *made[2], sim_err *err);
void sim_serve_plans_free(sim_serve_opts *o, sim_step_plan *made[2]);

/* A daily traffic in the user's terms. The peak factor is the peak hour's rate over the
 * day's mean (<= 0: SIM_DEFAULT_PEAK_FACTOR, sourced in deploy/cost.h), peak_source says where
 * it came from ("" = the default). SLO bounds apply to the steady state at the peak (0 = none). */
typedef struct sim_traffic {
    double requests_per_day, peak_factor;
    char peak_source[200];
    double slo_ttft_s, slo_tpot_s;
} sim_traffic;

/* A day's traffic by hour: 24 relative request rates (any scale, at least one positive). The
 * named profiles come from published production traces (serve/traffic.c, with their sources);
 * SIM_DEFAULT_PEAK_FACTOR is the peak factor of "azure-code-2024". */
enum { SIM_DIURNAL_HOURS = 24 };
/* The named profile's 24 rates and its source; SIM_EINPUT naming the known names otherwise. */
int sim_diurnal_named(const char *name, double rate[SIM_DIURNAL_HOURS], const char **source, sim_err *err);
/* Its peak factor: the largest hour over the mean hour; SIM_EINPUT when a rate is negative or
 * not finite, or none is positive. */
int sim_diurnal_peak_factor(const double rate[SIM_DIURNAL_HOURS], double *peak_factor, sim_err *err);

/* Size replicas of deployment d for the peak rate: the fewest replicas whose steady state
 * (sim_serve_at_rate, one replica's share of the peak) reaches the rate and meets the SLO,
 * then evaluate them there (*ev: o->replicas and o->concurrency are set to that point) and
 * fill the bill: every replica is paid all month. When d does not fit, ev->fits is false and
 * the bill is empty. */
int sim_serve_size_for_traffic(const sim_deploy *d, sim_serve_opts *o, const sim_traffic *t, sim_eval *ev,
                               sim_bill *b, sim_err *err);

/* One phase alone, as `moesim eval --phase`: a decode step of `batch` sequences at
 * context `ctx`, or a prefill of `batch` prompts of `ctx` tokens, per attention rank. */
int sim_phase_eval(const sim_deploy *d, bool prefill, double batch, double ctx, sim_step_result *step,
                   sim_memfit *mem, sim_err *err);

/* Speculative decoding in one decode step (sim_phase_run_spec). */
typedef struct sim_phase_spec {
    int tokens;                    /* draft tokens per decode step, 0..16 (0 = off) */
    double accept;                 /* tokens the step produces per sequence, [1, tokens + 1] */
    const char *source;            /* where `accept` comes from; carried for the report */
} sim_phase_spec;

/* One phase alone with every figure `moesim eval --phase` shows: the step, the memory fit
 * for `batch` x pp sequences of `context` tokens per rank, whether that fits (and why not)
 * and the phase's tokens/s per device. */
typedef struct sim_phase_result {
    bool prefill;                  /* the phase: prefill or decode */
    double batch, context;         /* as asked: per attention rank */
    bool fits;                     /* the weights fit and the KV cache holds batch x pp sequences */
    char reason[512];              /* why not, when !fits */
    sim_step_result step;
    sim_memfit mem;
    double tokens_per_s_per_gpu;   /* prompt tokens (prefill) or output tokens (decode; accepted tokens with
                                      speculative decoding) */
    sim_phase_spec spec;           /* decode: speculative decoding (spec.tokens 0 = off) */
    double draft_s, verify_s;      /* spec.tokens > 0: the step's time (all pp stages) drafting and verifying */
} sim_phase_result;

/* sim_phase_eval, then the fit and the derived figures. Errors as sim_phase_eval. */
int sim_phase_run(const sim_deploy *d, bool prefill, double batch, double ctx, sim_phase_result *out,
                  sim_err *err);

/* The same with speculative decoding (spec NULL or spec->tokens 0: sim_phase_run). A decode
 * step verifies batch x (tokens + 1) rows through every GEMM, the MoE layers and the LM head,
 * while attention reads each sequence's context once (a query of tokens + 1 rows), and
 * drafts `tokens` tokens per sequence with the deployment's drafter (the MTP module, a draft
 * model or an EAGLE-3 head, as sim_serve_eval's steps); the KV holds context + tokens rows
 * per sequence and the MTP module sits beside the weights while it drafts. tokens/s count
 * the accepted tokens: batch x accept per step. Fails with SIM_EINPUT on a prefill (a prompt
 * is computed the same with or without a drafter), tokens or accept out of range, or a
 * model with no drafter. */
int sim_phase_run_spec(const sim_deploy *d, bool prefill, double batch, double ctx, const sim_phase_spec *spec,
                       sim_phase_result *out, sim_err *err);

/* llama-bench's two tests for one user (one sequence), with its parameters that change what a
 * test computes (llama.cpp tools/llama-bench/llama-bench.cpp, cmd_params_defaults):
 *   pp N (-p, 512): a prompt of N tokens, computed in micro-batches of at most `ubatch`
 *     tokens (-ub, 512), each a forward pass against the KV the earlier ones wrote;
 *   tg N (-n, 128): N tokens generated one at a time;
 *   depth (-d, 0): tokens already in the KV cache when each test starts ("pp512 @ d4096").
 * Rates are of the whole deployment, as llama-bench prints them. */
typedef struct sim_local_bench_opts {
    int pp, tg, ubatch, depth;
} sim_local_bench_opts;

/* llama-bench's defaults: pp 512, tg 128, ubatch 512, depth 0. */
void sim_local_bench_defaults(sim_local_bench_opts *o);

typedef struct sim_local_bench {
    int pp, tg, ubatch, depth;     /* the tests as run */
    int micro_batches;             /* forward passes the prompt took */
    double pp_tps, tg_tps;         /* tokens/s; NaN when the deployment does not fit */
    bool fits;
    char reason[512];
    double weight_bytes;           /* all devices' weights (llama-bench's "size") */
    double params;                 /* total weights of the model (its "params") */
} sim_local_bench;

/* Most micro-batches one pp test may take (pp / ubatch): each is a step evaluation. */
#define SIM_LOCAL_BENCH_MAX_UBATCHES 4096

/* pp: the micro-batches in turn, each (n tokens after c in the cache) a prefill step whose
 * tokens attend to c + n / 2 keys on average; as llama-bench runs it, the prompt goes to
 * llama_decode in chunks of n_batch (2048, or ubatch where larger), each split into
 * micro-batches of ubatch and returning one logits row; pp_tps = pp / the summed stage times. With ubatch >= pp and
 * depth 0 that is one pass of the whole prompt. tg: the mean of `tg` decode steps whose
 * context grows from depth + 1 to depth + tg, taken at the midpoint (the step time is linear
 * in context over that range). The KV cache must hold depth + pp (depth + tg) tokens. Fails
 * with SIM_EINPUT on sizes out of range, naming the parameter. */
int sim_local_bench_run(const sim_deploy *d, const sim_local_bench_opts *o, sim_local_bench *out, sim_err *err);

/* The share of a step's stage time that layers of kind `k` take (0 when the stage took
 * no time), for breakdowns. */
double sim_step_kind_share(const sim_step_result *s, sim_layer_kind k);

/* The link KV moves over from a prefill instance to a decode instance: the scale-up link
 * (NVLink) when every instance of the xPyD group (`devices` in all) sits in one scale-up
 * domain of the same device, else the NICs. The KV of one sequence is spread over the
 * devices of each side and moves over their links in parallel, so the achieved bandwidth
 * is one link's times the smaller side's device count (tp x pp). Fills *bw (B/s), *lat (s)
 * and *name ("scale-up" / "scale-out"); returns false when that link has no bandwidth. */
bool sim_kv_link(const sim_deploy *d, const sim_deploy *p, int devices, double *bw, double *lat, const char **name);

/* Bytes of KV one sequence of `isl` prompt tokens carries from prefill to decode: every
 * layer's cache, one copy (as the model holds it, unsplit), in the decode side's KV format. */
double sim_kv_bytes_per_seq(const sim_deploy *d, double isl);

/* E[max of n independent Poisson(lambda)] (attention-DP: the busiest rank's new prompts). */
double sim_poisson_expected_max(double lambda, int n);

#endif
