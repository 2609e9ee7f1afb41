/* des_stats.c: what the discrete-event simulator measures: time integrals (timeline
 * windows; bins of the arrival span), the measured window (warm-up and cool-down left
 * out), latency percentiles, goodput under an SLO, the sustainability verdict on the
 * trend of the number in system, Little's law, cost, and the result struct built from a
 * finished run. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_statistics_double.h>

#include "serve/des_internal.h"

static void win_add(des *s, double t0, double t1)
{
    /* KV in use over the decode (or only) instances */
    double used = 0, all = 0;
    for (int i = 0; i < s->ndec; i++) {
        used += s->pools[i].used_blocks;
        all += (double)s->pools[i].blocks * s->pools[i].nranks;
    }
    double kv = used / all;
    int nb = 0;
    for (int i = 0; i < s->ndec; i++)
        nb += s->pools[i].busy;
    double busy = (double)nb / s->ndec;
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
        w->busy += busy * dt;
        w->kv_used += kv * dt;
        t0 = e;
    }
}

/* A decode-only stretch took its later iterations' KV blocks at its start (des_stretch): the
 * window of its start t0 (it lies in one window) gets the difference (block-seconds) back. */
void des_kv_area(des *s, double t0, double block_s)
{
    double all = 0;
    for (int i = 0; i < s->ndec; i++)
        all += (double)s->pools[i].blocks * s->pools[i].nranks;
    long i = (long)(t0 / s->win_w);
    if ((i + 1) * s->win_w <= t0)
        i++;
    if (i >= 0 && i < 128 && all > 0)
        s->win[i].kv_used += block_s / all;
}

/* Integrate the counts over the bins of the arrival span that [t0, t1) covers. */
static void bin_add(des *s, double t0, double t1)
{
    if (!(s->bin_w > 0))
        return;
    t0 = fmax(t0, s->a0);
    while (t0 < t1) {
        /* Compare in floating point first: at an absurd rate the span is so short that the
         * index overflows a long (issue 12: that wrote out of bounds). */
        double x = (t0 - s->a0) / s->bin_w;
        if (!(x < NBIN))
            return;
        long i = (long)x;
        if (s->a0 + (i + 1) * s->bin_w <= t0)
            i++;
        if (i >= NBIN)
            return;
        double e = fmin(t1, s->a0 + (i + 1) * s->bin_w), dt = e - t0;
        if (!(dt > 0))
            return;
        span_bin *b = &s->bin[i];
        b->sys += s->in_system * dt;
        b->wait += s->waiting * dt;
        /* busy: the share of the decode (or only) instances running, of the prefill ones */
        int nb = 0, nbp = 0;
        for (int k = 0; k < s->npools; k++)
            if (s->pools[k].busy)
                *(k < s->ndec ? &nb : &nbp) += 1;
        b->busy += dt * nb / s->ndec;
        b->busy_pre += s->npools > s->ndec ? dt * nbp / (s->npools - s->ndec) : 0;
        t0 = e;
    }
}

void des_count(des *s, double out, double in, long done)
{
    if (!(s->bin_w > 0))
        return;
    double x = (s->now - s->a0) / s->bin_w;
    if (!(x >= 0 && x < NBIN))
        return; /* the drain after the last arrival is no part of any window */
    span_bin *b = &s->bin[(long)x];
    b->out_tok += out;
    b->in_tok += in;
    b->done += done;
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
    bin_add(s, s->now, t);
    s->now = t;
}

/* ------------------------------------------------------------------ results */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Reorder v[lo, hi) so that v[k] holds the value a sort would put there, with nothing larger
 * before it and nothing smaller after it (Hoare's FIND with a median-of-three pivot; a
 * range that keeps failing to shrink is sorted instead, so the worst case stays n log n). */
static void select_kth(double *v, long lo, long hi, long k)
{
    int rounds = 0;
    while (hi - lo > 16) {
        if (++rounds > 64) {
            qsort(v + lo, (size_t)(hi - lo), sizeof *v, cmp_double);
            return;
        }
        long m = lo + (hi - lo) / 2;
        double a = v[lo], b = v[m], c = v[hi - 1];
        double piv = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
        long i = lo, j = hi - 1;
        while (i <= j) {
            while (v[i] < piv)
                i++;
            while (v[j] > piv)
                j--;
            if (i <= j) {
                double t = v[i];
                v[i++] = v[j];
                v[j--] = t;
            }
        }
        /* now v[lo..j] <= piv <= v[i..hi) and anything between equals piv */
        if (k <= j)
            hi = j + 1;
        else if (k >= i)
            lo = i;
        else
            return;
    }
    qsort(v + lo, (size_t)(hi - lo), sizeof *v, cmp_double);
}

/* The smallest value of v[lo, hi). */
static double min_of(const double *v, long lo, long hi)
{
    double m = v[lo];
    for (long i = lo + 1; i < hi; i++)
        if (v[i] < m)
            m = v[i];
    return m;
}

/* gsl_stats_quantile_from_sorted_data's answer for fraction f, without sorting: the two
 * order statistics it interpolates between are selected (v[lo, n) is reordered; everything
 * before lo is already no larger). Returns the index of the lower one, so the next, larger
 * fraction can select in what lies above it. */
static long quantile_sel(double *v, long n, long lo, double f, double *out)
{
    double index = f * (n - 1);
    long lhs = (long)index;
    double delta = index - lhs;
    select_kth(v, lo, n, lhs);
    if (lhs == n - 1)
        *out = v[lhs];
    else
        *out = (1 - delta) * v[lhs] + delta * min_of(v, lhs + 1, n);
    return lhs;
}

/* Mean, median, p90, p99 and maximum by selection (expected linear time; issue 20: full sorts
 * were 10-13% of a million-request run). The quantiles are exactly those of the sorted data
 * (gsl's interpolation); the mean sums in another order than a sort leaves, so it may differ
 * from the sorted mean in the last bits. */
static sim_des_pct percentiles(double *v, long n)
{
    sim_des_pct p = { 0 };
    if (n <= 0)
        return p;
    p.mean = gsl_stats_mean(v, 1, (size_t)n);
    long at = quantile_sel(v, n, 0, 0.50, &p.p50);
    at = quantile_sel(v, n, at, 0.90, &p.p90);
    at = quantile_sel(v, n, at, 0.99, &p.p99);
    double mx = v[at];
    for (long i = at + 1; i < n; i++)
        if (v[i] > mx)
            mx = v[i];
    p.max = mx;
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

static double service_of(const dreq *q)
{
    return q->finish - q->sched_at;
}

static bool in_window(const sim_des_result *r, const dreq *q)
{
    return r->whole_run || (q->arrival >= r->window_t0_s && q->arrival < r->window_t1_s);
}

/* Median admission-to-last-token time of the requests arriving in [t0, t1) (all when
 * whole): the time a request holds its place in the batch, the system's time scale. Unlike
 * the end-to-end latency it does not grow with a backlog. v: room for every request. */
static double median_service(const des *s, double *v, double t0, double t1, bool whole)
{
    long n = 0;
    for (long i = 0; i < s->w->n; i++)
        if (whole || (s->q[i].arrival >= t0 && s->q[i].arrival < t1))
            v[n++] = service_of(&s->q[i]);
    return n > 0 ? percentiles(v, n).p50 : NAN;
}

/* The warm-up end by the marginal standard error rule (MSER; White, "An effective truncation
 * heuristic for bias reduction in simulation output", Simulation 69(6), 1997): over the bins'
 * mean number in system Y, the truncation d in [0, n/2] that minimises
 * sum_{i>=d} (Y_i - mean_d)^2 / (n - d)^2, i.e. the one that leaves the most precise mean. */
static int mser_bins(const des *s)
{
    double sy = 0, syy = 0, best = INFINITY;
    double suf[NBIN + 1], suf2[NBIN + 1];
    suf[NBIN] = suf2[NBIN] = 0;
    for (int i = NBIN - 1; i >= 0; i--) {
        double y = s->bin[i].sys / s->bin_w;
        suf[i] = suf[i + 1] + y;
        suf2[i] = suf2[i + 1] + y * y;
    }
    int d_best = 0;
    for (int d = 0; d <= NBIN / 2; d++) {
        double m = NBIN - d;
        sy = suf[d];
        syy = suf2[d];
        double v = (syy - sy * sy / m) / (m * m);
        if (v < best) {
            best = v;
            d_best = d;
        }
    }
    return d_best;
}

/* The measured window, in bins [*i0, *i1) of the arrival span: the warm-up is the MSER
 * truncation but at least two service times (the batch fills over about one), at most half
 * the span; the cool-down is one service time (the last arrivals finish in a draining,
 * lighter batch), at most a quarter. When the arrivals span fewer than four service times
 * (a burst, or a run too short) no window is left: the whole run is measured. */
static void choose_window(const des *s, double *v, sim_des_result *r, int *i0, int *i1)
{
    double span = r->last_arrival_s - r->first_arrival_s, tau = median_service(s, v, 0, 0, true);
    *i0 = 0;
    *i1 = NBIN;
    if (!(s->bin_w > 0) || !(span >= 4 * tau)) {
        r->whole_run = true;
        r->window_t0_s = r->first_arrival_s;
        r->window_t1_s = r->end_s;
        return;
    }
    double warm = fmin(fmax(mser_bins(s) * s->bin_w, 2 * tau), 0.5 * span);
    double cool = fmin(tau, 0.25 * span);
    *i0 = (int)fmin(NBIN / 2, ceil(warm / s->bin_w));
    *i1 = NBIN - (int)fmin(NBIN / 4, ceil(cool / s->bin_w));
    r->window_t0_s = s->a0 + *i0 * s->bin_w;
    r->window_t1_s = s->a0 + *i1 * s->bin_w;
    r->warmup_s = r->window_t0_s - r->first_arrival_s;
    r->cooldown_s = r->last_arrival_s - r->window_t1_s;
}

/* Which latency of request q (ttft, tpot, e2e, queue); false when it has none (a TPOT needs
 * two output tokens). */
enum { LAT_TTFT, LAT_TPOT, LAT_E2E, LAT_QUEUE };
static bool latency_of(const dreq *q, int which, double *x)
{
    switch (which) {
    case LAT_TTFT: *x = q->first - q->arrival; return true;
    case LAT_TPOT: *x = tpot_of(q); return q->osl > 1;
    case LAT_E2E: *x = q->finish - q->arrival; return true;
    default: *x = q->sched_at - q->arrival; return true;
    }
}

/* Latency percentiles, goodput and SLO attainment over the window's requests. One latency at
 * a time in v (room for every request), so the statistics cost 8 bytes per request. */
static void latency_stats(const des *s, double *v, sim_des_result *r, double len)
{
    long n = s->w->n, m = 0, good = 0;
    double good_tok = 0, w_sum = 0;
    for (long i = 0; i < n; i++) {
        const dreq *q = &s->q[i];
        w_sum += q->finish - q->arrival;
        if (!in_window(r, q))
            continue;
        m++;
        if (meets_slo(s->o, q)) {
            good++;
            good_tok += q->osl;
        }
    }
    r->little_W = w_sum / n; /* Little's law is over the whole run, which starts and ends empty */
    r->window_requests = m;
    sim_des_pct *out[] = { &r->ttft, &r->tpot, &r->e2e, &r->queue };
    for (int k = LAT_TTFT; k <= LAT_QUEUE; k++) {
        long c = 0;
        for (long i = 0; i < n; i++)
            if (in_window(r, &s->q[i]) && latency_of(&s->q[i], k, &v[c]))
                c++;
        *out[k] = percentiles(v, c);
    }
    r->goodput_rps = good / len;
    r->goodput_tps = good_tok / len;
    r->slo_attainment = m > 0 ? (double)good / m : NAN;
}

/* Least-squares change of a binned count over bins [i0, i1), from K batch means, with its
 * standard error (the batch means are nearly independent once a batch spans a service
 * time, which a steady-state window of 10 service times in 10 batches gives). */
enum { TREND_BATCHES = 10 };
static void trend(const des *s, int i0, int i1, bool waiting, double *growth, double *se, double *mean)
{
    double x[TREND_BATCHES], y[TREND_BATCHES], mx = 0, my = 0;
    int nb = i1 - i0;
    for (int j = 0; j < TREND_BATCHES; j++) {
        int b0 = i0 + j * nb / TREND_BATCHES, b1 = i0 + (j + 1) * nb / TREND_BATCHES;
        double area = 0;
        for (int i = b0; i < b1; i++)
            area += waiting ? s->bin[i].wait : s->bin[i].sys;
        x[j] = (b0 + b1) / 2.0 * s->bin_w;
        y[j] = area / ((b1 - b0) * s->bin_w);
        mx += x[j] / TREND_BATCHES;
        my += y[j] / TREND_BATCHES;
    }
    double sxx = 0, sxy = 0, rss = 0;
    for (int j = 0; j < TREND_BATCHES; j++) {
        sxx += (x[j] - mx) * (x[j] - mx);
        sxy += (x[j] - mx) * (y[j] - my);
    }
    double b = sxy / sxx;
    for (int j = 0; j < TREND_BATCHES; j++) {
        double e = y[j] - (my + b * (x[j] - mx));
        rss += e * e;
    }
    double len = nb * s->bin_w;
    *growth = b * len;
    *se = sqrt(rss / (TREND_BATCHES - 2) / sxx) * len;
    *mean = my;
}

/* Rising over bins [i0, i1): the growth is significant (over 3 standard errors: one-sided
 * p < 0.01 with 8 degrees of freedom) and material (over 5 requests and a quarter of the
 * mean level per the window's length; `share` is the stretch's share of the window). A
 * stable queue wanders with the arrivals' own noise and stays well under that. */
static bool rising(const des *s, int i0, int i1, bool waiting, double share, double *growth, double *se)
{
    double mean;
    trend(s, i0, i1, waiting, growth, se, &mean);
    return *growth > 3 * *se && *growth > share * fmax(5, 0.25 * mean);
}

/* The number in system (or waiting) rises over the whole window and still over its second
 * half: a backlog that grows without bound does both, while a near-critical queue that is
 * still relaxing towards its level (batches that keep growing slowly) flattens out. */
static bool grows(const des *s, int i0, int i1, bool waiting, double *growth, double *se)
{
    double g2, se2;
    bool whole = rising(s, i0, i1, waiting, 1, growth, se);
    return whole && rising(s, (i0 + i1) / 2, i1, waiting, 0.5, &g2, &se2);
}

/* The verdict and its reason, from the result's figures (again after replica scaling). */
static void des_note(sim_des_result *r)
{
    char cap[128] = "";
    if (r->capacity_rps > 0)
        snprintf(cap, sizeof cap, "; the steady-state model's largest rate is %.4g req/s", r->capacity_rps);
    if (r->verdict == SIM_DES_SUSTAINABLE)
        snprintf(r->note, sizeof r->note,
                 "sustainable: the number in system stayed level over the measured window (%+.3g +- %.2g requests "
                 "over %.4g s, %.1f service times)",
                 r->queue_growth, r->queue_growth_se, r->window_t1_s - r->window_t0_s, r->window_service_times);
    else if (r->verdict == SIM_DES_NOT_SUSTAINABLE && !r->whole_run)
        snprintf(r->note, sizeof r->note,
                 "not sustainable: the number in system grew by %.4g +- %.2g requests over the measured window of %.4g "
                 "s (offered %.4g req/s, served %.4g req/s)%s; the queue grows without bound at this rate",
                 r->queue_growth, r->queue_growth_se, r->window_t1_s - r->window_t0_s, r->offered_rate,
                 r->served_rps, cap);
    else if (r->verdict == SIM_DES_NOT_SUSTAINABLE)
        snprintf(r->note, sizeof r->note,
                 "not sustainable: the offered %.4g req/s is above the steady-state model's largest rate, %.4g req/s; "
                 "the queue grows without bound at this rate",
                 r->offered_rate, r->capacity_rps);
    else
        snprintf(r->note, sizeof r->note, "sustainability undetermined: %s%s", r->steady_note, cap);
}

/* Sustainable when the number in system (and the number waiting) stays level over a
 * steady-state window; not sustainable when it rises there, or when it rises over a short
 * window at a rate above what the steady-state model says the deployment can serve;
 * otherwise undetermined (the run is too short to tell). */
static void judge(const des *s, sim_des_result *r, int i0, int i1)
{
    double len = r->window_t1_s - r->window_t0_s;
    r->window_service_times = len / r->service_s;
    r->capacity_rps = s->o->predicted_capacity_rps > 0 ? s->o->predicted_capacity_rps : NAN;
    bool over = r->capacity_rps > 0 && r->offered_rate > 1.05 * r->capacity_rps; /* 5%: the two models' spread */
    r->steady_state = !r->whole_run && r->window_service_times >= 10 && r->window_requests >= 200;
    if (r->whole_run)
        snprintf(r->steady_note, sizeof r->steady_note,
                 "the arrivals span %.4g s, under four service times (%.4g s): there is no steady state to measure, "
                 "so the figures are over the whole run, ramp and drain included",
                 r->last_arrival_s - r->first_arrival_s, r->service_s);
    else if (!r->steady_state)
        snprintf(r->steady_note, sizeof r->steady_note,
                 "the measured window spans %.1f service times (%.4g s each) and %ld requests; a steady state needs "
                 "at least 10 and 200 (give more requests, or leave --requests out to size the run from the rate)",
                 r->window_service_times, r->service_s, r->window_requests);
    bool up = false;
    r->queue_growth = r->queue_growth_se = r->queue_growth_rps = NAN;
    if (!r->whole_run) {
        double g, se, gw, sew;
        up = grows(s, i0, i1, false, &g, &se);
        up = grows(s, i0, i1, true, &gw, &sew) || up;
        r->queue_growth = g;
        r->queue_growth_se = se;
        r->queue_growth_rps = g / len;
    }
    if (up && (r->steady_state || over))
        r->verdict = SIM_DES_NOT_SUSTAINABLE;
    else if (r->whole_run && over)
        r->verdict = SIM_DES_NOT_SUSTAINABLE;
    else if (!up && r->steady_state)
        r->verdict = SIM_DES_SUSTAINABLE;
    else
        r->verdict = SIM_DES_UNDETERMINED;
    if (r->verdict == SIM_DES_UNDETERMINED && up)
        snprintf(r->steady_note + strlen(r->steady_note), sizeof r->steady_note - strlen(r->steady_note),
                 "; the number in system was still rising");
    r->sustainable = r->verdict == SIM_DES_SUSTAINABLE;
    des_note(r);
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
    pool *p0 = &s->pools[0];
    int npre = s->npools - s->ndec;
    double busy_dec = 0, busy_pre = 0, dec_sum = 0;
    long it_dec = 0;
    r->iterations = r->step_evals = r->step_cache_hits = 0;
    r->events = s->events;
    for (int i = 0; i < s->npools; i++) {
        const pool *p = &s->pools[i];
        r->iterations += p->iterations;
        r->step_evals += p->memo.evals;
        r->step_cache_hits += p->memo.hits;
        if (i < s->ndec) {
            busy_dec += p->busy_s / s->ndec;
            dec_sum += p->dec_sum;
            it_dec += p->iterations;
        } else {
            busy_pre += p->busy_s / npre;
        }
    }
    r->requests = w->n;
    r->completed = s->completed;
    r->preemptions = s->preemptions;
    r->gpus = s->ndec * d->gpus + (o->prefill ? npre * o->prefill->gpus : 0);
    r->first_arrival_s = w->r[0].arrival_s;
    r->last_arrival_s = w->r[w->n - 1].arrival_s;
    r->end_s = s->now;
    r->duration_s = fmax(s->now - r->first_arrival_s, 1e-12);
    double span = r->last_arrival_s - r->first_arrival_s;
    r->offered_rate = span > 0 ? (w->n - 1) / span : 0;
    int i0, i1;
    double *v = malloc((size_t)w->n * sizeof *v);
    if (!v)
        return sim_fail(err, SIM_EFAIL, "out of memory for statistics");
    choose_window(s, v, r, &i0, &i1);
    double len = r->window_t1_s - r->window_t0_s;
    latency_stats(s, v, r, fmax(len, 1e-12));
    r->service_s = median_service(s, v, r->window_t0_s, r->window_t1_s, r->whole_run);
    free(v);
    if (r->whole_run) {
        double in_tok = 0, out_tok = 0;
        for (long i = 0; i < w->n; i++) {
            in_tok += s->q[i].isl;
            out_tok += s->q[i].osl;
        }
        r->input_tps = in_tok / r->duration_s;
        r->output_tps = out_tok / r->duration_s;
        r->utilization = busy_dec / r->duration_s;
        r->prefill_utilization = npre ? busy_pre / r->duration_s : r->utilization;
        r->mean_in_system = s->area_sys / r->duration_s;
        r->mean_waiting = s->area_wait / r->duration_s;
        r->served_rps = s->completed / r->duration_s;
    } else { /* tokens produced and time integrated inside the window */
        span_bin t = { 0 };
        for (int i = i0; i < i1; i++) {
            t.sys += s->bin[i].sys;
            t.wait += s->bin[i].wait;
            t.busy += s->bin[i].busy;
            t.busy_pre += s->bin[i].busy_pre;
            t.out_tok += s->bin[i].out_tok;
            t.in_tok += s->bin[i].in_tok;
            t.done += s->bin[i].done;
        }
        r->input_tps = t.in_tok / len;
        r->output_tps = t.out_tok / len;
        r->utilization = t.busy / len;
        r->prefill_utilization = npre ? t.busy_pre / len : r->utilization;
        r->mean_in_system = t.sys / len;
        r->mean_waiting = t.wait / len;
        r->served_rps = t.done / len;
    }
    r->output_tps_per_gpu = r->output_tps / r->gpus;
    r->input_tps_per_gpu = r->input_tps / r->gpus;
    r->output_tps_per_user = r->tpot.mean > 0 ? 1 / r->tpot.mean : 0;
    r->mean_batch = it_dec ? dec_sum / (it_dec * (double)p0->nranks) : 0;
    r->max_waiting = s->max_waiting;
    r->kv_peak_share = s->kv_peak;
    r->kv_blocks_per_rank = p0->blocks;
    r->little_L = s->area_sys / r->duration_s;
    r->little_lambda = w->n / r->duration_s;
    r->little_lambda_W = r->little_lambda * r->little_W;
    r->little_rel_error = r->little_L > 0 ? fabs(r->little_L - r->little_lambda_W) / r->little_L : NAN;
    judge(s, r, i0, i1);
    timeline(s, r);
    r->cost_mode = "rent";
    r->usd_per_hour = sim_cost_usd_per_hour(d->hw, s->ndec * d->gpus, &o->cost, &r->cost_mode);
    if (o->prefill)
        r->usd_per_hour += sim_cost_usd_per_hour(o->prefill->hw, npre * o->prefill->gpus, &o->cost, &r->cost_mode);
    r->usd_per_mtok_output = sim_cost_usd_per_mtok(r->usd_per_hour, r->output_tps);
    r->usd_per_mtok_blended = sim_cost_usd_per_mtok(r->usd_per_hour, r->output_tps + r->input_tps);
    if (o->keep_records) {
        r->records = malloc((size_t)w->n * sizeof *r->records);
        if (!r->records)
            return sim_fail(err, SIM_EFAIL, "out of memory for request records");
        for (long i = 0; i < w->n; i++) {
            const dreq *q = &s->q[i];
            r->records[i] = (sim_des_record){ q->arrival, q->first - q->arrival, tpot_of(q), q->finish - q->arrival,
                                              q->isl,     q->osl,                q->preempts, q->rank,
                                              in_window(r, q) };
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
    r->queue_growth *= R;
    r->queue_growth_se *= R;
    r->queue_growth_rps *= R;
    r->capacity_rps *= R;
    des_note(r);
}

