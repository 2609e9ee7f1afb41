/* search_request.h: from the shared option table (request.h) and the search's own list
 * options ("--hw h100-sxm,h200", "--precision fp8,nvfp4", ...) to a search space
 * (search/search.h): the model and hardware loaded through the session, precisions parsed,
 * the template deployment and the serving, simulation and workload options; then the
 * search, and its result as JSON for Lua. */
#ifndef MOESIM_CLI_SEARCH_REQUEST_H
#define MOESIM_CLI_SEARCH_REQUEST_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "cli/request.h"
#include "cli/session.h"
#include "search/search.h"

/* The search options as the command line and Lua give them: names and numbers in lists. */
typedef struct cli_search_opts {
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
    bool xpyd;                                  /* and propose x prefill : y decode instances (implies disagg) */
    long limit;                                 /* refuse a larger space unless force (default 20,000) */
    bool force;
    int confirm;                                /* cheapest: candidates the DES checks, best first (default 3) */
    void (*progress)(void *ctx, double share);
    void *progress_ctx;
} cli_search_opts;

void cli_search_defaults(cli_search_opts *o);

/* "native" in a precision list: the checkpoint's own formats, tensor class by tensor class. */
bool cli_precision_is_native(const char *name);

/* Parse a comma-separated list ("fp8,nvfp4", "4096,8192") into the field `what` names:
 * "hw", "precisions", "mbt" or "concurrency_per_gpu". */
int cli_search_parse_list(const char *text, const char *what, cli_search_opts *o, sim_err *err);

/* The space a request and the options describe; the model and hardware are loaded through
 * `session` and stay valid while it lives. `frontier` false: the cheapest question, whose
 * goal (rate, SLO) is checked first and whose confirm-step workload is built too. */
int cli_search_space(sim_session *session, const sim_request *r, const cli_search_opts *o, bool frontier,
                     sim_search_space *space, sim_err *err);

/* Build the space and search. The caller frees the result with sim_search_result_free. */
int cli_search_run(sim_session *session, const sim_request *r, const cli_search_opts *o, bool frontier,
                   sim_search_result *res, sim_err *err);

/* The same, with the result as JSON (report/search_report.h); the caller frees it with
 * cJSON_Delete. */
int cli_search_frontier(sim_session *session, const sim_request *r, const cli_search_opts *o, cJSON **result,
                        sim_err *err);
int cli_search_cheapest(sim_session *session, const sim_request *r, const cli_search_opts *o, cJSON **result,
                        sim_err *err);

/* The request asks for a rate to carry: rate, requests_per_day or requests_per_hour. */
bool cli_search_has_rate(const sim_request *r);

/* What a search's costs rest on: the price of each hardware when --price is given, and with
 * a daily traffic the hosted APIs that offer the model priced for it; added to `j` (keys
 * "prices", "hosted_api") when not NULL and printed to `f` when not NULL. */
int cli_search_extras(sim_session *session, const sim_request *r, const cli_search_opts *o, cJSON *j, FILE *f,
                      sim_err *err);

#endif
