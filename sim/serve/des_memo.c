/* des_memo.c: the step-time memo of the discrete-event simulator. Step times are memoized
 * by a quantized shape (see qidx), so a million requests cost a few hundred step-model
 * calls. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "serve/des_internal.h"

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
 * kind 1: the draft cost of one speculative token for the decode part of s: the step model's
 * own draft pass (the MTP module's layer, projection and LM head, or the draft model's decode
 * step), as eval costs it, one pass per draft token. */

/* The step model at a grid shape, through the memo's plan (made at the first miss: the
 * deployment's constants once per pool, sim_step_plan_*; bit-identical to sim_step_eval).
 * Kind 0 needs only the time (the slim accumulator); kind 1 the per-kind breakdown. */
static int step_value(memo *m, const sim_step_shape *q, int kind, double *v, sim_err *err)
{
    if (!m->plan && !(m->plan = sim_step_plan_new(m->d, m->fit, err)))
        return SIM_EFAIL;
    if (kind == 0)
        return sim_step_plan_time(m->plan, q, v, err);
    sim_step_result r;
    int rc = sim_step_plan_eval(m->plan, q, &r, err);
    if (!rc)
        *v = r.by_kind_s[SIM_LK_DRAFT];
    return rc;
}

/* The memoized value for a key of grid indices. */
static int memo_lookup(memo *m, const int32_t *k, double *out, sim_err *err)
{
    uint64_t h = key_hash(k);
    memo_ent *f = &m->front[(h >> 32) % MEMO_FRONT];
    if (f->used && memcmp(f->k, k, sizeof f->k) == 0) {
        m->hits++;
        *out = f->v;
        return SIM_OK;
    }
    if (m->n * 2 >= m->cap && memo_grow(m))
        return sim_fail(err, SIM_EFAIL, "out of memory for the step-time memo");
    size_t j = h & (m->cap - 1);
    while (m->e[j].used) {
        if (memcmp(m->e[j].k, k, sizeof m->e[j].k) == 0) {
            m->hits++;
            *out = m->e[j].v;
            *f = m->e[j];
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
        .draft_tokens = k[6] == 0 ? 0 : 1,
    };
    double v;
    int rc = step_value(m, &q, k[6], &v, err);
    if (rc)
        return rc;
    m->evals++;
    memcpy(m->e[j].k, k, sizeof m->e[j].k);
    m->e[j].used = true;
    m->e[j].v = v;
    m->n++;
    *f = m->e[j];
    *out = v;
    return SIM_OK;
}

/* The time for grid key k (k[5] unset) at group token count g: the group's MoE token count
 * sets most of a step's time and each new count costs routing statistics, so it takes a
 * coarser grid (8 points per doubling) and the time is interpolated linearly in tokens
 * between the two grid points around it. */
static int memo_time(memo *m, int32_t *k, double g, double *out, sim_err *err)
{
    if (g <= 64) {
        k[5] = qidx(g, Q_GROUP);
        return memo_lookup(m, k, out, err);
    }
    if (!(m->gx == g)) {
        m->gx = g;
        m->g_lo = 256 + (int32_t)floor(Q_GROUP * log2(g / 64));
        m->glo = qval(m->g_lo, Q_GROUP);
        m->ghi = qval(m->g_lo + 1, Q_GROUP);
    }
    int32_t lo = m->g_lo;
    double glo = m->glo, ghi = m->ghi, tlo, thi;
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

int32_t des_memo_ctx_index(double ctx)
{
    return qidx(ctx, Q_CTX);
}

/* qidx through the caller's last answer for dimension i. */
static int32_t qidx_at(memo_last *l, int i, double x, int per_doubling)
{
    if (!(l->qx[i] == x)) {
        l->qx[i] = x;
        l->qi[i] = qidx(x, per_doubling);
    }
    return l->qi[i];
}

int des_memo_time(memo *m, memo_last *l, const sim_step_shape *s, int kind, double *out, sim_err *err)
{
    int32_t k[KEY_DIMS] = { qidx_at(l, 0, s->decode_seqs, Q_COUNT),    qidx_at(l, 1, s->decode_ctx, Q_CTX),
                            qidx_at(l, 2, s->prefill_tokens, Q_COUNT), qidx_at(l, 3, s->prefill_ctx, Q_CTX),
                            qidx_at(l, 4, s->prefill_seqs, Q_COUNT),   0, kind };
    double g = s->group_tokens;
    if (l->valid && l->g == g && memcmp(l->k, k, sizeof k) == 0) {
        m->hits += g <= 64 ? 1 : 2; /* the lookups this answer stands for */
        *out = l->t;
        return SIM_OK;
    }
    int32_t kk[KEY_DIMS];
    memcpy(kk, k, sizeof k);
    int rc = memo_time(m, kk, g, out, err);
    if (!rc) {
        memcpy(l->k, k, sizeof k);
        l->g = g;
        l->t = *out;
        l->valid = true;
    }
    return rc;
}
