/* request.h: one evaluation request with every option the command line and Lua accept.
 * The option table is shared: `--kv-precision fp8` on the command line and
 * `kv_precision = "fp8"` in Lua set the same field, and unknown names are rejected with
 * the list of known ones. sim_request_eval loads the model and hardware, builds the
 * deployment and evaluates it into result structs; sim_request_run also turns them into
 * the JSON of the report layer (report.h). */
#ifndef MOESIM_REQUEST_H
#define MOESIM_REQUEST_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "base/err.h"
#include "cli/session.h"
#include "serve/serving.h"

/* room in sim_request.given for every option of the table (request.c checks it) */
#define SIM_REQUEST_MAX_OPTIONS 128

typedef struct sim_request {
    char model[512], hw[512];
    int gpus, tp, ep, pp, dp;                 /* 0 = derive (see request.c) */
    int replicas;                             /* independent instances (0 = 1) */
    char precision[16], dense_precision[16], kv_precision[16], dispatch_precision[16];
    double isl, osl, concurrency;
    char phase[16];                           /* "" = serving; "prefill" or "decode" */
    double batch, context;
    char transport[16], overlap[16];
    double skew;                              /* < 0 = default (the card's law, else the fallback) */
    double expert_imbalance;                  /* busiest/idlest expert tokens; 0 = not given */
    int redundant_experts;
    double eplb_drift;                        /* EPLB's batch drift sigma; < 0 = the sourced default */
    bool eplb, offload, owned, emulate;
    int max_batched_tokens;
    char engine[16];                          /* "" = moesim's generic accounting; vllm, sglang, trtllm */
    char experts_on[8];                       /* "" or "gpu"; "cpu": routed experts of every MoE layer on host_cpu */
    int cpu_moe_layers;                       /* routed experts of the first N MoE layers on host_cpu (0 = none) */
    char host_cpu[512];                       /* the GPU's host CPU hwmodel ("" = none) */
    char cpu_moe_runtime[16];                 /* llamacpp (default) or ktransformers */
    char runtime[16];                         /* "" = llamacpp (mainline); ik_llamacpp */
    double gguf_file_gib, gguf_bpw;           /* the GGUF file as measured (0 = the recipe's size) */
    char numa[16];                            /* "" = the runtime's default; interleave, duplicate, single */
    double mem_fraction;                      /* 0 = the engine's default */
    double usd_per_gpu_hour, usd_per_kwh, pue, lifetime_years;
    int prefill_gpus, prefill_tp, prefill_ep, prefill_pp, prefill_dp;
    int prefill_instances, decode_instances;  /* xPyD (0 = 1) */
    int seed;
    /* serving simulation (moesim serve, moesim search; see des.h) */
    double rate;                              /* requests per second (Poisson or gamma arrivals) */
    int requests;                             /* requests to simulate (trace: at most this many; 0 = all) */
    char arrival[16];                         /* poisson, gamma or trace ("" = trace when one is named, else poisson) */
    double burstiness;                        /* gamma shape: 1 = Poisson, < 1 burstier */
    char trace[512];                          /* CSV: arrival_s,input_tokens,output_tokens */
    char isl_dist[16], osl_dist[16];          /* fixed uniform exponential lognormal */
    double len_cv;                            /* spread of uniform / log-normal lengths */
    double prefix_hit;                        /* share of prompt tokens served from the prefix cache */
    int spec_tokens;                          /* speculative decoding: draft tokens per step */
    char draft_model[512];                    /* a separate draft model ("" = the model's MTP module) */
    char spec_method[16];                     /* the drafter beside the target: mtp or eagle3 ("" = mtp) */
    double spec_accept;                       /* tokens produced per step per sequence (>= 1) */
    bool spec_accept_given;                   /* spec_accept was set (else eval/search take the card's figure) */
    bool max_num_seqs_given, cuda_graph_max_given, block_size_given; /* set by the user (else serve takes
                                                                       --engine's defaults) */
    int max_num_seqs, block_size, cuda_graph_max;
    double slo_ttft_s, slo_tpot_s;            /* per-request SLO for goodput and search (0 = none) */
    /* prices and traffic (prices/SCHEMA.md, serving.h sim_traffic) */
    char price[64];                           /* KIND[:PROVIDER]; "" = the hwmodel's rent price ("rent") */
    double requests_per_day, requests_per_hour;/* 0 = no traffic given (no bill) */
    double peak_factor;                       /* 0 = SIM_DEFAULT_PEAK_FACTOR (deploy/cost.h, sourced) */
    char diurnal[512];                        /* a named profile or a file of 24 hourly rates: its peak factor */
    /* given[i]: option i of the table (sim_request_option) was set through sim_request_set_*
     * (the command line, Lua): what a path that does not read an option refuses */
    unsigned char given[SIM_REQUEST_MAX_OPTIONS];
} sim_request;

/* Whether option `name` was set through sim_request_set_* (false for an unknown name). */
bool sim_request_given(const sim_request *r, const char *name);
/* serve and search: 'phase', 'batch' and 'context' describe one step of eval, which they do
 * not evaluate; SIM_EINPUT naming the option, followed by `what` (what the command takes
 * instead), when one is given. */
int sim_request_no_phase(const sim_request *r, const char *what, sim_err *err);
/* llama-bench's tests (sim_local_bench_run: one sequence, pp N and tg N) read the deployment
 * only: SIM_EINPUT naming the first other option given (phase, batch, context, the workload,
 * serve's options, prices and traffic, a prefill pool, prefix_hit, speculative decoding). */
int sim_request_bench_options(const sim_request *r, sim_err *err);
/* The first of the NULL-terminated `names` given in r, or NULL. */
const char *sim_request_first_given(const sim_request *r, const char *const *names);

void sim_request_defaults(sim_request *r);

typedef enum { SIM_OPT_STR, SIM_OPT_INT, SIM_OPT_NUM, SIM_OPT_BOOL } sim_opt_type;

typedef struct sim_opt_spec {
    const char *name;          /* Lua field name; the command line uses --name with '_' as '-' */
    sim_opt_type type;
    const char *help;
} sim_opt_spec;

/* The i-th option of the table (from 0), or NULL past the last. */
const sim_opt_spec *sim_request_option(size_t i);
const sim_opt_spec *sim_request_find(const char *name);

/* Set one option from text (command line). `name` uses '_' (callers map '-'). */
int sim_request_set_text(sim_request *r, const char *name, const char *value, sim_err *err);
/* Set from typed values (Lua). */
int sim_request_set_num(sim_request *r, const char *name, double v, sim_err *err);
int sim_request_set_str(sim_request *r, const char *name, const char *v, sim_err *err);
int sim_request_set_bool(sim_request *r, const char *name, bool v, sim_err *err);

/* Build the deployment a request describes, with the model and hardware loaded through
 * `session` (the deployment points into it and is valid while the session lives). When the request names a prefill pool,
 * *prefill is filled and *has_prefill set. Also fills serving options from the request. */
struct sim_deploy;
struct sim_serve_opts;
int sim_request_deploy(sim_session *session, const sim_request *r, struct sim_deploy *d, struct sim_deploy *prefill, bool *has_prefill,
                       struct sim_serve_opts *serve, sim_err *err);

/* The deployment options a request sets (precisions, transport, overlap, skew, redundant
 * experts, EPLB, offload, token cap, seed) on sim_deploy_defaults(m, hw), without the split
 * and without sim_deploy_check: what sim_request_deploy starts from, and the template of a
 * search. Fails with SIM_EINPUT naming the option. */
int sim_request_deploy_options(const sim_request *r, const sim_model *m, const sim_hw *hw, struct sim_deploy *d,
                               sim_err *err);
/* The serving options a request sets (isl, osl, concurrency, replicas, cost); no prefill pool. */
void sim_request_serve_opts(const sim_request *r, struct sim_serve_opts *o);
/* --price KIND[:PROVIDER] for the devices `hw` (all of them must have a price of that
 * kind): sets c->kind and the per-device rows. No --price: nothing changes. Fails with
 * SIM_EINPUT naming option 'price': an unknown kind, a device without that kind (the kinds it
 * has are listed), or a conflict with usd_per_gpu_hour / owned. */
int sim_request_price(sim_session *session, const sim_request *r, const sim_hw *const *hw, int nhw,
                      sim_cost_opts *c, sim_err *err);

/* The traffic a request states, requests per day (from per hour when that is given); 0 when
 * none. Fails naming the options when both are given. */
int sim_request_traffic(const sim_request *r, sim_traffic *t, sim_err *err);

/* Speculative decoding and prefix caching for model m, as eval, serve and search model them
 * (all three take them from here): spec_tokens, prefix_hit, and the
 * accepted tokens per step (spec_accept when given, else the card's published figure for
 * that many draft tokens). Fails with SIM_EINPUT naming the option: an acceptance outside
 * [1, spec_tokens + 1], none given and none published, or a model without an MTP module. */
int sim_request_spec_opts(const sim_request *r, const sim_model *m, struct sim_serve_opts *o, sim_err *err);


/* What one request evaluates to: the deployment(s) it describes and either a serving
 * evaluation or one phase. `serve.prefill` points at `prefill` inside the struct, and the
 * deployments point into the session: keep the struct in place (do not copy it) and use it
 * while the session lives. */
typedef struct sim_request_result {
    sim_deploy deploy;
    sim_deploy prefill;            /* valid when has_prefill */
    bool has_prefill;
    sim_serve_opts serve;
    bool is_phase;                 /* --phase given: `phase` holds the result, else `eval` */
    sim_phase_result phase;
    sim_eval eval;
    bool has_bill;                 /* requests_per_day/hour given: the deployment was sized for it */
    sim_bill bill;
    const sim_prices *prices;      /* the session's, for the hosted-API rows (NULL when not loaded) */
} sim_request_result;

/* Build the deployment and evaluate it (sim_serve_eval, or sim_phase_run for a phase). */
int sim_request_eval(sim_session *session, const sim_request *r, sim_request_result *out, sim_err *err);

/* The report of a result: JSON (the caller frees it with cJSON_Delete; NULL when out of
 * memory) or text. */
cJSON *sim_request_result_json(const sim_request_result *res);
void sim_request_result_print(FILE *f, const sim_request_result *res);

/* Evaluate and build the JSON report in one call (what Lua's moesim.eval{} returns). On
 * success *result is the report; the caller frees it with cJSON_Delete. */
int sim_request_run(sim_session *session, const sim_request *r, cJSON **result, sim_err *err);

/* Comma-separated list of option names (for messages). */
void sim_request_option_list(char *buf, size_t cap);

#endif
