/* cal_fit.c: the efficiency fit. Residuals are log(predicted / measured), so a 40 us decode
 * point and a 2 s prefill point weigh alike; each parameter also has a weak residual toward
 * its prior, which keeps a parameter the measurements cannot see (the per-kernel overhead,
 * when every layer takes milliseconds) where the prior put it instead of letting it wander. */
#include "cal_fit.h"

#include <gsl/gsl_blas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_multifit_nlinear.h>
#include <gsl/gsl_vector.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../sim/deploy.h"
#include "../sim/memfit.h"
#include "../sim/step.h"

/* Floors for log transforms of values a prior may set to 0 (a flat curve, no overhead). */
#define HALF_FLOOR 1e-2     /* rows */
#define MEM_HALF_FLOOR 1.0  /* bytes */
#define KERNEL_FLOOR 1e-9   /* seconds */
/* One unit of the transformed parameter (a factor e, or a logit step) costs as much as a
 * point 3% off: enough to anchor what the data cannot see, too little to bend what they can. */
#define PRIOR_WEIGHT 0.03

static bool is_max(cal_param_kind k)
{
    return k == CP_GROUPED_MAX || k == CP_GEMM_MAX || k == CP_MEM_MAX;
}

double cal_param_physical(cal_param_kind k, double u)
{
    if (is_max(k)) {
        /* logistic, kept a hair inside (0, 1) so the hwmodel loader's (0, 1] check holds */
        double x = 1.0 / (1.0 + exp(-u));
        return x < 1e-9 ? 1e-9 : x > 1 - 1e-9 ? 1 - 1e-9 : x;
    }
    return exp(u);
}

double cal_param_unconstrained(cal_param_kind k, double x)
{
    if (is_max(k)) {
        x = x < 1e-6 ? 1e-6 : x > 1 - 1e-6 ? 1 - 1e-6 : x;
        return log(x / (1 - x));
    }
    double floor = k == CP_MEM_HALF ? MEM_HALF_FLOOR : k == CP_KERNEL ? KERNEL_FLOOR : HALF_FLOOR;
    return log(x > floor ? x : floor);
}

const char *cal_param_name(const cal_param *p, char *buf, size_t cap)
{
    const char *dt = sim_dtype_name(p->dt);
    switch (p->kind) {
    case CP_GROUPED_MAX: snprintf(buf, cap, "grouped_gemm.%s.max", dt); break;
    case CP_GROUPED_HALF: snprintf(buf, cap, "grouped_gemm.%s.half", dt); break;
    case CP_GEMM_MAX: snprintf(buf, cap, "gemm.%s.max", dt); break;
    case CP_GEMM_HALF: snprintf(buf, cap, "gemm.%s.half", dt); break;
    case CP_MEM_MAX: snprintf(buf, cap, "memory.max"); break;
    case CP_MEM_HALF: snprintf(buf, cap, "memory.half_mb"); break;
    case CP_KERNEL: default: snprintf(buf, cap, "kernel_overhead_us"); break;
    }
    return buf;
}

/* ---- prediction ---------------------------------------------------------------------- */

/* The compute type the step model would use for weights in `fmt` on hw. */
static int compute_type(const sim_hw *hw, sim_wformat fmt, sim_dtype *dt)
{
    return sim_hw_peak_for(hw, sim_wformat_compute_chain(fmt), dt) > 0 ? 0 : -1;
}

/* One MoE layer as a model card: what the engine ran (SwiGLU experts, shared experts as one
 * wider FFN), attention reduced to a valid minimum it never uses. */
static void layer_model(const cal_point *p, sim_model *m)
{
    memset(m, 0, sizeof *m);
    snprintf(m->name, sizeof m->name, "%s", p->shape);
    snprintf(m->path, sizeof m->path, "(calibration point)");
    m->hidden = p->hidden;
    m->layers = 1;
    m->vocab = 1;
    m->max_context = 1;
    m->attn.kind = ATTN_GQA;
    m->attn.heads = m->attn.kv_heads = 1;
    m->attn.head_dim = p->hidden;
    m->ffn.activation = ACT_SWIGLU;
    m->ffn.moe_layers = 1;
    m->ffn.experts = p->experts;
    m->ffn.top_k = p->top_k;
    m->ffn.expert_intermediate = p->ffn;
    m->ffn.shared_experts = p->shared;
    m->ffn.shared_intermediate = p->shared_ffn;
    m->ffn.scoring = SCORE_SOFTMAX;
    m->native_experts = m->native_dense = p->fmt;
}

int cal_predict(const sim_hw *hw, const cal_point *p, double *seconds, sim_err *err)
{
    sim_dtype dt;
    if (compute_type(hw, p->fmt, &dt) != 0)
        return sim_fail(err, SIM_EINPUT, "%s: no compute type for %s weights", hw->name, sim_wformat_name(p->fmt));
    if (p->kind == CAL_GEMM) {
        *seconds = sim_gemm_time(hw, dt, p->m, p->n, p->k, sim_wformat_bytes(p->fmt), false, NULL, NULL);
        return SIM_OK;
    }
    if (p->kind != CAL_LAYER)
        return sim_fail(err, SIM_EINPUT, "calibration: only layer and GEMM points are predicted");
    sim_model m;
    layer_model(p, &m);
    sim_deploy d;
    sim_deploy_defaults(&d, &m, hw);
    d.expert_fmt = d.dense_fmt = p->fmt;
    d.skew = 0; /* the engine routes random activations through random router weights: uniform */
    sim_memfit fit;
    memset(&fit, 0, sizeof fit);
    fit.fits = true;
    fit.expert_frac[0] = fit.other_frac[0] = 1; /* the engine holds the whole layer in memory */
    sim_step_result r;
    int rc = sim_moe_layer_eval(&d, &fit, p->tokens * p->ep, &r, err);
    if (rc)
        return rc;
    *seconds = r.time_s;
    return SIM_OK;
}

/* ---- parameters ---------------------------------------------------------------------- */

static void add_param(cal_fit *f, cal_param_kind k, sim_dtype dt, double prior)
{
    if (f->np == CAL_MAX_PARAMS)
        return;
    cal_param *p = &f->p[f->np++];
    memset(p, 0, sizeof *p);
    p->kind = k;
    p->dt = dt;
    p->prior = p->value = cal_param_physical(k, cal_param_unconstrained(k, prior));
}

int cal_fit_setup(cal_fit *f, const sim_hw *hw, const cal_set *s, sim_err *err)
{
    memset(f, 0, sizeof *f);
    f->prior_weight = PRIOR_WEIGHT;
    bool layer_dt[DT_COUNT] = { false }, gemm_dt[DT_COUNT] = { false };
    for (int i = 0; i < s->n; i++) {
        const cal_point *p = &s->p[i];
        if (!p->fitted && !p->held_out)
            continue;
        sim_dtype dt;
        if (compute_type(hw, p->fmt, &dt) != 0)
            return sim_fail(err, SIM_EINPUT, "%s: no compute type for the %s weights of %s", hw->name,
                            sim_wformat_name(p->fmt), p->shape);
        if (p->kind == CAL_LAYER)
            layer_dt[dt] = true;
        else if (p->kind == CAL_GEMM)
            gemm_dt[dt] = true;
        f->n_fitted += p->fitted;
    }
    if (f->n_fitted == 0)
        return sim_fail(err, SIM_EINPUT, "calibration: no measured point to fit (every point is held out)");
    for (int t = 0; t < DT_COUNT; t++) {
        if (layer_dt[t]) {
            add_param(f, CP_GROUPED_MAX, (sim_dtype)t, hw->eff.grouped_gemm[t].max);
            add_param(f, CP_GROUPED_HALF, (sim_dtype)t, hw->eff.grouped_gemm[t].half);
        }
        if (gemm_dt[t]) {
            add_param(f, CP_GEMM_MAX, (sim_dtype)t, hw->eff.gemm[t].max);
            add_param(f, CP_GEMM_HALF, (sim_dtype)t, hw->eff.gemm[t].half);
        }
        f->tied[t] = layer_dt[t] && !gemm_dt[t];
    }
    add_param(f, CP_MEM_MAX, DT_FP32, hw->eff.memory.max);
    add_param(f, CP_MEM_HALF, DT_FP32, hw->eff.memory.half);
    add_param(f, CP_KERNEL, DT_FP32, hw->eff.kernel_overhead_s);
    return SIM_OK;
}

static void set_value(sim_hw *hw, const cal_param *p, double v)
{
    switch (p->kind) {
    case CP_GROUPED_MAX: hw->eff.grouped_gemm[p->dt].max = v; break;
    case CP_GROUPED_HALF: hw->eff.grouped_gemm[p->dt].half = v; break;
    case CP_GEMM_MAX: hw->eff.gemm[p->dt].max = v; break;
    case CP_GEMM_HALF: hw->eff.gemm[p->dt].half = v; break;
    case CP_MEM_MAX: hw->eff.memory.max = v; break;
    case CP_MEM_HALF: hw->eff.memory.half = v; break;
    case CP_KERNEL: hw->eff.kernel_overhead_s = v; break;
    }
}

static void apply_ties(const cal_fit *f, sim_hw *hw)
{
    for (int t = 0; t < DT_COUNT; t++)
        if (f->tied[t])
            hw->eff.gemm[t] = hw->eff.grouped_gemm[t];
}

void cal_fit_apply(const cal_fit *f, sim_hw *hw)
{
    for (int i = 0; i < f->np; i++)
        set_value(hw, &f->p[i], f->p[i].value);
    apply_ties(f, hw);
}

/* ---- the least-squares problem ------------------------------------------------------- */

typedef struct problem {
    cal_fit *f;
    sim_hw hw;               /* scratch: the hwmodel at the current parameters */
    cal_set *s;
    int *idx;                /* fitted points */
    int n;
    int failed;              /* a prediction failed: stop */
    sim_err err;
} problem;

static int residuals(const gsl_vector *x, void *params, gsl_vector *fv)
{
    problem *pb = params;
    cal_fit *f = pb->f;
    for (int j = 0; j < f->np; j++)
        set_value(&pb->hw, &f->p[j], cal_param_physical(f->p[j].kind, gsl_vector_get(x, (size_t)j)));
    apply_ties(f, &pb->hw);
    for (int i = 0; i < pb->n; i++) {
        const cal_point *p = &pb->s->p[pb->idx[i]];
        double t = 0;
        if (cal_predict(&pb->hw, p, &t, &pb->err) != SIM_OK) {
            pb->failed = 1;
            return GSL_EBADFUNC;
        }
        gsl_vector_set(fv, (size_t)i, log(t / p->measured_s));
    }
    for (int j = 0; j < f->np; j++)
        gsl_vector_set(fv, (size_t)(pb->n + j),
                       f->prior_weight * (gsl_vector_get(x, (size_t)j) -
                                          cal_param_unconstrained(f->p[j].kind, f->p[j].prior)));
    return GSL_SUCCESS;
}

static double cost_at(problem *pb, const gsl_vector *x, gsl_vector *fv)
{
    if (residuals(x, pb, fv) != GSL_SUCCESS)
        return INFINITY;
    double c;
    gsl_blas_ddot(fv, fv, &c);
    return c;
}

/* One trust-region solve from x0; x0 receives the solution. Returns the cost. */
static double solve_from(problem *pb, gsl_vector *x0, int *iters, int *info, gsl_matrix *covar, gsl_matrix *jac)
{
    size_t n = (size_t)(pb->n + pb->f->np), p = (size_t)pb->f->np;
    gsl_multifit_nlinear_parameters prm = gsl_multifit_nlinear_default_parameters();
    prm.trs = gsl_multifit_nlinear_trs_lm;
    prm.scale = gsl_multifit_nlinear_scale_more;
    gsl_multifit_nlinear_workspace *w = gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &prm, n, p);
    if (!w)
        return INFINITY;
    gsl_multifit_nlinear_fdf fdf = { .f = residuals, .df = NULL, .fvv = NULL, .n = n, .p = p, .params = pb };
    double cost = INFINITY;
    if (gsl_multifit_nlinear_init(x0, &fdf, w) == GSL_SUCCESS) {
        int st = gsl_multifit_nlinear_driver(300, 1e-10, 1e-10, 1e-12, NULL, NULL, info, w);
        if (!pb->failed && (st == GSL_SUCCESS || st == GSL_EMAXITER || st == GSL_ENOPROG)) {
            gsl_vector_memcpy(x0, gsl_multifit_nlinear_position(w));
            gsl_vector *fv = gsl_multifit_nlinear_residual(w);
            gsl_blas_ddot(fv, fv, &cost);
            *iters = (int)gsl_multifit_nlinear_niter(w);
            if (st == GSL_EMAXITER)
                *info = -1;
            else if (st == GSL_ENOPROG)
                *info = -2;
            if (covar)
                gsl_multifit_nlinear_covar(gsl_multifit_nlinear_jac(w), 0.0, covar);
            if (jac)
                gsl_matrix_memcpy(jac, gsl_multifit_nlinear_jac(w));
        }
    }
    gsl_multifit_nlinear_free(w);
    return cost;
}

static const char *stop_word(int info)
{
    switch (info) {
    case 1: return "converged (step size)";
    case 2: return "converged (gradient)";
    case -1: return "stopped at the iteration limit";
    case -2: return "stopped: no further progress";
    default: return "converged";
    }
}

int cal_fit_run(cal_fit *f, sim_hw *hw, cal_set *s, sim_err *err)
{
    problem pb = { .f = f, .hw = *hw, .s = s };
    pb.idx = calloc((size_t)s->n + 1, sizeof *pb.idx);
    if (!pb.idx)
        return sim_fail(err, SIM_EFAIL, "out of memory");
    for (int i = 0; i < s->n; i++)
        if (s->p[i].fitted && (s->p[i].kind == CAL_LAYER || s->p[i].kind == CAL_GEMM))
            pb.idx[pb.n++] = i;
    const size_t p = (size_t)f->np, n = (size_t)(pb.n + f->np);
    gsl_vector *x = gsl_vector_alloc(p), *best = gsl_vector_alloc(p), *fv = gsl_vector_alloc(n);
    gsl_matrix *covar = gsl_matrix_alloc(p, p), *jac = gsl_matrix_alloc(n, p);
    int rc = x && best && fv && covar && jac ? SIM_OK : sim_fail(err, SIM_EFAIL, "out of memory for the fit");
    gsl_error_handler_t *old = gsl_set_error_handler_off();

    /* Starts: the priors; then every curve's half-point scaled by 1/10 and by 10, since the
     * max() of compute and memory time makes the cost surface have more than one valley. */
    double best_cost = INFINITY;
    int best_iters = 0, best_info = 0;
    static const double half_scale[] = { 1, 0.1, 10 };
    for (size_t st = 0; rc == SIM_OK && st < sizeof half_scale / sizeof half_scale[0]; st++) {
        for (int j = 0; j < f->np; j++) {
            double v = f->p[j].prior;
            if (f->p[j].kind == CP_GROUPED_HALF || f->p[j].kind == CP_GEMM_HALF)
                v = (v > 1 ? v : 1) * half_scale[st];
            gsl_vector_set(x, (size_t)j, cal_param_unconstrained(f->p[j].kind, v));
        }
        int iters = 0, info = 0;
        double c = solve_from(&pb, x, &iters, &info, NULL, NULL);
        if (pb.failed) {
            *err = pb.err;
            rc = pb.err.code;
            break;
        }
        if (c < best_cost) {
            best_cost = c;
            gsl_vector_memcpy(best, x);
            best_iters = iters;
            best_info = info;
        }
    }
    if (rc == SIM_OK && !isfinite(best_cost))
        rc = sim_fail(err, SIM_EFAIL, "calibration: the fit did not converge from any start");
    if (rc == SIM_OK) {
        /* polish from the best start, keeping its covariance and Jacobian */
        int iters = 0, info = best_info;
        gsl_vector_memcpy(x, best);
        double c = solve_from(&pb, x, &iters, &info, covar, jac);
        if (!isfinite(c) || c > best_cost) {
            gsl_vector_memcpy(x, best);
            cost_at(&pb, x, fv);
        }
        f->iterations = best_iters + iters;
        f->status = stop_word(info);
        /* spread: covariance scaled by the residual variance of the data part */
        cost_at(&pb, x, fv);
        double ss = 0;
        for (int i = 0; i < pb.n; i++)
            ss += gsl_vector_get(fv, (size_t)i) * gsl_vector_get(fv, (size_t)i);
        f->rms_log_fit = pb.n ? sqrt(ss / pb.n) : 0;
        double s2 = pb.n > f->np ? ss / (pb.n - f->np) : ss;
        if (s2 < 1e-6)
            s2 = 1e-6;
        for (int j = 0; j < f->np; j++) {
            double u = gsl_vector_get(x, (size_t)j), sd = sqrt(fabs(gsl_matrix_get(covar, (size_t)j, (size_t)j)) * s2);
            cal_param *q = &f->p[j];
            q->value = cal_param_physical(q->kind, u);
            q->lo = cal_param_physical(q->kind, u - sd);
            q->hi = cal_param_physical(q->kind, u + sd);
            double col = 0;
            for (int i = 0; i < pb.n; i++)
                col += gsl_matrix_get(jac, (size_t)i, (size_t)j) * gsl_matrix_get(jac, (size_t)i, (size_t)j);
            q->sensitivity = pb.n ? sqrt(col / pb.n) : 0;
        }
        cal_fit_apply(f, hw);
        for (int i = 0; rc == SIM_OK && i < s->n; i++)
            if (s->p[i].kind == CAL_LAYER || s->p[i].kind == CAL_GEMM)
                rc = cal_predict(hw, &s->p[i], &s->p[i].predicted_s, err);
    }
    gsl_set_error_handler(old);
    gsl_vector_free(x);
    gsl_vector_free(best);
    gsl_vector_free(fv);
    gsl_matrix_free(covar);
    gsl_matrix_free(jac);
    free(pb.idx);
    return rc;
}

/* ---- alpha-beta ---------------------------------------------------------------------- */

typedef struct ab_problem {
    const cal_set *s;
    const int *idx;
    int n;
} ab_problem;

static int ab_residuals(const gsl_vector *x, void *params, gsl_vector *fv)
{
    const ab_problem *pb = params;
    double alpha = exp(gsl_vector_get(x, 0)), beta = exp(gsl_vector_get(x, 1));
    for (int i = 0; i < pb->n; i++) {
        const cal_point *p = &pb->s->p[pb->idx[i]];
        gsl_vector_set(fv, (size_t)i, log((alpha + p->bytes / beta) / p->measured_s));
    }
    return GSL_SUCCESS;
}

int cal_fit_alpha_beta(cal_set *s, double *alpha_s, double *beta_Bps, double *rms_log, int *n, sim_err *err)
{
    int idx[256], m = 0;
    double tmin = INFINITY, bw = 0;
    for (int i = 0; i < s->n && m < 256; i++)
        if (s->p[i].kind == CAL_ALLTOALL) {
            idx[m++] = i;
            tmin = fmin(tmin, s->p[i].measured_s);
            bw = fmax(bw, s->p[i].bytes / s->p[i].measured_s);
        }
    *n = 0;
    *alpha_s = *beta_Bps = *rms_log = 0;
    if (m < 2)
        return SIM_OK;
    ab_problem pb = { s, idx, m };
    gsl_multifit_nlinear_parameters prm = gsl_multifit_nlinear_default_parameters();
    gsl_multifit_nlinear_workspace *w = gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &prm, (size_t)m, 2);
    gsl_vector *x = gsl_vector_alloc(2);
    if (!w || !x) {
        gsl_multifit_nlinear_free(w);
        gsl_vector_free(x);
        return sim_fail(err, SIM_EFAIL, "out of memory for the alpha-beta fit");
    }
    /* start: alpha = half the fastest exchange, beta = the best rate seen */
    gsl_vector_set(x, 0, log(tmin / 2));
    gsl_vector_set(x, 1, log(bw > 0 ? bw : 1e9));
    gsl_multifit_nlinear_fdf fdf = { .f = ab_residuals, .df = NULL, .fvv = NULL, .n = (size_t)m, .p = 2, .params = &pb };
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    int info = 0, rc = SIM_OK;
    if (gsl_multifit_nlinear_init(x, &fdf, w) != GSL_SUCCESS)
        rc = sim_fail(err, SIM_EFAIL, "alpha-beta fit: could not start");
    else
        gsl_multifit_nlinear_driver(200, 1e-10, 1e-10, 1e-12, NULL, NULL, &info, w);
    if (rc == SIM_OK) {
        const gsl_vector *sol = gsl_multifit_nlinear_position(w);
        *alpha_s = exp(gsl_vector_get(sol, 0));
        *beta_Bps = exp(gsl_vector_get(sol, 1));
        double ss = 0;
        for (int i = 0; i < m; i++) {
            cal_point *p = &s->p[idx[i]];
            p->predicted_s = *alpha_s + p->bytes / *beta_Bps;
            p->fitted = true;
            double r = log(p->predicted_s / p->measured_s);
            ss += r * r;
        }
        *rms_log = sqrt(ss / m);
        *n = m;
    }
    gsl_set_error_handler(old);
    gsl_multifit_nlinear_free(w);
    gsl_vector_free(x);
    return rc;
}
