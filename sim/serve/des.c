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
 * Step times are memoized by a quantized shape (see qidx), so a million requests cost a few
 * hundred step-model calls. */
#include "serve/des.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gsl/gsl_statistics_double.h>

#include "base/jsonfile.h"
#include "deploy/memfit.h"
#include "base/progress.h"
#include "report/report.h"
#include "cli/request.h"
#include "step/step.h"

void sim_des_defaults(sim_des_opts *o)
{
    memset(o, 0, sizeof *o);
    o->block_tokens = 16;
    o->graph_max = 512;
    o->spec_accept = 1;
    sim_cost_defaults(&o->cost);
}

/* ------------------------------------------------------------------ step-time memo */

/* Shapes are quantized before they reach the step model: values up to 64 to a quarter
 * (batch counts stay exact; pipeline micro-batches may be fractional), larger ones to a
 * geometric grid: token and sequence counts with 24 points per doubling (neighbours 2.9%
 * apart, so a value moves at most 1.5%), contexts with 12 (at most 3%: they only set the
 * attention-core share of a step, so the step time moves far less). The step model is
 * evaluated at the grid value itself, not at the first value that fell in the bucket, so
 * results do not depend on the order shapes appear in. The MoE routing statistics behind a
 * step are a Monte Carlo per token count (milliseconds each); the grid bounds how many
 * distinct counts a run asks for. */
enum { Q_COUNT = 24, Q_CTX = 12, Q_GROUP = 8 };

static int32_t qidx(double x, int per_doubling)
{
    if (x <= 64)
        return (int32_t)lround(x * 4);
    return 256 + (int32_t)lround(per_doubling * log2(x / 64));
}

static double qval(int32_t i, int per_doubling)
{
    return i <= 256 ? i / 4.0 : 64 * exp2((i - 256) / (double)per_doubling);
}

enum { KEY_DIMS = 7 };

typedef struct memo_ent {
    int32_t k[KEY_DIMS];
    bool used;
    double v;
} memo_ent;

typedef struct memo {
    memo_ent *e;
    size_t cap, n;
    long evals, hits;
    const sim_deploy *d;
    const sim_memfit *fit;
} memo;

static uint64_t key_hash(const int32_t *k)
{
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < KEY_DIMS; i++) {
        h ^= (uint32_t)k[i];
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

static int memo_grow(memo *m)
{
    size_t cap = m->cap ? m->cap * 2 : 1024;
    memo_ent *e = calloc(cap, sizeof *e);
    if (!e)
        return -1;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->e[i].used)
            continue;
        size_t j = key_hash(m->e[i].k) & (cap - 1);
        while (e[j].used)
            j = (j + 1) & (cap - 1);
        e[j] = m->e[i];
    }
    free(m->e);
    m->e = e;
    m->cap = cap;
    return 0;
}

/* kind 0: the time of a step of shape s (one micro-batch), pp stages included.
 * kind 1: the draft cost of one speculative token for the decode part of s: one extra
 * decoder layer (an MTP module is one) plus the LM head. */
static double draft_token_time(const sim_deploy *d, const sim_step_result *r)
{
    double head = r->by_kind_s[LK_LM_HEAD];
    return (r->stage_time_s - head) / sim_deploy_layers_per_stage(d) + head;
}

/* The memoized value for a key of grid indices. */
static int memo_lookup(memo *m, const int32_t *k, double *out, sim_err *err)
{
    if (m->n * 2 >= m->cap && memo_grow(m))
        return sim_fail(err, SIM_EFAIL, "out of memory for the step-time memo");
    size_t j = key_hash(k) & (m->cap - 1);
    while (m->e[j].used) {
        if (memcmp(m->e[j].k, k, sizeof m->e[j].k) == 0) {
            m->hits++;
            *out = m->e[j].v;
            return SIM_OK;
        }
        j = (j + 1) & (m->cap - 1);
    }
    sim_step_shape q = {
        .decode_seqs = qval(k[0], Q_COUNT),
        .decode_ctx = qval(k[1], Q_CTX),
        .prefill_tokens = qval(k[2], Q_COUNT),
        .prefill_ctx = qval(k[3], Q_CTX),
        .prefill_seqs = qval(k[4], Q_COUNT),
        .group_tokens = qval(k[5], Q_GROUP),
    };
    sim_step_result r;
    int rc = sim_step_eval(m->d, m->fit, &q, &r, err);
    if (rc)
        return rc;
    m->evals++;
    double v = k[6] == 0 ? r.time_s : draft_token_time(m->d, &r);
    memcpy(m->e[j].k, k, sizeof m->e[j].k);
    m->e[j].used = true;
    m->e[j].v = v;
    m->n++;
    *out = v;
    return SIM_OK;
}

/* The group's MoE token count sets most of a step's time and each new count costs a routing
 * Monte Carlo, so it takes a coarser grid (8 points per doubling) and the time is
 * interpolated linearly in tokens between the two grid points around it. */
static int memo_time(memo *m, const sim_step_shape *s, int kind, double *out, sim_err *err)
{
    int32_t k[KEY_DIMS] = { qidx(s->decode_seqs, Q_COUNT),    qidx(s->decode_ctx, Q_CTX),
                            qidx(s->prefill_tokens, Q_COUNT), qidx(s->prefill_ctx, Q_CTX),
                            qidx(s->prefill_seqs, Q_COUNT),   0, kind };
    double g = s->group_tokens;
    if (g <= 64) {
        k[5] = qidx(g, Q_GROUP);
        return memo_lookup(m, k, out, err);
    }
    int32_t lo = 256 + (int32_t)floor(Q_GROUP * log2(g / 64));
    double glo = qval(lo, Q_GROUP), ghi = qval(lo + 1, Q_GROUP), tlo, thi;
    k[5] = lo;
    int rc = memo_lookup(m, k, &tlo, err);
    if (rc)
        return rc;
    k[5] = lo + 1;
    if ((rc = memo_lookup(m, k, &thi, err)))
        return rc;
    *out = tlo + (thi - tlo) * (g - glo) / (ghi - glo);
    return SIM_OK;
}

/* ------------------------------------------------------------------ state */

enum { ST_WAIT, ST_RUN, ST_XFER, ST_DONE };
enum { ROLE_BOTH, ROLE_PREFILL, ROLE_DECODE };

typedef struct dreq {
    /* fields the scheduler touches every iteration first, so they share a cache line */
    int target;        /* prompt tokens to compute before the next token (isl, or isl + produced after preemption) */
    int done;          /* prompt tokens whose KV exists */
    int gen;           /* output tokens produced */
    int osl;
    int kv;            /* tokens held in the KV cache */
    int blocks;
    int sched;         /* tokens scheduled in the running iteration */
    float credit;      /* speculative decoding: fractional tokens carried to the next step */
    uint8_t state, sdec, preempts;
    int isl, cached;
    int rank, prank;   /* rank in its current pool; prefill-pool rank (disaggregated) */
    double arrival, first, finish, sched_at;   /* first: first token; sched_at: first admitted (-1 = not yet) */
} dreq;

typedef struct ring {
    int *v;
    long head, len, cap;
} ring;

typedef struct rank {
    int *run;
    int nrun, cap;
    ring wait;
    long free_blocks;
    int load;            /* requests assigned here: waiting and running */
    double link_free;    /* prefill pool: when its NIC can start the next KV transfer */
    sim_step_shape shape;/* this iteration, whole rank (all micro-batches) */
    double spec_dec;     /* decoding sequences that also draft this iteration */
} rank;

typedef struct pool {
    const sim_deploy *d;
    sim_memfit mem;
    int role, nranks;
    rank *rk;
    long blocks, watermark, budget, used_blocks;
    bool busy;
    double t_start, t_end, busy_s;
    long iterations;
    double dec_sum;      /* decoding sequences per rank, summed over iterations */
    long active;
    memo memo;
} pool;

typedef struct xfer {
    double t;
    int id;
} xfer;

typedef struct des {
    const sim_des_opts *o;
    const sim_workload *w;
    dreq *q;
    pool pools[2];       /* [0]: aggregated or decode pool; [1]: prefill pool */
    int npools;
    xfer *heap;
    long nheap, capheap;
    double now, kv_xfer_bytes_per_token, xfer_bw, xfer_lat;
    long in_system, waiting, running, completed, preemptions;
    double area_sys, area_wait, area_run, max_waiting, kv_peak;
    /* timeline: integrals over windows of width win_w, merged pairwise when they overflow */
    sim_des_window win[128];
    double win_w;
    /* sustainability: requests in system over 64 windows of the arrival span */
    double span_area[64], span_wait[64], span_w;
} des;

static long blocks_for(long tokens, int b)
{
    return (tokens + b - 1) / b;
}

static int ring_grow(ring *r)
{
    long cap = r->cap ? r->cap * 2 : 64;
    int *v = malloc((size_t)cap * sizeof *v);
    if (!v)
        return -1;
    for (long i = 0; i < r->len; i++)
        v[i] = r->v[(r->head + i) % r->cap];
    free(r->v);
    r->v = v;
    r->cap = cap;
    r->head = 0;
    return 0;
}

static int ring_push(ring *r, int id, bool front)
{
    if (r->len == r->cap && ring_grow(r))
        return -1;
    if (front) {
        r->head = (r->head + r->cap - 1) % r->cap;
        r->v[r->head] = id;
    } else {
        r->v[(r->head + r->len) % r->cap] = id;
    }
    r->len++;
    return 0;
}

static int ring_pop(ring *r)
{
    int id = r->v[r->head];
    r->head = (r->head + 1) % r->cap;
    r->len--;
    return id;
}

static int run_push(rank *r, int id)
{
    if (r->nrun == r->cap) {
        int cap = r->cap ? r->cap * 2 : 64;
        int *v = realloc(r->run, (size_t)cap * sizeof *v);
        if (!v)
            return -1;
        r->run = v;
        r->cap = cap;
    }
    r->run[r->nrun++] = id;
    return 0;
}

static int heap_push(des *s, double t, int id)
{
    if (s->nheap == s->capheap) {
        long cap = s->capheap ? s->capheap * 2 : 256;
        xfer *h = realloc(s->heap, (size_t)cap * sizeof *h);
        if (!h)
            return -1;
        s->heap = h;
        s->capheap = cap;
    }
    long i = s->nheap++;
    while (i > 0 && s->heap[(i - 1) / 2].t > t) {
        s->heap[i] = s->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->heap[i] = (xfer){ t, id };
    return 0;
}

static xfer heap_pop(des *s)
{
    xfer top = s->heap[0], last = s->heap[--s->nheap];
    long i = 0;
    for (;;) {
        long c = 2 * i + 1;
        if (c >= s->nheap)
            break;
        if (c + 1 < s->nheap && s->heap[c + 1].t < s->heap[c].t)
            c++;
        if (s->heap[c].t >= last.t)
            break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (s->nheap > 0)
        s->heap[i] = last;
    return top;
}

/* ------------------------------------------------------------------ statistics over time */

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
        long i = (long)(t0 / s->span_w);
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
static void advance(des *s, double t)
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

/* ------------------------------------------------------------------ scheduler */

static void free_blocks(pool *p, rank *r, dreq *q)
{
    r->free_blocks += q->blocks;
    p->used_blocks -= q->blocks;
    q->blocks = 0;
}

static void take_blocks(pool *p, rank *r, dreq *q, long n)
{
    if (n <= 0)
        return;
    r->free_blocks -= n;
    p->used_blocks += n;
    q->blocks += (int)n;
}

/* Preempt the last running sequence of rank r (recompute policy): its KV is dropped and it
 * goes back to the head of the queue to recompute its prompt and what it had produced. */
static int preempt_last(des *s, pool *p, rank *r)
{
    int id = r->run[--r->nrun];
    dreq *q = &s->q[id];
    free_blocks(p, r, q);
    q->sched = 0;
    q->state = ST_WAIT;
    q->target = q->isl + q->gen;
    q->done = q->kv = q->cached < q->isl ? q->cached : 0;
    q->preempts++;
    s->preemptions++;
    s->running--;
    s->waiting++;
    return ring_push(&r->wait, id, true);
}

/* Blocks for the i-th running sequence, preempting from the tail. Returns 1 when granted,
 * 0 when the sequence itself had to be preempted, -1 on allocation failure. */
static int reserve(des *s, pool *p, rank *r, int i, long n)
{
    while (r->free_blocks < n) {
        bool self = r->nrun - 1 <= i;
        if (preempt_last(s, p, r))
            return -1;
        if (self)
            return 0;
    }
    return 1;
}

/* Add a scheduled piece of work to the rank's shape. */
static void shape_add(rank *r, const dreq *q, int tokens, bool decode, int spec)
{
    sim_step_shape *sh = &r->shape;
    if (decode) {
        sh->decode_seqs += 1;
        sh->decode_ctx += q->kv + 1; /* summed here; divided into a mean in rank_shape */
        r->spec_dec += spec > 0;
        return;
    }
    sh->prefill_tokens += tokens;
    sh->prefill_ctx += tokens * (q->done + tokens / 2.0);
    if (q->done + tokens >= q->target)
        sh->prefill_seqs += 1;
}

/* Admit the request at the head of rank r's queue if its first piece of work fits the
 * budget and the KV blocks (keeping the watermark free). Returns 1 admitted, 0 not, -1 on
 * allocation failure. */
static int admit_head(des *s, pool *p, rank *r, long *budget)
{
    const sim_des_opts *o = s->o;
    int k = o->spec_tokens, id = r->wait.v[r->wait.head];
    dreq *q = &s->q[id];
    bool decode = q->done >= q->target;
    int tokens = decode ? 1 + k : (int)fmin(q->target - q->done, *budget);
    if (tokens <= 0 || tokens > *budget)
        return 0;
    long need = blocks_for((decode ? q->kv : q->done) + tokens, o->block_tokens) - q->blocks;
    if (r->free_blocks - need < p->watermark)
        return 0;
    ring_pop(&r->wait);
    if (run_push(r, id))
        return -1;
    q->state = ST_RUN;
    s->waiting--;
    s->running++;
    if (q->sched_at < 0)
        q->sched_at = s->now;
    take_blocks(p, r, q, need);
    q->sched = tokens;
    q->sdec = decode;
    *budget -= tokens;
    shape_add(r, q, tokens, decode, k);
    return 1;
}

/* Plan one iteration of rank r: running sequences first, then admissions. */
static int rank_schedule(des *s, pool *p, rank *r)
{
    const sim_des_opts *o = s->o;
    int B = o->block_tokens, k = o->spec_tokens;
    long budget = p->budget;
    memset(&r->shape, 0, sizeof r->shape);
    r->spec_dec = 0;
    for (int i = 0; i < r->nrun; i++) {
        dreq *q = &s->q[r->run[i]];
        bool decode = q->done >= q->target;
        int tokens = decode ? 1 + k : (int)fmin(q->target - q->done, budget);
        if (tokens <= 0 || tokens > budget)
            continue;
        long end = (decode ? q->kv : q->done) + tokens;
        if (end > (long)q->blocks * B) { /* crosses into a new block (one step in B for a decode) */
            long need = blocks_for(end, B) - q->blocks;
            int got = reserve(s, p, r, i, need);
            if (got < 0)
                return -1;
            if (got == 0)
                break; /* it preempted itself: nothing after it is left */
            take_blocks(p, r, q, need);
        }
        q->sched = tokens;
        q->sdec = decode;
        budget -= tokens;
        shape_add(r, q, tokens, decode, k);
    }
    while (r->wait.len > 0 && budget > 0 && (o->max_num_seqs <= 0 || r->nrun < o->max_num_seqs)) {
        int rc = admit_head(s, p, r, &budget);
        if (rc <= 0)
            return rc;
    }
    double used = (double)(p->blocks - r->free_blocks) / p->blocks;
    if (used > s->kv_peak)
        s->kv_peak = used;
    return 0;
}

/* CUDA-graph batch sizes as vLLM captures them: 1, 2, 4, then multiples of 8. */
static double graph_pad(double n, int gmax)
{
    if (gmax <= 0 || n <= 0 || n > gmax)
        return n;
    if (n <= 2)
        return n;
    if (n <= 4)
        return 4;
    return fmin(ceil(n / 8) * 8, gmax);
}

/* The shape one micro-batch of rank r presents to the step model: decode batch padded to a
 * captured graph size when the rank only decodes, draft tokens verified as extra prompt-like
 * tokens against the sequence's context, everything divided over pp micro-batches. */
static sim_step_shape rank_shape(const des *s, const pool *p, const rank *r)
{
    const sim_step_shape *a = &r->shape;
    sim_step_shape sh = { 0 };
    double dec = a->decode_seqs, ctx = dec > 0 ? a->decode_ctx / dec : 0;
    double padded = a->prefill_tokens > 0 ? dec : graph_pad(dec, s->o->graph_max);
    double verify = r->spec_dec * s->o->spec_tokens;
    sh.decode_seqs = padded;
    sh.decode_ctx = padded > 0 ? ctx * dec / padded : 0; /* padded rows read no KV */
    sh.prefill_tokens = a->prefill_tokens + verify;
    sh.prefill_ctx = sh.prefill_tokens > 0 ? (a->prefill_ctx + verify * ctx) / sh.prefill_tokens : 0;
    sh.prefill_seqs = a->prefill_seqs + verify;
    double pp = p->d->pp;
    sh.decode_seqs /= pp;
    sh.prefill_tokens /= pp;
    sh.prefill_seqs /= pp;
    return sh;
}

/* Start an iteration of pool p at the current time if any rank has work. */
static int pool_start(des *s, pool *p, sim_err *err)
{
    if (p->busy || p->active == 0)
        return SIM_OK;
    bool any = false;
    for (int i = 0; i < p->nranks; i++) {
        if (rank_schedule(s, p, &p->rk[i]))
            return sim_fail(err, SIM_EFAIL, "out of memory in the scheduler");
        any |= p->rk[i].shape.decode_seqs + p->rk[i].shape.prefill_tokens > 0;
    }
    if (!any)
        return SIM_OK;
    sim_step_shape sh[p->nranks > 0 ? p->nranks : 1];
    double group = 0;
    for (int i = 0; i < p->nranks; i++) {
        sh[i] = rank_shape(s, p, &p->rk[i]);
        group += sh[i].decode_seqs + sh[i].prefill_tokens;
    }
    /* Ranks step together: the iteration lasts as long as the slowest rank's step with the
     * whole group's tokens in the MoE layers. */
    double t = 0;
    for (int i = 0; i < p->nranks; i++) {
        rank *r = &p->rk[i];
        if (r->shape.decode_seqs + r->shape.prefill_tokens <= 0)
            continue;
        sh[i].group_tokens = group;
        double ti;
        int rc = memo_time(&p->memo, &sh[i], 0, &ti, err);
        if (rc)
            return rc;
        if (r->spec_dec > 0) {
            sim_step_shape ds = { .decode_seqs = sh[i].decode_seqs, .decode_ctx = sh[i].decode_ctx,
                                  .group_tokens = group };
            double td;
            if ((rc = memo_time(&p->memo, &ds, 1, &td, err)))
                return rc;
            ti += s->o->spec_tokens * td * p->d->pp;
        }
        if (ti > t)
            t = ti;
        p->dec_sum += r->shape.decode_seqs;
    }
    p->busy = true;
    p->t_start = s->now;
    p->t_end = s->now + t;
    p->iterations++;
    return SIM_OK;
}

static int least_loaded(const pool *p)
{
    int best = 0;
    for (int i = 1; i < p->nranks; i++)
        if (p->rk[i].load < p->rk[best].load)
            best = i;
    return best;
}

/* Put request id in the waiting queue of the least-loaded rank of pool p. */
static int enqueue(des *s, pool *p, int id)
{
    dreq *q = &s->q[id];
    int ri = least_loaded(p);
    q->rank = ri;
    q->state = ST_WAIT;
    p->rk[ri].load++;
    p->active++;
    s->waiting++;
    return ring_push(&p->rk[ri].wait, id, false);
}

static void leave_pool(pool *p, rank *r)
{
    r->load--;
    p->active--;
}

static void finish(des *s, dreq *q)
{
    q->finish = s->now;
    q->state = ST_DONE;
    s->completed++;
    s->in_system--;
}

/* KV of a finished prompt leaves the prefill rank over its NICs; transfers from one rank
 * queue behind each other. */
static int start_transfer(des *s, pool *pp, dreq *q, int id)
{
    rank *r = &pp->rk[q->rank];
    double start = fmax(s->now, r->link_free);
    double t = start + s->xfer_lat + q->isl * s->kv_xfer_bytes_per_token / s->xfer_bw;
    r->link_free = t;
    q->prank = q->rank;
    q->state = ST_XFER;
    return heap_push(s, t, id);
}

/* Apply the effects of the iteration that just ended on rank r. */
static int rank_finish(des *s, pool *p, rank *r)
{
    const sim_des_opts *o = s->o;
    int kept = 0;
    for (int i = 0; i < r->nrun; i++) {
        int id = r->run[i];
        dreq *q = &s->q[id];
        bool gone = false;
        if (q->sched > 0) {
            if (q->sdec) {
                int made = 1;
                if (o->spec_tokens > 0) {
                    q->credit += (float)o->spec_accept;
                    made = (int)q->credit;
                    q->credit -= (float)made;
                }
                if (made > q->osl - q->gen)
                    made = q->osl - q->gen;
                q->gen += made;
                q->kv += made;
            } else {
                q->done += q->sched;
                q->kv = q->done;
                if (q->done >= q->target) { /* the last chunk of a prompt yields a token */
                    q->gen++;
                    if (q->first < 0 && p->role != ROLE_PREFILL)
                        q->first = s->now;
                    if (p->role == ROLE_PREFILL) {
                        leave_pool(p, r);
                        s->running--;
                        if (start_transfer(s, p, q, id))
                            return -1;
                        gone = true;
                    }
                }
            }
            q->sched = 0;
            if (!gone && q->gen >= q->osl) {
                free_blocks(p, r, q);
                leave_pool(p, r);
                s->running--;
                finish(s, q);
                gone = true;
            }
        }
        if (!gone)
            r->run[kept++] = id;
    }
    r->nrun = kept;
    return 0;
}

static int pool_finish(des *s, pool *p)
{
    p->busy = false;
    p->busy_s += p->t_end - p->t_start;
    for (int i = 0; i < p->nranks; i++)
        if (rank_finish(s, p, &p->rk[i]))
            return -1;
    return 0;
}

/* A transfer landed: the prefill rank frees the blocks, the first token reaches the user
 * and the sequence queues for the decode pool. */
static int transfer_done(des *s, int id)
{
    dreq *q = &s->q[id];
    pool *pp = &s->pools[1], *dp = &s->pools[0];
    free_blocks(pp, &pp->rk[q->prank], q);
    if (q->first < 0)
        q->first = s->now;
    if (q->gen >= q->osl) {
        finish(s, q);
        return 0;
    }
    q->done = q->target = q->isl;
    q->kv = q->isl;
    return enqueue(s, dp, id);
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
    sim_memfit_eval(d, 1, 1, &p->mem);
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
    for (int i = 0; i < p->nranks; i++)
        p->rk[i].free_blocks = p->blocks;
    p->memo.d = d;
    p->memo.fit = &p->mem;
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
                                i + 1, r->isl, r->osl, tokens, pi == 1 ? "prefill pool" : "deployment",
                                (p->blocks - p->watermark) * B, p->blocks, B);
        }
    }
    return SIM_OK;
}

static int des_init(des *s, const sim_deploy *d, const sim_des_opts *o, const sim_workload *w, sim_err *err)
{
    memset(s, 0, sizeof *s);
    s->o = o;
    s->w = w;
    double mean_ctx = 0;
    for (long i = 0; i < w->n; i++)
        mean_ctx += w->r[i].isl + w->r[i].osl;
    mean_ctx = fmax(1, mean_ctx / w->n);
    int rc;
    s->npools = o->prefill ? 2 : 1;
    if ((rc = pool_init(s, &s->pools[0], d, o->prefill ? ROLE_DECODE : ROLE_BOTH, mean_ctx, err)))
        return rc;
    if (o->prefill) {
        double mean_isl = 0;
        for (long i = 0; i < w->n; i++)
            mean_isl += w->r[i].isl;
        if ((rc = pool_init(s, &s->pools[1], o->prefill, ROLE_PREFILL, fmax(1, mean_isl / w->n), err)))
            return rc;
        /* The whole sequence's KV (every layer, unsplit) moves over the NICs of the ranks'
         * devices in parallel: the smaller side's device count. */
        const sim_deploy *p = o->prefill;
        s->kv_xfer_bytes_per_token = sim_model_kv_elems(d->model, mean_isl / w->n) / fmax(1, mean_isl / w->n) *
                                     sim_wformat_bytes(d->kv_fmt);
        int nics = p->tp * p->pp < d->tp * d->pp ? p->tp * p->pp : d->tp * d->pp;
        s->xfer_bw = d->hw->scale_out.bandwidth_Bps * d->hw->eff.link_scale_out * nics;
        s->xfer_lat = d->hw->scale_out.latency_s;
        if (!(s->xfer_bw > 0))
            return sim_fail(err, SIM_EINPUT, "%s has no scale-out link to move KV between pools", d->hw->name);
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
    s->span_w = span / 64;
    return SIM_OK;
}

static void des_free(des *s)
{
    for (int pi = 0; pi < 2; pi++) {
        pool *p = &s->pools[pi];
        for (int i = 0; p->rk && i < p->nranks; i++) {
            free(p->rk[i].run);
            free(p->rk[i].wait.v);
        }
        free(p->rk);
        free(p->memo.e);
    }
    free(s->heap);
    free(s->q);
}

/* ------------------------------------------------------------------ the loop */

static int des_loop(des *s, sim_err *err)
{
    const sim_workload *w = s->w;
    long next = 0, events = 0;
    pool *entry = &s->pools[s->npools == 2 ? 1 : 0];
    while (s->completed < w->n) {
        double ta = next < w->n ? w->r[next].arrival_s : INFINITY;
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
        if (tp <= tx && tp <= ta) {
            advance(s, tp);
            rc = pool_finish(s, &s->pools[which]);
        } else if (tx <= ta) {
            advance(s, tx);
            rc = transfer_done(s, heap_pop(s).id);
        } else {
            advance(s, ta);
            s->in_system++;
            rc = enqueue(s, entry, (int)next++);
        }
        if (rc)
            return sim_fail(err, SIM_EFAIL, "out of memory in the simulation");
        if (s->waiting > s->max_waiting)
            s->max_waiting = s->waiting;
        for (int i = 0; i < s->npools; i++)
            if ((rc = pool_start(s, &s->pools[i], err)))
                return rc;
        if (s->o->progress && (++events & 0xFFFF) == 0)
            s->o->progress(s->o->progress_ctx, (double)s->completed / w->n);
    }
    return SIM_OK;
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

static int collect(des *s, const sim_deploy *d, sim_des_result *r, sim_err *err)
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

int sim_des_run(const sim_deploy *d, const sim_des_opts *o, const sim_workload *w, sim_des_result *out,
                sim_err *err)
{
    memset(out, 0, sizeof *out);
    if (!w || w->n < 1)
        return sim_fail(err, SIM_EINPUT, "serve: no requests to simulate");
    int rc = check_opts(o, err);
    if (rc || (rc = sim_deploy_check(d, err)))
        return rc;
    if (o->prefill) {
        if (o->prefill->model != d->model)
            return sim_fail(err, SIM_EINPUT, "prefill pool must serve the same model as the decode pool");
        if ((rc = sim_deploy_check(o->prefill, err)))
            return sim_wrap(err, "prefill pool");
    }
    des *s = malloc(sizeof *s);
    if (!s)
        return sim_fail(err, SIM_EFAIL, "out of memory");
    if (!(rc = des_init(s, d, o, w, err)) && !(rc = des_loop(s, err)))
        rc = collect(s, d, out, err);
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

/* ------------------------------------------------------------------ JSON */


static void pct(cJSON *o, const char *name, const sim_des_pct *p)
{
    char k[64];
    static const char *const tag[] = { "mean", "p50", "p90", "p99", "max" };
    const double v[] = { p->mean, p->p50, p->p90, p->p99, p->max };
    for (int i = 0; i < 5; i++) {
        snprintf(k, sizeof k, "%s_%s_s", name, tag[i]);
        jf_add_num(o, k, v[i]);
    }
}

static void split_text(char *buf, size_t cap, const sim_deploy *d)
{
    snprintf(buf, cap, "%d x %s, tp %d ep %d pp %d dp %d, %s", d->gpus, d->hw->name, d->tp, d->ep, d->pp, d->dp,
             sim_wformat_name(d->expert_fmt));
}

cJSON *sim_des_report(const sim_deploy *d, const sim_des_opts *o, const sim_workload *w, const sim_des_result *r)
{
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return NULL;
    char buf[256];
    cJSON_AddStringToObject(j, "model", d->model->name);
    cJSON_AddStringToObject(j, "hw", d->hw->name);
    split_text(buf, sizeof buf, d);
    cJSON_AddStringToObject(j, o->prefill ? "decode_pool" : "deployment", buf);
    if (o->prefill) {
        split_text(buf, sizeof buf, o->prefill);
        cJSON_AddStringToObject(j, "prefill_pool", buf);
    }
    jf_add_num(j, "gpus", r->gpus);
    cJSON_AddStringToObject(j, "arrival", w->source);
    jf_add_num(j, "requests", r->requests);
    jf_add_num(j, "completed", r->completed);
    jf_add_num(j, "offered_rate_rps", r->offered_rate);
    jf_add_num(j, "duration_s", r->duration_s);
    pct(j, "ttft", &r->ttft);
    pct(j, "tpot", &r->tpot);
    pct(j, "e2e", &r->e2e);
    pct(j, "queue", &r->queue);
    jf_add_num(j, "input_tokens_per_s", r->input_tps);
    jf_add_num(j, "output_tokens_per_s", r->output_tps);
    jf_add_num(j, "output_tokens_per_s_per_gpu", r->output_tps_per_gpu);
    jf_add_num(j, "input_tokens_per_s_per_gpu", r->input_tps_per_gpu);
    jf_add_num(j, "output_tokens_per_s_per_user", r->output_tps_per_user);
    jf_add_num(j, "slo_ttft_s", o->slo_ttft_s);
    jf_add_num(j, "slo_tpot_s", o->slo_tpot_s);
    jf_add_num(j, "slo_attainment", r->slo_attainment);
    jf_add_num(j, "goodput_requests_per_s", r->goodput_rps);
    jf_add_num(j, "goodput_tokens_per_s", r->goodput_tps);
    jf_add_num(j, "utilization", r->utilization);
    if (o->prefill)
        jf_add_num(j, "prefill_utilization", r->prefill_utilization);
    jf_add_num(j, "mean_batch_per_rank", r->mean_batch);
    jf_add_num(j, "mean_in_system", r->mean_in_system);
    jf_add_num(j, "mean_waiting", r->mean_waiting);
    jf_add_num(j, "max_waiting", r->max_waiting);
    jf_add_num(j, "kv_blocks_per_rank", (double)r->kv_blocks_per_rank);
    jf_add_num(j, "kv_peak_share", r->kv_peak_share);
    jf_add_num(j, "preemptions", r->preemptions);
    jf_add_num(j, "iterations", r->iterations);
    cJSON_AddBoolToObject(j, "sustainable", r->sustainable);
    jf_add_num(j, "queue_growth_per_s", r->queue_growth_rps);
    jf_add_num(j, "served_requests_per_s", r->served_rps);
    cJSON_AddStringToObject(j, "note", r->note);
    cJSON *l = cJSON_AddObjectToObject(j, "little");
    jf_add_num(l, "L", r->little_L);
    jf_add_num(l, "lambda", r->little_lambda);
    jf_add_num(l, "W_s", r->little_W);
    jf_add_num(l, "rel_error", r->little_L > 0 ? fabs(r->little_L - r->little_lambda * r->little_W) / r->little_L : 0);
    jf_add_num(j, "usd_per_hour", r->usd_per_hour);
    jf_add_num(j, "usd_per_mtok_output", r->usd_per_mtok_output);
    jf_add_num(j, "usd_per_mtok_blended", r->usd_per_mtok_blended);
    cJSON_AddStringToObject(j, "cost_mode", r->cost_mode ? r->cost_mode : "rent");
    jf_add_num(j, "step_model_calls", r->step_evals);
    jf_add_num(j, "step_memo_hits", r->step_cache_hits);
    cJSON *tl = cJSON_AddArrayToObject(j, "timeline");
    for (int i = 0; tl && i < r->nwindows; i++) {
        const sim_des_window *w0 = &r->windows[i];
        cJSON *row = cJSON_CreateObject();
        jf_add_num(row, "t_s", w0->t0);
        jf_add_num(row, "in_system", w0->in_system);
        jf_add_num(row, "waiting", w0->waiting);
        jf_add_num(row, "running", w0->running);
        jf_add_num(row, "busy", w0->busy);
        jf_add_num(row, "kv_used", w0->kv_used);
        cJSON_AddItemToArray(tl, row);
    }
    return j;
}

cJSON *sim_des_records_rows(const sim_des_result *r)
{
    cJSON *rows = cJSON_CreateArray();
    for (long i = 0; rows && r->records && i < r->requests; i++) {
        const sim_des_record *q = &r->records[i];
        cJSON *row = cJSON_CreateObject();
        jf_add_num(row, "request", i + 1);
        jf_add_num(row, "arrival_s", q->arrival_s);
        jf_add_num(row, "isl", q->isl);
        jf_add_num(row, "osl", q->osl);
        jf_add_num(row, "ttft_s", q->ttft_s);
        jf_add_num(row, "tpot_s", q->tpot_s);
        jf_add_num(row, "e2e_s", q->e2e_s);
        jf_add_num(row, "preemptions", q->preemptions);
        jf_add_num(row, "rank", q->rank);
        cJSON_AddItemToArray(rows, row);
    }
    return rows;
}

cJSON *sim_des_cdf_rows(const sim_des_result *r, int points)
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
            if (m == 1 && q->osl <= 1)
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
            jf_add_num(row, "latency_s", gsl_stats_quantile_from_sorted_data(v, 1, (size_t)k, share));
            jf_add_num(row, "share", share);
            cJSON_AddItemToArray(rows, row);
        }
    }
    free(v);
    return rows;
}

/* ------------------------------------------------------------------ from the option table */

static int length_law(const char *name, const char *opt, double mean, double cv, int max, sim_len_dist *out,
                      sim_err *err)
{
    out->kind = SIM_LEN_FIXED;
    if (name[0] && sim_len_kind_parse(name, &out->kind))
        return sim_fail(err, SIM_EINPUT, "option '%s': unknown length law '%s' (one of fixed, uniform, exponential, "
                                         "lognormal)", opt, name);
    out->mean = mean;
    out->cv = cv;
    out->max = max;
    return SIM_OK;
}

/* The requests a request describes: a trace file, or draws around isl/osl at a rate. */
int sim_des_request_workload(const sim_request *r, int max_context, sim_workload *w, sim_err *err)
{
    bool trace = r->trace[0] || strcasecmp(r->arrival, "trace") == 0;
    if (r->arrival[0] && strcasecmp(r->arrival, "trace") && strcasecmp(r->arrival, "poisson") &&
        strcasecmp(r->arrival, "gamma"))
        return sim_fail(err, SIM_EINPUT, "option 'arrival' must be poisson, gamma or trace (got '%s')", r->arrival);
    if (r->requests < 0)
        return sim_fail(err, SIM_EINPUT, "option 'requests' must be >= 1 (got %d)", r->requests);
    if (trace) {
        if (!r->trace[0])
            return sim_fail(err, SIM_EINPUT, "arrival 'trace' needs the option 'trace' (a CSV file)");
        if (r->arrival[0] && strcasecmp(r->arrival, "trace"))
            return sim_fail(err, SIM_EINPUT, "option 'trace' replays its own arrival times; drop arrival '%s'",
                            r->arrival);
        if (r->rate != 0)
            return sim_fail(err, SIM_EINPUT, "option 'rate' does not apply to a trace (its arrival times are used)");
        return sim_workload_load(r->trace, r->requests, w, err);
    }
    bool gamma = strcasecmp(r->arrival, "gamma") == 0;
    if (!gamma && r->burstiness != 1)
        return sim_fail(err, SIM_EINPUT, "option 'burstiness' needs arrival 'gamma' (Poisson arrivals have none)");
    if (!(r->rate > 0))
        return sim_fail(err, SIM_EINPUT, "option 'rate' must be a positive number of requests per second (got %g)",
                        r->rate);
    if (!(r->isl >= 1) || !(r->osl >= 1))
        return sim_fail(err, SIM_EINPUT, "isl and osl must be >= 1 token (got %g and %g)", r->isl, r->osl);
    /* Draws stay under 16x the mean and within the model's context. */
    int cap_i = (int)fmin(fmax(r->isl, fmin(16 * r->isl, max_context)), 1e8);
    int cap_o = (int)fmin(fmax(r->osl, fmin(16 * r->osl, max_context)), 1e8);
    sim_wl_opts o = { .requests = r->requests, .rate = r->rate, .burstiness = r->burstiness,
                      .seed = (unsigned long)r->seed };
    int rc;
    if ((rc = length_law(r->isl_dist, "isl_dist", r->isl, r->len_cv, cap_i, &o.isl, err)) ||
        (rc = length_law(r->osl_dist, "osl_dist", r->osl, r->len_cv, cap_o, &o.osl, err)))
        return rc;
    return sim_workload_generate(&o, w, err);
}


/* Replicas: one instance is simulated with its share of the requests (a trace is dealt
 * round-robin); deployment-wide figures scale by R, per-GPU and per-request ones do not. */
static void thin_trace(sim_workload *w, int R)
{
    long k = 0;
    for (long i = 0; i < w->n; i += R)
        w->r[k++] = w->r[i];
    w->n = k;
}

static void scale_replicas(sim_des_result *r, int R)
{
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

int sim_des_request_run(sim_session *session, const sim_request *r, bool keep_records, bool progress, cJSON **report,
                        sim_des_result *res, sim_err *err)
{
    *report = NULL;
    sim_deploy d, pre;
    sim_serve_opts so;
    bool has_prefill;
    int rc = sim_request_deploy(session, r, &d, &pre, &has_prefill, &so, err);
    if (rc)
        return rc;
    int R = so.replicas > 0 ? so.replicas : 1;
    sim_request one = *r;
    if (R > 1 && !r->trace[0]) { /* a Poisson stream split at random over R replicas: R Poisson streams */
        one.rate = r->rate / R;
        one.requests = (r->requests + R - 1) / R;
    }
    sim_workload w;
    if ((rc = sim_des_request_workload(&one, d.model->max_context > 0 ? d.model->max_context : 1 << 20, &w, err)))
        return rc;
    if (R > 1 && r->trace[0])
        thin_trace(&w, R);
    sim_des_opts o;
    sim_des_defaults(&o);
    o.prefill = has_prefill ? &pre : NULL;
    o.block_tokens = r->block_size;
    o.max_num_seqs = r->max_num_seqs;
    o.graph_max = r->cuda_graph_max;
    o.prefix_hit = r->prefix_hit;
    o.spec_tokens = r->spec_tokens;
    o.spec_accept = r->spec_accept;
    o.slo_ttft_s = r->slo_ttft_s;
    o.slo_tpot_s = r->slo_tpot_s;
    o.keep_records = keep_records;
    o.cost = so.cost;
    sim_progress shown = { "moesim serve: %d%% of requests done", -1 };
    if (progress && w.n >= 200000) {
        o.progress = sim_progress_tenths;
        o.progress_ctx = &shown;
    }
    sim_des_result local, *out = res ? res : &local;
    rc = sim_des_run(&d, &o, &w, out, err);
    if (!rc) {
        scale_replicas(out, R);
        *report = sim_des_report(&d, &o, &w, out);
        if (*report)
            cJSON_AddNumberToObject(*report, "replicas", R);
        if (*report && w.clipped)
            cJSON_AddNumberToObject(*report, "lengths_clipped", (double)w.clipped);
        if (!*report)
            rc = sim_fail(err, SIM_EFAIL, "out of memory building the report");
    }
    if (!res || rc)
        sim_des_result_free(out);
    sim_workload_free(&w);
    return rc;
}

