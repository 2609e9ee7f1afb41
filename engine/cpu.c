/* cpu.c: the CPU backend. Router GEMM and top-k, permutation of token rows by expert (counts,
 * offsets, gather), expert-parallel dispatch through the transport, expert FFNs as tasks of
 * (expert, column block) over OpenMP threads, shared experts, and the weighted combine. */
#include "backend.h"
#include "kernels_cpu.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Up to this many rows per expert the weights are streamed once through eng_k_nt_small
 * (memory-bound: BLAS would pack, i.e. copy, the weights first); above it, OpenBLAS sgemm.
 * Measured on the bench shapes: see engine/README.md. */
#define SMALL_M ENG_CPU_SMALL_ROWS

/* Loops with less work than this (elements touched) run on the calling thread: waking the
 * team costs more than it saves, and on a busy machine a parallel region can wait a whole
 * scheduler tick for a descheduled thread. */
#define SMALL_WORK (1L << 16)

typedef struct buf {
    void *p;
    size_t cap;
} buf;

typedef struct cpu_layer {
    eng_config c;
    eng_transport *tr;
    eng_weights w;
    int nthreads;
    int el;                       /* local experts, E / ep */
    buf probs, ids, wts, slot;    /* [T][E] scores; [T][k] routing; [T][k] row of (t, j) in send order */
    buf cnt, off;                 /* int64 [E] rows per expert, [E + 1] their offsets (send order) */
    buf xs, xr, xe, he, ye, yr, yb;   /* row buffers, see forward */
    buf sb, rb;                   /* size_t [ep]: bytes to / from each rank */
    buf rcnt, scnt;               /* int64 [ep][el]: rows from / to each rank per local expert */
    buf lcnt, loff;               /* int64 [el], [el + 1]: rows per local expert, expert-major */
    buf hs;                       /* shared-expert hidden rows */
    buf tasks;                    /* task list for the expert runner */
    buf *scratch;                 /* one per thread: G/U block and dequantized weights */
} cpu_layer;

static int grow(buf *b, size_t bytes, const char *what, sim_err *err)
{
    if (bytes <= b->cap && b->p)
        return SIM_OK;
    void *p = eng_alloc(bytes, what, err);
    if (!p)
        return SIM_EFAIL;
    free(b->p);
    b->p = p;
    b->cap = bytes;
    return SIM_OK;
}

/* y[M][N] = x[M][K] * rows [row0, row0 + N) of w, transposed. One thread, no allocation. */
static void gemm_nt(int M, int N, const float *x, size_t ldx, const eng_mat *w, int row0,
                    float *y, size_t ldy, float *deq)
{
    if (M <= 0 || N <= 0)
        return;
    const int K = w->cols;
    if (M <= SMALL_M) {
        eng_k_nt_small(M, N, x, ldx, w, row0, y, ldy);
        return;
    }
    const float *wf;
    if (w->dtype == ENG_FP32 && !w->panel) {
        wf = (const float *)w->data + (size_t)row0 * K;
    } else {
        /* BF16/INT8 (or packed FP32) at larger batches: widen the block to row-major FP32
         * once, then BLAS. The copy is read M times, so its cost fades as the batch grows. */
        eng_k_dequant(w, row0, N, deq);
        wf = deq;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, x, (int)ldx, wf, K, 0.0f, y, (int)ldy);
}

/* --- the FFN runner: n FFNs (experts), FFN i applied to cnt[i] rows starting at row off[i] --- */

typedef struct task {
    int i, c0, c1;
} task;

/* Column block: enough tasks for every thread to get several, multiples of 16, 16..cap wide.
 * cap 512 when every FFN streams its weights (few rows, eng_k_nt_small): each task then reads
 * one longer sequential stream, and a stream starts cold (paired bench runs, Qwen3-30B-A3B
 * decode at 4-64 tokens: INT8 +3-10%, FP32 +1-4% over 256); 256 for the BLAS path, whose
 * widened block and GEMM stay in cache. */
static int block_cols(long cols_total, int width, int nthreads, int cap)
{
    long b = cols_total / (4L * nthreads);
    b = (b + 15) / 16 * 16;
    if (b < 16)
        b = 16;
    if (b > cap)
        b = cap;
    return b > width ? width : (int)b;
}

typedef struct ffn_set {
    int n;
    const eng_mat *w13, *w2;      /* [n] */
    const int64_t *cnt, *off;     /* [n] rows and first row of each FFN */
    const float *x;               /* rows, hidden wide */
    float *h;                     /* rows, width wide */
    float *y;                     /* rows, hidden wide */
    size_t ldy;
} ffn_set;

typedef struct ffn_plan {
    int b1, b2;                   /* column blocks of phase 1 (FFN width) and phase 2 (hidden) */
} ffn_plan;

/* Choose the blocks and size the task list and per-thread scratch, so ffn_run cannot fail. */
static int ffn_prepare(cpu_layer *L, const ffn_set *s, ffn_plan *pl, sim_err *err)
{
    const int d = L->c.hidden, width = s->n ? s->w2[0].cols : 0;
    long active = 0, maxm = 0;
    for (int i = 0; i < s->n; i++)
        if (s->cnt[i] > 0) {
            active++;
            maxm = s->cnt[i] > maxm ? s->cnt[i] : maxm;
        }
    pl->b1 = pl->b2 = 0;
    if (!active)
        return SIM_OK;
    const int cap = maxm <= SMALL_M ? 512 : 256;
    pl->b1 = block_cols(active * width, width, L->nthreads, cap);
    pl->b2 = block_cols(active * d, d, L->nthreads, cap);
    const long n1 = active * ((width + pl->b1 - 1) / pl->b1), n2 = active * ((d + pl->b2 - 1) / pl->b2);
    int wide = width > d ? width : d, bmax = pl->b1 > pl->b2 ? pl->b1 : pl->b2;
    size_t per_thread = sizeof(float) * ((size_t)maxm * 2 * (size_t)pl->b1 + (size_t)bmax * (size_t)wide);
    if (grow(&L->tasks, sizeof(task) * (size_t)(n1 > n2 ? n1 : n2), "expert task list", err) != SIM_OK)
        return SIM_EFAIL;
    for (int t = 0; t < L->nthreads; t++)
        if (grow(&L->scratch[t], per_thread, "expert scratch", err) != SIM_OK)
            return SIM_EFAIL;
    return SIM_OK;
}

static void ffn_run(cpu_layer *L, const ffn_set *s, const ffn_plan *pl)
{
    const int d = L->c.hidden, width = s->n ? s->w2[0].cols : 0, b1 = pl->b1, b2 = pl->b2;
    if (!b1)
        return;
    task *tk = L->tasks.p;

    /* phase 1: h = silu(x Wg^T) * (x Wu^T), one block of the FFN's columns per task */
    long nt = 0;
    for (int i = 0; i < s->n; i++)
        for (int c0 = 0; s->cnt[i] > 0 && c0 < width; c0 += b1)
            tk[nt++] = (task){ i, c0, c0 + b1 < width ? c0 + b1 : width };
    #pragma omp parallel for schedule(dynamic, 1)
    for (long t = 0; t < nt; t++) {
        const task q = tk[t];
        const int M = (int)s->cnt[q.i], nc = q.c1 - q.c0;
        float *gu = L->scratch[omp_get_thread_num()].p, *deq = gu + (size_t)M * 2 * b1;
        const float *x = s->x + (size_t)s->off[q.i] * d;
        gemm_nt(M, nc, x, d, &s->w13[q.i], q.c0, gu, 2 * (size_t)b1, deq);
        gemm_nt(M, nc, x, d, &s->w13[q.i], width + q.c0, gu + b1, 2 * (size_t)b1, deq);
        eng_k_swiglu(M, nc, gu, 2 * (size_t)b1, gu + b1, 2 * (size_t)b1,
                     s->h + (size_t)s->off[q.i] * width + q.c0, (size_t)width);
    }
    /* phase 2: y = h Wd^T, one block of output columns per task */
    nt = 0;
    for (int i = 0; i < s->n; i++)
        for (int c0 = 0; s->cnt[i] > 0 && c0 < d; c0 += b2)
            tk[nt++] = (task){ i, c0, c0 + b2 < d ? c0 + b2 : d };
    #pragma omp parallel for schedule(dynamic, 1)
    for (long t = 0; t < nt; t++) {
        const task q = tk[t];
        float *deq = L->scratch[omp_get_thread_num()].p;
        gemm_nt((int)s->cnt[q.i], q.c1 - q.c0, s->h + (size_t)s->off[q.i] * width, (size_t)width,
                &s->w2[q.i], q.c0, s->y + (size_t)s->off[q.i] * s->ldy + q.c0, s->ldy, deq);
    }
}

/* --- router --- */

/* probs[t][e]: softmax or sigmoid of x R^T; then top-k per token (ties to the lower id, as
 * the reference does) and renormalized weights. */
static void route(cpu_layer *L, const float *x, int T, int *ids, float *wts)
{
    const int E = L->c.experts, k = L->c.top_k, d = L->c.hidden;
    float *p = L->probs.p;
    const eng_mat R = { ENG_FP32, E, d, L->w.router, NULL, 0 };
    const int tb = 16;
    const long ntb = (T + tb - 1) / tb;
    #pragma omp parallel for schedule(dynamic, 1) if (ntb > 1)
    for (long b = 0; b < ntb; b++) {
        int t0 = (int)b * tb, m = T - t0 < tb ? T - t0 : tb;
        float *deq = L->scratch[omp_get_thread_num()].p;
        gemm_nt(m, E, x + (size_t)t0 * d, d, &R, 0, p + (size_t)t0 * E, E, deq);
    }
    #pragma omp parallel for schedule(static) if ((long)T * E > SMALL_WORK)
    for (int t = 0; t < T; t++) {
        float *pt = p + (size_t)t * E;
        if (L->c.scoring == ENG_SIGMOID) {
            for (int e = 0; e < E; e++)
                pt[e] = 1.0f / (1.0f + expf(-pt[e]));
        } else {
            float mx = pt[0], sum = 0;
            for (int e = 1; e < E; e++)
                mx = pt[e] > mx ? pt[e] : mx;
            for (int e = 0; e < E; e++)
                sum += (pt[e] = expf(pt[e] - mx));
            for (int e = 0; e < E; e++)
                pt[e] /= sum;
        }
        /* scores are >= 0, so -1 marks an expert already taken */
        float sum = 0;
        for (int j = 0; j < k; j++) {
            int best = 0;
            for (int e = 1; e < E; e++)
                if (pt[e] > pt[best])
                    best = e;
            ids[(size_t)t * k + j] = best;
            wts[(size_t)t * k + j] = pt[best];
            sum += pt[best];
            pt[best] = -1.0f;
        }
        for (int j = 0; j < k; j++)
            wts[(size_t)t * k + j] /= sum;
    }
}

/* --- forward --- */

static int cpu_forward(void *impl, const float *x, int T, float *y, const eng_routing *force,
                       eng_routing *rout, eng_timing *tm, sim_err *err)
{
    cpu_layer *L = impl;
    eng_transport *tr = L->tr;
    const int d = L->c.hidden, E = L->c.experts, k = L->c.top_k, ep = tr->size, el = L->el;
    const size_t row = sizeof(float) * (size_t)d, rows = (size_t)T * k;
    const int S = L->c.shared * L->c.shared_ffn;
    memset(tm, 0, sizeof *tm);
    double t0 = eng_now(), t1;

    /* local preparation; every rank agrees on the outcome before the first exchange */
    int rc = force ? eng_routing_check(force, T, &L->c, err) : SIM_OK;
    if (rc == SIM_OK &&
        (grow(&L->probs, sizeof(float) * (size_t)T * E, "router scores", err) ||
         grow(&L->ids, sizeof(int) * rows, "routing", err) || grow(&L->wts, sizeof(float) * rows, "routing", err) ||
         grow(&L->slot, sizeof(int64_t) * rows, "permutation", err) ||
         grow(&L->cnt, sizeof(int64_t) * (size_t)E, "expert counts", err) ||
         grow(&L->off, sizeof(int64_t) * (size_t)(E + 1), "expert offsets", err) ||
         grow(&L->xs, row * rows, "dispatch rows", err) ||
         (ep > 1 && grow(&L->yb, row * rows, "combine rows", err)) ||
         grow(&L->scnt, sizeof(int64_t) * (size_t)ep * el, "count exchange", err) ||
         grow(&L->rcnt, sizeof(int64_t) * (size_t)ep * el, "count exchange", err) ||
         grow(&L->lcnt, sizeof(int64_t) * (size_t)el, "local counts", err) ||
         grow(&L->loff, sizeof(int64_t) * (size_t)(el + 1), "local offsets", err) ||
         grow(&L->sb, sizeof(size_t) * (size_t)ep, "exchange sizes", err) ||
         grow(&L->rb, sizeof(size_t) * (size_t)ep, "exchange sizes", err) ||
         grow(&L->hs, sizeof(float) * (size_t)T * (size_t)S, "shared hidden rows", err)))
        rc = SIM_EFAIL;
    for (int t = 0; rc == SIM_OK && t < L->nthreads; t++)
        rc = grow(&L->scratch[t], sizeof(float) * 16 * (size_t)(E > d ? E : d), "router scratch", err);
    int64_t zero = 0, tt = T;
    ffn_set sh = { 1, &L->w.s13, &L->w.s2, &tt, &zero, x, L->hs.p, y, (size_t)d };
    ffn_plan shp = { 0, 0 };
    if (rc == SIM_OK && S > 0 && T > 0)
        rc = ffn_prepare(L, &sh, &shp, err);
    int all = tr->ops->agree(tr, rc);
    if (all != SIM_OK)
        return rc != SIM_OK ? rc : sim_fail(err, all, "forward failed on another rank");

    /* router */
    int *ids = L->ids.p;
    float *wts = L->wts.p;
    if (force) {
        memcpy(ids, force->expert, sizeof(int) * rows);
        memcpy(wts, force->weight, sizeof(float) * rows);
    } else {
        route(L, x, T, ids, wts);
    }
    if (rout) {
        memcpy(rout->expert, ids, sizeof(int) * rows);
        memcpy(rout->weight, wts, sizeof(float) * rows);
    }
    t1 = eng_now();
    tm->router = t1 - t0;

    /* permute: rows in expert order (so each rank's block is contiguous), gathered */
    int64_t *cnt = L->cnt.p, *off = L->off.p, *slot = L->slot.p;
    memset(cnt, 0, sizeof(int64_t) * (size_t)E);
    for (size_t i = 0; i < rows; i++)
        cnt[ids[i]]++;
    off[0] = 0;
    for (int e = 0; e < E; e++)
        off[e + 1] = off[e] + cnt[e];
    for (size_t i = 0; i < rows; i++)
        slot[i] = off[ids[i]]++;
    for (int e = E; e > 0; e--)
        off[e] = off[e - 1];
    off[0] = 0;
    float *xs = L->xs.p;
    #pragma omp parallel for schedule(static) if ((long)rows * d > SMALL_WORK)
    for (long i = 0; i < (long)rows; i++)
        memcpy(xs + (size_t)slot[i] * d, x + (size_t)(i / k) * d, row);
    double t2 = eng_now();
    tm->permute = t2 - t1;

    /* dispatch: per-expert counts to the owning ranks, then the rows. Everything the rest of
     * the forward allocates is sized here, before the ranks agree and exchange rows. */
    int64_t *scnt = L->scnt.p, *rcnt = L->rcnt.p, *lcnt = L->lcnt.p, *loff = L->loff.p;
    size_t *sb = L->sb.p, *rb = L->rb.p, recv_rows = rows;
    if (ep > 1) {
        memcpy(scnt, cnt, sizeof(int64_t) * (size_t)E);
        if ((rc = tr->ops->exchange(tr, scnt, rcnt, sizeof(int64_t) * (size_t)el, err)) != SIM_OK)
            return sim_wrap(err, "dispatch counts");
        recv_rows = 0;
        for (int p = 0; p < ep; p++) {
            size_t sn = 0, rn = 0;
            for (int i = 0; i < el; i++) {
                sn += (size_t)cnt[p * el + i];
                rn += (size_t)rcnt[p * el + i];
            }
            sb[p] = sn * row;
            rb[p] = rn * row;
            recv_rows += rn;
        }
    } else {
        memcpy(rcnt, cnt, sizeof(int64_t) * (size_t)E);
    }
    loff[0] = 0;
    for (int i = 0; i < el; i++) {
        lcnt[i] = 0;
        for (int p = 0; p < ep; p++)
            lcnt[i] += rcnt[p * el + i];
        loff[i + 1] = loff[i] + lcnt[i];
    }
    const int width = L->c.ffn;
    if (ep > 1 && (grow(&L->xr, row * recv_rows, "received rows", err) || grow(&L->xe, row * recv_rows, "expert rows", err) ||
                   grow(&L->yr, row * recv_rows, "returned rows", err)))
        rc = SIM_EFAIL;
    if (rc == SIM_OK && (grow(&L->ye, row * recv_rows, "expert outputs", err) ||
                         grow(&L->he, sizeof(float) * recv_rows * (size_t)width, "expert hidden rows", err)))
        rc = SIM_EFAIL;
    float *xe = ep > 1 ? L->xe.p : xs, *ye = L->ye.p;
    ffn_set ex = { el, L->w.w13, L->w.w2, lcnt, loff, xe, L->he.p, ye, (size_t)d };
    ffn_plan exp;
    if (rc == SIM_OK)
        rc = ffn_prepare(L, &ex, &exp, err);
    if ((all = tr->ops->agree(tr, rc)) != SIM_OK)
        return rc != SIM_OK ? rc : sim_fail(err, all, "dispatch: allocation failed on another rank");
    if (ep > 1) {
        if ((rc = tr->ops->alltoallv(tr, xs, sb, L->xr.p, rb, err)) != SIM_OK)
            return sim_wrap(err, "dispatch");
        /* regroup rows from (source rank, expert) order into expert order */
        const float *xr = L->xr.p;
        size_t src = 0;
        for (int p = 0; p < ep; p++)
            for (int i = 0; i < el; i++) {
                size_t n = (size_t)rcnt[p * el + i], dst = (size_t)loff[i];
                for (int q = 0; q < p; q++)
                    dst += (size_t)rcnt[q * el + i];
                memcpy(xe + dst * d, xr + src * d, n * row);
                src += n;
            }
    }
    double t3 = eng_now();
    tm->dispatch = t3 - t2;

    /* experts: tokens of all ranks, this rank's experts; an expert with no rows costs nothing */
    ffn_run(L, &ex, &exp);
    double t4 = eng_now();
    tm->experts = t4 - t3;

    /* shared experts write y first; the combine adds the routed experts on top */
    if (S > 0 && T > 0)
        ffn_run(L, &sh, &shp);
    double t5 = eng_now();
    tm->shared = t5 - t4;

    /* combine: outputs back to their source ranks, then the weighted sum per token */
    const float *yb = ye;
    if (ep > 1) {
        const float *src = ye;
        float *yr = L->yr.p;
        size_t pos = 0;
        for (int p = 0; p < ep; p++)
            for (int i = 0; i < el; i++) {
                size_t n = (size_t)rcnt[p * el + i], at = (size_t)loff[i];
                for (int q = 0; q < p; q++)
                    at += (size_t)rcnt[q * el + i];
                memcpy(yr + pos * d, src + at * d, n * row);
                pos += n;
            }
        if ((rc = tr->ops->alltoallv(tr, yr, rb, L->yb.p, sb, err)) != SIM_OK)
            return sim_wrap(err, "combine");
        yb = L->yb.p;
    }
    #pragma omp parallel for schedule(static) if ((long)rows * d > SMALL_WORK)
    for (int t = 0; t < T; t++) {
        float *yt = y + (size_t)t * d;
        if (S == 0)
            memset(yt, 0, row);
        for (int j = 0; j < k; j++) {
            const float w = wts[(size_t)t * k + j];
            const float *o = yb + (size_t)slot[(size_t)t * k + j] * d;
            for (int i = 0; i < d; i++)
                yt[i] += w * o[i];
        }
    }
    double t6 = eng_now();
    tm->combine = t6 - t5;
    tm->total = t6 - t0;
    return SIM_OK;
}

static const eng_weights *cpu_weights(const void *impl)
{
    return &((const cpu_layer *)impl)->w;
}

static void cpu_destroy(void *impl)
{
    cpu_layer *L = impl;
    buf *all[] = { &L->probs, &L->ids, &L->wts, &L->slot, &L->cnt, &L->off, &L->xs, &L->xr, &L->xe,
                   &L->he, &L->ye, &L->yr, &L->yb, &L->rcnt, &L->scnt, &L->lcnt, &L->loff, &L->hs, &L->tasks, &L->sb, &L->rb };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]->p);
    if (L->scratch)
        for (int t = 0; t < L->nthreads; t++)
            free(L->scratch[t].p);
    free(L->scratch);
    eng_weights_free(&L->w);
    free(L);
}

static const eng_backend_ops cpu_ops = { cpu_forward, cpu_weights, cpu_destroy };

/* Whether the layer packs its weights into the decode tile's panels (weights.h). The panels
 * make a tile one sequential stream, which the tiles' prefetch into L1 needs (AMD Zen 5 VM:
 * decode +10-50% at 4-16 tokens). Where the tiles prefetch into L2 (Intel; kernels_cpu.h,
 * eng_k_prefetch_l2) every format keeps its weights row-major: a tile's 4 rows are 4
 * sequential streams, each followed by the L2's own stream prefetcher, and since the layer's
 * matrices share one huge-page block (eng_weights_gather) the 4 streams cost no extra page
 * walks. Intel Xeon VM, 2026-12-01, paired and alternated, decode 1-16 tokens, packed ->
 * row-major: INT8 25.4-26.2 -> 26.9-28.7 GB/s, BF16 27.2-27.6 -> 28.1-30.1 (triad ~31.5;
 * engine/README.md, "One huge-page block per layer");
 * before the shared block the two layouts were even (BF16 84-86% / 84-86%, INT8 79-81 /
 * 77-80). FP32's prefill also hands row-major weights to OpenBLAS in place, where packed ones
 * are first copied out of the panels (1,024 tokens: 85-98% of OpenBLAS packed, 104-110%
 * row-major). MOESIM_NO_PACK=1 keeps every format row-major everywhere (to measure what the
 * panels gain, and to test the kernels on both layouts through the whole layer). */
static int pack_weights(void)
{
    const char *v = getenv("MOESIM_NO_PACK");
    if (v && *v && strcmp(v, "0") != 0)
        return 0;
    return !eng_k_prefetch_l2();
}

int eng_cpu_create(void **impl, const eng_backend_ops **ops, const eng_config *c, eng_transport *tr,
                   uint64_t seed, sim_err *err)
{
    cpu_layer *L = eng_alloc(sizeof *L, "CPU layer", err);
    if (!L)
        return SIM_EFAIL;
    memset(L, 0, sizeof *L);
    L->c = *c;
    L->tr = tr;
    L->el = c->experts / tr->size;
    L->nthreads = omp_get_max_threads();
    /* Threads come from OpenMP; each task calls a one-thread BLAS, so BLAS's own threads
     * never compete with ours. (The GEMM baseline in bench.c raises this for itself.) */
    openblas_set_num_threads(1);
    L->scratch = eng_alloc(sizeof(buf) * (size_t)L->nthreads, "thread scratch table", err);
    if (!L->scratch) {
        free(L);
        return SIM_EFAIL;
    }
    memset(L->scratch, 0, sizeof(buf) * (size_t)L->nthreads);
    int rc = eng_weights_init(&L->w, c, tr->size, tr->rank, seed, err);
    /* one huge-page block for every expert matrix, in the decode tile's panels (weights.h,
     * ENG_PANEL_ROWS) where the layer packs */
    if (rc == SIM_OK && (rc = eng_weights_gather(&L->w, pack_weights(), err)) != SIM_OK)
        eng_weights_free(&L->w);
    if (rc != SIM_OK) {
        free(L->scratch);
        free(L);
        return rc;
    }
    *impl = L;
    *ops = &cpu_ops;
    return SIM_OK;
}
