/* serve_report.c: the discrete-event simulation's result as JSON, text, CSV and a
 * latency-CDF plot. The JSON keys are the public names of the figures (moesim serve --json,
 * moesim.serve{}); the text report shows the same numbers. */
#include "report/serve_report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_statistics_double.h>

#include "base/jsonfile.h"
#include "report/plot.h"
#include "report/report.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ------------------------------------------------------------------ JSON */
static void pct(cJSON *o, const char *name, const sim_des_pct *p)
{
    char k[64];
    static const char *const tag[] = { "mean", "p50", "p90", "p99", "max" };
    const double v[] = { p->mean, p->p50, p->p90, p->p99, p->max };
    for (int i = 0; i < 5; i++) {
        snprintf(k, sizeof k, "%s_%s_s", name, tag[i]);
        sim_json_add_num(o, k, v[i]);
    }
}

static const char *verdict_name(sim_des_verdict v)
{
    return v == SIM_DES_SUSTAINABLE ? "sustainable" : v == SIM_DES_NOT_SUSTAINABLE ? "not sustainable" : "undetermined";
}

static void split_text(char *buf, size_t cap, const sim_deploy *d)
{
    snprintf(buf, cap, "%d x %s, tp %d ep %d pp %d dp %d, %s", d->gpus, d->hw->name, d->tp, d->ep, d->pp, d->dp,
             sim_wformat_name(d->expert_fmt));
}

cJSON *sim_serve_report_json(const sim_serve_view *v)
{
    const sim_deploy *d = v->deploy;
    const sim_des_opts *o = v->opts;
    const sim_workload *w = v->workload;
    const sim_des_result *r = v->result;
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return NULL;
    char buf[256];
    cJSON_AddStringToObject(j, "model", d->model->name);
    cJSON_AddStringToObject(j, "hw", d->hw->name);
    /* "deployment" is the same object as in `moesim eval --json` (the decode pool when
     * disaggregated); the split as text is "split", or "decode_pool"/"prefill_pool". */
    cJSON_AddItemToObject(j, "deployment", sim_report_deploy(d));
    /* the scheduler's limits the run used (an engine's defaults with --engine) */
    cJSON *sch = cJSON_AddObjectToObject(j, "scheduler");
    sim_json_add_num(sch, "block_tokens", o->block_tokens);
    sim_json_add_num(sch, "max_num_seqs", o->max_num_seqs);
    sim_json_add_num(sch, "cuda_graph_max", o->graph_max);
    sim_json_add_num(sch, "max_batched_tokens", d->max_batched_tokens);
    split_text(buf, sizeof buf, d);
    cJSON_AddStringToObject(j, o->prefill ? "decode_pool" : "split", buf);
    if (o->prefill) {
        cJSON_AddItemToObject(j, "prefill_deployment", sim_report_deploy(o->prefill));
        split_text(buf, sizeof buf, o->prefill);
        cJSON_AddStringToObject(j, "prefill_pool", buf);
        sim_json_add_num(j, "prefill_instances", o->prefill_instances > 0 ? o->prefill_instances : 1);
        sim_json_add_num(j, "decode_instances", o->decode_instances > 0 ? o->decode_instances : 1);
    }
    sim_json_add_num(j, "gpus", r->gpus);
    /* what each step carried beside the workload: the keys of `moesim eval --json` */
    sim_json_add_num(j, "prefix_hit", o->prefix_hit);
    if (o->spec_tokens > 0) {
        cJSON *s = cJSON_AddObjectToObject(j, "speculative");
        sim_spec_view sv = sim_report_spec_view(d, o->spec_tokens, o->spec_accept, o->spec_source);
        sim_report_spec_fields(s, &sv);
        /* the simulator's credit is exact in 1 / den (des_internal.h, credit_frac); an
         * acceptance that is no fraction with den <= 1000 is simulated rounded to 1/1000 */
        sim_json_add_num(s, "accepted_tokens_per_step_simulated", (double)r->spec_num / r->spec_den);
        cJSON_AddBoolToObject(s, "acceptance_rounded", r->spec_rounded);
        cJSON_AddStringToObject(s, "note", SIM_SPEC_NOTE);
    }
    cJSON_AddStringToObject(j, "arrival", w->source);
    sim_json_add_num(j, "requests", r->requests);
    sim_json_add_num(j, "completed", r->completed);
    sim_json_add_num(j, "offered_rate_rps", r->offered_rate);
    sim_json_add_num(j, "duration_s", r->duration_s);
    cJSON_AddBoolToObject(j, "requests_sized", v->sized);
    sim_json_add_num(j, "requests_sized_from_e2e_s", v->sized ? v->predicted_e2e_s : NAN);
    sim_json_add_num(j, "requests_sized_from_relax_s", v->sized ? v->predicted_relax_s : NAN);
    /* the measured window: every latency, rate and utilization below is over it */
    cJSON_AddBoolToObject(j, "window_whole_run", r->whole_run);
    sim_json_add_num(j, "window_start_s", r->window_t0_s);
    sim_json_add_num(j, "window_end_s", r->window_t1_s);
    sim_json_add_num(j, "warmup_s", r->whole_run ? NAN : r->warmup_s);
    sim_json_add_num(j, "cooldown_s", r->whole_run ? NAN : r->cooldown_s);
    sim_json_add_num(j, "window_requests", r->window_requests);
    sim_json_add_num(j, "service_time_s", r->service_s);
    sim_json_add_num(j, "window_service_times", r->window_service_times);
    cJSON_AddBoolToObject(j, "steady_state", r->steady_state);
    cJSON_AddStringToObject(j, "steady_state_note", r->steady_note);
    pct(j, "ttft", &r->ttft);
    pct(j, "tpot", &r->tpot);
    pct(j, "e2e", &r->e2e);
    pct(j, "queue", &r->queue);
    sim_json_add_num(j, "input_tokens_per_s", r->input_tps);
    sim_json_add_num(j, "output_tokens_per_s", r->output_tps);
    sim_json_add_num(j, "output_tokens_per_s_per_gpu", r->output_tps_per_gpu);
    sim_json_add_num(j, "input_tokens_per_s_per_gpu", r->input_tps_per_gpu);
    sim_json_add_num(j, "output_tokens_per_s_per_user", r->output_tps_per_user);
    sim_json_add_num(j, "slo_ttft_s", o->slo_ttft_s);
    sim_json_add_num(j, "slo_tpot_s", o->slo_tpot_s);
    sim_json_add_num(j, "slo_attainment", r->slo_attainment);
    sim_json_add_num(j, "goodput_requests_per_s", r->goodput_rps);
    sim_json_add_num(j, "goodput_tokens_per_s", r->goodput_tps);
    sim_json_add_num(j, "utilization", r->utilization);
    if (o->prefill)
        sim_json_add_num(j, "prefill_utilization", r->prefill_utilization);
    sim_json_add_num(j, "mean_batch_per_rank", r->mean_batch);
    sim_json_add_num(j, "mean_in_system", r->mean_in_system);
    sim_json_add_num(j, "mean_waiting", r->mean_waiting);
    sim_json_add_num(j, "max_waiting", r->max_waiting);
    sim_json_add_num(j, "kv_blocks_per_rank", (double)r->kv_blocks_per_rank);
    sim_json_add_num(j, "kv_peak_share", r->kv_peak_share);
    sim_json_add_num(j, "preemptions", r->preemptions);
    sim_json_add_num(j, "iterations", r->iterations);
    /* sustainable: true, false, or null when the run is too short to tell (the note says why) */
    if (r->verdict == SIM_DES_UNDETERMINED)
        cJSON_AddNullToObject(j, "sustainable");
    else
        cJSON_AddBoolToObject(j, "sustainable", r->sustainable);
    cJSON_AddStringToObject(j, "sustainability", verdict_name(r->verdict));
    sim_json_add_num(j, "queue_growth", r->queue_growth);
    sim_json_add_num(j, "queue_growth_se", r->queue_growth_se);
    sim_json_add_num(j, "queue_growth_per_s", r->queue_growth_rps);
    sim_json_add_num(j, "served_requests_per_s", r->served_rps);
    sim_json_add_num(j, "predicted_capacity_rps", r->capacity_rps);
    cJSON_AddStringToObject(j, "note", r->note);
    cJSON *l = cJSON_AddObjectToObject(j, "little");
    sim_json_add_num(l, "L", r->little_L);
    sim_json_add_num(l, "lambda", r->little_lambda);
    sim_json_add_num(l, "W_s", r->little_W);
    sim_json_add_num(l, "rel_error", r->little_rel_error); /* null when L is 0 */
    sim_json_add_num(j, "usd_per_hour", r->usd_per_hour);
    sim_json_add_num(j, "usd_per_mtok_output", r->usd_per_mtok_output);
    sim_json_add_num(j, "usd_per_mtok_blended", r->usd_per_mtok_blended);
    cJSON_AddStringToObject(j, "cost_mode", r->cost_mode ? r->cost_mode : "rent");
    sim_json_add_num(j, "step_model_calls", r->step_evals);
    sim_json_add_num(j, "step_memo_hits", r->step_cache_hits);
    cJSON *tl = cJSON_AddArrayToObject(j, "timeline");
    for (int i = 0; tl && i < r->nwindows; i++) {
        const sim_des_window *w0 = &r->windows[i];
        cJSON *row = cJSON_CreateObject();
        sim_json_add_num(row, "t_s", w0->t0);
        sim_json_add_num(row, "in_system", w0->in_system);
        sim_json_add_num(row, "waiting", w0->waiting);
        sim_json_add_num(row, "running", w0->running);
        sim_json_add_num(row, "busy", w0->busy);
        sim_json_add_num(row, "kv_used", w0->kv_used);
        cJSON_AddItemToArray(tl, row);
    }
    cJSON_AddNumberToObject(j, "replicas", v->replicas);
    if (w->clipped)
        cJSON_AddNumberToObject(j, "lengths_clipped", (double)w->clipped);
    if (w->rows_left)
        cJSON_AddNumberToObject(j, "trace_requests_not_simulated", (double)w->rows_left);
    return j;
}

cJSON *sim_serve_report_records(const sim_des_result *r)
{
    cJSON *rows = cJSON_CreateArray();
    for (long i = 0; rows && r->records && i < r->requests; i++) {
        const sim_des_record *q = &r->records[i];
        cJSON *row = cJSON_CreateObject();
        sim_json_add_num(row, "request", i + 1);
        sim_json_add_num(row, "arrival_s", q->arrival_s);
        sim_json_add_num(row, "isl", q->isl);
        sim_json_add_num(row, "osl", q->osl);
        sim_json_add_num(row, "ttft_s", q->ttft_s);
        sim_json_add_num(row, "tpot_s", q->tpot_s);
        sim_json_add_num(row, "e2e_s", q->e2e_s);
        sim_json_add_num(row, "preemptions", q->preemptions);
        sim_json_add_num(row, "rank", q->rank);
        cJSON_AddBoolToObject(row, "measured", q->measured);
        cJSON_AddItemToArray(rows, row);
    }
    return rows;
}

cJSON *sim_serve_report_cdf(const sim_des_result *r, int points)
{
    cJSON *rows = cJSON_CreateArray();
    if (!rows || !r->records || r->requests < 1 || points < 2)
        return rows;
    long n = r->requests;
    double *v = malloc((size_t)n * sizeof *v);
    if (!v)
        return rows;
    static const char *const names[] = { "TTFT", "TPOT", "end-to-end" };
    for (int m = 0; m < 3; m++) {
        long k = 0;
        for (long i = 0; i < n; i++) {
            const sim_des_record *q = &r->records[i];
            if (!q->measured || (m == 1 && q->osl <= 1))
                continue;
            v[k++] = m == 0 ? q->ttft_s : m == 1 ? q->tpot_s : q->e2e_s;
        }
        if (k == 0)
            continue;
        qsort(v, (size_t)k, sizeof *v, cmp_double);
        for (int i = 0; i < points; i++) {
            double share = (double)i / (points - 1);
            cJSON *row = cJSON_CreateObject();
            cJSON_AddStringToObject(row, "metric", names[m]);
            sim_json_add_num(row, "latency_s", gsl_stats_quantile_from_sorted_data(v, 1, (size_t)k, share));
            sim_json_add_num(row, "share", share);
            cJSON_AddItemToArray(rows, row);
        }
    }
    free(v);
    return rows;
}

/* ------------------------------------------------------------------ text */

/* A figure as text, or "-" when it could not be computed (never 0, as JSON writes null).
 * Each call takes the next of the caller's buffers, so one printf can hold several. */
typedef struct numtext {
    char s[8][32];
    int next;
} numtext;

static const char *nt(numtext *b, const char *fmt, double v)
{
    char *out = b->s[b->next++ % 8];
    if (!isfinite(v))
        return "-";
    snprintf(out, sizeof b->s[0], fmt, v);
    return out;
}

static void print_pct_row(FILE *f, const char *label, const sim_des_pct *p, double scale)
{
    const double v[] = { p->mean, p->p50, p->p90, p->p99, p->max };
    fprintf(f, "  %-10s", label);
    for (int i = 0; i < 5; i++) {
        char s[32] = "-";
        if (isfinite(v[i]))
            sim_format_number(s, sizeof s, v[i] * scale);
        fprintf(f, " %10s", s);
    }
    fputc('\n', f);
}

void sim_serve_report_print(FILE *f, const sim_serve_view *v)
{
    const sim_deploy *d = v->deploy;
    const sim_des_opts *o = v->opts;
    const sim_des_result *r = v->result;
    numtext b = { .next = 0 };
    char dep[256], pre[256];
    split_text(dep, sizeof dep, d);
    if (o->prefill) {
        split_text(pre, sizeof pre, o->prefill);
        fprintf(f, "%s: %d x prefill %s; %d x decode %s\n", d->model->name,
                o->prefill_instances > 0 ? o->prefill_instances : 1, pre, o->decode_instances > 0 ? o->decode_instances : 1,
                dep);
    } else {
        fprintf(f, "%s on %s\n", d->model->name, dep);
    }
    sim_report_emulated_line(f, d);
    if (o->prefill)
        sim_report_emulated_line(f, o->prefill);
    if (o->prefix_hit > 0)
        fprintf(f, "prefix cache: %.0f%% of each prompt hit: computed no more, still attended to\n", 100 * o->prefix_hit);
    sim_spec_view sv = sim_report_spec_view(d, o->spec_tokens, o->spec_accept, o->spec_source);
    sim_report_print_spec(f, &sv, "; TPOT per accepted token");
    if (o->spec_tokens > 0 && r->spec_rounded)
        fprintf(f, "simulated at %d/%d = %.4g accepted tokens per step: the simulator's credit is exact in "
                   "1/1000ths, and %.6g is no such fraction\n",
                r->spec_num, r->spec_den, (double)r->spec_num / r->spec_den, o->spec_accept);
    fprintf(f, "%s arrivals, %.0f requests at %s req/s offered, simulated %s s\n", v->workload->source,
            (double)r->requests, nt(&b, "%.4g", r->offered_rate), nt(&b, "%.4g", r->duration_s));
    if (v->sized)
        fprintf(f, "run sized from the rate (no --requests): arrivals over %s s, predicted end-to-end latency %s s, "
                   "backlog relaxation %s s%s\n",
                nt(&b, "%.4g", r->last_arrival_s - r->first_arrival_s), nt(&b, "%.4g", v->predicted_e2e_s),
                nt(&b, "%.4g", v->predicted_relax_s), v->sized_capped ? " (the size hit its cap)" : "");
    if (r->whole_run)
        fprintf(f, "measured: the whole run, ramp and drain included (%.0f requests)\n", (double)r->window_requests);
    else
        fprintf(f, "measured window: arrivals %s-%s s, %.0f requests (warm-up %s s and cool-down %s s left out), %s "
                   "service times of %s s\n",
                nt(&b, "%.4g", r->window_t0_s), nt(&b, "%.4g", r->window_t1_s), (double)r->window_requests,
                nt(&b, "%.3g", r->warmup_s), nt(&b, "%.3g", r->cooldown_s), nt(&b, "%.1f", r->window_service_times),
                nt(&b, "%.3g", r->service_s));
    fprintf(f, "  %-10s %10s %10s %10s %10s %10s\n", "latency", "mean", "p50", "p90", "p99", "max");
    print_pct_row(f, "TTFT s", &r->ttft, 1);
    print_pct_row(f, "TPOT ms", &r->tpot, 1e3);
    print_pct_row(f, "E2E s", &r->e2e, 1);
    print_pct_row(f, "queue s", &r->queue, 1);
    fprintf(f, "throughput: %s output tok/s (%s per GPU), %s input tok/s; %s tok/s per user\n",
            nt(&b, "%.1f", r->output_tps), nt(&b, "%.1f", r->output_tps_per_gpu), nt(&b, "%.1f", r->input_tps),
            nt(&b, "%.1f", r->output_tps_per_user));
    if (o->slo_ttft_s > 0 || o->slo_tpot_s > 0)
        fprintf(f, "goodput: %s req/s, %s output tok/s; %s%% of requests meet TTFT <= %g s and TPOT <= %g s\n",
                nt(&b, "%.4g", r->goodput_rps), nt(&b, "%.1f", r->goodput_tps), nt(&b, "%.1f", 100 * r->slo_attainment),
                o->slo_ttft_s, o->slo_tpot_s);
    fprintf(f, "utilization %s%%", nt(&b, "%.1f", 100 * r->utilization));
    if (o->prefill)
        fprintf(f, " (prefill pool %s%%)", nt(&b, "%.1f", 100 * r->prefill_utilization));
    fprintf(f, ", mean decode batch %s per rank, waiting %s mean / %s max, KV peak %s%% of %.0f blocks per "
               "rank, %.0f preemptions\n",
            nt(&b, "%.1f", r->mean_batch), nt(&b, "%.2f", r->mean_waiting), nt(&b, "%.0f", r->max_waiting),
            nt(&b, "%.1f", 100 * r->kv_peak_share), (double)r->kv_blocks_per_rank, (double)r->preemptions);
    fprintf(f, "Little's law: L = %s in system, lambda x W = %s x %s s = %s\n", nt(&b, "%.4g", r->little_L),
            nt(&b, "%.4g", r->little_lambda), nt(&b, "%.4g", r->little_W), nt(&b, "%.4g", r->little_lambda_W));
    fprintf(f, "cost (%s, $%s/h): $%s per M output tokens, $%s per M tokens blended\n",
            r->cost_mode ? r->cost_mode : "rent", nt(&b, "%.2f", r->usd_per_hour), nt(&b, "%.4g", r->usd_per_mtok_output),
            nt(&b, "%.4g", r->usd_per_mtok_blended));
    fprintf(f, "step model: %.0f calls for %.0f iterations (shapes memoized)\n", (double)r->step_evals,
            (double)r->iterations);
    if (v->workload->rows_left > 0)
        fprintf(f, "note: the trace holds %ld more requests than the %ld simulated (--requests caps them; 0 = all)\n",
                v->workload->rows_left, (long)v->workload->n);
    if (v->workload->clipped > 0)
        fprintf(f, "note: %.0f drawn lengths were clipped to 16x the mean or the model's context\n",
                (double)v->workload->clipped);
    fprintf(f, "%s\n", r->note);
}

/* ------------------------------------------------------------------ files */

/* Scalar fields of an object as one CSV row with a header. */
int sim_serve_report_summary_csv(const char *path, const cJSON *j, sim_err *err)
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
    int rc = sim_json_write_atomic(path, csv, err);
    free(csv);
    return rc;
}

int sim_serve_report_rows_csv(const char *path, const cJSON *rows, sim_err *err)
{
    char *csv = sim_table_csv(rows, NULL, 0);
    if (!csv)
        return sim_fail(err, SIM_EFAIL, "out of memory writing %s", path);
    int rc = sim_json_write_atomic(path, csv, err);
    free(csv);
    return rc;
}

/* Per-request records at full precision (the table writer keeps 4 digits). */
int sim_serve_report_records_csv(const char *path, const sim_des_result *r, sim_err *err)
{
    size_t cap = 112 * (size_t)r->requests + 128, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        return sim_fail(err, SIM_EFAIL, "out of memory writing %s", path);
    len += (size_t)snprintf(buf, cap, "request,arrival_s,isl,osl,ttft_s,tpot_s,e2e_s,preemptions,rank,measured\n");
    for (long i = 0; i < r->requests && len < cap; i++) {
        const sim_des_record *q = &r->records[i];
        len += (size_t)snprintf(buf + len, cap - len, "%ld,%.9g,%d,%d,%.6g,%.6g,%.6g,%d,%d,%d\n", i + 1,
                                q->arrival_s, q->isl, q->osl, q->ttft_s, q->tpot_s, q->e2e_s, q->preemptions, q->rank,
                                q->measured ? 1 : 0);
    }
    int rc = len < cap ? sim_json_write_atomic(path, buf, err) : sim_fail(err, SIM_EFAIL, "%s: record buffer overflow", path);
    free(buf);
    return rc;
}

int sim_serve_report_cdf_plot(const char *path, const sim_des_result *r, sim_err *err)
{
    cJSON *rows = sim_serve_report_cdf(r, 200);
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
