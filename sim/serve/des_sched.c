/* des_sched.c: the continuous-batching scheduler of the discrete-event simulator, in the
 * manner of vLLM's: per attention rank a token budget per iteration, running sequences
 * first (decode tokens, next prompt chunks), then admissions first come first served while
 * KV blocks last; preemption by recompute; the iteration's time from the step-time memo;
 * KV transfers from a prefill pool to a decode pool. The oldest decoding sequences of a rank
 * are "lazy" (des_internal.h, rank; with speculative decoding by credit phase: the exact
 * credit is periodic, des_internal.h, credit_orbit): stepped as aggregates, written back when
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

/* The tokens a lazy decoder of phase class ph makes from clock 0 to clock n (exclusive), plus
 * a constant of the class: cum over the orbit from point ph + P (so that n - 1 >= -P stays
 * a valid argument). A decoder's KV at clock c is its KV at joining plus the difference. */
static long lazy_cum(const des *s, int ph, long n)
{
    const credit_orbit *c = &s->credit;
    long i = ph + c->P + n;
    if (c->P == 1) /* no division where every step makes the same tokens */
        return i * c->cum[1];
    return i / c->P * c->cum[c->P] + c->cum[i % c->P];
}

/* The orbit point of a credit value, -1 if it is not on the orbit. */
static int credit_index(const des *s, int x)
{
    return x >= 0 && x < s->credit.den ? s->credit.at[x] : -1;
}

/* Class ph gains a decoder (present: into r->cls when it had none) or loses one. */
static void class_add(rank *r, int ph)
{
    if (r->nph[ph]++ == 0) {
        r->cpos[ph] = r->ncls;
        r->cls[r->ncls++] = ph;
    }
}

static void class_drop(rank *r, int ph)
{
    if (--r->nph[ph] == 0) { /* the last class present takes its place */
        int last = r->cls[--r->ncls];
        r->cls[r->cpos[ph]] = last;
        r->cpos[last] = r->cpos[ph];
    }
}

/* The phase class of a sequence whose credit is at orbit point i at clock c. */
static int lazy_class(const des *s, int i, long c)
{
    return s->credit.P == 1 ? 0 : mod_b(i - c, s->credit.P);
}

/* Decoding sequence id becomes lazy at the rank's clock c: its credit must be on the orbit,
 * and it must hold exactly the blocks its step at clock c - 1 would have reserved had it been
 * lazy then (for KV + draft tokens + 1), so that from then on it crosses into a new block
 * whenever its KV + draft tokens pass a multiple of B. Without speculative decoding: the
 * blocks its KV needs. */
static bool lazy_eligible(const des *s, const rank *r, const dreq *q)
{
    if (!(s->lazy && q->state == ST_RUN && q->done >= q->target && q->gen < q->osl))
        return false;
    int i = credit_index(s, q->credit);
    if (i < 0)
        return false;
    int ph = lazy_class(s, i, r->clock);
    long prev = lazy_cum(s, ph, (long)r->clock - 1) - lazy_cum(s, ph, r->clock);
    return q->blocks == blocks_for((long)q->kv + s->o->spec_tokens + prev + 1, s->o->block_tokens);
}

/* The cell of s->phase of a lazy decoder: its class and u mod B, where u = KV + draft tokens
 * - lazy_cum at the clock it joined (u + lazy_cum(ph, c) is its KV + draft tokens at clock c). */
static int lazy_cell(const des *s, const dreq *q)
{
    int B = s->o->block_tokens;
    long u = (long)q->kv + s->o->spec_tokens - lazy_cum(s, q->lph, q->lz);
    return q->lph * B + mod_b(u, B);
}

/* The steps from clock c until a decoder of class ph that needs `left` >= 1 more tokens makes
 * its last: the first n >= 1 with lazy_cum(c + n) - lazy_cum(c) >= left. W whole periods
 * (W T < left <= (W + 1) T tokens, T = cum[P]) and then, by bisection over the orbit's
 * prefix sums from the decoder's point i0 at clock c, the first j in [1, P] that makes the
 * rest: n = W P + j (log P steps, not P: orbits run to CREDIT_PMAX). */
static long lazy_steps_to(const des *s, int ph, long c, long left)
{
    const credit_orbit *o = &s->credit;
    int P = o->P, i0 = (int)((ph + c) % P);
    long T = o->cum[P], W = (left - 1) / T, rem = left - W * T, base = o->cum[i0];
    int lo = 0, hi = P; /* cum[i0 + lo] - base < rem <= cum[i0 + hi] - base */
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        *(o->cum[i0 + mid] - base >= rem ? &hi : &lo) = mid;
    }
    return W * P + hi;
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
    int ph = lazy_class(s, credit_index(s, q->credit), r->clock);
    if (fin_push(r, (int)(r->clock + lazy_steps_to(s, ph, r->clock, q->osl - q->gen)), id))
        return -1;
    r->lzv[r->nlzv++] = id;
    q->lazy = 1;
    q->lph = (uint16_t)ph;
    q->lz = r->clock;
    r->nlazy++;
    r->lazy_kv += q->kv;
    class_add(r, ph);
    r->phase[lazy_cell(s, q)]++;
    return 0;
}

/* Write the clock's decode steps into a lazy decoder and take it out of the aggregates.
 * Returns the tokens the aggregates counted past its output length (its last step's cap). */
static long lazy_leave(des *s, rank *r, dreq *q)
{
    int ph = q->lph, B = s->o->block_tokens, k = s->o->spec_tokens;
    long made = lazy_cum(s, ph, r->clock) - lazy_cum(s, ph, q->lz);
    r->phase[lazy_cell(s, q)]--;
    class_drop(r, ph);
    r->lazy_kv -= q->kv + made;
    /* the blocks its step at clock - 1 reserved: for KV then + draft tokens + 1 */
    long prev = lazy_cum(s, ph, (long)r->clock - 1) - lazy_cum(s, ph, r->clock);
    q->blocks = (int)blocks_for(q->kv + made + k + prev + 1, B);
    q->credit = s->credit.x[s->credit.P == 1 ? 0 : mod_b(ph + (long)r->clock, s->credit.P)];
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

/* The KV blocks rank r's lazy decoders cross into at the steps scheduled at clock c, c + 1,
 * ...: of each class, those whose KV + draft tokens pass a multiple of B between one clock and
 * the next (u + base + t = 0 mod B for the t-th token a step makes, base = lazy_cum at the
 * previous clock). The iterator keeps, per class present, the orbit point and base mod B, so
 * a step costs no division. */
typedef struct cross_it {
    int n;                       /* classes present */
    int ph[CREDIT_PMAX], oi[CREDIT_PMAX], bm[CREDIT_PMAX];
} cross_it;

static void cross_init(const des *s, const rank *r, long c, cross_it *it)
{
    const credit_orbit *o = &s->credit;
    int B = s->o->block_tokens, P = o->P;
    long cm = c - 1 + P, q0 = cm / P; /* lazy_cum(ph, c - 1) = q0 T + cum[r0 + ph] */
    int r0 = (int)(cm % P), qb = (int)(q0 % B * (o->cum[P] % B) % B), tb = (int)(o->cum[P] % B);
    it->n = 0;
    for (int ci = 0; ci < r->ncls; ci++) {
        int ph = r->cls[ci], i = r0 + ph, bm = qb;
        if (i >= P) {
            i -= P;
            bm += tb;
        }
        bm += o->cum_b[i];
        while (bm >= B)
            bm -= B;
        it->ph[it->n] = ph;
        it->oi[it->n] = i;
        it->bm[it->n] = bm;
        it->n++;
    }
}

/* The blocks crossed into at the iterator's clock; moves it to the next. */
static inline long cross_next(const des *s, const rank *r, cross_it *it)
{
    int B = s->o->block_tokens, P = s->credit.P;
    long n = 0;
    for (int i = 0; i < it->n; i++) {
        const int *cell = r->phase + (size_t)it->ph[i] * B;
        int m = s->credit.made[it->oi[i]], bm = it->bm[i], idx = B - 1 - bm;
        for (int t = 1; t <= m; t++) { /* idx = -(bm + t) mod B */
            n += cell[idx];
            idx = idx == 0 ? B - 1 : idx - 1;
        }
        bm += m;
        while (bm >= B)
            bm -= B;
        it->bm[i] = bm;
        it->oi[i] = it->oi[i] + 1 == P ? 0 : it->oi[i] + 1;
    }
    return n;
}

static inline long lazy_cross(const des *s, const rank *r, long c)
{
    if (s->credit.P == 1) { /* one class: base = lazy_cum(0, c - 1) = c cum[1] */
        int B = s->o->block_tokens;
        long m = s->credit.cum[1], base = c * m, n = 0;
        if (m == 1) /* one token a step (no speculative decoding) */
            return r->phase[mod_b(-(base + 1), B)];
        for (long t = 1; t <= m; t++)
            n += r->phase[mod_b(-(base + t), B)];
        return n;
    }
    cross_it it;
    cross_init(s, r, c, &it);
    return cross_next(s, r, &it);
}

/* The tokens rank r's lazy decoders make from clock c to clock c + n, before caps. */
static inline long lazy_made(const des *s, const rank *r, long c, long n)
{
    const credit_orbit *o = &s->credit;
    int P = o->P;
    if (P == 1) /* every decoder makes the same tokens each step */
        return (long)r->nlazy * n * o->made[0];
    int b = (int)(c % P), nr = (int)(n % P);
    long t = 0, whole = n / P * o->cum[P];
    for (int ci = 0; ci < r->ncls; ci++) {
        int ph = r->cls[ci];
        int i = b + ph < P ? b + ph : b + ph - P; /* the orbit point at clock c */
        t += r->nph[ph] * (whole + o->cum[i + nr] - o->cum[i]);
    }
    return t;
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
 * step j <= m at which C_j exceeds the rank's free blocks (m + 1 if none). Step by step up to
 * one period of L steps (credit_orbit.L); beyond it in closed form from one period's prefix
 * sums (C_{qL + r} = q nlazy L / P cum[P] / B + Pr[r]), so a stretch costs the same however
 * long it is. The caller keeps m <= STRETCH_LMAX when the period is longer. */
static void stretch_blocks(const des *s, const rank *r, long m, long *cm, double *area, long *over)
{
    long L = s->credit.L, c0 = r->clock;
    long c = 0, a = 0;
    *over = m + 1;
    cross_it it;
    bool one = s->credit.P == 1; /* one class: a lookup a step (lazy_cross) */
    if (!one)
        cross_init(s, r, c0 + 1, &it);
    if (m <= L || L > STRETCH_LMAX) {
        for (long j = 1; j <= m; j++) {
            c += one ? lazy_cross(s, r, c0 + j) : cross_next(s, r, &it);
            a += c;
            if (c > r->free_blocks && *over > m)
                *over = j;
        }
        *cm = c;
        *area = (double)a;
        return;
    }
    long Pr[STRETCH_LMAX], PP[STRETCH_LMAX]; /* Pr[i] = C_i for i < L; PP[i] = Pr[0] + ... + Pr[i] */
    Pr[0] = PP[0] = 0;
    for (long i = 1; i < L; i++) {
        Pr[i] = Pr[i - 1] + (one ? lazy_cross(s, r, c0 + i) : cross_next(s, r, &it));
        PP[i] = PP[i - 1] + Pr[i];
    }
    long nl = (long)r->nlazy * (L / s->credit.P) * s->credit.cum[s->credit.P] / s->o->block_tokens;
    long Q = m / L, R = m % L;
#define STRETCH_C(k) ((k) / L * nl + Pr[(k) % L])
    *cm = STRETCH_C(m);
    /* sum over k = 1..m of floor(k / L) nl, plus of Pr[k mod L] */
    *area = (double)(nl * (L * Q * (Q - 1) / 2 + Q * (R + 1)) + Q * PP[L - 1] + PP[R]);
    if (*cm > r->free_blocks) { /* C is nondecreasing: the first step over, by bisection */
        long lo = 0, hi = m;    /* C_lo <= free < C_hi */
        while (hi - lo > 1) {
            long mid = lo + (hi - lo) / 2;
            *(STRETCH_C(mid) > r->free_blocks ? &hi : &lo) = mid;
        }
        *over = hi;
    }
#undef STRETCH_C
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
 * makes added to its context (one, or with speculative decoding those of its credit phase)
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
        n = STRETCH_LMAX + 1; /* stretch_blocks walks a period this long step by step */
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
                    q->credit += s->credit.num; /* exact: in 1 / den (des_internal.h, credit_orbit) */
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
        if (kept == 0 && lazy_eligible(s, r, q)) {
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
