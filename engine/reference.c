/* reference.c: the MoE layer by its definition. No blocking, no threads, no BLAS: a loop per
 * sum, each weight read through eng_mat_get, so what the layer computes is plain to see. */
#include "reference.h"

#include <math.h>
#include <stdlib.h>

void eng_ref_scores(const eng_weights *w, const float *x, double *p)
{
    const int E = w->cfg.experts, d = w->cfg.hidden;
    for (int e = 0; e < E; e++) {
        double s = 0;
        for (int j = 0; j < d; j++)
            s += (double)w->router[(size_t)e * d + j] * x[j];
        p[e] = s;
    }
    if (w->cfg.scoring == ENG_SIGMOID) {
        for (int e = 0; e < E; e++)
            p[e] = 1.0 / (1.0 + exp(-p[e]));
    } else {
        double mx = p[0], sum = 0;
        for (int e = 1; e < E; e++)
            mx = fmax(mx, p[e]);
        for (int e = 0; e < E; e++)
            sum += (p[e] = exp(p[e] - mx));
        for (int e = 0; e < E; e++)
            p[e] /= sum;
    }
}

void eng_ref_topk(const double *p, int experts, int k, int *ids, float *weights)
{
    double sum = 0;
    for (int j = 0; j < k; j++) {
        int best = -1;
        for (int e = 0; e < experts; e++) {
            int taken = 0;
            for (int i = 0; i < j; i++)
                taken |= ids[i] == e;
            if (!taken && (best < 0 || p[e] > p[best]))
                best = e;
        }
        ids[j] = best;
        sum += p[best];
    }
    for (int j = 0; j < k; j++)
        weights[j] = (float)(p[ids[j]] / sum);
}

static double silu(double g)
{
    return g / (1.0 + exp(-g));
}

/* y += scale * SwiGLU FFN(x) with gate/up rows in w13 ([2 n][d]) and down rows in w2 ([d][n]). */
static void ref_ffn(const eng_mat *w13, const eng_mat *w2, const float *x, double scale, double *h, double *y)
{
    const int n = w2->cols, d = w2->rows;
    for (int f = 0; f < n; f++) {
        double g = 0, u = 0;
        for (int j = 0; j < d; j++) {
            g += (double)eng_mat_get(w13, f, j) * x[j];
            u += (double)eng_mat_get(w13, n + f, j) * x[j];
        }
        h[f] = silu(g) * u;
    }
    for (int j = 0; j < d; j++) {
        double s = 0;
        for (int f = 0; f < n; f++)
            s += (double)eng_mat_get(w2, j, f) * h[f];
        y[j] += scale * s;
    }
}

int eng_ref_forward(const eng_weights *w, const float *x, int tokens, const int *ids,
                    const float *weights, float *y, sim_err *err)
{
    const eng_config *c = &w->cfg;
    const int d = c->hidden, k = c->top_k, E = c->experts;
    if (w->n_local != E)
        return sim_fail(err, SIM_EINPUT, "reference: needs all %d experts, this weight set holds %d", E, w->n_local);
    int hn = c->ffn > c->shared * c->shared_ffn ? c->ffn : c->shared * c->shared_ffn;
    double *p = malloc(sizeof(double) * (size_t)E);
    double *h = malloc(sizeof(double) * (size_t)hn);
    double *acc = malloc(sizeof(double) * (size_t)d);
    int *tid = malloc(sizeof(int) * (size_t)k);
    float *twt = malloc(sizeof(float) * (size_t)k);
    if (!p || !h || !acc || !tid || !twt) {
        free(p), free(h), free(acc), free(tid), free(twt);
        return sim_fail(err, SIM_EFAIL, "reference: out of memory (hidden %d, experts %d)", d, E);
    }
    for (int t = 0; t < tokens; t++) {
        const float *xt = x + (size_t)t * d;
        if (ids) {
            for (int j = 0; j < k; j++) {
                tid[j] = ids[(size_t)t * k + j];
                twt[j] = weights[(size_t)t * k + j];
            }
        } else {
            eng_ref_scores(w, xt, p);
            eng_ref_topk(p, E, k, tid, twt);
        }
        for (int j = 0; j < d; j++)
            acc[j] = 0;
        for (int j = 0; j < k; j++)
            ref_ffn(&w->w13[tid[j]], &w->w2[tid[j]], xt, twt[j], h, acc);
        if (c->shared > 0)
            ref_ffn(&w->s13, &w->s2, xt, 1.0, h, acc);
        for (int j = 0; j < d; j++)
            y[(size_t)t * d + j] = (float)acc[j];
    }
    free(p), free(h), free(acc), free(tid), free(twt);
    return SIM_OK;
}
