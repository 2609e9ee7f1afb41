/* cmd_serve.c: `moesim serve` (discrete-event serving simulation, des.h) and `moesim search`
 * (configuration search, search.h): arguments in, table / JSON / CSV / plots out.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli/cli_args.h"
#include "cli/commands.h"
#include "serve/des.h"
#include "base/jsonfile.h"
#include "report/plot.h"
#include "base/progress.h"
#include "report/report.h"
#include "cli/request.h"
#include "search/search.h"
#include "serve/serving.h"

/* ------------------------------------------------------------------ output */


static void print_pct_row(FILE *f, const cJSON *j, const char *label, const char *key, double scale)
{
    static const char *const tag[] = { "mean", "p50", "p90", "p99", "max" };
    fprintf(f, "  %-10s", label);
    for (int i = 0; i < 5; i++) {
        char k[64], v[32];
        snprintf(k, sizeof k, "%s_%s_s", key, tag[i]);
        sim_format_number(v, sizeof v, jf_get_num(j, k) * scale);
        fprintf(f, " %10s", v);
    }
    fputc('\n', f);
}

static void print_serve(FILE *f, const cJSON *j)
{
    const cJSON *pool = cJSON_GetObjectItemCaseSensitive(j, "prefill_pool"); /* only when disaggregated */
    const char *pre = cJSON_IsString(pool) ? pool->valuestring : "";
    if (pre[0])
        fprintf(f, "%s: prefill pool %s; decode pool %s\n", jf_get_str(j, "model"), pre, jf_get_str(j, "decode_pool"));
    else
        fprintf(f, "%s on %s\n", jf_get_str(j, "model"), jf_get_str(j, "deployment"));
    fprintf(f, "%s arrivals, %.0f requests at %.4g req/s offered, simulated %.4g s\n", jf_get_str(j, "arrival"),
            jf_get_num(j, "requests"), jf_get_num(j, "offered_rate_rps"), jf_get_num(j, "duration_s"));
    fprintf(f, "  %-10s %10s %10s %10s %10s %10s\n", "latency", "mean", "p50", "p90", "p99", "max");
    print_pct_row(f, j, "TTFT s", "ttft", 1);
    print_pct_row(f, j, "TPOT ms", "tpot", 1e3);
    print_pct_row(f, j, "E2E s", "e2e", 1);
    print_pct_row(f, j, "queue s", "queue", 1);
    fprintf(f, "throughput: %.1f output tok/s (%.1f per GPU), %.1f input tok/s; %.1f tok/s per user\n",
            jf_get_num(j, "output_tokens_per_s"), jf_get_num(j, "output_tokens_per_s_per_gpu"), jf_get_num(j, "input_tokens_per_s"),
            jf_get_num(j, "output_tokens_per_s_per_user"));
    if (jf_get_num(j, "slo_ttft_s") > 0 || jf_get_num(j, "slo_tpot_s") > 0)
        fprintf(f, "goodput: %.4g req/s, %.1f output tok/s; %.1f%% of requests meet TTFT <= %g s and TPOT <= %g s\n",
                jf_get_num(j, "goodput_requests_per_s"), jf_get_num(j, "goodput_tokens_per_s"), 100 * jf_get_num(j, "slo_attainment"),
                jf_get_num(j, "slo_ttft_s"), jf_get_num(j, "slo_tpot_s"));
    fprintf(f, "utilization %.1f%%", 100 * jf_get_num(j, "utilization"));
    if (pre[0])
        fprintf(f, " (prefill pool %.1f%%)", 100 * jf_get_num(j, "prefill_utilization"));
    fprintf(f, ", mean decode batch %.1f per rank, waiting %.2f mean / %.0f max, KV peak %.1f%% of %.0f blocks per "
               "rank, %.0f preemptions\n",
            jf_get_num(j, "mean_batch_per_rank"), jf_get_num(j, "mean_waiting"), jf_get_num(j, "max_waiting"),
            100 * jf_get_num(j, "kv_peak_share"), jf_get_num(j, "kv_blocks_per_rank"), jf_get_num(j, "preemptions"));
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(j, "little");
    fprintf(f, "Little's law: L = %.4g in system, lambda x W = %.4g x %.4g s = %.4g\n", jf_get_num(l, "L"),
            jf_get_num(l, "lambda"), jf_get_num(l, "W_s"), jf_get_num(l, "lambda") * jf_get_num(l, "W_s"));
    fprintf(f, "cost (%s, $%.2f/h): $%.4g per M output tokens, $%.4g per M tokens blended\n", jf_get_str(j, "cost_mode"),
            jf_get_num(j, "usd_per_hour"), jf_get_num(j, "usd_per_mtok_output"), jf_get_num(j, "usd_per_mtok_blended"));
    fprintf(f, "step model: %.0f calls for %.0f iterations (shapes memoized)\n", jf_get_num(j, "step_model_calls"),
            jf_get_num(j, "iterations"));
    if (cJSON_GetObjectItemCaseSensitive(j, "lengths_clipped") && jf_get_num(j, "lengths_clipped") > 0)
        fprintf(f, "note: %.0f drawn lengths were clipped to 16x the mean or the model's context\n",
                jf_get_num(j, "lengths_clipped"));
    fprintf(f, "%s\n", cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "sustainable"))
                           ? "the offered rate is sustainable"
                           : jf_get_str(j, "note"));
}

/* Scalar fields of an object as one CSV row with a header. */
static int write_summary_csv(const char *path, const cJSON *j, sim_err *err)
{
    cJSON *rows = cJSON_CreateArray(), *row = cJSON_CreateObject();
    const char *cols[64];
    int n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, j)
    {
        if (cJSON_IsObject(it) || cJSON_IsArray(it) || n == 64)
            continue;
        cJSON_AddItemToObject(row, it->string, cJSON_Duplicate(it, false));
        cols[n++] = it->string;
    }
    cJSON_AddItemToArray(rows, row);
    char *csv = sim_table_csv(rows, cols, n);
    cJSON_Delete(rows);
    if (!csv)
        return sim_fail(err, SIM_EFAIL, "out of memory writing %s", path);
    int rc = jf_write_atomic(path, csv, err);
    free(csv);
    return rc;
}

static int write_rows_csv(const char *path, const cJSON *rows, sim_err *err)
{
    char *csv = sim_table_csv(rows, NULL, 0);
    if (!csv)
        return sim_fail(err, SIM_EFAIL, "out of memory writing %s", path);
    int rc = jf_write_atomic(path, csv, err);
    free(csv);
    return rc;
}

/* Per-request records at full precision (the table writer keeps 4 digits). */
static int write_records_csv(const char *path, const sim_des_result *r, sim_err *err)
{
    size_t cap = 96 * (size_t)r->requests + 128, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        return sim_fail(err, SIM_EFAIL, "out of memory writing %s", path);
    len += (size_t)snprintf(buf, cap, "request,arrival_s,isl,osl,ttft_s,tpot_s,e2e_s,preemptions,rank\n");
    for (long i = 0; i < r->requests && len < cap; i++) {
        const sim_des_record *q = &r->records[i];
        len += (size_t)snprintf(buf + len, cap - len, "%ld,%.9g,%d,%d,%.6g,%.6g,%.6g,%d,%d\n", i + 1, q->arrival_s,
                                q->isl, q->osl, q->ttft_s, q->tpot_s, q->e2e_s, q->preemptions, q->rank);
    }
    int rc = len < cap ? jf_write_atomic(path, buf, err) : sim_fail(err, SIM_EFAIL, "%s: record buffer overflow", path);
    free(buf);
    return rc;
}

static int plot_cdf(const char *path, const sim_des_result *r, sim_err *err)
{
    cJSON *rows = sim_des_cdf_rows(r, 200);
    if (!rows)
        return sim_fail(err, SIM_EFAIL, "out of memory building the CDF");
    /* TTFT (seconds) and TPOT (milliseconds) are orders of magnitude apart: log x. */
    sim_plot_opts po = { .x = "latency_s", .y = "share", .by = "metric", .file = path,
                         .title = "Latency CDF (share of requests at or below a latency)",
                         .xlabel = "latency (s, log scale)", .ylabel = "share of requests (CDF, 0-1)",
                         .logx = true, .lines = true };
    int rc = sim_plot(rows, &po, err);
    cJSON_Delete(rows);
    return rc;
}

static void serve_usage(FILE *f)
{
    fprintf(f, "usage: moesim serve --model M --hw H [split options] --rate R [--requests N] [options]\n"
               "       moesim serve --model M --hw H ... --trace FILE.csv\n"
               "Simulates requests arriving at a deployment, one engine iteration at a time, and reports\n"
               "TTFT / TPOT / end-to-end percentiles, throughput, goodput under an SLO and utilization.\n"
               "output:\n"
               "  --json                   the full result (with the timeline) as JSON on stdout\n"
               "  --csv FILE               the summary as one CSV row\n"
               "  --requests-csv FILE      one CSV row per request\n"
               "  --timeline-csv FILE      requests in system, waiting, running, busy share, KV use over time\n"
               "  --plot FILE.png|.svg     latency CDFs (TTFT, TPOT, end-to-end)\n"
               "options (also fields of moesim.serve{} in Lua):\n");
    sim_cli_option_help(f);
}

int cmd_serve(int argc, char **argv)
{
    sim_request r;
    sim_request_defaults(&r);
    const char *csv = NULL, *req_csv = NULL, *tl_csv = NULL, *plot = NULL;
    bool json = false;
    const sim_cli_flag x[] = {
        { "--json", NULL, &json },         { "--csv", &csv, NULL },          { "--requests-csv", &req_csv, NULL },
        { "--timeline-csv", &tl_csv, NULL }, { "--plot", &plot, NULL },
    };
    int rc = sim_cli_parse("serve", argc, argv, &r, x, (int)(sizeof x / sizeof x[0]));
    if (rc == 1) {
        serve_usage(stdout);
        return 0;
    }
    if (rc)
        return rc;
    sim_err err = { 0 };
    cJSON *rep = NULL;
    sim_des_result res;
    bool keep = req_csv || plot;
    sim_session *session = sim_session_alloc();
    if (!session)
        return cmd_fail(SIM_EFAIL, "serve: out of memory");
    if (sim_des_request_run(session, &r, keep, true, &rep, &res, &err)) {
        sim_session_free(session);
        char msg[1100];
        snprintf(msg, sizeof msg, "serve: %s", err.msg);
        return cmd_fail(err.code, msg);
    }
    rc = 0;
    if (csv && write_summary_csv(csv, rep, &err))
        rc = 1;
    if (!rc && req_csv && write_records_csv(req_csv, &res, &err))
        rc = 1;
    if (!rc && tl_csv && write_rows_csv(tl_csv, cJSON_GetObjectItemCaseSensitive(rep, "timeline"), &err))
        rc = 1;
    if (!rc && plot && plot_cdf(plot, &res, &err))
        rc = 1;
    if (json) {
        char *text = cJSON_Print(rep);
        if (text)
            puts(text);
        free(text);
    } else {
        print_serve(stdout, rep);
    }
    cJSON_Delete(rep);
    sim_des_result_free(&res);
    sim_session_free(session);
    if (rc) {
        char msg[1100];
        snprintf(msg, sizeof msg, "serve: %s", err.msg);
        return cmd_fail(err.code, msg);
    }
    return 0;
}

/* ------------------------------------------------------------------ moesim search */

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
               "  --precision LIST         weight formats, comma-separated (default: the model's native)\n"
               "  --max-batched-tokens LIST   per-iteration token caps\n"
               "  --concurrency-per-gpu LIST  frontier points (default 1,2,4,...,256)\n"
               "  --disagg                 also split the budget into prefill and decode pools\n"
               "  --limit N                refuse spaces of more evaluations (default 20000) unless --force\n"
               "  --confirm N              cheapest: candidates simulated, cheapest first (default 3)\n"
               "output: --json, --csv FILE, --plot FILE.png|.svg (frontier), --cost-plot FILE.png|.svg\n"
               "other options as in moesim serve (isl, osl, kv-precision, usd-per-gpu-hour, requests, ...):\n");
    sim_cli_option_help(f);
}


static int search_plot(const char *path, const cJSON *rows, bool cost, const sim_request *r, sim_err *err)
{
    char title[256];
    snprintf(title, sizeof title, "%s, isl %g / osl %g: %s", r->model, r->isl, r->osl,
             cost ? "cost against interactivity (Pareto configurations)" : "throughput against interactivity (Pareto)");
    sim_plot_opts po = { .x = "output_tokens_per_s_per_user", .y = cost ? "usd_per_mtok_output" : "output_tokens_per_s_per_gpu",
                         .by = "hw", .file = path, .title = title,
                         .xlabel = "interactivity (output tokens/s per user)",
                         .ylabel = cost ? "US$ per million output tokens (log scale)" : "output tokens/s per GPU",
                         .logy = cost, .lines = true };
    return sim_plot(rows, &po, err);
}

static int search_fail(int code, const char *msg)
{
    char m[1200];
    snprintf(m, sizeof m, "search: %s", msg);
    return cmd_fail(code, m);
}

static void print_search(FILE *f, const cJSON *j, bool frontier)
{
    static const char *const cols[] = { "hw", "gpus", "split", "precision", "max_batched_tokens", "concurrency",
                                        "output_tokens_per_s_per_user", "output_tokens_per_s_per_gpu",
                                        "usd_per_mtok_output", "ttft_s", "tpot_s" };
    fprintf(f, "%.0f configurations evaluated (%.0f splits rejected by the deployment checks, %.0f do not fit in memory)\n",
            jf_get_num(j, "configurations"), jf_get_num(j, "skipped_invalid"), jf_get_num(j, "skipped_no_fit"));
    if (frontier) {
        const cJSON *rows = cJSON_GetObjectItemCaseSensitive(j, "frontier");
        fprintf(f, "%.0f points; Pareto frontier (%d points):\n", jf_get_num(j, "points"), cJSON_GetArraySize(rows));
        sim_table_print(f, rows, cols, 11);
        return;
    }
    fprintf(f, "%.0f meet the SLO in steady state at %g req/s\n%s\n", jf_get_num(j, "steady_state_feasible"),
            jf_get_num(j, "rate"), jf_get_str(j, "message"));
    fprintf(f, "cheapest candidates (steady state at the concurrency that carries the rate):\n");
    sim_table_print(f, cJSON_GetObjectItemCaseSensitive(j, "ranked"), cols, 11);
}

/* --hw, --precision and --max-batched-tokens take lists here; the first value also goes
 * into the request so it loads. */
static int search_lists(sim_request *r, sim_search_opts *o, const char *hw, const char *prec, const char *mbt,
                        const char *conc, sim_err *err)
{
    int rc = SIM_OK;
    if (hw && !(rc = sim_search_parse_list(hw, "hw", o, err)))
        snprintf(r->hw, sizeof r->hw, "%s", o->hw[0]);
    if (!rc && prec && !(rc = sim_search_parse_list(prec, "precisions", o, err)))
        snprintf(r->precision, sizeof r->precision, "%s", o->precisions[0]);
    if (!rc && mbt && !(rc = sim_search_parse_list(mbt, "mbt", o, err)))
        r->max_batched_tokens = o->mbt[0];
    if (!rc && conc)
        rc = sim_search_parse_list(conc, "concurrency_per_gpu", o, err);
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
    sim_search_opts o;
    sim_search_defaults(&o);
    const char *hw = NULL, *prec = NULL, *mbt = NULL, *conc = NULL, *goal = NULL, *maxg = NULL, *ming = NULL;
    const char *limit = NULL, *nconfirm = NULL, *csv = NULL, *plot = NULL, *cplot = NULL;
    bool json = false;
    const sim_cli_flag x[] = {
        { "--hw", &hw, NULL },           { "--precision", &prec, NULL },  { "--max-batched-tokens", &mbt, NULL },
        { "--concurrency-per-gpu", &conc, NULL }, { "--goal", &goal, NULL }, { "--max-gpus", &maxg, NULL },
        { "--min-gpus", &ming, NULL },   { "--limit", &limit, NULL },     { "--confirm", &nconfirm, NULL },
        { "--disagg", NULL, &o.disagg }, { "--force", NULL, &o.force },   { "--json", NULL, &json },
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
        frontier = !(r.rate > 0 && (r.slo_ttft_s > 0 || r.slo_tpot_s > 0));
    else if (strcmp(goal, "frontier") == 0 || strcmp(goal, "cheapest") == 0)
        frontier = strcmp(goal, "frontier") == 0;
    else
        return search_fail(SIM_EINPUT, "option '--goal' must be frontier or cheapest");
    sim_progress progress = { "moesim search: %d%% of the space evaluated", -1 };
    if (!json) {
        o.progress = sim_progress_tenths;
        o.progress_ctx = &progress;
    }
    cJSON *res = NULL;
    sim_session *session = sim_session_alloc();
    if (!session)
        return search_fail(SIM_EFAIL, "out of memory");
    rc = frontier ? sim_search_frontier(session, &r, &o, &res, &err) : sim_search_cheapest(session, &r, &o, &res, &err);
    sim_session_free(session);
    if (rc)
        return search_fail(err.code, err.msg);
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(res, frontier ? "frontier" : "ranked");
    int out = 0;
    if (csv && write_rows_csv(csv, rows, &err))
        out = 1;
    if (!out && plot && cJSON_GetArraySize(rows) > 0 && search_plot(plot, rows, false, &r, &err))
        out = 1;
    if (!out && cplot && cJSON_GetArraySize(rows) > 0 && search_plot(cplot, rows, true, &r, &err))
        out = 1;
    if (json) {
        char *text = cJSON_Print(res);
        if (text)
            puts(text);
        free(text);
    } else {
        print_search(stdout, res, frontier);
    }
    bool met = frontier || cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "met"));
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", met ? "" : jf_get_str(res, "message"));
    cJSON_Delete(res);
    if (out)
        return search_fail(err.code, err.msg);
    if (!met)
        return search_fail(SIM_EINPUT, msg);
    return 0;
}
