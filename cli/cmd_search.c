/* cmd_search.c: `moesim search` (configuration search, search/search.h): arguments in,
 * the space built by cli/search_request.c, table / JSON / CSV / plots out through
 * report/search_report.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/progress.h"
#include "cli/cli_args.h"
#include "cli/commands.h"
#include "cli/request.h"
#include "cli/search_request.h"
#include "report/search_report.h"
#include "report/serve_report.h"

static void search_usage(FILE *f)
{
    fprintf(f, "usage: moesim search --model M --hw H[,H2...] [--max-gpus N] [options]\n"
               "  frontier (default): the Pareto frontier of output tokens/s per GPU against tokens/s per user,\n"
               "      one per hardware, over splits (TP x EP x PP x DP), precisions, token caps, concurrency\n"
               "  --goal cheapest --rate R --slo-ttft-s T --slo-tpot-s P: the cheapest configuration whose\n"
               "      steady state meets the SLO at R requests/s, confirmed at p99 by simulating requests\n"
               "search space:\n"
               "  --hw LIST                hardware to compare, comma-separated\n"
               "  --max-gpus N, --min-gpus N  device counts tried: powers of two in range and N (default 1..8)\n"
               "  --precision LIST         weight formats, comma-separated; 'native' is the checkpoint's own,\n"
               "                           tensor class by tensor class (default: native)\n"
               "  --max-batched-tokens LIST   per-iteration token caps\n"
               "  --concurrency-per-gpu LIST  frontier points (default 1,2,4,...,256)\n"
               "  --disagg                 also split the budget into prefill and decode pools\n"
               "  --xpyd                   with --disagg: also x prefill beside y decode instances (x:1 or 1:y, powers of\n"
               "                           two up to 8) within the GPU budget\n"
               "  --limit N                refuse spaces of more evaluations (default 20000) unless --force\n"
               "  --confirm N              cheapest: candidates simulated, cheapest first (default 3)\n"
               "output: --json, --csv FILE, --plot FILE.png|.svg (frontier), --cost-plot FILE.png|.svg\n"
               "other options as in moesim serve (isl, osl, kv-precision, usd-per-gpu-hour, requests, ...):\n");
    sim_cli_option_help(f);
}

static int search_fail(int code, const char *msg)
{
    char m[1200];
    snprintf(m, sizeof m, "search: %s", msg);
    return cmd_fail(code, m);
}

/* --hw, --precision and --max-batched-tokens take lists here; the first value also goes
 * into the request so it loads. */
static int search_lists(sim_request *r, cli_search_opts *o, const char *hw, const char *prec, const char *mbt,
                        const char *conc, sim_err *err)
{
    int rc = SIM_OK;
    if (hw && !(rc = cli_search_parse_list(hw, "hw", o, err)))
        snprintf(r->hw, sizeof r->hw, "%s", o->hw[0]);
    if (!rc && prec && !(rc = cli_search_parse_list(prec, "precisions", o, err)) &&
        !cli_precision_is_native(o->precisions[0])) /* native: the request's default already */
        snprintf(r->precision, sizeof r->precision, "%s", o->precisions[0]);
    if (!rc && mbt && !(rc = cli_search_parse_list(mbt, "mbt", o, err)))
        r->max_batched_tokens = o->mbt[0];
    if (!rc && conc)
        rc = cli_search_parse_list(conc, "concurrency_per_gpu", o, err);
    return rc;
}

static int int_arg(const char *v, const char *name, long lo, long hi, long *out, sim_err *err)
{
    char *end;
    long x = strtol(v, &end, 10);
    if (*v == '\0' || *end || x < lo || x > hi)
        return sim_fail(err, SIM_EINPUT, "option '%s' must be an integer in [%ld, %ld] (got '%s')", name, lo, hi, v);
    *out = x;
    return SIM_OK;
}

int cmd_search(int argc, char **argv)
{
    sim_request r;
    sim_request_defaults(&r);
    cli_search_opts o;
    cli_search_defaults(&o);
    const char *hw = NULL, *prec = NULL, *mbt = NULL, *conc = NULL, *goal = NULL, *maxg = NULL, *ming = NULL;
    const char *limit = NULL, *nconfirm = NULL, *csv = NULL, *plot = NULL, *cplot = NULL;
    bool json = false;
    const sim_cli_flag x[] = {
        { "--hw", &hw, NULL },           { "--precision", &prec, NULL },  { "--max-batched-tokens", &mbt, NULL },
        { "--concurrency-per-gpu", &conc, NULL }, { "--goal", &goal, NULL }, { "--max-gpus", &maxg, NULL },
        { "--min-gpus", &ming, NULL },   { "--limit", &limit, NULL },     { "--confirm", &nconfirm, NULL },
        { "--disagg", NULL, &o.disagg }, { "--force", NULL, &o.force },   { "--json", NULL, &json },
        { "--xpyd", NULL, &o.xpyd },
        { "--csv", &csv, NULL },         { "--plot", &plot, NULL },       { "--cost-plot", &cplot, NULL },
    };
    int rc = sim_cli_parse("search", argc, argv, &r, x, (int)(sizeof x / sizeof x[0]));
    if (rc == 1) {
        search_usage(stdout);
        return 0;
    }
    if (rc)
        return rc;
    sim_err err = { 0 };
    long v;
    if ((maxg && int_arg(maxg, "max-gpus", 1, 4096, &v, &err)) || (maxg && (o.max_gpus = (int)v, 0)) ||
        (ming && int_arg(ming, "min-gpus", 1, 4096, &v, &err)) || (ming && (o.min_gpus = (int)v, 0)) ||
        (limit && int_arg(limit, "limit", 1, 100000000, &v, &err)) || (limit && (o.limit = v, 0)) ||
        (nconfirm && int_arg(nconfirm, "confirm", 0, 100, &v, &err)) || (nconfirm && (o.confirm = (int)v, 0)) ||
        search_lists(&r, &o, hw, prec, mbt, conc, &err))
        return search_fail(err.code, err.msg);
    bool frontier;
    if (!goal)
        frontier = !(cli_search_has_rate(&r) && (r.slo_ttft_s > 0 || r.slo_tpot_s > 0));
    else if (strcmp(goal, "frontier") == 0 || strcmp(goal, "cheapest") == 0)
        frontier = strcmp(goal, "frontier") == 0;
    else
        return search_fail(SIM_EINPUT, "option '--goal' must be frontier or cheapest");
    sim_progress progress = { "moesim search: %d%% of the space evaluated", -1 };
    if (!json) {
        o.progress = sim_progress_tenths;
        o.progress_ctx = &progress;
    }
    sim_search_result res;
    sim_session *session = sim_session_alloc();
    if (!session)
        return search_fail(SIM_EFAIL, "out of memory");
    rc = cli_search_run(session, &r, &o, frontier, &res, &err);
    if (rc) {
        sim_session_free(session);
        return search_fail(err.code, err.msg);
    }
    cJSON *rows = sim_search_report_rows(&res);
    int out = rows ? 0 : (sim_fail(&err, SIM_EFAIL, "out of memory"), 1);
    if (!out && csv && sim_serve_report_rows_csv(csv, rows, &err))
        out = 1;
    if (!out && plot && cJSON_GetArraySize(rows) > 0 &&
        sim_search_report_plot(plot, rows, false, r.model, r.isl, r.osl, &err))
        out = 1;
    if (!out && cplot && cJSON_GetArraySize(rows) > 0 &&
        sim_search_report_plot(cplot, rows, true, r.model, r.isl, r.osl, &err))
        out = 1;
    cJSON_Delete(rows);
    if (json) {
        cJSON *j = sim_search_report_json(&res);
        if (!out && j && cli_search_extras(session, &r, &o, j, NULL, &err))
            out = 1;
        char *text = j ? cJSON_Print(j) : NULL;
        if (text)
            puts(text);
        free(text);
        cJSON_Delete(j);
    } else {
        sim_search_report_print(stdout, &res);
        if (!out && cli_search_extras(session, &r, &o, NULL, stdout, &err))
            out = 1;
    }
    bool met = frontier || res.met;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", res.message);
    sim_search_result_free(&res);
    sim_session_free(session);
    if (out)
        return search_fail(err.code, err.msg);
    if (!met)
        return search_fail(SIM_EINPUT, msg);
    return 0;
}
