/* search.h: search over deployments within a device budget: parallel splits (TP x EP x PP x
 * attention-DP), precision, the per-iteration token cap, concurrency, and prefill/decode
 * pool sizes. Two questions: the Pareto frontier of tokens/s per GPU against tokens/s per
 * user (one per hardware), and the cheapest configuration that meets a latency SLO at a
 * request rate (steady-state model to rank, discrete-event simulation to confirm). */
#ifndef MOESIM_SEARCH_H
#define MOESIM_SEARCH_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "base/err.h"
#include "cli/request.h"

#define SIM_SEARCH_MAX_LIST 32

typedef struct sim_search_opts {
    char hw[SIM_SEARCH_MAX_LIST][64];           /* hardware to compare; none = the request's hw */
    int nhw;
    int min_gpus, max_gpus;                     /* device counts tried: powers of two in range, and max_gpus */
    char precisions[SIM_SEARCH_MAX_LIST][16];   /* weight formats; none = the request's (or the model's native) */
    int nprec;
    int mbt[SIM_SEARCH_MAX_LIST];               /* max_batched_tokens values; none = the request's */
    int nmbt;
    double conc_per_gpu[SIM_SEARCH_MAX_LIST];   /* frontier: requests in flight per device */
    int nconc;
    bool disagg;                                /* also split the budget into prefill and decode pools */
    long limit;                                 /* refuse a larger space unless force (default 20,000) */
    bool force;
    int confirm;                                /* cheapest: candidates the DES checks, best first (default 3) */
    void (*progress)(void *ctx, double share);
    void *progress_ctx;
} sim_search_opts;

void sim_search_defaults(sim_search_opts *o);

/* Parse a comma-separated list ("fp8,nvfp4", "4096,8192") into an options field. */
int sim_search_parse_list(const char *text, const char *what, sim_search_opts *o, sim_err *err);

/* How many evaluations a search would make: configurations that pass the split checks,
 * times concurrency points for the frontier. Also counts the configurations. */
int sim_search_size(sim_session *session, const sim_request *base, const sim_search_opts *o, bool frontier, long *evals, long *configs,
                    sim_err *err);

/* Frontier: { space_size, evaluated, skipped_invalid, skipped_no_fit, points, frontier = [rows] }; each
 * row names hw, split, precision, token cap, concurrency, tokens/s per user and per GPU,
 * $/M output tokens, TTFT, TPOT. Fails with SIM_EINPUT when the space exceeds the limit. */
int sim_search_frontier(sim_session *session, const sim_request *base, const sim_search_opts *o, cJSON **result, sim_err *err);

/* Cheapest configuration meeting base->slo_ttft_s / slo_tpot_s (p99 in the DES) at
 * base->rate requests per second. result.met says whether one did; when none does,
 * result.message says so and result.closest is the configuration nearest to the SLO. */
int sim_search_cheapest(sim_session *session, const sim_request *base, const sim_search_opts *o, cJSON **result, sim_err *err);

#endif
