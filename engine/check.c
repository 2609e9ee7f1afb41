/* check.c: one case of `moe-engine check`: the same batch through the backend with expert
 * parallelism, the backend on one rank, and the reference; routing is checked against the
 * reference's scores, then outputs against the reference run on the backend's routing (so a
 * near-tie at the k-th score, which rounding may break either way, is not a failure). */
#include "check.h"

#include "backend.h"
#include "reference.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double eng_check_tol(eng_dtype d)
{
    /* INT4_G32's weights are read exactly (weights.h), but below AVX-512 its kernels round the
     * activations to int16 as INT8's do (kernels_cpu_tile.h, tile_q4i) */
    return d == ENG_FP32 ? 1e-4 : 2e-2;
}

static eng_check_case mk(const char *label, int T, int d, int f, int E, int k, int shared, int sf,
                         eng_scoring sc, eng_dtype dt, eng_route_kind route, uint64_t seed)
{
    eng_check_case c;
    memset(&c, 0, sizeof c);
    snprintf(c.label, sizeof c.label, "%s", label);
    c.c = (eng_config){ d, f, E, k, shared, sf, sc, dt };
    c.tokens = T;
    c.route = route;
    c.seed = seed;
    return c;
}

/* A uniform integer in [lo, hi] from a counter. */
static int rnd(uint64_t *r, int lo, int hi)
{
    return lo + (int)(eng_mix((*r)++) % (uint64_t)(hi - lo + 1));
}

int eng_check_cases(eng_check_case *out, int max, int ep, int n_random, uint64_t seed)
{
    int n = 0;
    const eng_check_case fixed[] = {
        mk("one token", 1, 64, 32, 8 * ep, 2, 0, 0, ENG_SOFTMAX, ENG_FP32, ROUTE_ROUTER, seed + 1),
        mk("one token bf16 shared", 1, 48, 40, 4 * ep, 2, 1, 24, ENG_SIGMOID, ENG_BF16, ROUTE_ROUTER, seed + 2),
        mk("expert with no tokens", 33, 40, 24, 4 * ep, 2, 0, 0, ENG_SOFTMAX, ENG_FP32, ROUTE_SKIP_FIRST, seed + 3),
        mk("all tokens on one expert", 50, 32, 24, 2 * ep, 1, 0, 0, ENG_SOFTMAX, ENG_FP32, ROUTE_ONE_EXPERT, seed + 4),
        mk("all tokens on one expert bf16", 20, 24, 40, 4 * ep, 3, 1, 16, ENG_SOFTMAX, ENG_BF16, ROUTE_ONE_EXPERT, seed + 5),
        mk("k = E", 17, 32, 16, 2 * ep, 2 * ep, 0, 0, ENG_SIGMOID, ENG_FP32, ROUTE_ROUTER, seed + 6),
        mk("k = E int8", 9, 20, 12, ep, ep, 1, 8, ENG_SOFTMAX, ENG_INT8, ROUTE_ROUTER, seed + 7),
        mk("hidden 1", 5, 1, 3, 2 * ep, 1, 0, 0, ENG_SOFTMAX, ENG_FP32, ROUTE_ROUTER, seed + 8),
        mk("hidden 17", 11, 17, 9, 3 * ep, 2, 1, 5, ENG_SIGMOID, ENG_BF16, ROUTE_ROUTER, seed + 9),
        mk("hidden 100 int8", 13, 100, 7, 2 * ep, 1, 0, 0, ENG_SOFTMAX, ENG_INT8, ROUTE_ROUTER, seed + 10),
        mk("hidden 33 ffn 1", 6, 33, 1, 4 * ep, 3, 2, 1, ENG_SOFTMAX, ENG_FP32, ROUTE_ROUTER, seed + 11),
        mk("large batch fp32 (BLAS path)", 256, 96, 80, 2 * ep, 2, 1, 48, ENG_SOFTMAX, ENG_FP32, ROUTE_ROUTER, seed + 12),
        mk("large batch bf16 (BLAS path)", 192, 72, 40, 2 * ep, 2, 0, 0, ENG_SIGMOID, ENG_BF16, ROUTE_ROUTER, seed + 13),
        mk("large batch int8 (BLAS path)", 160, 50, 30, ep, 1, 1, 20, ENG_SOFTMAX, ENG_INT8, ROUTE_ROUTER, seed + 14),
        mk("many experts, few tokens", 3, 40, 16, 16 * ep, 1, 0, 0, ENG_SOFTMAX, ENG_BF16, ROUTE_ROUTER, seed + 15),
        mk("one token int4_g32 shared", 1, 64, 96, 4 * ep, 2, 1, 32, ENG_SIGMOID, ENG_INT4_G32, ROUTE_ROUTER, seed + 16),
        mk("hidden 100 int4_g32 (part block)", 7, 100, 40, 2 * ep, 2, 0, 0, ENG_SOFTMAX, ENG_INT4_G32, ROUTE_ROUTER,
           seed + 17),
        mk("large batch int4_g32 (BLAS path)", 160, 96, 72, ep, 1, 1, 24, ENG_SOFTMAX, ENG_INT4_G32, ROUTE_ROUTER,
           seed + 18),
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0] && n < max; i++)
        out[n++] = fixed[i];
    uint64_t r = seed * 0x9e3779b97f4a7c15ull + 12345;
    for (int i = 0; i < n_random && n < max; i++) {
        int E = ep * rnd(&r, 1, 12);
        int k = rnd(&r, 1, 4) == 1 ? E : rnd(&r, 1, E < 6 ? E : 6);
        int sh = rnd(&r, 0, 2);
        char label[48];
        snprintf(label, sizeof label, "random %d", i + 1);
        out[n++] = mk(label, rnd(&r, 1, 3) == 1 ? rnd(&r, 64, 200) : rnd(&r, 1, 40), rnd(&r, 1, 160), rnd(&r, 1, 96), E, k, sh,
                      sh ? rnd(&r, 1, 64) : 0, rnd(&r, 0, 1) ? ENG_SIGMOID : ENG_SOFTMAX, (eng_dtype)(i % ENG_DTYPE_COUNT),
                      ROUTE_ROUTER, seed + 100 + (uint64_t)i);
    }
    return n;
}

/* The forced routings: expert ids distinct per token, weights positive and summing to 1. */
static void forced_routing(const eng_check_case *cs, int ep, int *ids, float *wts)
{
    const int E = cs->c.experts, k = cs->c.top_k, skip = ep > 1 ? E / ep : 1;
    for (int t = 0; t < cs->tokens; t++) {
        double sum = 0;
        for (int j = 0; j < k; j++) {
            int e;
            if (cs->route == ROUTE_ONE_EXPERT)
                e = E - 1 - j;
            else    /* spread over experts [skip, E), distinct because k <= E - skip */
                e = skip + (t + j) % (E - skip);
            ids[(size_t)t * k + j] = e;
            sum += (wts[(size_t)t * k + j] = (float)(1.5 + eng_hash_unit(cs->seed * 31 + (uint64_t)(t * k + j))));
        }
        for (int j = 0; j < k; j++)
            wts[(size_t)t * k + j] = (float)(wts[(size_t)t * k + j] / sum);
    }
}

static double max_abs(const float *a, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)a[i]));
    return m;
}

static int same_set(const int *a, const int *b, int k)
{
    for (int i = 0; i < k; i++) {
        int found = 0;
        for (int j = 0; j < k; j++)
            found |= a[i] == b[j];
        if (!found)
            return 0;
    }
    return 1;
}

int eng_check_run(const eng_check_case *cs, eng_backend backend, eng_transport *tr,
                  eng_check_result *res, sim_err *err)
{
    const int rank = tr ? tr->rank : 0, ep = tr ? tr->size : 1;
    const int T = cs->tokens, d = cs->c.hidden, k = cs->c.top_k, E = cs->c.experts;
    /* this rank's shard: the first T % ep ranks take one token more */
    const int base = T / ep, extra = T % ep;
    const int t0 = rank * base + (rank < extra ? rank : extra), Tr = base + (rank < extra);
    memset(res, 0, sizeof *res);
    res->tol = eng_check_tol(cs->c.dtype);

    eng_layer *lep = NULL, *lone = NULL;
    int rc = eng_layer_create(&lep, &cs->c, backend, tr, cs->seed, err);
    if (rc != SIM_OK)
        return rc;
    /* the one-rank layer is local to each rank: no collective, so failures need no agreement
     * until the agree below */
    rc = eng_layer_create(&lone, &cs->c, backend, NULL, cs->seed, err);
    const size_t nx = (size_t)T * d, nr = (size_t)T * k;
    float *x = malloc(sizeof(float) * (nx ? nx : 1)), *y1 = malloc(sizeof(float) * (nx ? nx : 1));
    float *yep = malloc(sizeof(float) * ((size_t)Tr * d + 1)), *yref = malloc(sizeof(float) * ((size_t)Tr * d + 1));
    int *fid = malloc(sizeof(int) * (nr + 1)), *id1 = malloc(sizeof(int) * (nr + 1)), *idep = malloc(sizeof(int) * (nr + 1));
    float *fw = malloc(sizeof(float) * (nr + 1)), *w1 = malloc(sizeof(float) * (nr + 1)), *wep = malloc(sizeof(float) * (nr + 1));
    float *wref = malloc(sizeof(float) * (nr + 1));
    double *p = malloc(sizeof(double) * (size_t)E), *ps = malloc(sizeof(double) * (size_t)E);
    int *kid = malloc(sizeof(int) * (size_t)E);
    float *kw = malloc(sizeof(float) * (size_t)E);
    if (rc == SIM_OK && (!x || !y1 || !yep || !yref || !fid || !id1 || !idep || !fw || !w1 || !wep || !wref || !p || !ps || !kid || !kw))
        rc = sim_fail(err, SIM_EFAIL, "check: out of memory for %d tokens x hidden %d", T, d);
    int all = tr ? tr->ops->agree(tr, rc) : rc;
    if (all != SIM_OK && rc == SIM_OK)
        rc = sim_fail(err, all, "check: failed on another rank");
    const int forced = cs->route != ROUTE_ROUTER;
    if (rc == SIM_OK) {
        eng_fill_input(x, T, d, cs->seed ^ 0x5eed, 0);
        if (forced)
            forced_routing(cs, ep, fid, fw);
        eng_routing f1 = { T, k, fid, fw }, fep = { Tr, k, fid + (size_t)t0 * k, fw + (size_t)t0 * k };
        eng_routing r1 = { T, k, id1, w1 }, rep = { Tr, k, idep, wep };
        rc = eng_forward(lep, x + (size_t)t0 * d, Tr, yep, forced ? &fep : NULL, &rep, NULL, err);
        if (rc == SIM_OK)
            rc = eng_forward(lone, x, T, y1, forced ? &f1 : NULL, &r1, NULL, err);
    }
    double v[4] = { 0, 0, 0, 0 };
    if (rc == SIM_OK) {
        /* routing against the reference's scores: every chosen expert scores at least the
         * k-th best (within rounding), and the weights are the renormalized scores */
        const eng_weights *w = eng_layer_weights(lone);
        for (int t = 0; t < Tr; t++) {
            const int *ids = idep + (size_t)t * k;
            float *wr = wref + (size_t)t * k;
            if (forced) {
                memcpy(wr, wep + (size_t)t * k, sizeof(float) * (size_t)k);
            } else {
                eng_ref_scores(w, x + (size_t)(t0 + t) * d, p);
                memcpy(ps, p, sizeof(double) * (size_t)E);
                eng_ref_topk(ps, E, k, kid, kw);
                double kth = p[kid[k - 1]], sum = 0;
                for (int j = 0; j < k; j++)
                    sum += p[ids[j]];
                int bad = 0;
                for (int j = 0; j < k; j++) {
                    bad |= p[ids[j]] < kth - 1e-5 * fmax(1.0, fabs(kth));
                    for (int i = 0; i < j; i++)
                        bad |= ids[i] == ids[j];
                    wr[j] = (float)(p[ids[j]] / sum);
                    bad |= fabs(wr[j] - wep[(size_t)t * k + j]) > 1e-4;
                }
                v[2] += bad;
            }
            if (!same_set(ids, id1 + (size_t)(t0 + t) * k, k))
                v[3] += 1;
        }
        rc = eng_ref_forward(w, x + (size_t)t0 * d, Tr, idep, wref, yref, err);
    }
    if (rc == SIM_OK) {
        double scale = fmax(max_abs(yref, (size_t)Tr * d), 1e-30);
        for (int t = 0; t < Tr; t++) {
            int alike = same_set(idep + (size_t)t * k, id1 + (size_t)(t0 + t) * k, k);
            for (int i = 0; i < d; i++) {
                size_t at = (size_t)t * d + i;
                v[0] = fmax(v[0], fabs((double)yep[at] - yref[at]) / scale);
                if (alike)
                    v[1] = fmax(v[1], fabs((double)yep[at] - y1[(size_t)(t0 + t) * d + i]) / scale);
            }
        }
    }
    all = tr ? tr->ops->agree(tr, rc) : rc;
    if (all != SIM_OK && rc == SIM_OK)
        rc = sim_fail(err, all, "check: failed on another rank");
    /* counts become the largest per-rank count: a non-zero anywhere is what matters */
    if (rc == SIM_OK && tr)
        rc = tr->ops->max(tr, v, 4, err);
    if (rc == SIM_OK) {
        res->err_ref = v[0];
        res->err_one = v[1];
        res->route_bad = (int)v[2];
        res->near_ties = (int)v[3];
        res->ok = v[0] <= res->tol && v[1] <= res->tol && res->route_bad == 0;
    }
    free(x), free(y1), free(yep), free(yref), free(fid), free(id1), free(idep);
    free(fw), free(w1), free(wep), free(wref), free(p), free(ps), free(kid), free(kw);
    eng_layer_destroy(lone);
    eng_layer_destroy(lep);
    return rc;
}
