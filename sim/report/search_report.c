/* search_report.c: search results as JSON (the keys `moesim search --json` and
 * moesim.search{} have always had), the text report, and the frontier/cost plots. */
#include "report/search_report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/jsonfile.h"
#include "report/plot.h"
#include "report/report.h"

static cJSON *row_json(const sim_search_row *r)
{
    cJSON *row = cJSON_CreateObject();
    if (!row)
        return NULL;
    cJSON_AddStringToObject(row, "hw", r->hw->name);
    cJSON_AddNumberToObject(row, "gpus", r->gpus);
    cJSON_AddStringToObject(row, "split", r->split);
    cJSON_AddNumberToObject(row, "tp", r->tp);
    cJSON_AddNumberToObject(row, "ep", r->ep);
    cJSON_AddNumberToObject(row, "pp", r->pp);
    cJSON_AddNumberToObject(row, "dp", r->dp);
    cJSON_AddNumberToObject(row, "prefill_gpus", r->prefill_gpus);
    if (r->prefill_instances * r->decode_instances > 1) {
        cJSON_AddNumberToObject(row, "prefill_instances", r->prefill_instances);
        cJSON_AddNumberToObject(row, "decode_instances", r->decode_instances);
    }
    if (r->emulated) {
        char name[48];
        snprintf(name, sizeof name, "%s (emulated)", sim_wformat_name(r->precision));
        cJSON_AddStringToObject(row, "precision", name);
        cJSON_AddBoolToObject(row, "emulated", true);
    } else {
        cJSON_AddStringToObject(row, "precision", sim_wformat_name(r->precision));
    }
    cJSON_AddBoolToObject(row, "native_formats", r->native_formats);
    cJSON_AddNumberToObject(row, "max_batched_tokens", r->max_batched_tokens);
    cJSON_AddNumberToObject(row, "concurrency", r->concurrency);
    cJSON_AddNumberToObject(row, "output_tokens_per_s_per_user", r->output_tps_per_user);
    cJSON_AddNumberToObject(row, "output_tokens_per_s_per_gpu", r->output_tps_per_gpu);
    cJSON_AddNumberToObject(row, "usd_per_mtok_output", r->usd_per_mtok_output);
    cJSON_AddNumberToObject(row, "usd_per_hour", r->usd_per_hour);
    sim_json_add_num(row, "usd_per_month", r->usd_per_month);
    if (isfinite(r->usd_per_mtok_at_load))
        sim_json_add_num(row, "usd_per_mtok_output_at_load", r->usd_per_mtok_at_load);
    if (r->replicas > 0) { /* sized for a daily traffic: null capacity when no concurrency meets the SLO */
        cJSON_AddNumberToObject(row, "replicas", r->replicas);
        cJSON_AddNumberToObject(row, "total_gpus", (double)r->replicas * r->gpus);
        sim_json_add_num(row, "requests_per_s_per_replica_at_slo", r->slo_rps);
        sim_json_add_num(row, "utilization", r->utilization);
    }
    cJSON_AddNumberToObject(row, "ttft_s", r->ttft_s);
    cJSON_AddNumberToObject(row, "tpot_s", r->tpot_s);
    if (r->spec_tokens > 0) { /* as compare's rows: the tokens per user and per GPU above count accepted tokens */
        cJSON_AddNumberToObject(row, "spec_tokens", r->spec_tokens);
        cJSON_AddNumberToObject(row, "spec_accept", r->spec_accept);
    }
    if (r->ranked) {
        cJSON_AddNumberToObject(row, "requests_per_s", r->requests_per_s);
        cJSON_AddNumberToObject(row, "slo_score", r->slo_score);
    }
    if (r->simulated) {
        const sim_search_sim *s = &r->sim;
        cJSON *des = cJSON_AddObjectToObject(row, "simulated");
        cJSON_AddNumberToObject(des, "ttft_p99_s", s->ttft_p99_s);
        cJSON_AddNumberToObject(des, "tpot_p99_s", s->tpot_p99_s);
        cJSON_AddNumberToObject(des, "slo_attainment", s->slo_attainment);
        cJSON_AddBoolToObject(des, "sustainable", s->sustainable);
        cJSON_AddNumberToObject(des, "output_tokens_per_s_per_gpu", s->output_tps_per_gpu);
        cJSON_AddNumberToObject(des, "requests", (double)s->requests);
        cJSON_AddBoolToObject(des, "meets_slo", s->meets_slo);
    }
    return row;
}

/* Rows [0, n) of r as an array, or the rows named by idx when idx is not NULL. */
static cJSON *rows_json(const sim_search_result *r, const long *idx, long n)
{
    cJSON *a = cJSON_CreateArray();
    for (long i = 0; a && i < n; i++)
        cJSON_AddItemToArray(a, row_json(&r->rows[idx ? idx[i] : i]));
    return a;
}

static long ranked_rows(const sim_search_result *r)
{
    return r->nrows < 10 ? r->nrows : 10;
}

cJSON *sim_search_report_rows(const sim_search_result *r)
{
    return rows_json(r, NULL, r->frontier ? r->nrows : ranked_rows(r));
}

static sim_spec_view spec_view(const sim_search_result *r)
{
    return (sim_spec_view){ .draft_tokens = r->spec_tokens, .accepted = r->spec_accept, .draft_model = r->draft_model,
                            .eagle3 = r->eagle3, .source = r->spec_source };
}

cJSON *sim_search_report_json(const sim_search_result *r)
{
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return NULL;
    /* what every candidate's steps carried: the keys of `moesim eval --json` */
    sim_json_add_num(j, "prefix_hit", r->prefix_hit);
    if (r->spec_tokens > 0) {
        cJSON *s = cJSON_AddObjectToObject(j, "speculative");
        sim_spec_view v = spec_view(r);
        sim_report_spec_fields(s, &v);
        cJSON_AddStringToObject(s, "note", SIM_SPEC_NOTE);
    }
    cJSON_AddNumberToObject(j, "space_size", (double)r->space_size);
    cJSON_AddNumberToObject(j, "configurations", (double)r->configs);
    cJSON_AddNumberToObject(j, "skipped_invalid", (double)r->invalid);
    cJSON_AddNumberToObject(j, "skipped_no_fit", (double)r->no_fit);
    cJSON_AddNumberToObject(j, "skipped_unsupported", (double)r->unsupported);
    if (r->frontier) {
        cJSON_AddNumberToObject(j, "points", (double)r->points);
        cJSON_AddItemToObject(j, "frontier", rows_json(r, NULL, r->nrows));
        return j;
    }
    cJSON_AddNumberToObject(j, "rate", r->rate);
    cJSON_AddNumberToObject(j, "slo_ttft_s", r->slo_ttft_s);
    cJSON_AddNumberToObject(j, "slo_tpot_s", r->slo_tpot_s);
    if (r->requests_per_day > 0) {
        sim_json_add_num(j, "requests_per_day", r->requests_per_day);
        sim_json_add_num(j, "peak_factor", r->peak_factor);
    }
    cJSON_AddNumberToObject(j, "steady_state_feasible", (double)r->feasible);
    cJSON_AddItemToObject(j, "confirmed", rows_json(r, r->confirmed, r->nconfirmed));
    cJSON_AddBoolToObject(j, "met", r->met);
    if (r->met && r->best >= 0)
        cJSON_AddItemToObject(j, "best", row_json(&r->rows[r->best]));
    else if (!r->met && r->closest >= 0)
        cJSON_AddItemToObject(j, "closest", row_json(&r->rows[r->closest]));
    cJSON_AddStringToObject(j, "message", r->message);
    cJSON_AddItemToObject(j, "ranked", rows_json(r, NULL, ranked_rows(r)));
    return j;
}

/* The traffic answer in words: why this many replicas, how busy they are, what a month costs. */
static void print_traffic_answer(FILE *f, const sim_search_result *r)
{
    long i = r->met ? r->best : r->closest;
    if (i < 0)
        return;
    const sim_search_row *w = &r->rows[i];
    if (!(w->slo_rps > 0)) {
        fprintf(f, "answer: no concurrency of %s x%d meets the SLO even at one request in flight\n", w->hw->name,
                w->gpus);
        return;
    }
    double mean = r->requests_per_day / 86400;
    int sized = (int)ceil(r->rate / w->slo_rps - 1e-9);
    char added[160] = "";
    if (w->replicas > sized)
        snprintf(added, sizeof added, ", plus %d added until the simulated p99 met the SLO (the sizing uses "
                 "steady-state means)", w->replicas - sized);
    fprintf(f, "answer at %g requests/day: %d replica%s of %s x%d (%d GPU%s in all): one replica carries up to %.4g "
               "req/s within the SLO, the peak is %.4g req/s, so ceil(%.4g / %.4g) = %d%s; over the day they are %.2g%% "
               "utilized (mean %.4g req/s of %.4g); $%.0f/month, $%.3g per M output tokens at this load%s\n",
            r->requests_per_day, w->replicas, w->replicas == 1 ? "" : "s", w->hw->name, w->gpus, w->replicas * w->gpus,
            w->replicas * w->gpus == 1 ? "" : "s",
            w->slo_rps, r->rate, r->rate, w->slo_rps, sized < 1 ? 1 : sized, added, 100 * w->utilization, mean, w->replicas * w->slo_rps,
            w->usd_per_month, w->usd_per_mtok_at_load,
            w->replicas == 1 && w->utilization < 0.1 ? " (one replica is the smallest deployment: at this traffic it "
                                                       "idles most of the day, see the hosted API below)" : "");
}

void sim_search_report_print(FILE *f, const sim_search_result *r)
{
    static const char *const cols[] = { "hw", "gpus", "split", "precision", "max_batched_tokens", "concurrency",
                                        "output_tokens_per_s_per_user", "output_tokens_per_s_per_gpu",
                                        "usd_per_mtok_output", "ttft_s", "tpot_s", "usd_per_month" };
    static const char *const traffic_cols[] = { "hw", "gpus", "split", "precision", "replicas",
                                                "requests_per_s_per_replica_at_slo", "utilization", "concurrency",
                                                "ttft_s", "tpot_s", "usd_per_month", "usd_per_mtok_output_at_load" };
    bool traffic = !r->frontier && r->requests_per_day > 0;
    fprintf(f, "%.0f configurations evaluated (%.0f splits rejected by the deployment checks, %.0f do not fit in memory)\n",
            (double)r->configs, (double)r->invalid, (double)r->no_fit);
    if (r->unsupported > 0)
        fprintf(f, "%.0f candidates skipped: a weight or KV format the hardware does not support (hwmodel 'formats'; "
                   "--emulate to include them)\n",
                (double)r->unsupported);
    if (r->prefix_hit > 0)
        fprintf(f, "prefix cache: %.0f%% of each prompt hit: computed no more, still attended to\n", 100 * r->prefix_hit);
    sim_spec_view v = spec_view(r);
    sim_report_print_spec(f, &v, "; TPOT and tokens/s count accepted tokens");
    cJSON *rows = sim_search_report_rows(r);
    if (r->frontier) {
        fprintf(f, "%.0f points; Pareto frontier (%d points):\n", (double)r->points, cJSON_GetArraySize(rows));
    } else {
        if (traffic)
            fprintf(f, "traffic %g requests/day: the peak %.4g req/s (mean %.4g x %g) must be carried within the SLO; "
                       "each configuration takes replicas = ceil(peak / what one replica carries within the SLO), "
                       "every replica paid all month, so they rank by $/month\n",
                    r->requests_per_day, r->rate, r->requests_per_day / 86400, r->peak_factor);
        fprintf(f, "%.0f meet the SLO in steady state at %.4g req/s\n%s\n", (double)r->feasible, r->rate, r->message);
        if (traffic)
            print_traffic_answer(f, r);
        fprintf(f, "cheapest candidates (steady state at the concurrency that carries the rate%s):\n",
                traffic ? "; utilization = the day's mean / what the replicas carry within the SLO; "
                          "usd_per_mtok_output_at_load = the month's bill over the month's output tokens" : "");
    }
    if (traffic)
        sim_table_print(f, rows, traffic_cols, 12);
    else
        sim_table_print(f, rows, cols, 12);
    cJSON_Delete(rows);
}

int sim_search_report_plot(const char *path, const cJSON *rows, bool cost, const char *model, double isl,
                           double osl, sim_err *err)
{
    char title[256];
    snprintf(title, sizeof title, "%s, isl %g / osl %g: %s", model, isl, osl,
             cost ? "cost against interactivity (Pareto configurations)" : "throughput against interactivity (Pareto)");
    sim_plot_opts po = { .x = "output_tokens_per_s_per_user", .y = cost ? "usd_per_mtok_output" : "output_tokens_per_s_per_gpu",
                         .by = "hw", .file = path, .title = title,
                         .xlabel = "interactivity (output tokens/s per user)",
                         .ylabel = cost ? "US$ per million output tokens (log scale)" : "output tokens/s per GPU",
                         .logy = cost, .lines = true };
    return sim_plot(rows, &po, err);
}
