/* search_report.h: configuration search results (search/search.h) as JSON, text, CSV and
 * plots: what `moesim search` prints and writes and what moesim.search{} returns. */
#ifndef MOESIM_SEARCH_REPORT_H
#define MOESIM_SEARCH_REPORT_H

#include <cjson/cJSON.h>
#include <stdio.h>

#include "base/err.h"
#include "search/search.h"

/* Frontier: { space_size, configurations, skipped_invalid, skipped_no_fit, points,
 * frontier = [rows] }. Cheapest: { space_size, configurations, skipped_invalid,
 * skipped_no_fit, rate, slo_ttft_s, slo_tpot_s, steady_state_feasible, confirmed = [rows],
 * met, best | closest, message, ranked = [the 10 cheapest rows] }. A row names hw, gpus,
 * split, tp, ep, pp, dp, prefill_gpus, precision, max_batched_tokens, concurrency, tokens/s
 * per user and per GPU, $/M output tokens, $/h, TTFT, TPOT (cheapest: requests_per_s,
 * slo_score, and `simulated` once confirmed). NULL when out of memory; the caller frees it
 * with cJSON_Delete. */
cJSON *sim_search_report_json(const sim_search_result *r);

/* The table rows: the frontier, or the 10 cheapest candidates. The caller frees them with
 * cJSON_Delete. */
cJSON *sim_search_report_rows(const sim_search_result *r);

/* The text report of `moesim search`. */
void sim_search_report_print(FILE *f, const sim_search_result *r);

/* Throughput (or cost, when `cost`) against interactivity, one line per hardware, from
 * sim_search_report_rows; the title names the model and the lengths. */
int sim_search_report_plot(const char *path, const cJSON *rows, bool cost, const char *model, double isl,
                           double osl, sim_err *err);

#endif
