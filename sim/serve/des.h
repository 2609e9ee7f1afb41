/* des.h: request-level discrete-event simulation of one serving deployment. Requests
 * (trace.h) arrive, wait, are admitted by a continuous-batching scheduler (token budget per
 * iteration, chunked prefill mixed into decode steps, KV blocks, preemption), and every
 * engine iteration lasts what the step model (step.h) says for the shape it carries. It
 * reports TTFT/TPOT/end-to-end percentiles, throughput, goodput under an SLO, utilization
 * and queue length over time, measured over a window that leaves out the warm-up and the
 * cool-down, and whether the offered rate is sustainable (judged on the trend of the
 * number in system over that window; undetermined when the run is too short). The result
 * is a struct; report/serve_report.h turns it into text and JSON. */
#ifndef MOESIM_DES_H
#define MOESIM_DES_H

#include <stdbool.h>

#include "deploy/cost.h"
#include "deploy/deploy.h"
#include "serve/trace.h"

typedef struct sim_des_opts {
    const sim_deploy *prefill;  /* NULL = aggregated; else the prefill pool (KV moves to the decode pool) */
    int prefill_instances, decode_instances; /* xPyD: copies of *prefill and of the decode deployment (0 = 1);
                                              * arrivals go to the least-loaded prefill instance, finished
                                              * prompts to the least-loaded decode instance */
    int block_tokens;           /* KV block size in tokens (16, as vLLM) */
    int max_num_seqs;           /* running sequences per attention rank; 0 = only KV and the token cap limit */
    int graph_max;              /* largest captured decode batch per rank; 0 = no CUDA-graph padding */
    double prefix_hit;          /* share of prompt tokens found in the prefix cache, [0, 1) */
    int spec_tokens;            /* draft tokens per decode step (0 = no speculative decoding) */
    double spec_accept;         /* mean tokens a decode step produces per sequence, in [1, spec_tokens + 1] */
    const char *spec_source;    /* where spec_accept comes from (the card's source or the option); reports only */
    double slo_ttft_s, slo_tpot_s; /* per-request SLO for goodput (0 = no bound) */
    bool keep_records;          /* fill result.records (per-request CSV, latency CDFs) */
    double predicted_capacity_rps; /* the steady-state model's largest request rate for this instance
                                    * (sim_serve_at_rate; 0 = unknown): judges runs too short to show a trend */
    bool reference_walk;        /* tests: walk every running sequence every iteration, as before issue 20's
                                 * aggregates (tests/unit/serve/test_des_fast.c compares the two) */
    bool per_iteration;         /* tests: one event per iteration, never a decode-only stretch as one event
                                 * (tests/unit/serve/test_des_stretch.c compares the two) */
    void (*progress)(void *ctx, double done_share);  /* called now and then; may be NULL */
    void *progress_ctx;
    sim_cost_opts cost;
} sim_des_opts;

typedef struct sim_des_pct {
    double mean, p50, p90, p99, max;
} sim_des_pct;

/* One window of the timeline: time averages over [t0, t1). */
typedef struct sim_des_window {
    double t0, t1;
    double in_system, waiting, running, busy, kv_used;  /* busy and kv_used are shares (decode pool) */
} sim_des_window;

typedef struct sim_des_record {
    double arrival_s, ttft_s, tpot_s, e2e_s;
    int isl, osl, preemptions;
    int rank;
    bool measured;              /* arrived inside the measured window */
} sim_des_record;

/* Whether the offered rate is sustainable, judged on the trend of the number of requests
 * in the system over the measured window (des_stats.c). */
typedef enum { SIM_DES_SUSTAINABLE, SIM_DES_NOT_SUSTAINABLE, SIM_DES_UNDETERMINED } sim_des_verdict;

typedef struct sim_des_result {
    long requests, completed, preemptions, iterations;
    int gpus;
    double first_arrival_s, last_arrival_s, end_s, duration_s;  /* duration: first arrival to last completion */
    double offered_rate;                  /* (requests - 1) / arrival span */
    sim_des_pct ttft, tpot, e2e, queue;   /* queue: arrival until first scheduled */
    double input_tps, output_tps, output_tps_per_gpu, input_tps_per_gpu;
    double output_tps_per_user;           /* 1 / mean TPOT */
    double goodput_rps, goodput_tps, slo_attainment;  /* requests meeting both SLO bounds */
    double utilization, prefill_utilization;  /* share of time an iteration runs (decode or only pool; prefill pool) */
    double mean_batch;                    /* decoding sequences per rank per iteration, mean over iterations */
    double mean_in_system, mean_waiting, max_waiting;
    double kv_peak_share;                 /* most KV blocks in use on one rank / its blocks */
    long kv_blocks_per_rank;
    /* The measured window: latency, throughput, goodput, utilization and queue figures are
     * over requests arriving in [window_t0_s, window_t1_s) and tokens produced in it, with the
     * warm-up after the first arrival and the cool-down before the last one left out. When the
     * arrivals span too few service times (a burst) the window is the whole run instead. */
    double window_t0_s, window_t1_s, warmup_s, cooldown_s;
    long window_requests;
    bool whole_run;                       /* the window is the whole run, ramp and drain included */
    double service_s;                     /* median admission-to-last-token time of the window's requests */
    double window_service_times;          /* window length / service_s */
    bool steady_state;                    /* the window spans >= 10 service times and >= 200 requests */
    char steady_note[256];                /* why not, or "" */
    sim_des_verdict verdict;
    bool sustainable;                     /* verdict == SIM_DES_SUSTAINABLE */
    double queue_growth;                  /* requests in system, change over the window (least squares) */
    double queue_growth_se;               /* its standard error (batch means) */
    double queue_growth_rps;              /* queue_growth / window length */
    double served_rps;                    /* completions in the window / its length */
    double capacity_rps;                  /* opts.predicted_capacity_rps (NaN = unknown) */
    char note[512];                       /* the verdict and its reason */
    /* Little's law on the simulated trace: L = time-average in system, lambda = requests /
     * duration, W = mean time in system */
    double little_L, little_lambda, little_W;
    double little_lambda_W;               /* lambda x W, to set beside L */
    double little_rel_error;              /* |L - lambda W| / L; NaN when L is 0 */
    double usd_per_hour, usd_per_mtok_output, usd_per_mtok_blended;
    const char *cost_mode;
    long step_evals, step_cache_hits;     /* step-model calls and memo hits */
    int spec_num, spec_den;               /* the acceptance simulated, spec_num / spec_den tokens a step
                                           * (des_internal.h, credit_frac; 1 / 1 without speculative decoding) */
    bool spec_rounded;                    /* opts.spec_accept is no fraction with a denominator <= 1000:
                                           * rounded to the nearest 1/1000 (reports say so) */
    long events;                          /* events the simulator processed (a decode-only stretch of
                                           * iterations is one) */
    int nwindows;
    sim_des_window *windows;
    sim_des_record *records;              /* opts.keep_records: one per request, in arrival order */
} sim_des_result;

void sim_des_defaults(sim_des_opts *o);

/* Simulate workload `w` on deployment `d` (the decode pool when o->prefill is set) until
 * every request has finished. Fails with SIM_EINPUT on bad options, a deployment that does
 * not fit, or a request longer than a rank's KV cache. Free the result with
 * sim_des_result_free. */
int sim_des_run(const sim_deploy *d, const sim_des_opts *o, const sim_workload *w, sim_des_result *out,
                sim_err *err);
void sim_des_result_free(sim_des_result *r);

/* Replicas: R independent copies of the simulated instance share the requests (each
 * instance was simulated with its share). Deployment-wide figures (gpus, tokens/s, goodput,
 * cost per hour, offered and served rates, queue growth) scale by R; per-GPU and
 * per-request ones do not. R <= 1 changes nothing. */
void sim_des_scale_replicas(sim_des_result *r, int replicas);

/* The monthly bill of a daily traffic from a run at its peak (`moesim serve
 * --requests-per-day`, or a constant load: peak_factor 1): every replica paid all month; the
 * month's tokens are the traffic's requests at the lengths the run drew (its measured tokens
 * per served request); utilization is the day's mean over what the replicas carry in steady
 * state (res->capacity_rps); the prompt tokens' share of the bill is the steady state's at the
 * run's mean concurrency; meets_slo: sustainable and p99 TTFT / TPOT within the bounds set.
 * peak_source says where peak_factor comes from (NULL: the default, SIM_DEFAULT_PEAK_FACTOR).
 * res must be scaled to the replicas already. */
int sim_des_bill(const sim_deploy *d, const sim_des_opts *o, const sim_des_result *res, int replicas,
                 double requests_per_day, double peak_factor, const char *peak_source, sim_bill *b, sim_err *err);

#endif
