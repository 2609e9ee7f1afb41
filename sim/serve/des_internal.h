/* des_internal.h: the state the discrete-event serving simulator's parts share (des.c: setup
 * and the event loop; des_memo.c: step-time memo; des_sched.c: the continuous-batching
 * scheduler; des_stats.c: statistics over time and the results). Private to sim/serve. */
#ifndef MOESIM_DES_INTERNAL_H
#define MOESIM_DES_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "deploy/memfit.h"
#include "serve/des.h"
#include "step/step.h"

/* ------------------------------------------------------------------ step-time memo */

enum { KEY_DIMS = 7 };

typedef struct memo_ent {
    int32_t k[KEY_DIMS];
    bool used;
    double v;
} memo_ent;

enum { MEMO_FRONT = 256 };

typedef struct memo {
    memo_ent *e;
    size_t cap, n;
    /* the last keys asked, direct-mapped by hash: consecutive iterations ask the same few
     * keys, and the table (hundreds of thousands of entries on long runs) is out of cache */
    memo_ent front[MEMO_FRONT];
    /* the last group token count (above 64) and its two grid points; 0 = none yet */
    double gx, glo, ghi;
    int32_t g_lo;
    long evals, hits;
    const sim_deploy *d;
    const sim_memfit *fit;
    sim_step_plan *plan;     /* made at the first miss; freed with the pool */
} memo;

/* The step time (kind 0) or the draft cost of one speculative token (kind 1) of shape s,
 * memoized on a quantized grid (des_memo.c). */
/* One caller's last question and answer (a rank's step, or its draft cost): in a decode-only
 * stretch a rank asks the same grid key for many iterations in a row. Zeroed = empty (a zero
 * value quantizes to grid index 0, so the per-dimension cache starts consistent). */
typedef struct memo_last {
    double qx[5];        /* the last value of each quantized shape dimension, and its grid index */
    int32_t qi[5];
    int32_t k[KEY_DIMS];
    double g, t;
    bool valid;
} memo_last;

int des_memo_time(memo *m, memo_last *l, const sim_step_shape *s, int kind, double *out, sim_err *err);
/* The memo's grid index of a context length (decode_ctx, prefill_ctx). */
int32_t des_memo_ctx_index(double ctx);

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
    int credit;        /* speculative decoding: fractional tokens carried to the next step, in units
                        * of 1 / des.credit.den (exact: des_internal.h, credit_frac) */
    uint8_t state, sdec, preempts;
    uint8_t lazy;      /* a lazy decoder (see rank): gen, kv, blocks and credit are as of rank clock `lz` */
    int lz;
    int isl, cached;
    int rank, prank;   /* rank in its current pool; prefill-pool rank (disaggregated) */
    int ppool;         /* disaggregated: index in des.pools of the prefill instance that computed the prompt */
    double arrival, first, finish, sched_at;   /* first: first token; sched_at: first admitted (-1 = not yet) */
} dreq;

typedef struct ring {
    int *v;
    long head, len, cap;
} ring;

typedef struct lazy_fin {
    int at, id;        /* the rank clock at which sequence id produces its last token */
} lazy_fin;

/* A rank's running sequences are in two parts, oldest admitted first: the lazy decoders, then
 * run[]. A lazy decoder only decodes, so its state follows from the rank's clock (decode steps
 * the lazy part has taken), and it is written back only when it finishes or when the rank
 * needs every sequence one by one (then the lazy part is flushed into run[]). Its position
 * W = (KV + draft tokens) den + credit (des.credit: the credit is exact in 1 / den) grows by num
 * each step, whatever the credit: a step makes floor((credit + num) / den) tokens, and a step
 * scheduled at clock c crosses floor(W_c / M) - floor(W_{c-1} / M) KV blocks, M = B den. So a
 * decoder is one number z = (W - clock num) mod M that does not change while it is lazy, and
 * the scheduler keeps the counts of the lazy decoders by z (and by z mod den, their credit up to
 * the clock's shift), with a Fenwick tree over each: the blocks a step (or a stretch of steps)
 * takes and the tokens it makes are a count over one cyclic range of z, in log M operations
 * whatever the batch and the acceptance (issue 20); the summed context, and a heap of when each
 * decoder finishes (a division at joining). */
typedef struct rank {
    int *lzv;            /* lazy decoders in admission order; entries no longer lazy are dead */
    int nlzv, caplzv, nlazy;
    long lazy_kv;        /* summed KV tokens of the live lazy decoders, now */
    int clock;
    int *zc, *zf;        /* M counts of lazy decoders by z (see above), and their Fenwick tree */
    int *xc, *xf;        /* den counts by z mod den, and their Fenwick tree */
    lazy_fin *fin;       /* min-heap on `at` */
    int nfin, capfin;
    bool lazy_sched;     /* the running iteration steps the lazy decoders */
    int *run;
    int nrun, cap;
    ring wait;
    long free_blocks;
    int load;            /* requests assigned here: waiting and running */
    double link_free;    /* prefill pool: when its NIC can start the next KV transfer */
    sim_step_shape shape;/* this iteration, whole rank (all micro-batches) */
    double spec_dec;     /* decoding sequences that also draft this iteration */
    memo_last mlast[2];  /* the step-time memo's last answer to this rank: step, draft cost */
} rank;

typedef struct pool {
    const sim_deploy *d;
    sim_memfit mem;
    int role, nranks;
    rank *rk;
    long blocks, watermark, budget, used_blocks;
    bool busy, fresh;    /* fresh: an iteration started at this event (des_stretch may extend it) */
    double t_start, t_end, busy_s;
    long iterations;
    int stretch;         /* iterations the running event stands for (a decode-only stretch; 1 = one) */
    double step_t, group;/* the running iteration's step time and group MoE tokens */
    double stretch_kv;   /* its correction to the KV-use integral, block-seconds (des_stretch) */
    double dec_sum;      /* decoding sequences per rank, summed over iterations */
    long active;
    memo memo;
    memo *mm;            /* the memo used: identical instances (xPyD) share their role's first one */
} pool;

typedef struct xfer {
    double t;
    int id;
} xfer;

/* One bin of the arrival span: time integrals of the counts, and what happened in it. */
enum { NBIN = 512 };
typedef struct span_bin {
    double sys, wait;           /* integrals of requests in system and waiting (request-seconds) */
    double busy, busy_pre;      /* seconds the (decode or only) pool and the prefill pool ran */
    double out_tok, in_tok;     /* output tokens produced; prompt tokens of requests given their first token */
    long done;                  /* completions */
} span_bin;

/* Speculative decoding's credit, as rank_finish moves it (credit += a; made = floor(credit);
 * credit -= made), in exact rational arithmetic: the acceptance a is num / den with the smallest
 * den <= CREDIT_QMAX for which a den is within 1e-9 of an integer (every decimal with up to
 * three places is exact: 1.92 = 48/25, 2.58 = 129/50, 1.875 = 15/8), and a credit is an integer
 * count of 1 / den. An acceptance that is no such fraction is rounded to the nearest
 * 1 / CREDIT_QMAX (sim_des_result.spec_rounded; reported). Without speculative decoding 1 / 1:
 * a step makes 1 token. Lazy decoders (rank) keep counts over M = B den positions per rank;
 * past CREDIT_CELLS_MAX of them they are walked (des.lazy false). */
enum { CREDIT_QMAX = 1000, CREDIT_CELLS_MAX = 1 << 16 };
typedef struct credit_frac {
    int num, den;                /* the acceptance simulated, num / den */
    bool rounded;                /* the acceptance given is no fraction with den <= CREDIT_QMAX: rounded */
    int M;                       /* B den: a decoder's position W mod M says where it stands in its block */
    int qn, rn;                  /* num / M and num mod M: what one step moves W by, in whole blocks and the rest */
    long L;                      /* the period of the lazy decoders' block crossings: L steps move W by
                                  * L num, a multiple of M, L = M / gcd(num, M); each decoder crosses
                                  * L num / M blocks in a period */
} credit_frac;

typedef struct des {
    const sim_des_opts *o;
    bool lazy;                  /* decoders may be lazy (not the reference walk; M within CREDIT_CELLS_MAX) */
    credit_frac credit;
    const sim_workload *w;
    dreq *q;
    /* aggregated: pools[0]; disaggregated (xPyD): pools[0 .. ndec-1] are the decode
     * instances, pools[ndec .. npools-1] the prefill instances */
    pool *pools;
    int npools, ndec;
    xfer *heap;
    long nheap, capheap;
    long events;                /* events processed (sim_des_result.events) */
    long next;                  /* the next arrival (index into w->r) */
    double now, kv_xfer_bytes_per_token, xfer_bw, xfer_lat;
    long in_system, waiting, running, completed, preemptions;
    double area_sys, area_wait, area_run, max_waiting, kv_peak;
    /* timeline: integrals over windows of width win_w, merged pairwise when they overflow */
    sim_des_window win[128];
    double win_w;
    /* the arrival span [a0, a1] in NBIN bins: what the measured window and the
     * sustainability judgement are made of (des_stats.c); the drain after a1 is not binned */
    span_bin bin[NBIN];
    double a0, bin_w;
} des;

/* ------------------------------------------------------------------ queues (hot: inline) */

static inline long blocks_for(long tokens, int b)
{
    return (tokens + b - 1) / b;
}

static inline int ring_grow(ring *r)
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

static inline int ring_push(ring *r, int id, bool front)
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

static inline int ring_pop(ring *r)
{
    int id = r->v[r->head];
    r->head = (r->head + 1) % r->cap;
    r->len--;
    return id;
}

static inline int run_push(rank *r, int id)
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

static inline int heap_push(des *s, double t, int id)
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

static inline xfer heap_pop(des *s)
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

/* ------------------------------------------------------------------ scheduler (des_sched.c) */

/* Start an iteration of pool p at the current time if any rank has work. */
int des_pool_start(des *s, pool *p, sim_err *err);
/* Pool p just started an iteration: when it and the next ones only step lazy decoders with
 * the same step time and nothing that touches p can happen before they end, make them one event. */
void des_stretch(des *s, pool *p);
/* The pool an arrival enters: the only one, or the least-loaded prefill instance. */
pool *des_entry_pool(des *s);
/* Put request id in the waiting queue of the least-loaded rank of pool p. */
int des_enqueue(des *s, pool *p, int id);
/* The iteration of pool p ended: apply its effects. -1 on allocation failure. */
int des_pool_finish(des *s, pool *p);
/* A KV transfer between pools landed. -1 on allocation failure. */
int des_transfer_done(des *s, int id);

/* ------------------------------------------------------------------ statistics (des_stats.c) */

/* Move the clock to t, integrating the counts that held since the last event. */
void des_advance(des *s, double t);
/* Tokens produced at the current time: `out` output tokens, `in` prompt tokens whose
 * request just got its first token; `done` completions. */
void des_count(des *s, double out, double in, long done);
/* Add `block_s` block-seconds of KV use to the timeline window holding time t0. */
void des_kv_area(des *s, double t0, double block_s);
/* Fill the result from a finished simulation of deployment d. */
int des_collect(des *s, const sim_deploy *d, sim_des_result *r, sim_err *err);

#endif
