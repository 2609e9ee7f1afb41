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

#include "deploy/deploy.h"
#include "deploy/memfit.h"
#include "step/step.h"
#include "step/routing.h"

/* Floors for log transforms of values a prior may set to 0 (a flat curve, no overhead). */
#define HALF_FLOOR 1e-2     /* rows */
#define MEM_HALF_FLOOR 1.0  /* bytes */
#define KERNEL_FLOOR 1e-9   /* seconds */
#define DEQUANT_FLOOR 1e6   /* elements per second */
/* One unit of the transformed parameter (a factor e, or a logit step) costs as much as a
 * point 3% off: enough to anchor what the data cannot see, too little to bend what they can. */
#define PRIOR_WEIGHT 0.03

static bool is_max(cal_param_kind k)
{
    return k == CP_GROUPED_MAX || k == CP_SMALL_MAX || k == CP_GEMM_MAX || k == CP_MEM_MAX;
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
    if (k == CP_DEQUANT)
        return log(x > DEQUANT_FLOOR ? x : DEQUANT_FLOOR);
    double floor = k == CP_MEM_HALF ? MEM_HALF_FLOOR : k == CP_KERNEL || k == CP_GROUP || k == CP_SMALL_GROUP ? KERNEL_FLOOR : HALF_FLOOR;
    return log(x > floor ? x : floor);
}

const char *cal_param_name(const cal_param *p, char *buf, size_t cap)
{
    const char *dt = sim_dtype_name(p->dt);
    switch (p->kind) {
    case CP_GROUPED_MAX: snprintf(buf, cap, "grouped_gemm.%s.max", dt); break;
    case CP_GROUPED_HALF: snprintf(buf, cap, "grouped_gemm.%s.half", dt); break;
    case CP_SMALL_MAX: snprintf(buf, cap, "grouped_gemm.%s.small.max", dt); break;
    case CP_SMALL_HALF: snprintf(buf, cap, "grouped_gemm.%s.small.half", dt); break;
    case CP_GEMM_MAX: snprintf(buf, cap, "gemm.%s.max", dt); break;
    case CP_GEMM_HALF: snprintf(buf, cap, "gemm.%s.half", dt); break;
    case CP_MEM_MAX: snprintf(buf, cap, "memory.max"); break;
    case CP_MEM_HALF: snprintf(buf, cap, "memory.half_mb"); break;
    case CP_GROUP: snprintf(buf, cap, "grouped_gemm.%s.overhead_us", dt); break;
    case CP_SMALL_GROUP: snprintf(buf, cap, "grouped_gemm.%s.small.overhead_us", dt); break;
    case CP_DEQUANT: snprintf(buf, cap, "dequant_gelem_s.%s", sim_wformat_name(p->fmt)); break;
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
    m->attn.kind = SIM_ATTN_GQA;
    m->attn.heads = m->attn.kv_heads = 1;
    m->attn.head_dim = p->hidden;
    m->ffn.activation = SIM_ACT_SWIGLU;
    m->ffn.moe_layers = 1;
    m->ffn.experts = p->experts;
    m->ffn.top_k = p->top_k;
    m->ffn.expert_intermediate = p->ffn;
    m->ffn.shared_experts = p->shared;
    m->ffn.shared_intermediate = p->shared_ffn;
    m->ffn.scoring = SIM_SCORE_SOFTMAX;
    m->native_experts = m->native_shared = m->native_dense = p->fmt;
}

int cal_predict(const sim_hw *hw, const cal_point *p, sim_routing_cache *routing, double *seconds, sim_err *err)
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
    d.routing_cache = routing;
    d.expert_fmt = d.shared_fmt = d.dense_fmt = p->fmt;
    d.skew = 0; /* the engine routes random activations through random router weights: uniform */
    /* The forward measured touched these experts; the expectation E(1-(1-k/E)^T) can be 10% off
     * one draw at a few tokens (Qwen3 at 4 tokens: 32 against 29.1), which is the luck of that
     * routing, not an error of the model. Predict for the routing the engine drew. */
    if (p->ep == 1 && p->touched > 0)
        d.observed_experts = p->touched;
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
    p->prior = p->value = p->start = cal_param_physical(k, cal_param_unconstrained(k, prior));
}

/* A fixed cost per expert FFN, per kernel regime: small experts cost more per byte than large
 * ones (scripts/expert_fixed_cost.sh), which a curve in rows per expert cannot say. Shipped
 * priors have none (0); the fit then starts from a tenth of a per-expert time measured in
 * that regime (the smallest for the small regime, the largest for the other), which the
 * points show when two expert sizes are fitted, and is not pulled back toward 0. */
static void add_group_param(cal_fit *f, cal_param_kind k, sim_dtype dt, double prior, const cal_set *s)
{
    add_param(f, k, dt, prior);
    if (prior > 0)
        return;
    cal_param *x = &f->p[f->np - 1];
    /* the small regime runs at the fewest tokens, the large one at the most */
    double per_expert = k == CP_SMALL_GROUP ? INFINITY : 0;
    for (int i = 0; i < s->n; i++)
        if (s->p[i].kind == CAL_LAYER && s->p[i].fitted && s->p[i].touched > 0) {
            double t = s->p[i].measured_s / s->p[i].touched;
            per_expert = k == CP_SMALL_GROUP ? fmin(per_expert, t) : fmax(per_expert, t);
        }
    x->no_prior = true;
    if (isfinite(per_expert) && per_expert > 0)
        x->start = 0.1 * per_expert;
}

int cal_fit_setup(cal_fit *f, const sim_hw *hw, const cal_set *s, sim_err *err)
{
    memset(f, 0, sizeof *f);
    f->prior_weight = PRIOR_WEIGHT;
    bool layer_dt[SIM_DT_COUNT] = { false }, gemm_dt[SIM_DT_COUNT] = { false };
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
    for (int t = 0; t < SIM_DT_COUNT; t++) {
        if (layer_dt[t]) {
            const sim_curve *c = &hw->eff.grouped_gemm[t];
            add_param(f, CP_GROUPED_MAX, (sim_dtype)t, c->max);
            add_param(f, CP_GROUPED_HALF, (sim_dtype)t, c->half);
            add_group_param(f, CP_GROUP, (sim_dtype)t, c->group_s, s);
            if (c->small_rows > 0) {
                add_param(f, CP_SMALL_MAX, (sim_dtype)t, c->small_max);
                add_param(f, CP_SMALL_HALF, (sim_dtype)t, c->small_half);
                add_group_param(f, CP_SMALL_GROUP, (sim_dtype)t, c->small_group_s, s);
            }
        }
        if (gemm_dt[t]) {
            add_param(f, CP_GEMM_MAX, (sim_dtype)t, hw->eff.gemm[t].max);
            add_param(f, CP_GEMM_HALF, (sim_dtype)t, hw->eff.gemm[t].half);
        }
        f->tied[t] = layer_dt[t] && !gemm_dt[t];
    }
    /* A packed format's unpacking: the layers in it run on their compute type's curve (fitted
     * from the unpacked formats' layers, e.g. BF16's) plus this rate's time per weight read.
     * A base with no rate for it ("fused, free") starts from 1e11 elements/s, a few vector
     * instructions per 16 weights at a few GHz, with no pull toward 0. */
    for (int fm = 0; fm < SIM_WF_COUNT; fm++) {
        bool ran = false;
        for (int i = 0; i < s->n && !ran; i++)
            ran = s->p[i].kind == CAL_LAYER && (s->p[i].fitted || s->p[i].held_out) && (int)s->p[i].fmt == fm;
        if (!ran || !sim_wformat_is_packed((sim_wformat)fm))
            continue;
        double prior = hw->eff.dequant_elems_per_s[fm];
        add_param(f, CP_DEQUANT, SIM_DT_FP32, prior > 0 ? prior : 1e11);
        f->p[f->np - 1].fmt = (sim_wformat)fm;
        f->p[f->np - 1].no_prior = !(prior > 0);
    }
    add_param(f, CP_MEM_MAX, SIM_DT_FP32, hw->eff.memory.max);
    /* A STREAM triad measures what memory delivers; the layer points cannot tell a slower
     * memory from a slower streaming kernel (small-rows compute), so with a triad at hand the
     * memory ceiling stays where the triad put it and the kernels take the rest. */
    /* ... unless the layers ran in weight formats of different sizes: then, at equal FLOPs, a
     * memory-bound layer takes time in proportion to its bytes and a compute-bound one does not,
     * so the points tell the two apart, and the read stream's share of the triad is fitted. On
     * the 2-core Intel Xeon VM of 2026-12-01 the decode kernels stream 27-29 GB/s against a
     * triad of 29.7 (39.7 with the write-allocate reads): held at 0.9 of that, every memory-bound
     * layer was predicted ~25% fast and the compute curves were bent to make up for it, which
     * INT4_G32 (same FLOPs as BF16, a quarter of the bytes, on BF16's curve) exposed: held-out
     * MAPE 13.6% held, 6.0% fitted (memory.max 0.68), on the same measurements
     * (calibrate/fixtures/intel-xeon-2026-12-01; calibrate/README.md has the commands). */
    double wbytes = -1;
    bool sizes = false;
    for (int i = 0; i < s->n; i++)
        if (s->p[i].kind == CAL_LAYER && (s->p[i].fitted || s->p[i].held_out)) {
            double b = sim_wformat_bytes(s->p[i].fmt);
            sizes = sizes || (wbytes >= 0 && b != wbytes);
            wbytes = b;
        }
    for (int i = 0; i < s->n && !sizes; i++)
        if (s->p[i].kind == CAL_TRIAD)
            f->p[f->np - 1].held_by = "the triad";
    add_param(f, CP_MEM_HALF, SIM_DT_FP32, hw->eff.memory.half);
    add_param(f, CP_KERNEL, SIM_DT_FP32, hw->eff.kernel_overhead_s);
    return SIM_OK;
}

static void set_value(sim_hw *hw, const cal_param *p, double v)
{
    switch (p->kind) {
    case CP_GROUPED_MAX: hw->eff.grouped_gemm[p->dt].max = v; break;
    case CP_GROUPED_HALF: hw->eff.grouped_gemm[p->dt].half = v; break;
    case CP_SMALL_MAX: hw->eff.grouped_gemm[p->dt].small_max = v; break;
    case CP_SMALL_HALF: hw->eff.grouped_gemm[p->dt].small_half = v; break;
    case CP_GEMM_MAX: hw->eff.gemm[p->dt].max = v; break;
    case CP_GEMM_HALF: hw->eff.gemm[p->dt].half = v; break;
    case CP_MEM_MAX: hw->eff.memory.max = v; break;
    case CP_MEM_HALF: hw->eff.memory.half = v; break;
    case CP_KERNEL: hw->eff.kernel_overhead_s = v; break;
    case CP_GROUP: hw->eff.grouped_gemm[p->dt].group_s = v; break;
    case CP_SMALL_GROUP: hw->eff.grouped_gemm[p->dt].small_group_s = v; break;
    case CP_DEQUANT: hw->eff.dequant_elems_per_s[p->fmt] = v; break;
    }
}

void cal_hw_set_kernel_switch(sim_hw *hw, const cal_set *s, int rows)
{
    if (rows <= 0)
        return;
    for (int i = 0; i < s->n; i++) {
        sim_dtype dt;
        if (s->p[i].kind != CAL_LAYER || compute_type(hw, s->p[i].fmt, &dt) != 0)
            continue;
        sim_curve *c = &hw->eff.grouped_gemm[dt];
        if (c->small_rows <= 0) {
            c->small_max = c->max;
            c->small_half = c->half;
            c->small_group_s = c->group_s;
        }
        c->small_rows = rows;
    }
}

static void apply_ties(const cal_fit *f, sim_hw *hw)
{
    for (int t = 0; t < SIM_DT_COUNT; t++)
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
    sim_routing_cache *routing; /* the fit's memo: the routing of a point does not depend on the parameters */
    int freep[CAL_MAX_PARAMS];   /* parameters the solver moves; the others stay at their priors */
    int nfree;
    double *r;               /* scratch residuals [n] */
    int failed;              /* a prediction failed: stop */
    sim_err err;
} problem;

/* The hwmodel at transformed values u[0..np) (every parameter, free or not). */
static void load_u(problem *pb, const double *u)
{
    cal_fit *f = pb->f;
    for (int j = 0; j < f->np; j++)
        set_value(&pb->hw, &f->p[j], cal_param_physical(f->p[j].kind, u[j]));
    apply_ties(f, &pb->hw);
}

/* log(pred / meas) for every fitted point into r[0..n). */
static int data_residuals(problem *pb, const double *u, double *r)
{
    load_u(pb, u);
    for (int i = 0; i < pb->n; i++) {
        const cal_point *p = &pb->s->p[pb->idx[i]];
        double t = 0;
        if (cal_predict(&pb->hw, p, pb->routing, &t, &pb->err) != SIM_OK) {
            pb->failed = 1;
            return -1;
        }
        r[i] = log(t / p->measured_s);
    }
    return 0;
}

static void full_u(const problem *pb, const gsl_vector *x, double *u)
{
    for (int j = 0; j < pb->f->np; j++)
        u[j] = cal_param_unconstrained(pb->f->p[j].kind, pb->f->p[j].prior);
    for (int q = 0; q < pb->nfree; q++)
        u[pb->freep[q]] = gsl_vector_get(x, (size_t)q);
}

static int residuals(const gsl_vector *x, void *params, gsl_vector *fv)
{
    problem *pb = params;
    double u[CAL_MAX_PARAMS];
    full_u(pb, x, u);
    /* GSL hands in views with a stride (columns of the Jacobian): fill through the API */
    if (data_residuals(pb, u, pb->r) != 0)
        return GSL_EBADFUNC;
    for (int i = 0; i < pb->n; i++)
        gsl_vector_set(fv, (size_t)i, pb->r[i]);
    for (int q = 0; q < pb->nfree; q++) {
        const cal_param *c = &pb->f->p[pb->freep[q]];
        double w = c->no_prior ? 0 : pb->f->prior_weight;
        gsl_vector_set(fv, (size_t)(pb->n + q), w * (gsl_vector_get(x, (size_t)q) - cal_param_unconstrained(c->kind, c->prior)));
    }
    return GSL_SUCCESS;
}

/* rms over the fitted points of d log(pred) / d u_j at u (forward difference). */
static double sensitivity(problem *pb, double *u, int j, double *r0, double *r1)
{
    const double h = 1e-3;
    double keep = u[j];
    if (data_residuals(pb, u, r0) != 0)
        return 0;
    u[j] = keep + h;
    int bad = data_residuals(pb, u, r1);
    u[j] = keep;
    if (bad)
        return 0;
    double ss = 0;
    for (int i = 0; i < pb->n; i++)
        ss += (r1[i] - r0[i]) * (r1[i] - r0[i]) / (h * h);
    return pb->n ? sqrt(ss / pb->n) : 0;
}

typedef struct solution {
    double cost;
    int iters, info;
} solution;

/* One trust-region solve from x (the free parameters); x receives the solution. */
static solution solve_from(problem *pb, gsl_vector *x, gsl_matrix *covar)
{
    solution so = { INFINITY, 0, 0 };
    size_t n = (size_t)(pb->n + pb->nfree), p = (size_t)pb->nfree;
    gsl_multifit_nlinear_parameters prm = gsl_multifit_nlinear_default_parameters();
    prm.trs = gsl_multifit_nlinear_trs_lm;
    prm.scale = gsl_multifit_nlinear_scale_more;
    gsl_multifit_nlinear_workspace *w = gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &prm, n, p);
    if (!w)
        return so;
    gsl_multifit_nlinear_fdf fdf = { .f = residuals, .df = NULL, .fvv = NULL, .n = n, .p = p, .params = pb };
    if (gsl_multifit_nlinear_init(x, &fdf, w) == GSL_SUCCESS) {
        int info = 0;
        int st = gsl_multifit_nlinear_driver(300, 1e-10, 1e-10, 1e-12, NULL, NULL, &info, w);
        if (!pb->failed && (st == GSL_SUCCESS || st == GSL_EMAXITER || st == GSL_ENOPROG)) {
            gsl_vector_memcpy(x, gsl_multifit_nlinear_position(w));
            gsl_vector *fv = gsl_multifit_nlinear_residual(w);
            gsl_blas_ddot(fv, fv, &so.cost);
            so.iters = (int)gsl_multifit_nlinear_niter(w);
            so.info = st == GSL_EMAXITER ? -1 : st == GSL_ENOPROG ? -2 : info;
            if (covar)
                gsl_multifit_nlinear_covar(gsl_multifit_nlinear_jac(w), 0.0, covar);
        }
    }
    gsl_multifit_nlinear_free(w);
    return so;
}

static const char *stop_word(int info)
{
    switch (info) {
    case 1: return "converged (step size)";
    case 2: return "converged (gradient)";
    case -1: return "stopped at the iteration limit";
    case -2: return "stopped: no further progress possible";
    default: return "converged";
    }
}

/* A parameter whose prior moves the fitted predictions by less than this per unit (a factor
 * e, or a logit step) is not measured by these points: it is held at its prior, so that it
 * cannot soak up what other terms leave unexplained (a per-kernel overhead of milliseconds
 * standing in for a slow kernel). */
#define GATE 0.05

/* Probes: 0 = the priors; 1 = compute 10x slower (every GEMM max / 10); 2 = memory 10x slower;
 * 3 = unpacking 10x slower (a prior's rate can make it a few % of a layer: laptop-ddr5's 512
 * Gelem/s is 6% of Qwen3's INT4_G32 layer at one token here, under the gate). */
#define N_PROBES 4

static void probe_u(const cal_fit *f, int probe, double half_scale, double *u)
{
    for (int j = 0; j < f->np; j++) {
        const cal_param *c = &f->p[j];
        double v = c->start;
        if ((probe == 1 && (c->kind == CP_GROUPED_MAX || c->kind == CP_SMALL_MAX || c->kind == CP_GEMM_MAX)) ||
            (probe == 2 && c->kind == CP_MEM_MAX) || (probe == 3 && c->kind == CP_DEQUANT))
            v /= 10;
        if (c->kind == CP_GROUPED_HALF || c->kind == CP_SMALL_HALF || c->kind == CP_GEMM_HALF)
            v = (v > 1 ? v : 1) * half_scale;
        u[j] = cal_param_unconstrained(c->kind, v);
    }
}

static int fit_once(cal_fit *f, sim_hw *hw, cal_set *s, sim_err *err)
{
    problem pb = { .f = f, .hw = *hw, .s = s };
    pb.idx = calloc((size_t)s->n + 1, sizeof *pb.idx);
    double *r0 = calloc((size_t)s->n + 1, sizeof *r0), *r1 = calloc((size_t)s->n + 1, sizeof *r1);
    if (!pb.idx || !r0 || !r1) {
        free(pb.idx), free(r0), free(r1);
        return sim_fail(err, SIM_EFAIL, "out of memory");
    }
    for (int i = 0; i < s->n; i++)
        if (s->p[i].fitted && (s->p[i].kind == CAL_LAYER || s->p[i].kind == CAL_GEMM))
            pb.idx[pb.n++] = i;
    double *scratch = calloc((size_t)s->n + 1, sizeof *scratch);
    if (!scratch) {
        free(pb.idx), free(r0), free(r1);
        return sim_fail(err, SIM_EFAIL, "out of memory");
    }
    pb.r = scratch;
    pb.routing = sim_routing_cache_alloc(); /* NULL only costs speed */

    /* Which parameters the points can see, judged at the probes: a parameter on the side of a
     * max() the priors leave idle (compute, when the priors make every point memory-bound)
     * becomes visible at the probe that slows the other side. */
    double u[CAL_MAX_PARAMS];
    for (int j = 0; j < f->np; j++) {
        f->p[j].free = false;
        for (int pr = 0; pr < 2 * N_PROBES && !f->p[j].free && !f->p[j].held_by; pr++) {
            probe_u(f, pr % N_PROBES, pr < N_PROBES ? 1 : 10, u); /* half-points as given, then x10 */
            f->p[j].free = sensitivity(&pb, u, j, r0, r1) >= GATE;
        }
        if (f->p[j].free)
            pb.freep[pb.nfree++] = j;
    }
    int rc = SIM_OK;
    if (pb.failed) {
        *err = pb.err;
        rc = pb.err.code;
    }
    const size_t p = (size_t)(pb.nfree ? pb.nfree : 1);
    gsl_vector *x = gsl_vector_alloc(p), *best = gsl_vector_alloc(p);
    gsl_matrix *covar = gsl_matrix_alloc(p, p);
    if (rc == SIM_OK && (!x || !best || !covar))
        rc = sim_fail(err, SIM_EFAIL, "out of memory for the fit");
    gsl_error_handler_t *old = gsl_set_error_handler_off();

    /* Starts: each probe; then the priors with every curve's half-point scaled by 1/10 and by
     * 10, since the max() of compute and memory time gives the cost surface several valleys. */
    solution bs = { INFINITY, 0, 0 };
    static const struct { int probe; double half; } starts[] = { { 0, 1 }, { 1, 1 }, { 2, 1 }, { 0, 0.1 }, { 0, 10 } };
    for (size_t st = 0; rc == SIM_OK && pb.nfree > 0 && st < sizeof starts / sizeof starts[0]; st++) {
        probe_u(f, starts[st].probe, starts[st].half, u);
        for (int q = 0; q < pb.nfree; q++)
            gsl_vector_set(x, (size_t)q, u[pb.freep[q]]);
        solution so = solve_from(&pb, x, NULL);
        if (pb.failed) {
            *err = pb.err;
            rc = pb.err.code;
        } else if (so.cost < bs.cost) {
            bs = so;
            gsl_vector_memcpy(best, x);
        }
    }
    if (rc == SIM_OK && pb.nfree > 0 && !isfinite(bs.cost))
        rc = sim_fail(err, SIM_EFAIL, "calibration: the fit did not converge from any start");
    if (rc == SIM_OK) {
        gsl_matrix_set_identity(covar);
        if (pb.nfree > 0) {
            /* once more from the best start, for its covariance */
            gsl_vector_memcpy(x, best);
            solution so = solve_from(&pb, x, covar);
            if (!(so.cost <= bs.cost))
                gsl_vector_memcpy(x, best);
            f->iterations = bs.iters;
            f->status = stop_word(bs.info);
        } else {
            f->status = "nothing to fit: no parameter is visible in these points";
        }
        full_u(&pb, x, u);
        data_residuals(&pb, u, r0);
        double ss = 0;
        for (int i = 0; i < pb.n; i++)
            ss += r0[i] * r0[i];
        f->rms_log_fit = pb.n ? sqrt(ss / pb.n) : 0;
        double s2 = pb.n > pb.nfree ? ss / (pb.n - pb.nfree) : ss;
        s2 = s2 > 1e-6 ? s2 : 1e-6;
        for (int j = 0, q = 0; j < f->np; j++) {
            cal_param *c = &f->p[j];
            c->value = c->lo = c->hi = cal_param_physical(c->kind, u[j]);
            c->sensitivity = sensitivity(&pb, u, j, r0, r1);
            if (c->free) {
                double sd = sqrt(fabs(gsl_matrix_get(covar, (size_t)q, (size_t)q)) * s2);
                c->lo = cal_param_physical(c->kind, u[j] - sd);
                c->hi = cal_param_physical(c->kind, u[j] + sd);
                q++;
            }
        }
        cal_fit_apply(f, hw);
        for (int i = 0; rc == SIM_OK && i < s->n; i++)
            if (s->p[i].kind == CAL_LAYER || s->p[i].kind == CAL_GEMM)
                rc = cal_predict(hw, &s->p[i], pb.routing, &s->p[i].predicted_s, err);
    }
    gsl_set_error_handler(old);
    gsl_vector_free(x);
    gsl_vector_free(best);
    gsl_matrix_free(covar);
    free(pb.idx), free(r0), free(r1), free(scratch);
    sim_routing_cache_free(pb.routing);
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* A fitted point this far from the fit, in robust standard deviations (1.4826 x the median
 * absolute log error), and at least 50% off, is an outlier: a stall from other work on the
 * machine (a 32 ms GEMM among 3 ms ones), not a property of the hardware. */
#define OUTLIER_SIGMAS 4.0
#define OUTLIER_MIN_LOG 0.405 /* log(1.5) */

int cal_fit_run(cal_fit *f, sim_hw *hw, cal_set *s, sim_err *err)
{
    const sim_hw start = *hw;
    int rc = fit_once(f, hw, s, err);
    if (rc)
        return rc;
    double *r = calloc((size_t)s->n + 1, sizeof *r);
    if (!r)
        return sim_fail(err, SIM_EFAIL, "out of memory");
    int n = 0;
    for (int i = 0; i < s->n; i++)
        if (s->p[i].fitted && (s->p[i].kind == CAL_LAYER || s->p[i].kind == CAL_GEMM))
            r[n++] = fabs(log(s->p[i].predicted_s / s->p[i].measured_s));
    qsort(r, (size_t)n, sizeof *r, cmp_double);
    double mad = n ? r[n / 2] : 0, limit = fmax(OUTLIER_SIGMAS * 1.4826 * mad, OUTLIER_MIN_LOG);
    free(r);
    int dropped = 0;
    for (int i = 0; i < s->n && n > 4; i++) {
        cal_point *p = &s->p[i];
        if (p->fitted && (p->kind == CAL_LAYER || p->kind == CAL_GEMM) &&
            fabs(log(p->predicted_s / p->measured_s)) > limit) {
            p->fitted = false;
            p->outlier = true;
            dropped++;
        }
    }
    if (!dropped)
        return SIM_OK;
    /* once more without them, from the same start */
    cal_fit again = *f;
    for (int j = 0; j < again.np; j++)
        again.p[j].value = again.p[j].prior;
    again.n_fitted -= dropped;
    *hw = start;
    rc = fit_once(&again, hw, s, err);
    if (rc == SIM_OK) {
        *f = again;
        f->outliers = dropped;
    }
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
