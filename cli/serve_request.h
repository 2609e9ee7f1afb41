/* serve_request.h: from the shared option table (request.h) to a discrete-event serving
 * simulation (serve/des.h), for `moesim serve` and moesim.serve{} alike: the deployment,
 * the workload (a trace, or draws at a rate), the simulator's options, replicas, and the
 * progress line on stderr for long runs. */
#ifndef MOESIM_CLI_SERVE_REQUEST_H
#define MOESIM_CLI_SERVE_REQUEST_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "cli/request.h"
#include "cli/session.h"
#include "report/serve_report.h"
#include "serve/des.h"
#include "serve/serving.h"
#include "serve/trace.h"

/* The draws a request describes (rate, requests, arrival, burstiness, isl/osl and their
 * laws, seed) for the whole deployment; lengths stay within max_context. Fails with
 * SIM_EINPUT naming the option. Not for a trace (see cli_serve_workload). */
int cli_serve_wl_opts(const sim_request *r, int max_context, sim_wl_opts *o, sim_err *err);

/* The requests a request describes: a trace file, or draws around isl/osl at a rate. The
 * caller frees it with sim_workload_free. */
int cli_serve_workload(const sim_request *r, int max_context, sim_workload *w, sim_err *err);

/* The simulator's options a request sets (block size, sequence cap, CUDA graphs, prefix
 * cache, speculative decoding, SLO) with the cost options of `so`; no prefill pool. */
void cli_serve_des_opts(const sim_request *r, const sim_serve_opts *so, sim_des_opts *o);

/* One simulation and what it ran on. opts.prefill points into the struct: do not copy it. */
typedef struct cli_serve_run {
    sim_deploy deploy, prefill;
    bool has_prefill;
    sim_des_opts opts;
    sim_workload workload;      /* one replica's share of the requests */
    sim_des_result result;      /* scaled to the replicas */
    int replicas;
    bool sized;                 /* no request count was given: sized from the rate */
    bool sized_capped;          /* ... and the size hit its cap */
    double predicted_e2e_s;     /* the steady-state model's end-to-end latency it was sized from */
    double predicted_relax_s;   /* ... and the backlog's relaxation time (sim_rate_point) */
    /* A daily traffic (requests_per_day/hour: the run is its peak), or a rate with --price (a
     * constant load): the month's bill from the run (sim_des_bill) and the hosted APIs */
    bool has_bill;
    sim_bill bill;
    const sim_prices *prices;   /* the session's */
    const char *model_name;
    double isl, osl;            /* the request's mean lengths, for the hosted-API rows */
} cli_serve_run;

/* Build, simulate, scale to the replicas. `progress` prints "moesim serve: N% of requests
 * done" on stderr for long runs. The deployment points into `session`. On success the
 * caller frees the run with cli_serve_run_free (also safe after a failure). */
int cli_serve_simulate(sim_session *session, const sim_request *r, bool keep_records, bool progress,
                       cli_serve_run *run, sim_err *err);
void cli_serve_run_free(cli_serve_run *run);

/* The report of a run: the simulation's JSON, with `price` (when --price was given) and
 * `bill` (a traffic, or a rate with --price); and the same as text. */
cJSON *cli_serve_report_json(const cli_serve_run *run);
void cli_serve_report_print(FILE *f, const cli_serve_run *run);

/* The run as the report layer takes it. */
sim_serve_view cli_serve_view(const cli_serve_run *run);

/* The whole path for Lua and tests: simulate and return the JSON report (the caller frees
 * it with cJSON_Delete); `res` (may be NULL) receives the raw result, which the caller
 * frees with sim_des_result_free. */
int cli_serve_request_run(sim_session *session, const sim_request *r, bool keep_records, bool progress,
                          cJSON **report, sim_des_result *res, sim_err *err);

#endif
