/* des_stats.c: what the discrete-event simulator measures: time integrals (timeline
 * windows, the arrival span for sustainability), latency percentiles, goodput under an
 * SLO, Little's law, cost, and the result struct built from a finished run. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_statistics_double.h>

#include "serve/des_internal.h"

static void win_add(des *s, double t0, double t1)
{
    pool *p = &s->pools[0];
    double kv = p->used_blocks / (double)(p->blocks * p->nranks);
    while (t0 < t1) {
        long i = (long)(t0 / s->win_w);
        if ((i + 1) * s->win_w <= t0) /* t0 on a boundary that the division rounded down */
            i++;
        if (i >= 128) { /* merge pairs: the timeline keeps at most 128 windows */
            for (int j = 0; j < 64; j++) {
                sim_des_window *a = &s->win[2 * j], *b = &s->win[2 * j + 1];
                s->win[j] = (sim_des_window){ .in_system = a->in_system + b->in_system,
                                              .waiting = a->waiting + b->waiting,
                                              .running = a->running + b->running,
                                              .busy = a->busy + b->busy,
                                              .kv_used = a->kv_used + b->kv_used };
            }
            memset(&s->win[64], 0, 64 * sizeof s->win[0]);
            s->win_w *= 2;
            continue;
        }
        double e = fmin(t1, (i + 1) * s->win_w), dt = e - t0;
        sim_des_window *w = &s->win[i];
        w->in_system += s->in_system * dt;
        w->waiting += s->waiting * dt;
        w->running += s->running * dt;
        w->busy += (p->busy ? 1 : 0) * dt;
        w->kv_used += kv * dt;
        t0 = e;
    }
}

static void span_add(des *s, double t0, double t1)
{
    while (s->span_w > 0 && t0 < t1) {
        /* Compare in floating point first: at an absurd rate the span is so short that
         * t0 / span_w overflows a long (issue 12: that wrote out of bounds). */
        double x = t0 / s->span_w;
        if (!(x < 64))
            return;
        long i = (long)x;
        if ((i + 1) * s->span_w <= t0)
            i++;
        if (i >= 64)
            return;
        double e = fmin(t1, (i + 1) * s->span_w);
        s->span_area[i] += s->in_system * (e - t0);
        s->span_wait[i] += s->waiting * (e - t0);
        t0 = e;
    }
}

/* Move the clock to t, integrating the counts that held since the last event. */
void des_advance(des *s, double t)
{
    double dt = t - s->now;
    if (dt <= 0)
        return;
    s->area_sys += s->in_system * dt;
    s->area_wait += s->waiting * dt;
    s->area_run += s->running * dt;
    win_add(s, s->now, t);
    span_add(s, s->now, t);
    s->now = t;
}

/* ------------------------------------------------------------------ results */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static sim_des_pct percentiles(double *v, long n)
{
    sim_des_pct p = { 0 };
    if (n <= 0)
        return p;
    qsort(v, (size_t)n, sizeof *v, cmp_double); /* glibc's merge sort beats gsl_sort's heap sort here */
    p.mean = gsl_stats_mean(v, 1, (size_t)n);
    p.p50 = gsl_stats_quantile_from_sorted_data(v, 1, (size_t)n, 0.50);
    p.p90 = gsl_stats_quantile_from_sorted_data(v, 1, (size_t)n, 0.90);
    p.p99 = gsl_stats_quantile_from_sorted_data(v, 1, (size_t)n, 0.99);
    p.max = v[n - 1];
    return p;
}

static double tpot_of(const dreq *q)
{
    return q->osl > 1 ? (q->finish - q->first) / (q->osl - 1) : 0;
}

static bool meets_slo(const sim_des_opts *o, const dreq *q)
{
    return (o->slo_ttft_s <= 0 || q->first - q->arrival <= o->slo_ttft_s) &&
           (o->slo_tpot_s <= 0 || q->osl <= 1 || tpot_of(q) <= o->slo_tpot_s);
}

static int latency_stats(const des *s, sim_des_result *r, sim_err *err)
{
    long n = s->w->n;
    double *a = malloc((size_t)n * 4 * sizeof *a);
    if (!a)
        return sim_fail(err, SIM_EFAIL, "out of memory for statistics");
    double *ttft = a, *tpot = a + n, *e2e = a + 2 * n, *queue = a + 3 * n;
    long nt = 0, good = 0;
    double good_tok = 0, in_tok = 0, out_tok = 0;
    for (long i = 0; i < n; i++) {
        const dreq *q = &s->q[i];
        ttft[i] = q->first - q->arrival;
        e2e[i] = q->finish - q->arrival;
        queue[i] = q->sched_at - q->arrival;
        if (q->osl > 1)
            tpot[nt++] = tpot_of(q);
        in_tok += q->isl;
        out_tok += q->osl;
        if (meets_slo(s->o, q)) {
            good++;
            good_tok += q->osl;
        }
    }
    r->little_W = gsl_stats_mean(e2e, 1, (size_t)n);
    r->ttft = percentiles(ttft, n);
    r->tpot = percentiles(tpot, nt);
    r->e2e = percentiles(e2e, n);
    r->queue = percentiles(queue, n);
    free(a);
    r->input_tps = in_tok / r->duration_s;
    r->output_tps = out_tok / r->duration_s;
    r->goodput_rps = good / r->duration_s;
    r->goodput_tps = good_tok / r->duration_s;
    r->slo_attainment = (double)good / n;
    return SIM_OK;
}

static void note_unsustainable(sim_des_result *r)
{
    snprintf(r->note, sizeof r->note,
             "not sustainable: the backlog grew by %.3g requests per second over the second half of the arrivals "
             "(offered %.3g req/s, served %.3g req/s on average until the queue drained); the queue grows without "
             "bound at this rate",
             r->queue_growth_rps, r->offered_rate, r->served_rps);
}

/* Least-squares slope of the window means of `area` over windows [i0, 64), and their mean. */
static double slope_of(const des *s, const double *area, int i0, double *mean)
{
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    int n = 64 - i0;
    for (int i = i0; i < 64; i++) {
        double x = (i + 0.5) * s->span_w, y = area[i] / s->span_w;
        sx += x;
        sy += y;
        sxx += x * x;
        sxy += x * y;
    }
    *mean = sy / n;
    return (n * sxy - sx * sy) / (n * sxx - sx * sx);
}

/* A rate is not sustainable when the backlog grows over the second half of the arrivals:
 * growth both absolute (over 5 requests across the stretch) and large next to the level
 * (a stable queue's slope is noise around zero). Two witnesses: requests waiting for
 * admission, and requests in the system once the filling-up transient (two median
 * end-to-end latencies from the start) is over. */
static void sustainability(const des *s, sim_des_result *r)
{
    r->sustainable = true;
    r->served_rps = r->completed / r->duration_s;
    if (s->span_w <= 0)
        return;
    double mean, slope = slope_of(s, s->span_wait, 32, &mean), len = 32 * s->span_w;
    bool grows = slope * len > fmax(5, 0.25 * mean);
    int i0 = (int)fmax(32, ceil(2 * r->e2e.p50 / s->span_w));
    if (!grows && i0 <= 56) {
        slope = slope_of(s, s->span_area, i0, &mean);
        len = (64 - i0) * s->span_w;
        grows = slope * len > fmax(5, 0.25 * mean);
    }
    r->queue_growth_rps = slope;
    if (grows) {
        r->sustainable = false;
        note_unsustainable(r);
    }
}

static void timeline(const des *s, sim_des_result *r)
{
    int n = (int)fmin(128, floor(r->end_s / s->win_w) + 1);
    r->windows = calloc((size_t)n, sizeof *r->windows);
    if (!r->windows)
        return;
    for (int i = 0; i < n; i++) {
        double t0 = i * s->win_w, t1 = fmin((i + 1) * s->win_w, r->end_s), len = t1 - t0;
        if (len <= 0)
            break;
        const sim_des_window *w = &s->win[i];
        r->windows[i] = (sim_des_window){ t0, t1, w->in_system / len, w->waiting / len, w->running / len,
                                          w->busy / len, w->kv_used / len };
        r->nwindows = i + 1;
    }
}

int des_collect(des *s, const sim_deploy *d, sim_des_result *r, sim_err *err)
{
    const sim_workload *w = s->w;
    const sim_des_opts *o = s->o;
    pool *p0 = &s->pools[0], *p1 = &s->pools[1];
    r->requests = w->n;
    r->completed = s->completed;
    r->preemptions = s->preemptions;
    r->gpus = d->gpus + (o->prefill ? o->prefill->gpus : 0);
    r->first_arrival_s = w->r[0].arrival_s;
    r->last_arrival_s = w->r[w->n - 1].arrival_s;
    r->end_s = s->now;
    r->duration_s = fmax(s->now - r->first_arrival_s, 1e-12);
    double span = r->last_arrival_s - r->first_arrival_s;
    r->offered_rate = span > 0 ? (w->n - 1) / span : 0;
    r->iterations = p0->iterations + (s->npools == 2 ? p1->iterations : 0);
    int rc = latency_stats(s, r, err);
    if (rc)
        return rc;
    r->output_tps_per_gpu = r->output_tps / r->gpus;
    r->input_tps_per_gpu = r->input_tps / r->gpus;
    r->output_tps_per_user = r->tpot.mean > 0 ? 1 / r->tpot.mean : 0;
    r->utilization = p0->busy_s / r->duration_s;
    r->prefill_utilization = s->npools == 2 ? p1->busy_s / r->duration_s : r->utilization;
    r->mean_batch = p0->iterations ? p0->dec_sum / (p0->iterations * (double)p0->nranks) : 0;
    r->mean_in_system = s->area_sys / r->duration_s;
    r->mean_waiting = s->area_wait / r->duration_s;
    r->max_waiting = s->max_waiting;
    r->kv_peak_share = s->kv_peak;
    r->kv_blocks_per_rank = p0->blocks;
    r->little_L = s->area_sys / r->duration_s;
    r->little_lambda = w->n / r->duration_s;
    r->little_lambda_W = r->little_lambda * r->little_W;
    r->little_rel_error = r->little_L > 0 ? fabs(r->little_L - r->little_lambda_W) / r->little_L : NAN;
    sustainability(s, r);
    timeline(s, r);
    r->cost_mode = "rent";
    r->usd_per_hour = sim_cost_usd_per_hour(d->hw, d->gpus, &o->cost, &r->cost_mode);
    if (o->prefill)
        r->usd_per_hour += sim_cost_usd_per_hour(o->prefill->hw, o->prefill->gpus, &o->cost, &r->cost_mode);
    r->usd_per_mtok_output = sim_cost_usd_per_mtok(r->usd_per_hour, r->output_tps);
    r->usd_per_mtok_blended = sim_cost_usd_per_mtok(r->usd_per_hour, r->output_tps + r->input_tps);
    r->step_evals = p0->memo.evals + p1->memo.evals;
    r->step_cache_hits = p0->memo.hits + p1->memo.hits;
    if (o->keep_records) {
        r->records = malloc((size_t)w->n * sizeof *r->records);
        if (!r->records)
            return sim_fail(err, SIM_EFAIL, "out of memory for request records");
        for (long i = 0; i < w->n; i++) {
            const dreq *q = &s->q[i];
            r->records[i] = (sim_des_record){ q->arrival,     q->first - q->arrival, tpot_of(q), q->finish - q->arrival,
                                              q->isl,         q->osl,                q->preempts, q->rank };
        }
    }
    return SIM_OK;
}

void sim_des_scale_replicas(sim_des_result *r, int replicas)
{
    int R = replicas > 0 ? replicas : 1;
    r->gpus *= R;
    r->input_tps *= R;
    r->output_tps *= R;
    r->goodput_rps *= R;
    r->goodput_tps *= R;
    r->served_rps *= R;
    r->usd_per_hour *= R;
    r->offered_rate *= R;
    r->queue_growth_rps *= R;
    if (!r->sustainable)
        note_unsustainable(r);
}

