/* des.c: the discrete-event serving simulator.
 *
 * The engine is a loop over events: an arrival, the end of an iteration of a pool, the end
 * of a KV transfer between pools. A pool is one serving instance: `dp` attention ranks that
 * step in lockstep (with attention data-parallel every MoE layer waits for the slowest
 * rank). At the start of an iteration each rank's scheduler, in the manner of vLLM's,
 * gives its token budget first to running sequences (one decode token each, or 1 + draft
 * tokens with speculative decoding; the next chunk of a prompt still being prefilled), then
 * admits waiting requests first come first served while KV blocks last. A running
 * sequence that needs a block when none is free preempts the most recently admitted one,
 * which frees its blocks and later recomputes its prompt and the tokens it had produced.
 * The iteration lasts the step time of the busiest rank with the group's MoE tokens; its
 * effects (tokens computed, first tokens, completions) land when it ends.
 *
 * This file holds the setup and the event loop; the step-time memo is in des_memo.c, the
 * scheduler in des_sched.c, the statistics and the result in des_stats.c (shared state:
 * des_internal.h). */
#include "serve/des.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "serve/des_internal.h"
#include "serve/serving.h"

void sim_des_defaults(sim_des_opts *o)
{
    memset(o, 0, sizeof *o);
    o->block_tokens = 16;
    o->graph_max = 512;
    o->spec_accept = 1;
    sim_cost_defaults(&o->cost);
}

/* ------------------------------------------------------------------ setup */

static int check_opts(const sim_des_opts *o, sim_err *err)
{
    if (o->block_tokens < 1 || o->block_tokens > 1024)
        return sim_fail(err, SIM_EINPUT, "block_size must be in [1, 1024] tokens (got %d)", o->block_tokens);
    if (o->max_num_seqs < 0)
        return sim_fail(err, SIM_EINPUT, "max_num_seqs must be >= 0 (got %d)", o->max_num_seqs);
    if (o->graph_max < 0)
        return sim_fail(err, SIM_EINPUT, "cuda_graph_max must be >= 0 (got %d)", o->graph_max);
    if (!(o->prefix_hit >= 0 && o->prefix_hit < 1))
        return sim_fail(err, SIM_EINPUT, "prefix_hit must be in [0, 1) (got %g)", o->prefix_hit);
    if (o->spec_tokens < 0 || o->spec_tokens > 16)
        return sim_fail(err, SIM_EINPUT, "spec_tokens must be in [0, 16] (got %d)", o->spec_tokens);
    if (!(o->spec_accept >= 1 && o->spec_accept <= o->spec_tokens + 1))
        return sim_fail(err, SIM_EINPUT,
                        "spec_accept (tokens per step per sequence) must be in [1, spec_tokens + 1 = %d] (got %g)",
                        o->spec_tokens + 1, o->spec_accept);
    if (!(o->slo_ttft_s >= 0) || !(o->slo_tpot_s >= 0))
        return sim_fail(err, SIM_EINPUT, "SLO bounds must be >= 0 seconds (0 = none)");
    return SIM_OK;
}

static int pool_init(des *s, pool *p, const sim_deploy *d, int role, double ctx, sim_err *err)
{
    p->d = d;
    p->role = role;
    /* Place the weights as if KV needed almost nothing, so they stay in the fastest tier,
     * and give what is left to KV blocks; lengths are checked against it afterwards. */
    sim_deploy dm = *d; /* the decode side loads the MTP module that drafts (sim_deploy_mtp_drafts) */
    dm.mtp_loaded = role != ROLE_PREFILL && sim_deploy_mtp_drafts(d, s->o->spec_tokens);
    sim_memfit_eval(&dm, 1, 1, &p->mem);
    if (!p->mem.fits)
        return sim_fail(err, SIM_EINPUT, "%sdoes not fit: %s", role == ROLE_PREFILL ? "prefill pool " : "",
                        p->mem.reason);
    /* Bytes per cached token at the workload's mean context (sliding-window layers hold
     * fewer tokens than a full layer, so the mean context matters). */
    const sim_model *m = d->model;
    double per_tok = p->mem.kv_bytes_per_token * sim_model_kv_elems(m, ctx) / (ctx * sim_model_kv_elems_per_token(m));
    p->blocks = per_tok > 0 ? (long)floor(p->mem.kv_budget_bytes / (per_tok * s->o->block_tokens)) : 0;
    p->watermark = p->blocks / 100; /* vLLM keeps 1% of blocks free when admitting */
    p->budget = (long)d->max_batched_tokens * d->pp;
    p->nranks = d->dp;
    p->rk = calloc((size_t)p->nranks, sizeof *p->rk);
    if (!p->rk)
        return sim_fail(err, SIM_EFAIL, "out of memory");
    for (int i = 0; i < p->nranks; i++) {
        p->rk[i].free_blocks = p->blocks;
        size_t M = s->lazy ? (size_t)s->credit.M : 1, den = s->lazy ? (size_t)s->credit.den : 1;
        rank *r = &p->rk[i];
        if (!(r->zc = calloc(M, sizeof *r->zc)) || !(r->zf = calloc(M, sizeof *r->zf)) ||
            !(r->xc = calloc(den, sizeof *r->xc)) || !(r->xf = calloc(den, sizeof *r->xf)))
            return sim_fail(err, SIM_EFAIL, "out of memory");
    }
    p->memo.d = d;
    p->memo.fit = &p->mem;
    p->mm = &p->memo;
    return SIM_OK;
}

/* Every request must fit one rank's KV cache alone, else it could never run. */
static int check_lengths(des *s, sim_err *err)
{
    const sim_des_opts *o = s->o;
    int B = o->block_tokens;
    for (int pi = 0; pi < s->npools; pi++) {
        pool *p = &s->pools[pi];
        bool prefill_only = p->role == ROLE_PREFILL;
        for (long i = 0; i < s->w->n; i++) {
            const sim_wl_req *r = &s->w->r[i];
            long tokens = prefill_only ? r->isl : (long)r->isl + r->osl + o->spec_tokens + 1;
            if (blocks_for(tokens, B) + p->watermark > p->blocks)
                return sim_fail(err, SIM_EINPUT,
                                "request %ld (isl %d, osl %d) needs %ld tokens of KV cache but one attention rank of "
                                "the %s holds %ld (%ld blocks of %d); shorten it or add memory per rank",
                                i + 1, r->isl, r->osl, tokens, prefill_only ? "prefill pool" : "deployment",
                                (p->blocks - p->watermark) * B, p->blocks, B);
        }
    }
    return SIM_OK;
}

/* The acceptance a as num / den (des_internal.h, credit_frac): the smallest den <=
 * CREDIT_QMAX with a den within 1e-9 of an integer, else a rounded to the nearest
 * 1 / CREDIT_QMAX and reduced (*rounded). Rounding, rather than walking such an acceptance
 * with a float credit as before, keeps one exact credit for the lazy path and the reference
 * walk alike; it moves the acceptance by at most 5e-4 tokens a step, far below what any
 * published acceptance resolves (DeepSeek-R1's card gives two decimals). */
static void credit_ratio(double a, int *num, int *den, bool *rounded)
{
    *rounded = false;
    for (int q = 1; q <= CREDIT_QMAX; q++) {
        double n = round(a * q);
        if (fabs(a * q - n) <= 1e-9) {
            *num = (int)n;
            *den = q;
            return;
        }
    }
    long n = lround(a * CREDIT_QMAX), d = CREDIT_QMAX, g = d, t = n % d;
    while (t) { /* g = gcd(n, d) */
        long x = g % t;
        g = t;
        t = x;
    }
    *num = (int)(n / g);
    *den = (int)(d / g);
    *rounded = true;
}

/* The acceptance as a fraction and the period of the block crossings (des_internal.h,
 * credit_frac). */
static void credit_init(credit_frac *c, const sim_des_opts *o)
{
    memset(c, 0, sizeof *c);
    c->num = c->den = 1;
    if (o->spec_tokens > 0)
        credit_ratio(o->spec_accept, &c->num, &c->den, &c->rounded);
    c->M = o->block_tokens * c->den;
    long g = c->M, t = c->num % c->M;
    while (t) { /* g = gcd(M, num) */
        long x = g % t;
        g = t;
        t = x;
    }
    c->L = c->M / g;
    c->qn = c->num / c->M;
    c->rn = c->num % c->M;
}

static int des_init(des *s, const sim_deploy *d, const sim_des_opts *o, const sim_workload *w, sim_err *err)
{
    memset(s, 0, sizeof *s);
    s->o = o;
    s->w = w;
    credit_init(&s->credit, o);
    /* lazy decoders keep counts over M = B den positions per rank: past CREDIT_CELLS_MAX (a
     * long denominator with large blocks) they are walked, with the same credit */
    s->lazy = !o->reference_walk && s->credit.M <= CREDIT_CELLS_MAX;
    double mean_ctx = 0;
    for (long i = 0; i < w->n; i++)
        mean_ctx += w->r[i].isl + w->r[i].osl;
    mean_ctx = fmax(1, mean_ctx / w->n);
    int rc;
    int X = o->prefill ? (o->prefill_instances > 0 ? o->prefill_instances : 1) : 0;
    int Y = o->prefill && o->decode_instances > 0 ? o->decode_instances : 1;
    s->ndec = Y;
    s->npools = Y + X;
    s->pools = calloc((size_t)s->npools, sizeof *s->pools);
    if (!s->pools)
        return sim_fail(err, SIM_EFAIL, "out of memory");
    for (int i = 0; i < Y; i++) {
        if ((rc = pool_init(s, &s->pools[i], d, o->prefill ? ROLE_DECODE : ROLE_BOTH, mean_ctx, err)))
            return rc;
        s->pools[i].mm = &s->pools[0].memo;
    }
    if (o->prefill) {
        double mean_isl = 0;
        for (long i = 0; i < w->n; i++)
            mean_isl += w->r[i].isl;
        for (int i = Y; i < Y + X; i++) {
            if ((rc = pool_init(s, &s->pools[i], o->prefill, ROLE_PREFILL, fmax(1, mean_isl / w->n), err)))
                return rc;
            s->pools[i].mm = &s->pools[Y].memo;
        }
        /* The whole sequence's KV (every layer, unsplit) moves over the link between the
         * instances (sim_kv_link: NVLink inside one scale-up domain, else the NICs), over the
         * smaller side's devices in parallel. */
        const sim_deploy *p = o->prefill;
        s->kv_xfer_bytes_per_token = sim_kv_bytes_per_seq(d, mean_isl / w->n) / fmax(1, mean_isl / w->n);
        const char *link;
        if (!sim_kv_link(d, p, X * p->gpus + Y * d->gpus, &s->xfer_bw, &s->xfer_lat, &link))
            return sim_fail(err, SIM_EINPUT, "%s has no %s link to move KV between pools", d->hw->name, link);
    }
    if ((rc = check_lengths(s, err)))
        return rc;
    s->q = calloc((size_t)w->n, sizeof *s->q);
    if (!s->q)
        return sim_fail(err, SIM_EFAIL, "out of memory for %ld requests", w->n);
    for (long i = 0; i < w->n; i++) {
        dreq *q = &s->q[i];
        q->arrival = w->r[i].arrival_s;
        q->isl = w->r[i].isl;
        q->osl = w->r[i].osl;
        q->cached = (int)fmin(floor(o->prefix_hit * q->isl), q->isl - 1);
        q->target = q->isl;
        q->done = q->kv = q->cached;
        q->first = q->finish = q->sched_at = -1;
    }
    double span = w->r[w->n - 1].arrival_s;
    s->win_w = fmax(span, 1e-3) / 64;
    s->a0 = w->r[0].arrival_s;
    s->bin_w = (span - s->a0) / NBIN;
    return SIM_OK;
}

static void des_free(des *s)
{
    for (int pi = 0; s->pools && pi < s->npools; pi++) {
        pool *p = &s->pools[pi];
        for (int i = 0; p->rk && i < p->nranks; i++) {
            free(p->rk[i].run);
            free(p->rk[i].wait.v);
            free(p->rk[i].lzv);
            free(p->rk[i].zc);
            free(p->rk[i].zf);
            free(p->rk[i].xc);
            free(p->rk[i].xf);
            free(p->rk[i].fin);
        }
        free(p->rk);
        free(p->memo.e);
        sim_step_plan_free(p->memo.plan);
    }
    free(s->pools);
    free(s->heap);
    free(s->q);
}

/* ------------------------------------------------------------------ the loop */

static int des_loop(des *s, sim_err *err)
{
    const sim_workload *w = s->w;
    while (s->completed < w->n) {
        double ta = s->next < w->n ? w->r[s->next].arrival_s : INFINITY;
        double tx = s->nheap ? s->heap[0].t : INFINITY;
        int which = -1; /* pool whose iteration ends first */
        double tp = INFINITY;
        for (int i = 0; i < s->npools; i++)
            if (s->pools[i].busy && s->pools[i].t_end < tp) {
                tp = s->pools[i].t_end;
                which = i;
            }
        if (ta == INFINITY && tx == INFINITY && which < 0)
            return sim_fail(err, SIM_EFAIL, "scheduler stalled with %ld requests unfinished (internal error)",
                            w->n - s->completed);
        int rc = 0;
        s->events++;
        if (tp <= tx && tp <= ta) {
            des_advance(s, tp);
            rc = des_pool_finish(s, &s->pools[which]);
        } else if (tx <= ta) {
            des_advance(s, tx);
            rc = des_transfer_done(s, heap_pop(s).id);
        } else {
            des_advance(s, ta);
            s->in_system++;
            rc = des_enqueue(s, des_entry_pool(s), (int)s->next++);
        }
        if (rc)
            return sim_fail(err, SIM_EFAIL, "out of memory in the simulation");
        if (s->waiting > s->max_waiting)
            s->max_waiting = s->waiting;
        for (int i = 0; i < s->npools; i++)
            if ((rc = des_pool_start(s, &s->pools[i], err)))
                return rc;
        /* after every pool has started: a stretch's horizon needs the others' iteration ends */
        for (int i = 0; s->lazy && !s->o->per_iteration && i < s->npools; i++)
            if (s->pools[i].fresh)
                des_stretch(s, &s->pools[i]);
        if (s->o->progress && (s->events & 0xFFFF) == 0)
            s->o->progress(s->o->progress_ctx, (double)s->completed / w->n);
    }
    return SIM_OK;
}

int sim_des_run(const sim_deploy *d, const sim_des_opts *o, const sim_workload *w, sim_des_result *out,
                sim_err *err)
{
    memset(out, 0, sizeof *out);
    if (!w || w->n < 1)
        return sim_fail(err, SIM_EINPUT, "serve: no requests to simulate");
    int rc = check_opts(o, err);
    if (rc || (rc = sim_deploy_check_pools(d, o->prefill, err)))
        return rc;
    des *s = malloc(sizeof *s);
    if (!s)
        return sim_fail(err, SIM_EFAIL, "out of memory");
    if (!(rc = des_init(s, d, o, w, err)) && !(rc = des_loop(s, err)) && !(rc = des_collect(s, d, out, err))) {
        out->spec_num = s->credit.num;
        out->spec_den = s->credit.den;
        out->spec_rounded = s->credit.rounded;
    }
    des_free(s);
    free(s);
    if (rc)
        sim_des_result_free(out);
    return rc;
}

void sim_des_result_free(sim_des_result *r)
{
    free(r->windows);
    free(r->records);
    r->windows = NULL;
    r->records = NULL;
    r->nwindows = 0;
}
