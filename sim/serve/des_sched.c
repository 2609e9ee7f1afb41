/* des_sched.c: the continuous-batching scheduler of the discrete-event simulator, in the
 * manner of vLLM's: per attention rank a token budget per iteration, running sequences
 * first (decode tokens, next prompt chunks), then admissions first come first served while
 * KV blocks last; preemption by recompute; the iteration's time from the step-time memo;
 * KV transfers from a prefill pool to a decode pool. The oldest decoding sequences of a rank
 * are "lazy" (des_internal.h, rank: counted by their position in the KV block and their
 * exact credit, des_internal.h, credit_frac): stepped as aggregates, written back when
 * they finish or when the walk must decide sequence by sequence, with the same outcome to the
 * last bit. */
#include <math.h>
#include <string.h>

#include "serve/des_internal.h"

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

/* ------------------------------------------------------------------ lazy decoders */

static int mod_b(long x, int b)
{
    long m = x % b;
    return (int)(m < 0 ? m + b : m);
}

static int fin_push(rank *r, int at, int id)
{
    if (r->nfin == r->capfin) {
        int cap = r->capfin ? r->capfin * 2 : 64;
        lazy_fin *v = realloc(r->fin, (size_t)cap * sizeof *v);
        if (!v)
            return -1;
        r->fin = v;
        r->capfin = cap;
    }
    int i = r->nfin++;
    while (i > 0 && r->fin[(i - 1) / 2].at > at) {
        r->fin[i] = r->fin[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    r->fin[i] = (lazy_fin){ at, id };
    return 0;
}

static int fin_pop(rank *r)
{
    int id = r->fin[0].id;
    lazy_fin last = r->fin[--r->nfin];
    int i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= r->nfin)
            break;
        if (c + 1 < r->nfin && r->fin[c + 1].at < r->fin[c].at)
            c++;
        if (r->fin[c].at >= last.at)
            break;
        r->fin[i] = r->fin[c];
        i = c;
    }
    if (r->nfin > 0)
        r->fin[i] = last;
    return id;
}

/* Fenwick trees over n counts (des_internal.h, rank: zf over z, xf over z mod den). */
static void fen_add(int *f, int n, int i, int d)
{
    for (i++; i <= n; i += i & -i)
        f[i - 1] += d;
}

/* The count of positions < i. */
static long fen_pre(const int *f, int i)
{
    long t = 0;
    for (; i > 0; i -= i & -i)
        t += f[i - 1];
    return t;
}

/* The count of positions in the cyclic range [lo, lo + len) mod n (0 <= lo < n, len <= n): a
 * short range (one token a step: one position) summed from the counts, a long one from the tree. */
static inline long range_count(const rank *r, const int *cnt, const int *fen, int n, int lo, long len)
{
    if (len <= 16) {
        long t = 0;
        for (int i = lo, k = 0; k < len; k++, i = i + 1 == n ? 0 : i + 1)
            t += cnt[i];
        return t;
    }
    long hi = lo + len;
    if (hi <= n)
        return fen_pre(fen, (int)hi) - fen_pre(fen, lo);
    return r->nlazy - fen_pre(fen, lo) + fen_pre(fen, (int)(hi - n));
}

/* Over rank r's lazy decoders, the sum of floor(((z + s) mod n + A) / n), A >= 0: with n = M and
 * s = c num, the blocks crossed from W_c to W_c + A; with n = den, the tokens made. Each
 * decoder passes A / n multiples of n, and one more when (z + s) mod n >= n - A mod n. */
static long lazy_sum(const rank *r, const int *cnt, const int *fen, int n, long s, long A)
{
    long ra = A % n, t = (long)r->nlazy * (A / n);
    if (ra == 0 || r->nlazy == 0)
        return t;
    return t + range_count(r, cnt, fen, n, mod_b(n - ra - s % n, n), ra);
}

/* A lazy decoder's position W (des_internal.h, rank) at the clock it joined: its KV and credit
 * are kept as of then. */
static long lazy_w0(const des *s, const dreq *q)
{
    return ((long)q->kv + s->o->spec_tokens) * s->credit.den + q->credit;
}

/* Decoding sequence id becomes lazy at the rank's clock c: it must hold exactly the blocks its
 * step at clock c - 1 reserved (for KV + draft tokens + 1 then: W - num is its position at
 * c - 1), so that from then on it crosses into a new block whenever its KV + draft tokens pass
 * a multiple of B. */
static bool lazy_eligible(const des *s, const dreq *q)
{
    if (!(s->lazy && q->state == ST_RUN && q->done >= q->target && q->gen < q->osl))
        return false;
    long prev = (lazy_w0(s, q) - s->credit.num) / s->credit.den; /* KV + draft tokens at c - 1 */
    return q->blocks == blocks_for(prev + 1, s->o->block_tokens);
}

/* Count decoder q (position w0 at clock lz) in or out of the rank's trees: d = +1 or -1. */
static void lazy_count(const des *s, rank *r, const dreq *q, int d)
{
    const credit_frac *f = &s->credit;
    int z = mod_b(lazy_w0(s, q) - (long)q->lz * f->num, f->M), x = z % f->den;
    r->zc[z] += d;
    fen_add(r->zf, f->M, z, d);
    r->xc[x] += d;
    fen_add(r->xf, f->den, x, d);
}

static int lazy_join(des *s, rank *r, int id)
{
    dreq *q = &s->q[id];
    if (r->nlzv == r->caplzv) {
        int cap = r->caplzv ? r->caplzv * 2 : 64;
        int *v = realloc(r->lzv, (size_t)cap * sizeof *v);
        if (!v)
            return -1;
        r->lzv = v;
        r->caplzv = cap;
    }
    /* its last token: the first n >= 1 steps with floor((credit + n num) / den) >= osl - gen */
    const credit_frac *f = &s->credit;
    long need = (long)(q->osl - q->gen) * f->den - q->credit, n = (need + f->num - 1) / f->num;
    if (fin_push(r, (int)(r->clock + n), id))
        return -1;
    r->lzv[r->nlzv++] = id;
    q->lazy = 1;
    q->lz = r->clock;
    r->nlazy++;
    r->lazy_kv += q->kv;
    lazy_count(s, r, q, 1);
    return 0;
}

/* Write the clock's decode steps into a lazy decoder and take it out of the aggregates.
 * Returns the tokens the aggregates counted past its output length (its last step's cap). */
static long lazy_leave(des *s, rank *r, dreq *q)
{
    const credit_frac *f = &s->credit;
    int B = s->o->block_tokens, k = s->o->spec_tokens;
    lazy_count(s, r, q, -1);
    long w = lazy_w0(s, q) + ((long)r->clock - q->lz) * f->num; /* its position now */
    long made = w / f->den - ((long)q->kv + k);
    r->lazy_kv -= q->kv + made;
    /* the blocks its step at clock - 1 reserved: for KV + draft tokens then + 1 */
    q->blocks = (int)blocks_for((w - f->num) / f->den + 1, B);
    q->credit = (int)(w % f->den);
    long over = 0;
    if (made > q->osl - q->gen) {
        over = made - (q->osl - q->gen);
        made = q->osl - q->gen;
    }
    q->kv += (int)made;
    q->gen += (int)made;
    q->lazy = 0;
    r->nlazy--;
    return over;
}

/* The KV blocks rank r's lazy decoders cross into at the steps scheduled at clocks c .. c + n - 1
 * (their positions move from W_{c-1} to W_{c-1+n}). */
static inline long lazy_cross_n(const des *s, const rank *r, long c, long n)
{
    const credit_frac *f = &s->credit;
    return lazy_sum(r, r->zc, r->zf, f->M, (c - 1) * f->num, n * f->num);
}

/* The same for one step (every iteration asks it): lazy_sum with the step's whole blocks and
 * rest precomputed, one division, and a single count without speculative decoding. */
static inline long lazy_cross(const des *s, const rank *r, long c)
{
    const credit_frac *f = &s->credit;
    long t = (long)r->nlazy * f->qn;
    if (f->rn == 0 || r->nlazy == 0)
        return t;
    long lo = f->M - f->rn - ((c - 1) * f->num) % f->M; /* in (-M, 2M) */
    lo += lo < 0 ? f->M : lo >= f->M ? -f->M : 0;
    if (f->rn == 1)
        return t + r->zc[lo];
    return t + range_count(r, r->zc, r->zf, f->M, (int)lo, f->rn);
}

/* The tokens rank r's lazy decoders make from clock c to clock c + n, before caps. */
static inline long lazy_made(const des *s, const rank *r, long c, long n)
{
    const credit_frac *f = &s->credit;
    if (f->den == 1) /* every decoder makes the same tokens each step */
        return (long)r->nlazy * n * f->num;
    return lazy_sum(r, r->xc, r->xf, f->den, c * f->num, n * f->num);
}

/* Every lazy decoder back into run[], ahead of the rest (they were admitted first). */
static int lazy_flush(des *s, rank *r)
{
    if (r->nlzv == 0)
        return 0;
    int n = r->nlazy, total = n + r->nrun;
    if (total > r->cap) {
        int *v = realloc(r->run, (size_t)total * sizeof *v);
        if (!v)
            return -1;
        r->run = v;
        r->cap = total;
    }
    memmove(r->run + n, r->run, (size_t)r->nrun * sizeof *r->run);
    int k = 0;
    for (int i = 0; i < r->nlzv; i++) {
        dreq *q = &s->q[r->lzv[i]];
        if (!q->lazy)
            continue;
        lazy_leave(s, r, q); /* returns 0: a decoder leaves at its last step (lazy_finish) */
        r->run[k++] = r->lzv[i];
    }
    r->nrun = total;
    r->nlzv = r->nfin = 0;
    return 0;
}

/* Lazy decoders that produced their last token at this clock finish. */
static void finish(des *s, dreq *q);
static void leave_pool(pool *p, rank *r);
static void free_blocks(pool *p, rank *r, dreq *q);

static void lazy_finish(des *s, pool *p, rank *r, long *out)
{
    while (r->nfin > 0 && r->fin[0].at <= r->clock) {
        dreq *q = &s->q[fin_pop(r)];
        *out -= lazy_leave(s, r, q);
        free_blocks(p, r, q);
        leave_pool(p, r);
        s->running--;
        finish(s, q);
    }
    /* drop dead entries once they are most of the list, keeping the order */
    if (r->nlzv > 64 && r->nlazy < r->nlzv / 2) {
        int k = 0;
        for (int i = 0; i < r->nlzv; i++)
            if (s->q[r->lzv[i]].lazy)
                r->lzv[k++] = r->lzv[i];
        r->nlzv = k;
    }
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
    r->lazy_sched = false;
    if (r->nlazy > 0) {
        /* The lazy decoders come first: 1 + k tokens each, and the blocks of those whose KV
         * + draft tokens pass into new ones. When the budget or the free blocks do not cover
         * them all the walk decides who goes (and who is preempted) one by one, so they are
         * flushed into it. */
        long cross = lazy_cross(s, r, r->clock);
        if ((long)r->nlazy * (1 + k) <= budget && cross <= r->free_blocks) {
            r->free_blocks -= cross;
            p->used_blocks += cross;
            budget -= (long)r->nlazy * (1 + k);
            r->shape.decode_seqs += r->nlazy;
            r->shape.decode_ctx += (double)(r->lazy_kv + r->nlazy);
            r->spec_dec += k > 0 ? r->nlazy : 0;
            r->lazy_sched = true;
        } else if (lazy_flush(s, r)) {
            return -1;
        }
    }
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
    while (r->wait.len > 0 && budget > 0 && (o->max_num_seqs <= 0 || r->nrun + r->nlazy < o->max_num_seqs)) {
        int rc = admit_head(s, p, r, &budget);
        if (rc < 0)
            return rc;
        if (rc == 0)
            break; /* the head does not fit: the KV peak below still counts this iteration */
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
int des_pool_start(des *s, pool *p, sim_err *err)
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
        int rc = des_memo_time(p->mm, &r->mlast[0], &sh[i], 0, &ti, err);
        if (rc)
            return rc;
        if (r->spec_dec > 0) {
            sim_step_shape ds = { .decode_seqs = sh[i].decode_seqs, .decode_ctx = sh[i].decode_ctx,
                                  .group_tokens = group };
            double td;
            if ((rc = des_memo_time(p->mm, &r->mlast[1], &ds, 1, &td, err)))
                return rc;
            ti += s->o->spec_tokens * td * p->d->pp;
        }
        if (ti > t)
            t = ti;
        p->dec_sum += r->shape.decode_seqs;
    }
    p->busy = p->fresh = true;
    p->t_start = s->now;
    p->t_end = s->now + t;
    p->step_t = t;
    p->group = group;
    p->stretch = 1;
    p->iterations++;
    return SIM_OK;
}

/* ------------------------------------------------------------------ decode-only stretches */

/* The memo's context indices (decode and, with speculative decoding, the verified drafts')
 * of rank r's step k iterations after the one just scheduled, when the rank only steps its
 * lazy decoders: their summed context grows by the tokens they make (computed as
 * rank_schedule and rank_shape compute it). One number that changes when either does. */
static inline int64_t stretch_ctx_key(const des *s, const rank *r, long k)
{
    double dec = r->shape.decode_seqs;
    double ctx = (double)(r->lazy_kv + lazy_made(s, r, r->clock, k) + r->nlazy) / dec;
    double padded = graph_pad(dec, s->o->graph_max);
    int64_t key = des_memo_ctx_index(padded > 0 ? ctx * dec / padded : 0);
    if (r->spec_dec > 0) { /* the drafts verified as prompt-like tokens, at the mean context */
        double verify = r->spec_dec * s->o->spec_tokens;
        key = key << 32 | (uint32_t)des_memo_ctx_index(verify * ctx / verify);
    }
    return key;
}

enum { STRETCH_LMAX = 2048 }; /* the longest period taken in closed form */

/* Over the m steps after the one just scheduled, rank r's lazy decoders take *cm blocks
 * (C_m), *area = C_1 + ... + C_m (for the timeline's KV integral), and *over is the first
 * step j <= m at which C_j exceeds the rank's free blocks (m + 1 if none). C_j is one range
 * count (lazy_cross_n), so C_m and *over (by bisection: C is nondecreasing) cost log m of them;
 * the area sums C_j step by step up to one period of L steps (credit_frac.L), beyond it in
 * closed form from one period's sums (C_{qL + i} = q nl + C_i, nl = nlazy L num / M), so a
 * stretch costs the same however long it is. The caller keeps m <= STRETCH_LMAX + 1 when the
 * period is longer. */
static void stretch_blocks(const des *s, const rank *r, long m, long *cm, double *area, long *over)
{
    long L = s->credit.L, c0 = (long)r->clock + 1; /* the first step's clock */
    *cm = lazy_cross_n(s, r, c0, m);
    *over = m + 1;
    if (*cm > r->free_blocks) {
        long lo = 0, hi = m; /* C_lo <= free < C_hi */
        while (hi - lo > 1) {
            long mid = lo + (hi - lo) / 2;
            *(lazy_cross_n(s, r, c0, mid) > r->free_blocks ? &hi : &lo) = mid;
        }
        *over = hi;
    }
    long c = 0, a = 0;
    if (m <= L || L > STRETCH_LMAX) {
        for (long j = 1; j <= m; j++) {
            c += lazy_cross(s, r, c0 + j - 1);
            a += c;
        }
        *area = (double)a;
        return;
    }
    long Q = m / L, R = m % L, aR = 0; /* a: C_1 + ... + C_i; aR: the same up to R */
    for (long i = 1; i < L; i++) {
        c += lazy_cross(s, r, c0 + i - 1);
        a += c;
        if (i == R)
            aR = a;
    }
    long nl = (long)r->nlazy * (L * s->credit.num / s->credit.M);
    /* sum over k = 1..m of floor(k / L) nl, plus of C_{k mod L} */
    *area = (double)(nl * (L * Q * (Q - 1) / 2 + Q * (R + 1)) + Q * a + aR);
}

/* *bound: the time before which (strictly) the iterations of a stretch from t0 must end, since
 * something that could change pool p's state may happen then; returned, an upper bound on
 * their number (stretch_clock counts them exactly). The bound: for the only pool, the next
 * arrival; for a decode pool of xPyD, the next KV transfer to land, including those not started yet (a
 * prefill iteration running or started by the next arrival ends no sooner, and its transfers
 * land a link latency later); and for any pool the end of the timeline window and of the
 * arrival-span bin of its first token (output tokens are binned at the stretch's end, and the
 * timeline's KV integral corrected in the stretch's window). Other events may fall inside a
 * stretch: they touch other pools, and the counts they change are integrated as before. */
static long stretch_horizon(const des *s, const pool *p, double t0, double t, long n, double *bound)
{
    double h = s->next < s->w->n ? s->w->r[s->next].arrival_s : INFINITY;
    if (p->role == ROLE_DECODE) {
        h += s->xfer_lat; /* the next arrival's transfer, at the earliest */
        for (int i = s->ndec; i < s->npools; i++)
            if (s->pools[i].busy)
                h = fmin(h, s->pools[i].t_end + s->xfer_lat);
    }
    if (s->nheap)
        h = fmin(h, s->heap[0].t);
    long wi = (long)(t0 / s->win_w);
    if ((wi + 1) * s->win_w <= t0)
        wi++;
    *bound = h;
    if (wi >= 127)
        return 1; /* the windows are about to merge: leave it to the walk */
    h = fmin(h, (wi + 1) * s->win_w);
    double x = (t0 + t - s->a0) / s->bin_w;
    if (s->bin_w > 0 && x >= 0 && x < NBIN)
        h = fmin(h, s->a0 + (floor(x) + 1) * s->bin_w);
    *bound = h;
    if (h < INFINITY) {
        double m = floor((h - t0) / t) + 1; /* an upper bound: the clock's sums round */
        if (m < n)
            n = m < 1 ? 1 : (long)m;
    }
    return n;
}

/* Of the n iterations from t0, how many end before h, with the clock moved as the
 * per-iteration path moves it, one rounded addition per iteration (a few nanoseconds each),
 * so every time and every decision is the same to the last bit; only the integrals over the
 * stretch, taken in one piece, move by rounding. *t_end: when the last one ends. */
static long stretch_clock(double t0, double t, double h, long n, double *t_end)
{
    double c = t0;
    for (long k = 1; k <= n; k++) {
        double next = c + t;
        if (next >= h) {
            n = k - 1;
            break;
        }
        c = next;
    }
    *t_end = c;
    return n;
}

/* Pool p just started an iteration. When every rank only steps lazy decoders (nothing else
 * running, no admission: the queue's head did not fit, and the budget and free blocks only
 * shrink while the stretch lasts), the next iterations repeat it with the tokens each decoder
 * makes added to its context (one, or with speculative decoding those of its exact credit)
 * until a decoder finishes, the context crosses into another bucket of the step-time memo
 * (the step time then changes: it is looked up by the quantized mean context, not by KV
 * blocks; with speculative decoding also the verified drafts' context), the free blocks cannot cover the blocks the decoders cross
 * into, or something that touches the pool can happen (stretch_horizon). Those n iterations
 * become one: the blocks they take are taken now (the KV peak is the last iteration's; the
 * timeline's KV integral is corrected at the end, des_pool_finish), tokens and rank clocks
 * move by n at the end, and the clock by n rounded additions (stretch_clock), so times and
 * decisions are those of the per-iteration path to the last bit and only the integrals over
 * the stretch, taken in one piece, move by rounding (tests/unit/serve/test_des_stretch.c). */
void des_stretch(des *s, pool *p)
{
    p->fresh = false;
    double t = p->step_t, t0 = s->now;
    long n = 1L << 30;
    bool any = false;
    for (int i = 0; i < p->nranks; i++) {
        const rank *r = &p->rk[i];
        if (r->nrun > 0 || (r->nlazy > 0 && !r->lazy_sched))
            return;
        if (r->nlazy > 0) {
            any = true;
            if (r->fin[0].at - r->clock < n)
                n = r->fin[0].at - r->clock; /* a completion at the last iteration's end is fine */
        }
    }
    double h, t_end;
    if (!any || !(t > 0) || n <= 1 || (n = stretch_horizon(s, p, t0, t, n, &h)) <= 1)
        return;
    long memo_m[p->nranks], memo_c[p->nranks]; /* stretch_blocks' answers per rank */
    double memo_a[p->nranks];
    for (int i = 0; i < p->nranks; i++)
        memo_m[i] = -1;
    if (s->credit.L > STRETCH_LMAX && n > STRETCH_LMAX + 1)
        n = STRETCH_LMAX + 1; /* stretch_blocks sums a period this long step by step */
    for (int i = 0; i < p->nranks && n > 1; i++) {
        const rank *r = &p->rk[i];
        if (r->nlazy == 0)
            continue;
        int64_t k0 = r->mlast[0].qi[1]; /* the keys the memo was just asked: this iteration's */
        if (r->spec_dec > 0)
            k0 = k0 << 32 | (uint32_t)r->mlast[0].qi[3];
        if (stretch_ctx_key(s, r, n - 1) != k0) { /* the last step with keys k0, by bisection */
            long lo = 0, hi = n - 1;
            while (hi - lo > 1) {
                long mid = lo + (hi - lo) / 2;
                *(stretch_ctx_key(s, r, mid) == k0 ? &lo : &hi) = mid;
            }
            n = lo + 1;
        }
        long c, over;
        double area;
        stretch_blocks(s, r, n - 1, &c, &area, &over);
        memo_m[i] = n - 1; /* kept for the second pass when n does not move */
        memo_c[i] = c;
        memo_a[i] = area;
        if (over < n)
            n = over; /* step `over` would not find its blocks: the walk decides there */
    }
    if (n <= 1 || (n = stretch_clock(t0, t, h, n, &t_end)) <= 1)
        return;
    double kv_fix = 0;
    for (int i = 0; i < p->nranks; i++) {
        rank *r = &p->rk[i];
        if (r->nlazy == 0)
            continue;
        long c = memo_c[i], over;
        double area = memo_a[i]; /* sum over the stretch's iterations of the blocks taken since its first */
        if (memo_m[i] != n - 1)
            stretch_blocks(s, r, n - 1, &c, &area, &over);
        r->free_blocks -= c;
        p->used_blocks += c;
        kv_fix -= (double)n * c - area;
        double used = (double)(p->blocks - r->free_blocks) / p->blocks;
        if (used > s->kv_peak)
            s->kv_peak = used;
        p->dec_sum += (double)(n - 1) * r->shape.decode_seqs;
        /* the memo answers each rank's step, and its draft cost with speculative decoding */
        p->mm->hits += (n - 1) * (p->group <= 64 ? 1 : 2) * (r->spec_dec > 0 ? 2 : 1);
    }
    p->stretch_kv = kv_fix * t;
    p->stretch = (int)n;
    p->iterations += n - 1;
    p->t_end = t_end;
}

static int least_loaded(const pool *p)
{
    int best = 0;
    for (int i = 1; i < p->nranks; i++)
        if (p->rk[i].load < p->rk[best].load)
            best = i;
    return best;
}

/* The least-loaded of pools [lo, hi): fewest requests assigned (waiting, running) per rank. */
static pool *least_loaded_pool(des *s, int lo, int hi)
{
    pool *best = &s->pools[lo];
    for (int i = lo + 1; i < hi; i++)
        if (s->pools[i].active * best->nranks < best->active * s->pools[i].nranks)
            best = &s->pools[i];
    return best;
}

pool *des_entry_pool(des *s)
{
    return s->npools > s->ndec ? least_loaded_pool(s, s->ndec, s->npools) : &s->pools[0];
}

/* Put request id in the waiting queue of the least-loaded rank of pool p. */
int des_enqueue(des *s, pool *p, int id)
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
    des_count(s, 0, 0, 1);
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
    q->ppool = (int)(pp - s->pools);
    q->state = ST_XFER;
    return heap_push(s, t, id);
}

/* Apply the effects of the iteration that just ended on rank r. */
static int rank_finish(des *s, pool *p, rank *r, int steps, long *produced)
{
    const sim_des_opts *o = s->o;
    int kept = 0;
    long out = 0; /* output tokens this rank produced: counted once per pool, not per sequence */
    if (r->lazy_sched) {
        r->lazy_sched = false;
        long made = lazy_made(s, r, r->clock, steps);
        r->clock += steps;
        r->lazy_kv += made;
        out += made;
        lazy_finish(s, p, r, &out);
    }
    for (int i = 0; i < r->nrun; i++) {
        int id = r->run[i];
        dreq *q = &s->q[id];
        bool gone = false;
        if (q->sched > 0) {
            if (q->sdec) {
                int made = 1;
                if (o->spec_tokens > 0) {
                    q->credit += s->credit.num; /* exact: in 1 / den (des_internal.h, credit_frac) */
                    made = q->credit / s->credit.den;
                    q->credit -= made * s->credit.den;
                }
                if (made > q->osl - q->gen)
                    made = q->osl - q->gen;
                q->gen += made;
                q->kv += made;
                out += made;
            } else {
                q->done += q->sched;
                q->kv = q->done;
                if (q->done >= q->target) { /* the last chunk of a prompt yields a token */
                    q->gen++;
                    out++;
                    if (q->first < 0 && p->role != ROLE_PREFILL) {
                        q->first = s->now;
                        des_count(s, 0, q->isl, 0);
                    }
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
        if (gone)
            continue;
        /* only a leading run of decoders joins the lazy part, which stays the oldest */
        if (kept == 0 && lazy_eligible(s, q)) {
            if (lazy_join(s, r, id))
                return -1;
        } else {
            r->run[kept++] = id;
        }
    }
    r->nrun = kept;
    *produced = out;
    return 0;
}

int des_pool_finish(des *s, pool *p)
{
    p->busy = false;
    int steps = p->stretch;
    p->stretch = 1;
    if (steps == 1)
        p->busy_s += p->t_end - p->t_start;
    else /* as the per-iteration path sums it */
        for (double c = p->t_start, next, k = 0; k < steps; k++, c = next) {
            next = c + p->step_t;
            p->busy_s += next - c;
        }
    if (steps > 1) {
        des_kv_area(s, p->t_start, p->stretch_kv);
        p->stretch_kv = 0;
    }
    long out = 0;
    for (int i = 0; i < p->nranks; i++) {
        long made;
        if (rank_finish(s, p, &p->rk[i], steps, &made))
            return -1;
        out += made;
    }
    des_count(s, (double)out, 0, 0);
    return 0;
}

/* A transfer landed: the prefill rank frees the blocks, the first token reaches the user
 * and the sequence queues for the decode pool. */
int des_transfer_done(des *s, int id)
{
    dreq *q = &s->q[id];
    pool *pp = &s->pools[q->ppool], *dp = least_loaded_pool(s, 0, s->ndec);
    free_blocks(pp, &pp->rk[q->prank], q);
    if (q->first < 0) {
        q->first = s->now;
        des_count(s, 0, q->isl, 0);
    }
    if (q->gen >= q->osl) {
        finish(s, q);
        return 0;
    }
    q->done = q->target = q->isl;
    q->kv = q->isl;
    return des_enqueue(s, dp, id);
}
