/* search.c: configuration search. The space is enumerated once: each candidate deployment
 * is built and checked exactly once (sim_deploy_split, sim_deploy_check), counted, and kept
 * for the evaluation, so a search too large is refused with its size before any
 * evaluation. Configurations whose weights do not fit are skipped and counted. The
 * steady-state model (serving.h) evaluates every point; for "cheapest that meets the SLO"
 * it ranks candidates by cost and the discrete-event simulator (des.h) confirms the best
 * few at p99 on the candidate's own deployment, because the steady state knows means, not
 * tails. */
#include "search/search.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sim_search_space_defaults(sim_search_space *s)
{
    memset(s, 0, sizeof *s);
    s->min_gpus = 1;
    s->max_gpus = 8;
    static const double conc[] = { 1, 2, 4, 8, 16, 32, 64, 128, 256 };
    s->nconc = (int)(sizeof conc / sizeof conc[0]);
    memcpy(s->conc_per_gpu, conc, sizeof conc);
    s->limit = 20000;
    s->confirm = 3;
    /* No pipeline splits unless a caller asks: the serving model keeps pp micro-batches in
     * flight with no bubbles between stages, which would flatter them against TP/EP/DP
     * (issue 18 item 4: propose pipeline parallelism only once bubbles are costed). */
    s->max_pp = 1;
    sim_serve_defaults(&s->serve);
    sim_des_defaults(&s->des);
}

void sim_search_result_free(sim_search_result *r)
{
    free(r->rows);
    free(r->confirmed);
    r->rows = NULL;
    r->confirmed = NULL;
    r->nrows = r->nconfirmed = 0;
}

/* ------------------------------------------------------------------ enumeration */

/* A configuration that passed the checks: its deployment (and prefill pool), built once. */
typedef struct cand {
    sim_deploy d, pre;
    bool has_prefill;
    int xp, yd;        /* disaggregated: prefill and decode instances (xPyD), 1 and 1 for one of each */
    int hw;            /* group for the frontier: the first listed hardware that is the same */
} cand;

typedef struct walk {
    const sim_search_space *s;
    bool frontier, store;
    cand *c;
    long n, cap;
    long configs, invalid, deploys, unsupported;
    sim_err *err;
} walk;

static long evals_per_config(const sim_search_space *s, bool frontier)
{
    return frontier ? (s->nconc ? s->nconc : 1) : 1;
}

/* Keep a candidate for the evaluation. Past the limit (without force) the space is only
 * counted: it will be refused, and a huge space must not be held in memory. */
static int keep(walk *w, const sim_deploy *d, const sim_deploy *pre, bool hp, int xp, int yd, int hw)
{
    w->configs++;
    if (!w->store)
        return SIM_OK;
    if (!w->s->force && w->configs * evals_per_config(w->s, w->frontier) > w->s->limit) {
        w->store = false;
        free(w->c);
        w->c = NULL;
        w->n = w->cap = 0;
        return SIM_OK;
    }
    if (w->n == w->cap) {
        long cap = w->cap ? w->cap * 2 : 256;
        cand *c = realloc(w->c, (size_t)cap * sizeof *c);
        if (!c)
            return sim_fail(w->err, SIM_EFAIL, "out of memory");
        w->c = c;
        w->cap = cap;
    }
    cand *k = &w->c[w->n++];
    k->d = *d;
    k->has_prefill = hp;
    k->xp = xp;
    k->yd = yd;
    if (hp)
        k->pre = *pre;
    k->hw = hw;
    return SIM_OK;
}

/* The prefill pool of P devices: tensor parallel inside a node (up to 8), the rest
 * attention-DP, experts over all of it; the rest of it as the decode pool. */
static int prefill_pool(const sim_deploy *d, int p, sim_deploy *pre)
{
    sim_err ignored = { 0 };
    *pre = *d;
    int tp = p < 8 ? p : 8;
    const sim_split_req split = { p, tp, p, 1, p / tp };
    if (sim_deploy_split(pre, &split, "prefill pool: ", &ignored))
        return -1;
    return sim_deploy_check(pre, &ignored) ? -1 : 0;
}

/* One split at one precision and token cap: aggregated, then (disagg) with prefill pools of
 * 1, 2, 4, ... devices within the budget. */
static int visit_split(walk *w, sim_deploy *d, const sim_split_req *split, int hw)
{
    const sim_search_space *s = w->s;
    sim_err ignored = { 0 };
    /* Never propose a format the hardware does not run (the check would refuse it anyway;
     * counted apart so the report can say why). */
    if (!sim_deploy_formats_supported(d) && !d->emulate) {
        w->unsupported++;
        return SIM_OK;
    }
    w->deploys++;
    bool ok = sim_deploy_split(d, split, "", &ignored) == SIM_OK && sim_deploy_check(d, &ignored) == SIM_OK;
    int rc = SIM_OK;
    if (!ok)
        w->invalid++;
    else if ((s->system_gpus <= 0 || s->system_gpus % split->gpus == 0) && (rc = keep(w, d, NULL, false, 1, 1, hw)))
        return rc;
    if (!s->disagg)
        return SIM_OK;
    for (int p = 1; split->gpus + p <= s->max_gpus; p *= 2) {
        sim_deploy pre;
        bool built = false, pre_ok = false;
        /* xPyD ratios: x prefill instances of p devices beside y decode instances of this
         * split, within the budget: x:1 and 1:y for x, y powers of two (a common factor is
         * what replicas multiply; powers of two keep the space the size of the splits');
         * 1P1D is the pair of pools as before */
        for (int x = 1; x <= SIM_SEARCH_MAX_INSTANCES; x *= 2)
            for (int y = 1; y <= SIM_SEARCH_MAX_INSTANCES; y *= 2) {
                int total = x * p + y * split->gpus;
                if (total > s->max_gpus || (x > 1 && y > 1) || (!s->xpyd && x * y != 1))
                    continue;
                if (s->system_gpus > 0 && s->system_gpus % total)
                    continue; /* the instances together must tile the system */
                w->deploys++;
                if (!built) {
                    pre_ok = ok && !prefill_pool(d, p, &pre);
                    built = true;
                }
                if (!pre_ok) {
                    w->invalid++;
                    continue;
                }
                if ((rc = keep(w, d, &pre, true, x, y, hw)))
                    return rc;
            }
    }
    return SIM_OK;
}

/* The template on hardware h with precision a and token cap b (indices into the lists). */
static void candidate_base(const sim_search_space *s, int h, int a, int b, sim_deploy *d)
{
    *d = s->tmpl;
    d->model = s->model;
    d->hw = s->hw[h];
    if (s->nprec) {
        sim_wformat dense = d->dense_fmt;
        if (s->native[a])
            sim_deploy_set_native_precision(d);
        else
            sim_deploy_set_precision(d, s->precisions[a]);
        if (s->dense_fixed) { /* the dense part (and the head beside it) as the template asked */
            d->dense_fmt = dense;
            d->head_native = s->tmpl.head_native;
        }
    }
    if (s->nmbt)
        d->max_batched_tokens = s->mbt[b];
}

/* The fewest redundant experts, at least the template's, that make ep divide the expert
 * slots (a 72-way EP over 256 experts needs 32: 288 = 72 x 4). */
static int redundant_for(const sim_search_space *s, int ep)
{
    int r = s->tmpl.redundant_experts, n = s->model->ffn.experts;
    while (n > 0 && ep > 0 && (n + r) % ep != 0)
        r++;
    return r;
}

static int walk_split(walk *w, int h, int hw, int gpus, int tp, int pp, int ep)
{
    const sim_search_space *s = w->s;
    const sim_split_req split = { gpus, tp, ep, pp, gpus / (tp * pp) };
    int np = s->nprec ? s->nprec : 1, nm = s->nmbt ? s->nmbt : 1;
    for (int a = 0; a < np; a++)
        for (int b = 0; b < nm; b++) {
            sim_deploy d;
            candidate_base(s, h, a, b, &d);
            if (s->system_gpus > 0 && ep > 1 && redundant_for(s, ep) != d.redundant_experts)
                sim_deploy_set_redundant(&d, redundant_for(s, ep), d.eplb);
            int rc = visit_split(w, &d, &split, hw);
            if (rc)
                return rc;
        }
    return SIM_OK;
}

/* The same hardware listed twice forms one group, as one name did before. */
static int hw_group(const sim_search_space *s, int h)
{
    for (int i = 0; i < h; i++)
        if (s->hw[i] == s->hw[h])
            return i;
    return h;
}

/* Expert-parallel degrees: powers of two; for a system, also every rank of the stage. */
static int next_ep(const sim_search_space *s, int ep, int stage)
{
    if (s->system_gpus > 0 && ep < stage && ep * 2 > stage)
        return stage;
    return ep * 2;
}

static int enumerate(walk *w)
{
    const sim_search_space *s = w->s;
    for (int h = 0; h < s->nhw; h++) {
        int hw = hw_group(s, h);
        /* powers of two from min_gpus, and the budget itself */
        for (int g = 1; g <= s->max_gpus; g = g * 2 > s->max_gpus && g != s->max_gpus ? s->max_gpus : g * 2) {
            if (g >= s->min_gpus)
                for (int tp = 1; tp <= g; tp *= 2)
                    for (int pp = 1; tp * pp <= g && (s->max_pp <= 0 || pp <= s->max_pp); pp *= 2) {
                        if (g % (tp * pp))
                            continue;
                        int dp = g / (tp * pp);
                        for (int ep = 1; ep <= tp * dp; ep = next_ep(s, ep, tp * dp)) {
                            if ((tp * dp) % ep)
                                continue;
                            int rc = walk_split(w, h, hw, g, tp, pp, ep);
                            if (rc)
                                return rc;
                        }
                    }
            if (g == s->max_gpus)
                break;
        }
    }
    return SIM_OK;
}

static int check_space(const sim_search_space *s, sim_err *err)
{
    if (s->system_gpus < 0 || s->system_gpus > 4096 || (s->system_gpus > 0 && s->max_gpus != s->system_gpus))
        return sim_fail(err, SIM_EINPUT, "a system's devices must be in [1, 4096] and equal max_gpus (got %d and %d)",
                        s->system_gpus, s->max_gpus);
    if (s->min_gpus < 1 || s->max_gpus < s->min_gpus || s->max_gpus > 4096)
        return sim_fail(err, SIM_EINPUT, "need 1 <= min_gpus <= max_gpus <= 4096 (got %d and %d)", s->min_gpus,
                        s->max_gpus);
    if (s->limit < 1)
        return sim_fail(err, SIM_EINPUT, "limit must be >= 1 (got %ld)", s->limit);
    if (!s->model || s->nhw < 1)
        return sim_fail(err, SIM_EINPUT, "a search needs a model and at least one hardware");
    for (int i = 0; i < s->nhw; i++)
        if (!s->hw[i])
            return sim_fail(err, SIM_EINPUT, "hardware %d of the search is missing", i + 1);
    return SIM_OK;
}

int sim_search_count(const sim_search_space *s, bool frontier, long *evals, long *configs, sim_err *err)
{
    int rc = check_space(s, err);
    if (rc)
        return rc;
    walk w = { .s = s, .frontier = frontier, .store = false, .err = err };
    if ((rc = enumerate(&w)))
        return rc;
    *configs = w.configs;
    *evals = w.configs * evals_per_config(s, frontier);
    return SIM_OK;
}

/* Enumerate and keep the candidates; refuse a space above the limit unless forced, with
 * its size in the message. The caller frees w->c. */
static int gather(const sim_search_space *s, bool frontier, walk *w, sim_search_result *out, sim_err *err)
{
    *w = (walk){ .s = s, .frontier = frontier, .store = true, .err = err };
    int rc = check_space(s, err);
    if (rc)
        return rc;
    if ((rc = enumerate(w)))
        return rc;
    long size = w->configs * evals_per_config(s, frontier);
    out->frontier = frontier;
    out->space_size = size;
    out->configs = w->configs;
    out->invalid = w->invalid;
    out->unsupported = w->unsupported;
    out->deploys = w->deploys;
    out->best = out->closest = -1;
    out->spec_tokens = s->serve.spec_tokens;
    out->spec_accept = s->serve.spec_tokens > 0 ? s->serve.spec_accept : 1;
    out->spec_source = s->serve.spec_tokens > 0 ? s->serve.spec_source : NULL;
    out->draft_model = s->serve.spec_tokens > 0 && s->tmpl.draft_model ? s->tmpl.draft_model->name : NULL;
    out->eagle3 = s->serve.spec_tokens > 0 && !s->tmpl.draft_model && s->tmpl.spec_method == SIM_SPEC_EAGLE3;
    out->prefix_hit = s->serve.prefix_hit;
    if (w->configs == 0)
        return sim_fail(err, SIM_EINPUT, "no split of 1..%d devices passes the deployment checks for %s%s",
                        s->max_gpus, s->model->name,
                        w->unsupported ? " (the precisions asked for include formats the hardware does not support: "
                                         "hwmodel 'formats'; --emulate to run them anyway)"
                                       : "");
    if (size > s->limit && !s->force)
        return sim_fail(err, SIM_EINPUT,
                        "the space holds %ld evaluations (%ld configurations%s), above the limit of %ld; "
                        "narrow it (fewer devices, precisions, token caps or concurrency points) or pass force",
                        size, w->configs, frontier ? " x concurrency points" : "", s->limit);
    return SIM_OK;
}

/* ------------------------------------------------------------------ rows */

static void split_label(const cand *k, char *buf, size_t cap)
{
    const sim_deploy *d = &k->d, *pre = &k->pre;
    int n = snprintf(buf, cap, "tp%d ep%d pp%d dp%d", d->tp, d->ep, d->pp, d->dp);
    if (d->redundant_experts > 0 && n > 0 && (size_t)n < cap)
        n += snprintf(buf + n, cap - (size_t)n, " +%d redundant experts", d->redundant_experts);
    if (k->has_prefill && n > 0 && (size_t)n < cap && k->xp * k->yd == 1)
        snprintf(buf + n, cap - (size_t)n, " + prefill %d gpus (tp%d ep%d dp%d)", pre->gpus, pre->tp, pre->ep,
                 pre->dp);
    else if (k->has_prefill && n > 0 && (size_t)n < cap)
        snprintf(buf + n, cap - (size_t)n, " %dP%dD: prefill %d gpus (tp%d ep%d dp%d) each", k->xp, k->yd,
                 pre->gpus, pre->tp, pre->ep, pre->dp);
}

/* Every device of a candidate: all its instances. */
static int cand_gpus(const cand *k)
{
    return k->has_prefill ? k->yd * k->d.gpus + k->xp * k->pre.gpus : k->d.gpus;
}

static sim_search_row config_row(const cand *k, const sim_eval *ev)
{
    const sim_deploy *d = &k->d;
    sim_search_row row = {
        .hw = d->hw,
        .gpus = cand_gpus(k),
        .prefill_instances = k->has_prefill ? k->xp : 0,
        .decode_instances = k->has_prefill ? k->yd : 0,
        .tp = d->tp, .ep = d->ep, .pp = d->pp, .dp = d->dp,
        .redundant_experts = d->redundant_experts,
        .prefill_gpus = k->has_prefill ? k->xp * k->pre.gpus : 0,
        .precision = d->expert_fmt,
        .native_formats = d->head_native && d->expert_fmt == d->model->native_experts &&
                          d->shared_fmt == d->model->native_shared && d->dense_fmt == d->model->native_dense,
        .emulated = !sim_deploy_formats_supported(d) || (k->has_prefill && !sim_deploy_formats_supported(&k->pre)),
        .max_batched_tokens = d->max_batched_tokens,
        .concurrency = ev->concurrency_served,
        .output_tps_per_user = ev->output_tps_per_user,
        .output_tps_per_gpu = ev->output_tps_per_gpu,
        .usd_per_mtok_output = ev->usd_per_mtok_output,
        .usd_per_hour = ev->usd_per_hour,
        .usd_per_month = ev->usd_per_hour * SIM_HOURS_PER_MONTH,
        .usd_per_mtok_at_load = NAN,
        .ttft_s = ev->ttft_s,
        .tpot_s = ev->tpot_s,
        .joules_per_output_token = ev->joules_per_output_token,
        .spec_tokens = ev->spec_tokens,
        .spec_accept = ev->spec_accept,
    };
    split_label(k, row.split, sizeof row.split);
    return row;
}

static void tick(const sim_search_space *s, long done, long size)
{
    if (s->progress && size > 0 && done % 256 == 0)
        s->progress(s->progress_ctx, (double)done / size);
}

/* The serving options of a candidate: the space's, with its prefill pool. */
static sim_serve_opts serve_opts(const sim_search_space *s, const cand *k)
{
    sim_serve_opts so = s->serve;
    so.prefill = k->has_prefill ? &k->pre : NULL;
    so.prefill_instances = k->has_prefill ? k->xp : 0;
    so.decode_instances = k->has_prefill ? k->yd : 0;
    return so;
}

/* ------------------------------------------------------------------ frontier */

typedef struct point {
    double x, y; /* tokens/s per user, per GPU */
    int hw;
    sim_search_row row;
} point;

typedef struct frontier_ctx {
    const sim_search_space *s;
    point *pts;
    long n, cap, done, size, no_fit;
    sim_err *err;
} frontier_ctx;

static int frontier_points(frontier_ctx *c, const cand *k, sim_serve_opts so);

/* One plan per candidate deployment (and its prefill pool) for all its concurrency points. */
static int frontier_visit(frontier_ctx *c, const cand *k)
{
    sim_serve_opts so = serve_opts(c->s, k);
    sim_step_plan *made[2];
    int rc = sim_serve_plans_new(&k->d, &so, made, c->err);
    if (rc)
        return rc;
    rc = frontier_points(c, k, so);
    sim_serve_plans_free(&so, made);
    return rc;
}

static int frontier_points(frontier_ctx *c, const cand *k, sim_serve_opts so)
{
    const sim_search_space *s = c->s;
    int total = cand_gpus(k);
    for (int i = 0; i < s->nconc; i++) {
        tick(s, ++c->done, c->size);
        so.concurrency = fmax(1, round(s->conc_per_gpu[i] * total));
        sim_eval ev;
        int rc = sim_serve_eval(&k->d, &so, &ev, c->err);
        if (rc)
            return rc;
        if (!ev.fits) {
            c->no_fit++;
            c->done += s->nconc - 1 - i;
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
        c->pts[c->n++] = (point){ ev.output_tps_per_user, ev.output_tps_per_gpu, k->hw, config_row(k, &ev) };
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
static int pareto(point *pts, long n, sim_search_result *out, sim_err *err)
{
    qsort(pts, (size_t)n, sizeof *pts, by_hw_then_x_desc);
    out->rows = malloc((size_t)(n > 0 ? n : 1) * sizeof *out->rows);
    long *keep = malloc((size_t)(n > 0 ? n : 1) * sizeof *keep);
    if (!out->rows || !keep) {
        free(keep);
        return sim_fail(err, SIM_EFAIL, "out of memory");
    }
    for (long s = 0; s < n;) {
        long e = s, nk = 0;
        while (e < n && pts[e].hw == pts[s].hw)
            e++;
        double best = -1;
        for (long i = s; i < e; i++)
            if (pts[i].y > best) {
                best = pts[i].y;
                keep[nk++] = i;
            }
        while (nk > 0)
            out->rows[out->nrows++] = pts[keep[--nk]].row;
        s = e;
    }
    free(keep);
    return SIM_OK;
}

int sim_search_run_frontier(const sim_search_space *s, sim_search_result *out, sim_err *err)
{
    memset(out, 0, sizeof *out);
    out->best = out->closest = -1;
    if (s->nconc < 1)
        return sim_fail(err, SIM_EINPUT, "the frontier needs at least one concurrency point");
    walk w;
    int rc = gather(s, true, &w, out, err);
    frontier_ctx c = { .s = s, .size = out->space_size, .err = err };
    for (long i = 0; !rc && i < w.n; i++)
        rc = frontier_visit(&c, &w.c[i]);
    if (!rc) {
        out->no_fit = c.no_fit;
        out->points = c.n;
        rc = pareto(c.pts, c.n, out, err);
    }
    free(c.pts);
    free(w.c);
    if (rc)
        sim_search_result_free(out);
    return rc;
}

/* ------------------------------------------------------------------ cheapest meeting an SLO */

typedef struct item {
    sim_search_row row;
    double usd_per_hour, score, conc;
    bool feasible;
    const cand *k;
    long orig;             /* position before a re-sort (cheapest_pick) */
} item;

typedef struct cheap_ctx {
    const sim_search_space *s;
    item *c;
    long n, cap, done, size, no_fit;
    sim_workload wl;       /* the confirm step's requests, drawn at the first confirm */
    bool have_wl;
    sim_err *err;
} cheap_ctx;

int sim_search_check_goal(double rate, double slo_ttft_s, double slo_tpot_s, sim_err *err)
{
    if (!(rate > 0))
        return sim_fail(err, SIM_EINPUT, "the cheapest configuration needs a positive rate (got %g)", rate);
    if (!(slo_ttft_s > 0) && !(slo_tpot_s > 0))
        return sim_fail(err, SIM_EINPUT, "the cheapest configuration needs slo_ttft_s and/or slo_tpot_s");
    if (slo_ttft_s < 0 || slo_tpot_s < 0)
        return sim_fail(err, SIM_EINPUT, "SLO bounds must be positive seconds");
    return SIM_OK;
}

/* How far a point is from the SLO: the worst of the ratios to the bounds (<= 1 meets it). */
static double slo_score(const sim_search_space *s, double ttft, double tpot)
{
    double v = 0;
    if (s->slo_ttft_s > 0)
        v = fmax(v, ttft / s->slo_ttft_s);
    if (s->slo_tpot_s > 0)
        v = fmax(v, tpot / s->slo_tpot_s);
    return v;
}

/* The smallest concurrency whose steady-state request throughput reaches the rate:
 * doubling, then bisection. *reached is false when the configuration cannot reach it. */
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

/* Whether a steady state meets the SLO bounds given (each bound that is set). */
static bool meets_slo(const sim_search_space *s, const sim_eval *ev)
{
    return slo_score(s, ev->ttft_s, ev->tpot_s) <= 1;
}

/* The most requests/s one instance carries in steady state within the SLO: the largest
 * concurrency that still meets it (doubling, then bisection; latency grows with the batch),
 * and the request rate there. *rps is NaN when even one request in flight misses the SLO
 * or the instance does not fit. */
static int slo_capacity(const sim_search_space *s, const sim_deploy *d, sim_serve_opts *so, double *rps,
                        sim_err *err)
{
    sim_eval ev;
    double good = 0, bad = 0;
    int rc;
    *rps = NAN;
    for (double cc = 1; cc <= 1 << 20; cc *= 2) {
        so->concurrency = cc;
        if ((rc = sim_serve_eval(d, so, &ev, err)))
            return rc;
        if (!ev.fits || !meets_slo(s, &ev)) {
            bad = cc;
            break;
        }
        good = cc;
        *rps = ev.output_tps / so->osl;
        if (ev.clipped) /* the batch cannot grow further */
            return SIM_OK;
    }
    for (int i = 0; i < 10 && good > 0 && bad - good > 1; i++) {
        double mid = floor((good + bad) / 2);
        so->concurrency = mid;
        if ((rc = sim_serve_eval(d, so, &ev, err)))
            return rc;
        if (ev.fits && meets_slo(s, &ev)) {
            good = mid;
            *rps = fmax(*rps, ev.output_tps / so->osl);
        } else {
            bad = mid;
        }
    }
    return SIM_OK;
}

/* With a daily traffic: how many replicas of the candidate carry the peak within the SLO
 * (ceil(peak / one replica's SLO capacity); one when none meets it, so that it ranks by its
 * distance to the SLO), and the rate each replica takes. */
static int size_replicas(const sim_search_space *s, const cand *k, sim_serve_opts *so, double *slo_rps, int *R,
                         sim_err *err)
{
    int rc = slo_capacity(s, &k->d, so, slo_rps, err);
    *R = 1;
    if (!rc && *slo_rps > 0)
        *R = (int)fmin(ceil(s->rate / *slo_rps * (1 - 1e-12)), 1 << 20);
    if (*R < 1)
        *R = 1;
    return rc;
}

/* A candidate at R replicas (R = 1 without a traffic): the steady state at the concurrency
 * that carries each replica's share of the rate, as a ranked item (`base`: the serving options
 * with the candidate's step plans, or NULL to make them plain). *fits is false when the
 * candidate does not fit (the item is then not filled). */
static int place(const sim_search_space *s, const cand *k, const sim_serve_opts *base, int R, double slo_rps,
                 item *it, bool *fits, sim_err *err)
{
    sim_serve_opts so = base ? *base : serve_opts(s, k); /* base: with the candidate's step plans */
    sim_eval ev;
    bool reached;
    int rc = reach_rate(&k->d, &so, s->rate / R, &ev, &reached, err);
    *fits = !rc && ev.fits;
    if (rc || !ev.fits)
        return rc;
    double rps = R * ev.output_tps / so.osl;
    double score = slo_score(s, ev.ttft_s, ev.tpot_s);
    if (!reached) /* short of the rate: as far from the goal as the shortfall */
        score = fmax(score, 1) * s->rate / fmax(rps, 1e-12);
    memset(it, 0, sizeof *it);
    it->row = config_row(k, &ev);
    it->row.ranked = true;
    it->row.requests_per_s = rps;
    it->row.slo_score = score;
    if (s->requests_per_day > 0) { /* every replica paid all month: what the traffic pays per M output tokens */
        it->row.replicas = R;
        it->row.slo_rps = slo_rps;
        it->row.utilization = slo_rps > 0 ? s->requests_per_day / 86400.0 / (R * slo_rps) : NAN;
        it->row.usd_per_hour = R * ev.usd_per_hour;
        it->row.usd_per_month = it->row.usd_per_hour * SIM_HOURS_PER_MONTH;
        it->row.usd_per_mtok_at_load = it->row.usd_per_month / (s->requests_per_day * SIM_HOURS_PER_MONTH / 24 * so.osl / 1e6);
    }
    it->usd_per_hour = it->row.usd_per_hour;
    it->score = score;
    it->conc = so.concurrency;
    it->feasible = reached && score <= 1;
    it->k = k;
    return SIM_OK;
}

static int cheap_visit(cheap_ctx *c, const cand *k)
{
    const sim_search_space *s = c->s;
    tick(s, ++c->done, c->size);
    sim_serve_opts so = serve_opts(s, k);
    sim_step_plan *made[2]; /* one plan per candidate deployment for its ~10-20 evaluations */
    int rc = sim_serve_plans_new(&k->d, &so, made, c->err);
    if (rc)
        return rc;
    double slo_rps = NAN;
    int R = 1;
    if (s->requests_per_day > 0) {
        sim_serve_opts sized = so;
        rc = size_replicas(s, k, &sized, &slo_rps, &R, c->err);
    }
    item it;
    bool fits = false;
    if (!rc)
        rc = place(s, k, &so, R, slo_rps, &it, &fits, c->err);
    sim_serve_plans_free(&so, made);
    if (rc)
        return rc;
    if (!fits) {
        c->no_fit++;
        return SIM_OK;
    }
    if (c->n == c->cap) {
        long cap = c->cap ? c->cap * 2 : 256;
        item *p = realloc(c->c, (size_t)cap * sizeof *p);
        if (!p)
            return sim_fail(c->err, SIM_EFAIL, "out of memory");
        c->c = p;
        c->cap = cap;
    }
    c->c[c->n++] = it;
    return SIM_OK;
}

static int by_cost(const void *a, const void *b)
{
    const item *p = a, *q = b;
    if (p->feasible != q->feasible)
        return p->feasible ? -1 : 1;
    if (p->feasible && p->usd_per_hour != q->usd_per_hour)
        return p->usd_per_hour < q->usd_per_hour ? -1 : 1;
    return (p->score > q->score) - (p->score < q->score);
}

/* Simulate a candidate at the rate on its own deployment; fills its row's DES figures. */
static int confirm(cheap_ctx *c, item *it, bool *met, double *score, sim_err *err)
{
    const sim_search_space *s = c->s;
    int rc;
    if (!c->have_wl) {
        if ((rc = sim_workload_generate(&s->workload, &c->wl, err)))
            return rc;
        c->have_wl = true;
    }
    /* a candidate sized over replicas for a traffic: one replica takes its share of the peak */
    int R = it->row.replicas > 0 ? it->row.replicas : s->serve.replicas;
    sim_workload own = { 0 };
    const sim_workload *wl = &c->wl;
    if (it->row.replicas > 1) {
        sim_wl_opts wo = s->workload;
        wo.rate = s->rate / it->row.replicas;
        if ((rc = sim_workload_generate(&wo, &own, err)))
            return rc;
        wl = &own;
    }
    sim_des_opts o = s->des;
    o.prefill = it->k->has_prefill ? &it->k->pre : NULL;
    o.prefill_instances = it->k->has_prefill ? it->k->xp : 0;
    o.decode_instances = it->k->has_prefill ? it->k->yd : 0;
    o.keep_records = false;
    o.progress = NULL;
    sim_des_result res;
    rc = sim_des_run(&it->k->d, &o, wl, &res, err);
    if (wl == &own)
        sim_workload_free(&own);
    if (rc)
        return rc;
    sim_des_scale_replicas(&res, R);
    *score = slo_score(s, res.ttft.p99, res.tpot.p99);
    *met = res.sustainable && *score <= 1;
    it->row.simulated = true;
    it->row.sim = (sim_search_sim){ .ttft_p99_s = res.ttft.p99, .tpot_p99_s = res.tpot.p99,
                                    .slo_attainment = res.slo_attainment,
                                    .output_tps_per_gpu = res.output_tps_per_gpu, .requests = res.requests,
                                    .sustainable = res.sustainable, .meets_slo = *met };
    sim_des_result_free(&res);
    return SIM_OK;
}

static void describe(char *buf, size_t cap, const sim_search_row *row)
{
    size_t n = 0;
    if (row->replicas > 1)
        n = (size_t)snprintf(buf, cap, "%d replicas of ", row->replicas);
    snprintf(buf + n, cap - n, "%s x%g %s %s, %s", row->hw->name, (double)row->gpus, row->split,
             sim_wformat_name(row->precision), row->simulated ? "simulated p99" : "steady state");
    n = strlen(buf);
    double ttft = row->simulated ? row->sim.ttft_p99_s : row->ttft_s;
    double tpot = row->simulated ? row->sim.tpot_p99_s : row->tpot_s;
    snprintf(buf + n, cap - n, " TTFT %.3g s, TPOT %.3g ms", ttft, 1e3 * tpot);
}

static int add_confirmed(sim_search_result *out, long i, sim_err *err)
{
    long *p = realloc(out->confirmed, (size_t)(out->nconfirmed + 1) * sizeof *p);
    if (!p)
        return sim_fail(err, SIM_EFAIL, "out of memory");
    out->confirmed = p;
    out->confirmed[out->nconfirmed++] = i;
    return SIM_OK;
}

/* A candidate sized for a traffic is sized on steady-state means; its simulated p99 can miss
 * the SLO (prefill stalls, bursts). It then takes one more replica at a time, at most
 * SIM_SEARCH_BUMPS more (a bound that keeps the search quick), until the simulation meets it. */
enum { SIM_SEARCH_BUMPS = 4 };

static int bump(cheap_ctx *c, item *it, bool *met, double *score, sim_err *err)
{
    int rc = SIM_OK;
    item was = *it;
    double was_score = *score;
    for (int b = 0; b < SIM_SEARCH_BUMPS && !*met && it->row.replicas > 0 && it->row.slo_rps > 0; b++) {
        item t;
        bool fits;
        if ((rc = place(c->s, it->k, NULL, it->row.replicas + 1, it->row.slo_rps, &t, &fits, err)) || !fits)
            break;
        t.orig = it->orig;
        *it = t;
        if ((rc = confirm(c, it, met, score, err)))
            break;
    }
    if (!rc && !*met) { /* more replicas did not help (the tails are not the queue's): keep the sizing */
        *it = was;
        *score = was_score;
    }
    return rc;
}

static void set_best(const sim_search_space *s, const item *it, long i, sim_search_result *out)
{
    char d[384];
    describe(d, sizeof d, &it->row);
    out->met = true;
    out->best = i;
    snprintf(out->message, sizeof out->message, "cheapest meeting the SLO: %s%s", d,
             it->row.replicas > 0 && it->row.slo_rps > 0 && it->row.replicas > ceil(s->rate / it->row.slo_rps - 1e-9)
                 ? " (replicas added until the simulated p99 met the SLO: the steady-state sizing uses means)" : "");
}

/* Rank by cost, simulate the cheapest feasible candidates until one meets the SLO (a traffic's
 * candidate with more replicas when its tails need them, then against the cheaper ones left);
 * else name the closest. */
static int cheapest_pick(cheap_ctx *c, sim_search_result *out, sim_err *err)
{
    const sim_search_space *s = c->s;
    qsort(c->c, (size_t)c->n, sizeof *c->c, by_cost);
    for (long i = 0; i < c->n; i++)
        c->c[i].orig = i;
    long nfeas = 0;
    while (nfeas < c->n && c->c[nfeas].feasible)
        nfeas++;
    out->feasible = nfeas;
    long best_closest = -1, best = -1;
    double closest_score = INFINITY;
    int rc;
    for (long i = 0; i < nfeas && i < s->confirm; i++) {
        bool met;
        double score;
        if ((rc = confirm(c, &c->c[i], &met, &score, err)) || (rc = add_confirmed(out, i, err)))
            return rc;
        if (!met && s->requests_per_day > 0 && (rc = bump(c, &c->c[i], &met, &score, err)))
            return rc;
        if (met) {
            if (best < 0 || c->c[i].usd_per_hour < c->c[best].usd_per_hour)
                best = i;
            /* no candidate left is cheaper than the best met */
            if (i + 1 >= nfeas || c->c[i + 1].usd_per_hour >= c->c[best].usd_per_hour)
                break;
            continue;
        }
        if (score < closest_score) {
            closest_score = score;
            best_closest = i;
        }
    }
    if (best >= 0) {
        set_best(s, &c->c[best], best, out);
        return SIM_OK;
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
        if ((rc = confirm(c, &c->c[k], &met, &score, err)))
            return rc;
        best_closest = k;
    }
    out->met = false;
    if (best_closest >= 0) {
        char d[384];
        describe(d, sizeof d, &c->c[best_closest].row);
        out->closest = best_closest;
        snprintf(out->message, sizeof out->message,
                 "no configuration meets the SLO (TTFT <= %g s, TPOT <= %g s at p99) at %g requests/s; closest: %s",
                 s->slo_ttft_s, s->slo_tpot_s, s->rate, d);
    } else {
        snprintf(out->message, sizeof out->message, "no configuration fits in memory, so none meets the SLO");
    }
    return SIM_OK;
}

/* After replicas were added to a candidate the rows are no longer in order of cost: sort them
 * again and carry the indices the result holds. */
static int resort(cheap_ctx *c, sim_search_result *out, sim_err *err)
{
    long *inv = malloc((size_t)(c->n > 0 ? c->n : 1) * sizeof *inv);
    if (!inv)
        return sim_fail(err, SIM_EFAIL, "out of memory");
    qsort(c->c, (size_t)c->n, sizeof *c->c, by_cost);
    for (long j = 0; j < c->n; j++)
        inv[c->c[j].orig] = j;
    if (out->best >= 0)
        out->best = inv[out->best];
    if (out->closest >= 0)
        out->closest = inv[out->closest];
    for (long i = 0; i < out->nconfirmed; i++)
        out->confirmed[i] = inv[out->confirmed[i]];
    free(inv);
    return SIM_OK;
}

int sim_search_run_cheapest(const sim_search_space *s, sim_search_result *out, sim_err *err)
{
    memset(out, 0, sizeof *out);
    out->best = out->closest = -1;
    int rc = sim_search_check_goal(s->rate, s->slo_ttft_s, s->slo_tpot_s, err);
    if (rc)
        return rc;
    walk w;
    rc = gather(s, false, &w, out, err);
    cheap_ctx c = { .s = s, .size = out->space_size, .err = err };
    for (long i = 0; !rc && i < w.n; i++)
        rc = cheap_visit(&c, &w.c[i]);
    if (!rc) {
        out->no_fit = c.no_fit;
        out->rate = s->rate;
        out->slo_ttft_s = s->slo_ttft_s;
        out->slo_tpot_s = s->slo_tpot_s;
        out->requests_per_day = s->requests_per_day;
        out->peak_factor = s->peak_factor;
        rc = cheapest_pick(&c, out, err);
    }
    if (!rc && s->requests_per_day > 0)
        rc = resort(&c, out, err);
    if (!rc) {
        out->rows = malloc((size_t)(c.n > 0 ? c.n : 1) * sizeof *out->rows);
        if (!out->rows)
            rc = sim_fail(err, SIM_EFAIL, "out of memory");
        for (long i = 0; !rc && i < c.n; i++)
            out->rows[i] = c.c[i].row;
        out->nrows = rc ? 0 : c.n;
    }
    if (c.have_wl)
        sim_workload_free(&c.wl);
    free(c.c);
    free(w.c);
    if (rc)
        sim_search_result_free(out);
    return rc;
}
