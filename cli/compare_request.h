/* compare_request.h: `moesim compare` and moesim.compare{} from the front ends' side: the
 * systems ("h200", "h200:8", "HGX H200=h200:8"), the MTP depths and the search options
 * turned into one search space per system and depth (search/compare.h), then the
 * comparison. */
#ifndef MOESIM_CLI_COMPARE_REQUEST_H
#define MOESIM_CLI_COMPARE_REQUEST_H

#include <cjson/cJSON.h>

#include "cli/search_request.h"
#include "report/compare_report.h"
#include "search/compare.h"

typedef struct cli_compare_opts {
    char hw[2][64];               /* hardware of system A (the baseline) and B */
    int gpus[2];                  /* devices per system; 0 = the hardware's scale-up domain */
    char name[2][64];             /* as the user called them; "" = "hw x gpus" */
    cli_search_opts search;       /* precisions, token caps, concurrency, disagg, limit */
    bool precisions_given;
    int mtp[SIM_COMPARE_MAX_SPACES]; /* MTP draft depths to search; none = 0 and the card's published depths up to 3 */
    int nmtp;
    double claim;                 /* the ratio the answer checks (default 10) */
} cli_compare_opts;

void cli_compare_defaults(cli_compare_opts *o);

/* Unless precisions were given: "native" (the checkpoint's own formats, class by class) joins
 * the list, when no entry already prices every weight class the way the checkpoint holds it. */
void cli_compare_add_native(sim_session *session, const sim_request *r, cli_compare_opts *o);

/* "A,B" where each is "hw", "hw:gpus" or "name=hw:gpus". Fails naming option 'hw'. */
int cli_compare_parse_systems(const char *text, cli_compare_opts *o, sim_err *err);

/* "0,1,3": MTP draft depths in [0, 16]. Fails naming option 'mtp'. */
int cli_compare_parse_mtp(const char *text, cli_compare_opts *o, sim_err *err);

/* Build the spaces, compare, and fill the context the report prints (its strings live in
 * `ctx_text`, which must outlive ctx). The caller frees out with sim_compare_result_free. */
typedef struct cli_compare_text {
    char precisions[256], mtp[1024], name[2][128];
} cli_compare_text;

int cli_compare_run(sim_session *session, const sim_request *r, const cli_compare_opts *o, sim_compare_result *out,
                    sim_compare_context *ctx, cli_compare_text *ctx_text, sim_err *err);

/* The same, as the report's JSON (moesim.compare{}). */
int cli_compare_json(sim_session *session, const sim_request *r, const cli_compare_opts *o, cJSON **result,
                     sim_err *err);

#endif
