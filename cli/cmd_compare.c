/* cmd_compare.c: `moesim compare --model M --hw A,B`: two systems' Pareto frontiers over
 * their layouts and the ratios at matched interactivity (search/compare.h), built by
 * cli/compare_request.c, printed by report/compare_report.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_args.h"
#include "cli/commands.h"
#include "cli/compare_request.h"
#include "cli/request.h"

static void compare_usage(FILE *f)
{
    fprintf(f, "usage: moesim compare --model M --hw A,B [options]\n"
               "  For each system, the Pareto frontier of output tokens/s per GPU against tokens/s per user over its\n"
               "  layouts (TP x EP x DP, aggregated or disaggregated, the precisions it supports, MTP), then the ratios\n"
               "  B / A of tokens/s per GPU, $ per million output tokens and joules per output token at matched\n"
               "  tokens/s per user, the layout used on each side at every level, and a one-paragraph answer.\n"
               "  --hw A,B                 two systems, each hw, hw:gpus or name=hw:gpus; gpus defaults to the\n"
               "                           hardware's scale-up domain (h200: 8, one HGX node; gb200-nvl72: 72, the rack)\n"
               "  --precision LIST         weight formats, or native: the checkpoint's own, tensor class by tensor\n"
               "                           class (default: fp8,nvfp4,native; each system searches those its\n"
               "                           device supports)\n"
               "  --mtp LIST               MTP draft depths (default: 0 and the model card's published depths up to 3)\n"
               "  --claim R                the ratio the answer checks (default 10)\n"
               "  --no-disagg              aggregated serving only (default: also prefill/decode pools)\n"
               "  --concurrency-per-gpu LIST, --max-batched-tokens LIST, --limit N, --force  as in moesim search\n"
               "output: --json, --plot FILE.png|.svg (frontiers, layout labels), --cost-plot FILE,\n"
               "        --ratio-plot FILE (B / A against tokens/s per user)\n"
               "other options as in moesim serve (isl, osl, kv-precision, usd-per-gpu-hour, ...):\n");
    sim_cli_option_help(f);
}

static int compare_fail(int code, const char *msg)
{
    char m[1200];
    snprintf(m, sizeof m, "compare: %s", msg);
    return cmd_fail(code, m);
}

/* The list and number options; precision's first value also goes into the request. */
static int compare_opts(sim_request *r, cli_compare_opts *o, const char *const v[7], sim_err *err)
{
    const char *hw = v[0], *prec = v[1], *mtp = v[2], *claim = v[3], *conc = v[4], *mbt = v[5], *limit = v[6];
    int rc = SIM_OK;
    if (!hw)
        return sim_fail(err, SIM_EINPUT, "option '--hw' is required: two systems, A,B (e.g. h200,gb200-nvl72)");
    if ((rc = cli_compare_parse_systems(hw, o, err)))
        return rc;
    if ((rc = cli_search_parse_list(prec ? prec : "fp8,nvfp4", "precisions", &o->search, err)))
        return prec ? sim_fail(err, SIM_EINPUT, "option '--precision': %s", err->msg) : rc;
    if (!cli_precision_is_native(o->search.precisions[0])) /* native: the request's default already */
        snprintf(r->precision, sizeof r->precision, "%s", o->search.precisions[0]);
    o->precisions_given = prec != NULL;
    if (mtp && (rc = cli_compare_parse_mtp(mtp, o, err)))
        return rc;
    if (claim) {
        char *end;
        o->claim = strtod(claim, &end);
        if (!*claim || *end || !(o->claim > 0) || o->claim > 1e6)
            return sim_fail(err, SIM_EINPUT, "option '--claim' must be a positive ratio (got '%s')", claim);
    }
    if (conc && (rc = cli_search_parse_list(conc, "concurrency_per_gpu", &o->search, err)))
        return sim_fail(err, SIM_EINPUT, "option '--concurrency-per-gpu': %s", err->msg);
    if (mbt && (rc = cli_search_parse_list(mbt, "mbt", &o->search, err)))
        return sim_fail(err, SIM_EINPUT, "option '--max-batched-tokens': %s", err->msg);
    if (mbt)
        r->max_batched_tokens = o->search.mbt[0];
    if (limit) {
        char *end;
        long x = strtol(limit, &end, 10);
        if (!*limit || *end || x < 1 || x > 100000000)
            return sim_fail(err, SIM_EINPUT, "option '--limit' must be an integer in [1, 100000000] (got '%s')", limit);
        o->search.limit = x;
    }
    return SIM_OK;
}

static int outputs(const sim_compare_result *res, const sim_compare_context *ctx, const char *plot,
                   const char *cplot, const char *rplot, bool json, sim_err *err)
{
    if (plot && sim_compare_report_plot(plot, res, ctx, "throughput", err))
        return 1;
    if (cplot && sim_compare_report_plot(cplot, res, ctx, "cost", err))
        return 1;
    if (rplot && sim_compare_report_ratio_plot(rplot, res, ctx, err))
        return 1;
    if (json) {
        cJSON *j = sim_compare_report_json(res, ctx);
        char *text = j ? cJSON_Print(j) : NULL;
        if (!text) {
            cJSON_Delete(j);
            return sim_fail(err, SIM_EFAIL, "out of memory"), 1;
        }
        puts(text);
        free(text);
        cJSON_Delete(j);
    } else {
        sim_compare_report_print(stdout, res, ctx);
    }
    return 0;
}

int cmd_compare(int argc, char **argv)
{
    sim_request r;
    sim_request_defaults(&r);
    cli_compare_opts o;
    cli_compare_defaults(&o);
    const char *v[7] = { 0 }, *plot = NULL, *cplot = NULL, *rplot = NULL;
    bool json = false, no_disagg = false;
    const sim_cli_flag x[] = {
        { "--hw", &v[0], NULL },          { "--precision", &v[1], NULL },    { "--mtp", &v[2], NULL },
        { "--claim", &v[3], NULL },       { "--concurrency-per-gpu", &v[4], NULL },
        { "--max-batched-tokens", &v[5], NULL }, { "--limit", &v[6], NULL }, { "--force", NULL, &o.search.force },
        { "--no-disagg", NULL, &no_disagg }, { "--json", NULL, &json },     { "--plot", &plot, NULL },
        { "--cost-plot", &cplot, NULL },  { "--ratio-plot", &rplot, NULL },
    };
    int rc = sim_cli_parse("compare", argc, argv, &r, x, (int)(sizeof x / sizeof x[0]));
    if (rc == 1) {
        compare_usage(stdout);
        return 0;
    }
    if (rc)
        return rc;
    sim_err err = { 0 };
    if (compare_opts(&r, &o, v, &err))
        return compare_fail(err.code, err.msg);
    o.search.disagg = !no_disagg;
    sim_session *session = sim_session_alloc();
    if (!session)
        return compare_fail(SIM_EFAIL, "out of memory");
    cli_compare_add_native(session, &r, &o);
    sim_compare_result res;
    sim_compare_context ctx;
    cli_compare_text t;
    if ((rc = cli_compare_run(session, &r, &o, &res, &ctx, &t, &err))) {
        sim_session_free(session);
        return compare_fail(err.code, err.msg);
    }
    int out = outputs(&res, &ctx, plot, cplot, rplot, json, &err);
    sim_compare_result_free(&res);
    sim_session_free(session);
    return out ? compare_fail(err.code, err.msg) : 0;
}
