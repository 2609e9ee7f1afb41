/* search.c: configuration search. The space is enumerated twice: once to count it (so a
 * search too large is refused before any work, with its size), once to evaluate. Splits
 * must pass sim_deploy_check; configurations whose weights do not fit are skipped and
 * counted. The steady-state model (serving.h) evaluates every point; for "cheapest that
 * meets the SLO" it ranks candidates by cost and the discrete-event simulator (des.h)
 * confirms the best few at p99, because the steady state knows means, not tails. */
#include "search/search.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/des.h"
#include "model/registry.h"
#include "serve/serving.h"

void sim_search_defaults(sim_search_opts *o)
{
    memset(o, 0, sizeof *o);
    o->min_gpus = 1;
    o->max_gpus = 8;
    static const double conc[] = { 1, 2, 4, 8, 16, 32, 64, 128, 256 };
    o->nconc = (int)(sizeof conc / sizeof conc[0]);
    memcpy(o->conc_per_gpu, conc, sizeof conc);
    o->limit = 20000;
    o->confirm = 3;
}

int sim_search_parse_list(const char *text, const char *what, sim_search_opts *o, sim_err *err)
{
    bool hw = strcmp(what, "hw") == 0, prec = strcmp(what, "precisions") == 0;
    bool mbt = strcmp(what, "mbt") == 0, conc = strcmp(what, "concurrency_per_gpu") == 0;
    if (!hw && !prec && !mbt && !conc)
        return sim_fail(err, SIM_EINPUT, "no list named '%s'", what);
    int n = 0;
    const char *p = text;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 0 || len > 63)
            return sim_fail(err, SIM_EINPUT, "'%s' must be a comma-separated list of values (got '%s')", what,
                            text);
        if (n == SIM_SEARCH_MAX_LIST)
            return sim_fail(err, SIM_EINPUT, "at most %d values in '%s'", SIM_SEARCH_MAX_LIST, what);
        char item[64];
        memcpy(item, p, len);
        item[len] = '\0';
        if (hw) {
            snprintf(o->hw[n], sizeof o->hw[n], "%s", item);
        } else if (prec) {
            if (len >= sizeof o->precisions[n])
                return sim_fail(err, SIM_EINPUT, "unknown precision '%s'", item);
            snprintf(o->precisions[n], sizeof o->precisions[n], "%s", item);
        } else {
            char *end;
            double v = strtod(item, &end);
            if (*end || !(v > 0) || (mbt && (v != floor(v) || v > 1e7)) || !isfinite(v))
                return sim_fail(err, SIM_EINPUT, "'%s' values must be positive %s (got '%s')", what,
                                mbt ? "integers" : "numbers", item);
            if (mbt)
                o->mbt[n] = (int)v;
            else
                o->conc_per_gpu[n] = v;
        }
        n++;
        p += len + (e ? 1 : 0);
        if (e && !*p)
            return sim_fail(err, SIM_EINPUT, "'%s' ends with a comma", what);
    }
    if (n == 0)
        return sim_fail(err, SIM_EINPUT, "'%s' is empty", what);
    *(hw ? &o->nhw : prec ? &o->nprec : mbt ? &o->nmbt : &o->nconc) = n;
    return SIM_OK;
}

/* ------------------------------------------------------------------ enumeration */

typedef int (*visit_fn)(void *ctx, const sim_request *r);

typedef struct walk {
    sim_session *session;
    const sim_request *base;
    const sim_search_opts *o;
    visit_fn fn;
    void *ctx;
    long configs, invalid;
} walk;

/* Valid when the request builds a deployment that passes its checks. */
static bool valid(sim_session *session, const sim_request *r)
{
    sim_deploy d, pre;
    sim_serve_opts so;
    bool hp;
    sim_err err = { 0 };
    return sim_request_deploy(session, r, &d, &pre, &hp, &so, &err) == SIM_OK;
}

static int visit(walk *w, const sim_request *r)
{
    if (!valid(w->session, r)) {
        w->invalid++;
        return SIM_OK;
    }
    w->configs++;
    return w->fn ? w->fn(w->ctx, r) : SIM_OK;
}

/* The prefill pool of P devices: tensor parallel inside a node (up to 8), the rest
 * attention-DP, experts over all of it. */
static int visit_pools(walk *w, sim_request *r)
{
    int rc = visit(w, r);
    if (rc || !w->o->disagg)
        return rc;
    for (int p = 1; r->gpus + p <= w->o->max_gpus; p *= 2) {
        sim_request q = *r;
        q.prefill_gpus = p;
        q.prefill_tp = p < 8 ? p : 8;
        q.prefill_dp = p / q.prefill_tp;
        q.prefill_pp = 1;
        q.prefill_ep = p;
        if ((rc = visit(w, &q)))
            return rc;
    }
    return SIM_OK;
}

static int walk_split(walk *w, sim_request *r, int gpus, int tp, int pp, int ep)
{
    const sim_search_opts *o = w->o;
    r->gpus = gpus;
    r->tp = tp;
    r->pp = pp;
    r->dp = gpus / (tp * pp);
    r->ep = ep;
    int np = o->nprec ? o->nprec : 1, nm = o->nmbt ? o->nmbt : 1;
    for (int a = 0; a < np; a++)
        for (int b = 0; b < nm; b++) {
            if (o->nprec)
                snprintf(r->precision, sizeof r->precision, "%s", o->precisions[a]);
            if (o->nmbt)
                r->max_batched_tokens = o->mbt[b];
            int rc = visit_pools(w, r);
            if (rc)
                return rc;
        }
    return SIM_OK;
}

static int enumerate(walk *w)
{
    const sim_search_opts *o = w->o;
    int nhw = o->nhw ? o->nhw : 1;
    for (int h = 0; h < nhw; h++) {
        sim_request r = *w->base;
        r.prefill_gpus = r.prefill_tp = r.prefill_ep = r.prefill_pp = r.prefill_dp = 0;
        if (o->nhw)
            snprintf(r.hw, sizeof r.hw, "%s", o->hw[h]);
        /* powers of two from min_gpus, and the budget itself */
        for (int g = 1; g <= o->max_gpus; g = g * 2 > o->max_gpus && g != o->max_gpus ? o->max_gpus : g * 2) {
            if (g >= o->min_gpus)
                for (int tp = 1; tp <= g; tp *= 2)
                    for (int pp = 1; tp * pp <= g; pp *= 2) {
                        if (g % (tp * pp))
                            continue;
                        int dp = g / (tp * pp);
                        for (int ep = 1; ep <= tp * dp; ep *= 2) {
                            if ((tp * dp) % ep)
                                continue;
                            int rc = walk_split(w, &r, g, tp, pp, ep);
                            if (rc)
                                return rc;
                        }
                    }
            if (g == o->max_gpus)
                break;
        }
    }
    return SIM_OK;
}

static int check_opts(const sim_search_opts *o, sim_err *err)
{
    if (o->min_gpus < 1 || o->max_gpus < o->min_gpus || o->max_gpus > 4096)
        return sim_fail(err, SIM_EINPUT, "need 1 <= min_gpus <= max_gpus <= 4096 (got %d and %d)", o->min_gpus,
                        o->max_gpus);
    if (o->limit < 1)
        return sim_fail(err, SIM_EINPUT, "limit must be >= 1 (got %ld)", o->limit);
    return SIM_OK;
}

int sim_search_size(sim_session *session, const sim_request *base, const sim_search_opts *o, bool frontier, long *evals, long *configs,
                    sim_err *err)
{
    int rc = check_opts(o, err);
    if (rc)
        return rc;
    /* the model and every hardware must load: their errors name the closest shipped names */
    if (!base->model[0] || !base->hw[0])
        rc = sim_fail(err, SIM_EINPUT, "options 'model' and 'hw' are required");
    else
        rc = sim_session_model(session, base->model, err) ? SIM_OK : err->code;
    for (int i = 0; !rc && i < (o->nhw ? o->nhw : 1); i++)
        rc = sim_session_hw(session, o->nhw ? o->hw[i] : base->hw, err) ? SIM_OK : err->code;
    if (rc)
        return rc;
    walk w = { .session = session, .base = base, .o = o };
    if ((rc = enumerate(&w)))
        return rc;
    *configs = w.configs;
    *evals = w.configs * (frontier ? (o->nconc ? o->nconc : 1) : 1);
    return SIM_OK;
}

/* Refuse a space above the limit unless forced, with its size in the message. */
static int size_gate(sim_session *session, const sim_request *base, const sim_search_opts *o, bool frontier, long *size, sim_err *err)
{
    long configs;
    int rc = sim_search_size(session, base, o, frontier, size, &configs, err);
    if (rc)
        return rc;
    if (configs == 0)
        return sim_fail(err, SIM_EINPUT, "no split of 1..%d devices passes the deployment checks for %s",
                        o->max_gpus, base->model);
    if (*size > o->limit && !o->force)
        return sim_fail(err, SIM_EINPUT,
                        "the space holds %ld evaluations (%ld configurations%s), above the limit of %ld; "
                        "narrow it (fewer devices, precisions, token caps or concurrency points) or pass force",
                        *size, configs, frontier ? " x concurrency points" : "", o->limit);
    return SIM_OK;
}

/* ------------------------------------------------------------------ rows */

static void split_label(const sim_request *r, const sim_deploy *d, const sim_deploy *pre, bool hp, char *buf,
                        size_t cap)
{
    int n = snprintf(buf, cap, "tp%d ep%d pp%d dp%d", d->tp, d->ep, d->pp, d->dp);
    if (hp && n > 0 && (size_t)n < cap)
        snprintf(buf + n, cap - (size_t)n, " + prefill %d gpus (tp%d ep%d dp%d)", pre->gpus, pre->tp, pre->ep,
                 pre->dp);
    (void)r;
}

static cJSON *config_row(const sim_request *r, const sim_deploy *d, const sim_deploy *pre, bool hp)
{
    cJSON *row = cJSON_CreateObject();
    char split[160];
    split_label(r, d, pre, hp, split, sizeof split);
    cJSON_AddStringToObject(row, "hw", d->hw->name);
    cJSON_AddNumberToObject(row, "gpus", d->gpus + (hp ? pre->gpus : 0));
    cJSON_AddStringToObject(row, "split", split);
    cJSON_AddNumberToObject(row, "tp", d->tp);
    cJSON_AddNumberToObject(row, "ep", d->ep);
    cJSON_AddNumberToObject(row, "pp", d->pp);
    cJSON_AddNumberToObject(row, "dp", d->dp);
    cJSON_AddNumberToObject(row, "prefill_gpus", hp ? pre->gpus : 0);
    cJSON_AddStringToObject(row, "precision", sim_wformat_name(d->expert_fmt));
    cJSON_AddNumberToObject(row, "max_batched_tokens", d->max_batched_tokens);
    return row;
}

static void eval_fields(cJSON *row, const sim_eval *ev)
{
    cJSON_AddNumberToObject(row, "concurrency", ev->concurrency_served);
    cJSON_AddNumberToObject(row, "output_tokens_per_s_per_user", ev->output_tps_per_user);
    cJSON_AddNumberToObject(row, "output_tokens_per_s_per_gpu", ev->output_tps_per_gpu);
    cJSON_AddNumberToObject(row, "usd_per_mtok_output", ev->usd_per_mtok_output);
    cJSON_AddNumberToObject(row, "usd_per_hour", ev->usd_per_hour);
    cJSON_AddNumberToObject(row, "ttft_s", ev->ttft_s);
    cJSON_AddNumberToObject(row, "tpot_s", ev->tpot_s);
}

static void tick(const sim_search_opts *o, long done, long size)
{
    if (o->progress && size > 0 && done % 256 == 0)
        o->progress(o->progress_ctx, (double)done / size);
}

/* ------------------------------------------------------------------ frontier */

typedef struct point {
    double x, y; /* tokens/s per user, per GPU */
    int hw;
    cJSON *row;
} point;

typedef struct frontier_ctx {
    sim_session *session;
    const sim_search_opts *o;
    point *pts;
    long n, cap, done, size, no_fit;
    sim_err *err;
} frontier_ctx;

static int hw_index(const sim_search_opts *o, const char *name)
{
    for (int i = 0; i < o->nhw; i++)
        if (strcmp(o->hw[i], name) == 0)
            return i;
    return 0;
}

static int frontier_visit(void *vctx, const sim_request *r)
{
    frontier_ctx *c = vctx;
    sim_deploy d, pre;
    sim_serve_opts so;
    bool hp;
    int rc = sim_request_deploy(c->session, r, &d, &pre, &hp, &so, c->err);
    if (rc)
        return rc;
    so.prefill = hp ? &pre : NULL;
    int total = d.gpus + (hp ? pre.gpus : 0);
    for (int i = 0; i < c->o->nconc; i++) {
        tick(c->o, ++c->done, c->size);
        so.concurrency = fmax(1, round(c->o->conc_per_gpu[i] * total));
        sim_eval ev;
        if ((rc = sim_serve_eval(&d, &so, &ev, c->err)))
            return rc;
        if (!ev.fits) {
            c->no_fit++;
            c->done += c->o->nconc - 1 - i;
            return SIM_OK;
        }
        if (c->n == c->cap) {
            long cap = c->cap ? c->cap * 2 : 1024;
            point *p = realloc(c->pts, (size_t)cap * sizeof *p);
            if (!p)
                return sim_fail(c->err, SIM_EFAIL, "out of memory");
            c->pts = p;
            c->cap = cap;
        }
        cJSON *row = config_row(r, &d, &pre, hp);
        if (!row)
            return sim_fail(c->err, SIM_EFAIL, "out of memory");
        eval_fields(row, &ev);
        c->pts[c->n++] = (point){ ev.output_tps_per_user, ev.output_tps_per_gpu, hw_index(c->o, r->hw), row };
    }
    return SIM_OK;
}

static int by_hw_then_x_desc(const void *a, const void *b)
{
    const point *p = a, *q = b;
    if (p->hw != q->hw)
        return p->hw - q->hw;
    if (p->x != q->x)
        return p->x < q->x ? 1 : -1;
    return (p->y < q->y) - (p->y > q->y);
}

/* Per hardware, walk from the most interactive point down, keeping each point that
 * delivers more tokens/s per GPU than every more interactive one. Rows are appended in
 * increasing interactivity so a plotted line reads left to right. */
static cJSON *pareto(point *pts, long n)
{
    qsort(pts, (size_t)n, sizeof *pts, by_hw_then_x_desc);
    cJSON *out = cJSON_CreateArray();
    for (long s = 0; s < n;) {
        long e = s;
        while (e < n && pts[e].hw == pts[s].hw)
            e++;
        long keep[e - s], nk = 0;
        double best = -1;
        for (long i = s; i < e; i++)
            if (pts[i].y > best) {
                best = pts[i].y;
                keep[nk++] = i;
            }
        while (nk > 0)
            cJSON_AddItemToArray(out, cJSON_Duplicate(pts[keep[--nk]].row, true));
        s = e;
    }
    return out;
}

int sim_search_frontier(sim_session *session, const sim_request *base, const sim_search_opts *o, cJSON **result, sim_err *err)
{
    *result = NULL;
    if (o->nconc < 1)
        return sim_fail(err, SIM_EINPUT, "the frontier needs at least one concurrency point");
    long size;
    int rc = size_gate(session, base, o, true, &size, err);
    if (rc)
        return rc;
    frontier_ctx c = { .session = session, .o = o, .size = size, .err = err };
    walk w = { .session = session, .base = base, .o = o, .fn = frontier_visit, .ctx = &c };
    rc = enumerate(&w);
    if (!rc) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "space_size", (double)size);
        cJSON_AddNumberToObject(j, "configurations", (double)w.configs);
        cJSON_AddNumberToObject(j, "skipped_invalid", (double)w.invalid);
        cJSON_AddNumberToObject(j, "skipped_no_fit", (double)c.no_fit);
        cJSON_AddNumberToObject(j, "points", (double)c.n);
        cJSON_AddItemToObject(j, "frontier", pareto(c.pts, c.n));
        *result = j;
    }
    for (long i = 0; i < c.n; i++)
        cJSON_Delete(c.pts[i].row);
    free(c.pts);
    return rc;
}

/* ------------------------------------------------------------------ cheapest meeting an SLO */

typedef struct cand {
    sim_request r;
    double usd_per_hour, score, conc;
    bool feasible;
    cJSON *row;
} cand;

typedef struct cheap_ctx {
    sim_session *session;
    const sim_request *base;
    const sim_search_opts *o;
    cand *c;
    long n, cap, done, size, no_fit;
    sim_err *err;
} cheap_ctx;

/* How far a steady-state point is from the SLO: the worst of the ratios to the bounds (<= 1 meets it). */
static double slo_score(const sim_request *b, double ttft, double tpot)
{
    double s = 0;
    if (b->slo_ttft_s > 0)
        s = fmax(s, ttft / b->slo_ttft_s);
    if (b->slo_tpot_s > 0)
        s = fmax(s, tpot / b->slo_tpot_s);
    return s;
}

/* The smallest concurrency whose steady-state request throughput reaches the rate:
 * doubling, then bisection. Returns false when the configuration cannot reach it. */
static int reach_rate(const sim_deploy *d, sim_serve_opts *so, double rate, sim_eval *ev, bool *reached,
                      sim_err *err)
{
    double lo = 0, hi = 1;
    int rc;
    *reached = false;
    for (;; hi *= 2) {
        so->concurrency = hi;
        if ((rc = sim_serve_eval(d, so, ev, err)))
            return rc;
        if (!ev->fits)
            return SIM_OK;
        if (ev->output_tps / so->osl >= rate)
            break;
        if (ev->clipped || hi > 1e6) /* the batch cannot grow further */
            return SIM_OK;
        lo = hi;
    }
    *reached = true;
    for (int i = 0; i < 8 && hi - lo > 1; i++) {
        double mid = floor((lo + hi) / 2);
        so->concurrency = mid;
        if ((rc = sim_serve_eval(d, so, ev, err)))
            return rc;
        if (ev->fits && ev->output_tps / so->osl >= rate)
            hi = mid;
        else
            lo = mid;
    }
    so->concurrency = hi;
    return sim_serve_eval(d, so, ev, err);
}

static int cheap_visit(void *vctx, const sim_request *r)
{
    cheap_ctx *c = vctx;
    tick(c->o, ++c->done, c->size);
    sim_deploy d, pre;
    sim_serve_opts so;
    bool hp;
    int rc = sim_request_deploy(c->session, r, &d, &pre, &hp, &so, c->err);
    if (rc)
        return rc;
    so.prefill = hp ? &pre : NULL;
    sim_eval ev;
    bool reached;
    if ((rc = reach_rate(&d, &so, c->base->rate, &ev, &reached, c->err)))
        return rc;
    if (!ev.fits) {
        c->no_fit++;
        return SIM_OK;
    }
    if (c->n == c->cap) {
        long cap = c->cap ? c->cap * 2 : 256;
        cand *p = realloc(c->c, (size_t)cap * sizeof *p);
        if (!p)
            return sim_fail(c->err, SIM_EFAIL, "out of memory");
        c->c = p;
        c->cap = cap;
    }
    double rps = ev.output_tps / so.osl;
    double score = slo_score(c->base, ev.ttft_s, ev.tpot_s);
    if (!reached) /* short of the rate: as far from the goal as the shortfall */
        score = fmax(score, 1) * c->base->rate / fmax(rps, 1e-12);
    cand *k = &c->c[c->n++];
    k->r = *r;
    k->r.concurrency = so.concurrency;
    k->usd_per_hour = ev.usd_per_hour;
    k->score = score;
    k->conc = so.concurrency;
    k->feasible = reached && score <= 1;
    k->row = config_row(r, &d, &pre, hp);
    if (!k->row)
        return sim_fail(c->err, SIM_EFAIL, "out of memory");
    eval_fields(k->row, &ev);
    cJSON_AddNumberToObject(k->row, "requests_per_s", rps);
    cJSON_AddNumberToObject(k->row, "slo_score", score);
    return SIM_OK;
}

static int by_cost(const void *a, const void *b)
{
    const cand *p = a, *q = b;
    if (p->feasible != q->feasible)
        return p->feasible ? -1 : 1;
    if (p->feasible && p->usd_per_hour != q->usd_per_hour)
        return p->usd_per_hour < q->usd_per_hour ? -1 : 1;
    return (p->score > q->score) - (p->score < q->score);
}

/* Simulate a candidate at the rate; adds the DES figures to its row. */
static int confirm(const cheap_ctx *c, cand *k, bool *met, double *score, sim_err *err)
{
    cJSON *rep = NULL;
    sim_des_result res;
    int rc = sim_des_request_run(c->session, &k->r, false, false, &rep, &res, err);
    if (rc)
        return rc;
    *score = slo_score(c->base, res.ttft.p99, res.tpot.p99);
    *met = res.sustainable && *score <= 1;
    cJSON *des = cJSON_AddObjectToObject(k->row, "simulated");
    cJSON_AddNumberToObject(des, "ttft_p99_s", res.ttft.p99);
    cJSON_AddNumberToObject(des, "tpot_p99_s", res.tpot.p99);
    cJSON_AddNumberToObject(des, "slo_attainment", res.slo_attainment);
    cJSON_AddBoolToObject(des, "sustainable", res.sustainable);
    cJSON_AddNumberToObject(des, "output_tokens_per_s_per_gpu", res.output_tps_per_gpu);
    cJSON_AddNumberToObject(des, "requests", res.requests);
    cJSON_AddBoolToObject(des, "meets_slo", *met);
    cJSON_Delete(rep);
    sim_des_result_free(&res);
    return SIM_OK;
}

static void describe(char *buf, size_t cap, const cJSON *row)
{
    const cJSON *des = cJSON_GetObjectItemCaseSensitive(row, "simulated");
    snprintf(buf, cap, "%s x%g %s %s, %s", cJSON_GetObjectItemCaseSensitive(row, "hw")->valuestring,
             cJSON_GetObjectItemCaseSensitive(row, "gpus")->valuedouble,
             cJSON_GetObjectItemCaseSensitive(row, "split")->valuestring,
             cJSON_GetObjectItemCaseSensitive(row, "precision")->valuestring,
             des ? "simulated p99" : "steady state");
    size_t n = strlen(buf);
    const cJSON *src = des ? des : row;
    const char *tk = des ? "ttft_p99_s" : "ttft_s", *pk = des ? "tpot_p99_s" : "tpot_s";
    snprintf(buf + n, cap - n, " TTFT %.3g s, TPOT %.3g ms", cJSON_GetObjectItemCaseSensitive(src, tk)->valuedouble,
             1e3 * cJSON_GetObjectItemCaseSensitive(src, pk)->valuedouble);
}

static int cheapest_pick(cheap_ctx *c, cJSON *j, sim_err *err)
{
    qsort(c->c, (size_t)c->n, sizeof *c->c, by_cost);
    long nfeas = 0;
    while (nfeas < c->n && c->c[nfeas].feasible)
        nfeas++;
    cJSON_AddNumberToObject(j, "steady_state_feasible", (double)nfeas);
    cJSON *tried = cJSON_AddArrayToObject(j, "confirmed");
    long best_closest = -1;
    double closest_score = INFINITY;
    for (long i = 0; i < nfeas && i < c->o->confirm; i++) {
        bool met;
        double score;
        int rc = confirm(c, &c->c[i], &met, &score, err);
        if (rc)
            return rc;
        cJSON_AddItemToArray(tried, cJSON_Duplicate(c->c[i].row, true));
        if (met) {
            cJSON_AddBoolToObject(j, "met", true);
            cJSON_AddItemToObject(j, "best", cJSON_Duplicate(c->c[i].row, true));
            char d[384], msg[512];
            describe(d, sizeof d, c->c[i].row);
            snprintf(msg, sizeof msg, "cheapest meeting the SLO: %s", d);
            cJSON_AddStringToObject(j, "message", msg);
            return SIM_OK;
        }
        if (score < closest_score) {
            closest_score = score;
            best_closest = i;
        }
    }
    /* Nothing met it: the closest is the best simulated candidate, else the steady-state
     * candidate with the smallest distance to the SLO (simulated now, to show its tails). */
    if (best_closest < 0 && c->n > 0) {
        long k = 0;
        for (long i = 1; i < c->n; i++)
            if (c->c[i].score < c->c[k].score)
                k = i;
        bool met;
        double score;
        int rc = confirm(c, &c->c[k], &met, &score, err);
        if (rc)
            return rc;
        best_closest = k;
    }
    cJSON_AddBoolToObject(j, "met", false);
    char msg[768];
    if (best_closest >= 0) {
        char d[384];
        describe(d, sizeof d, c->c[best_closest].row);
        cJSON_AddItemToObject(j, "closest", cJSON_Duplicate(c->c[best_closest].row, true));
        snprintf(msg, sizeof msg,
                 "no configuration meets the SLO (TTFT <= %g s, TPOT <= %g s at p99) at %g requests/s; closest: %s",
                 c->base->slo_ttft_s, c->base->slo_tpot_s, c->base->rate, d);
    } else {
        snprintf(msg, sizeof msg, "no configuration fits in memory, so none meets the SLO");
    }
    cJSON_AddStringToObject(j, "message", msg);
    return SIM_OK;
}

int sim_search_cheapest(sim_session *session, const sim_request *base, const sim_search_opts *o, cJSON **result, sim_err *err)
{
    *result = NULL;
    if (!(base->rate > 0))
        return sim_fail(err, SIM_EINPUT, "the cheapest configuration needs a positive rate (got %g)",
                        base->rate);
    if (!(base->slo_ttft_s > 0) && !(base->slo_tpot_s > 0))
        return sim_fail(err, SIM_EINPUT, "the cheapest configuration needs slo_ttft_s and/or slo_tpot_s");
    if (base->slo_ttft_s < 0 || base->slo_tpot_s < 0)
        return sim_fail(err, SIM_EINPUT, "SLO bounds must be positive seconds");
    if (base->trace[0])
        return sim_fail(err, SIM_EINPUT, "use rate with isl/osl (a trace is for moesim serve)");
    long size;
    int rc = size_gate(session, base, o, false, &size, err);
    if (rc)
        return rc;
    cheap_ctx c = { .session = session, .base = base, .o = o, .size = size, .err = err };
    walk w = { .session = session, .base = base, .o = o, .fn = cheap_visit, .ctx = &c };
    cJSON *j = NULL;
    if (!(rc = enumerate(&w))) {
        j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "space_size", (double)size);
        cJSON_AddNumberToObject(j, "configurations", (double)w.configs);
        cJSON_AddNumberToObject(j, "skipped_invalid", (double)w.invalid);
        cJSON_AddNumberToObject(j, "skipped_no_fit", (double)c.no_fit);
        cJSON_AddNumberToObject(j, "rate", base->rate);
        cJSON_AddNumberToObject(j, "slo_ttft_s", base->slo_ttft_s);
        cJSON_AddNumberToObject(j, "slo_tpot_s", base->slo_tpot_s);
        rc = cheapest_pick(&c, j, err);
        cJSON *ranked = cJSON_AddArrayToObject(j, "ranked");
        for (long i = 0; !rc && i < c.n && i < 10; i++)
            cJSON_AddItemToArray(ranked, cJSON_Duplicate(c.c[i].row, true));
    }
    for (long i = 0; i < c.n; i++)
        cJSON_Delete(c.c[i].row);
    free(c.c);
    if (rc) {
        cJSON_Delete(j);
        return rc;
    }
    *result = j;
    return SIM_OK;
}
