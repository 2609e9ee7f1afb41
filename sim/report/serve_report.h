/* serve_report.h: the discrete-event serving simulation (serve/des.h) as JSON, text and
 * files: what `moesim serve` prints and writes and what moesim.serve{} returns. Everything
 * shown comes from the result struct and the run's inputs; nothing is simulated here. */
#ifndef MOESIM_SERVE_REPORT_H
#define MOESIM_SERVE_REPORT_H

#include <cjson/cJSON.h>
#include <stdio.h>

#include "base/err.h"
#include "serve/des.h"
#include "serve/trace.h"

/* One finished simulation and what it ran on. The pointers are borrowed. */
typedef struct sim_serve_view {
    const sim_deploy *deploy;       /* the decode pool, or the only one */
    const sim_des_opts *opts;       /* opts->prefill: the prefill pool, when disaggregated */
    const sim_workload *workload;   /* its source ("poisson", "gamma", "trace") and clipped draws */
    const sim_des_result *result;   /* already scaled to the replicas (sim_des_scale_replicas) */
    int replicas;
    bool sized;                     /* the request count was sized from the rate (none was given) */
    bool sized_capped;              /* ... and hit the cap */
    double predicted_e2e_s;         /* the steady-state end-to-end latency it was sized from */
    double predicted_relax_s;       /* ... and the backlog's relaxation time */
} sim_serve_view;

/* The result as JSON (summary, percentiles, timeline, replicas, lengths_clipped when any);
 * what `moesim serve --json` prints. NULL when out of memory; the caller frees it with
 * cJSON_Delete. */
cJSON *sim_serve_report_json(const sim_serve_view *v);

/* The human-readable report of `moesim serve`. */
void sim_serve_report_print(FILE *f, const sim_serve_view *v);

/* Per-request records as rows (request, arrival_s, isl, osl, ttft_s, tpot_s, e2e_s,
 * preemptions, rank). The caller frees it with cJSON_Delete. */
cJSON *sim_serve_report_records(const sim_des_result *r);

/* Latency CDF rows {metric, latency_s, share} for TTFT, TPOT and end-to-end (at most
 * `points` per metric), for plotting. The caller frees it with cJSON_Delete. */
cJSON *sim_serve_report_cdf(const sim_des_result *r, int points);

/* Files: the scalar fields of a JSON report as one CSV row with a header; rows as CSV;
 * per-request records at full precision; the latency-CDF plot (.png or .svg). */
int sim_serve_report_summary_csv(const char *path, const cJSON *report, sim_err *err);
int sim_serve_report_rows_csv(const char *path, const cJSON *rows, sim_err *err);
int sim_serve_report_records_csv(const char *path, const sim_des_result *r, sim_err *err);
int sim_serve_report_cdf_plot(const char *path, const sim_des_result *r, sim_err *err);

#endif
