/* search.h: search over deployments within a device budget: parallel splits (TP x EP x PP x
 * attention-DP), precision, the per-iteration token cap, concurrency, and prefill/decode
 * pool sizes. Two questions: the Pareto frontier of tokens/s per GPU against tokens/s per
 * user (one per hardware), and the cheapest configuration that meets a latency SLO at a
 * request rate (steady-state model to rank, discrete-event simulation to confirm).
 * The space comes in as a struct (loaded model and hardware, typed precisions, a template
 * deployment); results come back as structs (report/search_report.h prints them). */
#ifndef MOESIM_SEARCH_H
#define MOESIM_SEARCH_H

#include <stdbool.h>

#include "base/err.h"
#include "deploy/deploy.h"
#include "serve/des.h"
#include "serve/serving.h"
#include "serve/trace.h"

#define SIM_SEARCH_MAX_LIST 32

/* What to search. The pointers are borrowed and must outlive the search. */
/* The most instances of one side an xPyD candidate proposes (search's space stays enumerable). */
enum { SIM_SEARCH_MAX_INSTANCES = 8 };

typedef struct sim_search_space {
    const sim_model *model;
    const sim_hw *hw[SIM_SEARCH_MAX_LIST];      /* hardware to compare, at least one */
    int nhw;
    sim_wformat precisions[SIM_SEARCH_MAX_LIST];/* weight formats; none = the template's */
    /* native[a]: entry a is the checkpoint's own formats, class by class (the card's
     * native_precision: Kimi K2 Thinking's INT4 routed experts beside its BF16 shared expert,
     * attention and head), not precisions[a] for every weight; precisions[a] is then the
     * routed experts' format (what a row's precision names) */
    bool native[SIM_SEARCH_MAX_LIST];
    int nprec;
    int mbt[SIM_SEARCH_MAX_LIST];               /* max_batched_tokens values; none = the template's */
    int nmbt;
    double conc_per_gpu[SIM_SEARCH_MAX_LIST];   /* frontier: requests in flight per device */
    int nconc;
    int min_gpus, max_gpus;                     /* device counts tried: powers of two in range, and max_gpus */
    /* > 0: the devices of one system (moesim compare: "HGX H200" = 8, "GB200 NVL72" = 72).
     * An instance then spans g devices with g dividing it (the system runs system_gpus / g
     * copies), both pools together when disaggregated; max_gpus is taken as system_gpus; and
     * expert parallelism is also tried over every rank of the stage (tp x dp, a power of two
     * or not) with the fewest redundant experts that make the expert slots divide. */
    int system_gpus;
    int max_pp;                                 /* > 0: pipeline degrees above it are not tried (default 1:
                                                   bubbles are not costed, so no pipeline split is proposed) */
    bool disagg;                                /* also split the budget into prefill and decode pools */
    bool xpyd;                                  /* with disagg: also x prefill beside y decode instances, x:1 or 1:y,
                                                 * powers of two up to SIM_SEARCH_MAX_INSTANCES */
    long limit;                                 /* refuse a larger space unless force (default 20,000) */
    bool force;
    int confirm;                                /* cheapest: candidates the DES checks, best first (default 3) */
    /* Every candidate starts from this deployment (formats, transport, overlap, skew,
     * redundant experts, EPLB, offload, token cap, seed); its hw and split are replaced. */
    sim_deploy tmpl;
    bool dense_fixed;                           /* tmpl.dense_fmt was asked for: a searched precision keeps it */
    sim_serve_opts serve;                       /* isl, osl, replicas, cost; concurrency and prefill per point */
    /* cheapest */
    double rate, slo_ttft_s, slo_tpot_s;        /* requests/s; p99 bounds (0 = none) */
    /* The daily traffic the rate is the peak of (0 = a rate was given): rows then carry what
     * the user pays for it, a month of the deployment over the month's tokens. */
    double requests_per_day, peak_factor;
    sim_des_opts des;                           /* the DES confirm step; prefill set per candidate */
    sim_wl_opts workload;                       /* the confirm step's draws: one replica's share */
    void (*progress)(void *ctx, double share);
    void *progress_ctx;
} sim_search_space;

/* Defaults: 1..8 devices, concurrency 1, 2, 4, ... 256 per device, limit 20,000, confirm
 * 3; no model or hardware (the caller sets them and the template). */
void sim_search_space_defaults(sim_search_space *s);

/* The simulated check of a candidate (p99 at the rate). */
typedef struct sim_search_sim {
    double ttft_p99_s, tpot_p99_s, slo_attainment, output_tps_per_gpu;
    long requests;
    bool sustainable, meets_slo;
} sim_search_sim;

/* One evaluated configuration. */
typedef struct sim_search_row {
    const sim_hw *hw;
    int gpus;                                   /* both pools when disaggregated */
    char split[160];                            /* "tp2 ep2 pp1 dp1[ + prefill 2 gpus (tp2 ep2 dp1)]" */
    int tp, ep, pp, dp, prefill_gpus;           /* prefill_gpus 0 = aggregated; else all prefill instances' */
    int prefill_instances, decode_instances;    /* xPyD (0 and 0 when aggregated) */
    int redundant_experts;                      /* expert slots beyond the routed experts (EPLB) */
    sim_wformat precision;                      /* the routed experts' format */
    bool native_formats;                        /* every weight class as the checkpoint holds it */
    bool emulated;                              /* --emulate: a format here is one the hardware does not support */
    int max_batched_tokens;
    double concurrency;                         /* requests in flight served */
    double output_tps_per_user, output_tps_per_gpu, usd_per_mtok_output, usd_per_hour, ttft_s, tpot_s;
    double usd_per_month;                       /* usd_per_hour x 730: paid idle or not */
    double usd_per_mtok_at_load;                /* cheapest with a daily traffic: the month's bill over the month's
                                                   output tokens (NaN without one) */
    /* Cheapest with a daily traffic: the candidate is sized for the peak. slo_rps is the most
     * requests/s one replica carries in steady state within the SLO (NaN when none meets it),
     * replicas = ceil(peak / slo_rps), utilization = the day's mean / (replicas x slo_rps);
     * usd_per_hour and usd_per_month are then every replica's. Without a traffic: replicas 0. */
    int replicas;
    double slo_rps, utilization;
    double joules_per_output_token;             /* NaN when the hwmodel states no power */
    int spec_tokens;                            /* MTP draft tokens per decode step (0 = off) */
    double spec_accept;                         /* tokens a decode step produces per sequence (1 without) */
    bool ranked;                                /* cheapest: requests_per_s and slo_score are set */
    double requests_per_s, slo_score;           /* slo_score: worst ratio to the SLO bounds (<= 1 meets) */
    bool simulated;                             /* sim is set */
    sim_search_sim sim;
} sim_search_row;

typedef struct sim_search_result {
    bool frontier;                              /* which question: frontier or cheapest */
    long space_size;                            /* evaluations (frontier: configurations x concurrency points) */
    long configs, invalid, no_fit;              /* passed the split checks / rejected / did not fit in memory */
    long unsupported;                           /* candidates skipped: a format the hardware does not support
                                                   (hwmodel `formats`; searched only with emulate) */
    long deploys;                               /* candidate deployments built: one per configuration checked */
    long points;                                /* frontier: points evaluated that fit */
    sim_search_row *rows;                       /* frontier: the Pareto rows, per hardware in rising
                                                   interactivity; cheapest: every candidate, best first */
    long nrows;
    /* cheapest */
    double rate, slo_ttft_s, slo_tpot_s;
    double requests_per_day, peak_factor;       /* as in the space (0 = a rate was given) */
    long feasible;                              /* meet the SLO in steady state */
    long *confirmed, nconfirmed;                /* rows simulated, in order (indices into rows) */
    bool met;
    long best, closest;                         /* index into rows, or -1 */
    char message[768];
    /* What every row's steps carried (the space's serve options and template; names point
     * into the loaded cards): speculative decoding, 0 draft tokens = off, and the prefix hit */
    int spec_tokens;
    double spec_accept;
    const char *spec_source;                    /* where spec_accept comes from */
    const char *draft_model;                    /* the draft model's name; NULL = the MTP module or EAGLE-3 */
    bool eagle3;
    double prefix_hit;
} sim_search_result;

/* How many evaluations a search would make: configurations that pass the split checks,
 * times concurrency points for the frontier. Also counts the configurations. */
int sim_search_count(const sim_search_space *s, bool frontier, long *evals, long *configs, sim_err *err);

/* The frontier. Fails with SIM_EINPUT when the space exceeds the limit (unless force) or no
 * split passes the checks. The caller frees the result with sim_search_result_free. */
int sim_search_run_frontier(const sim_search_space *s, sim_search_result *out, sim_err *err);

/* The cheapest configuration meeting s->slo_ttft_s / slo_tpot_s (p99 in the DES) at s->rate
 * requests per second. out->met says whether one did; when none does, out->message says so
 * and out->closest is the configuration nearest to the SLO. The caller frees the result
 * with sim_search_result_free. */
int sim_search_run_cheapest(const sim_search_space *s, sim_search_result *out, sim_err *err);

/* The checks on the cheapest question's goal (a positive rate, at least one positive SLO
 * bound), for front ends that want them before building the rest. */
int sim_search_check_goal(double rate, double slo_ttft_s, double slo_tpot_s, sim_err *err);

void sim_search_result_free(sim_search_result *r);

#endif
