/* cal_fit.h: fitting a hardware model's efficiencies to measured times with GSL's non-linear
 * least squares. Every prediction comes from the simulator's own formulas (sim_moe_layer_eval
 * for a MoE layer, sim_gemm_time for one GEMM), so the fitted figures mean what the step
 * model means by them. Parameters stay physical through transforms: efficiencies through a
 * logistic (always in (0, 1)), half-points and overheads through exp (always > 0). */
#ifndef MOESIM_CAL_FIT_H
#define MOESIM_CAL_FIT_H

#include <stdbool.h>
#include <stddef.h>

#include "model/hw.h"
#include "cal_points.h"

typedef enum {
    CP_GROUPED_MAX,   /* efficiency.grouped_gemm.<dt>.max */
    CP_GROUPED_HALF,  /* efficiency.grouped_gemm.<dt>.half, tokens per expert */
    CP_SMALL_MAX,     /* efficiency.grouped_gemm.<dt>.small.max: the kernel at or below the switch */
    CP_SMALL_HALF,    /* efficiency.grouped_gemm.<dt>.small.half */
    CP_GEMM_MAX,      /* efficiency.gemm.<dt>.max */
    CP_GEMM_HALF,     /* efficiency.gemm.<dt>.half, rows */
    CP_MEM_MAX,       /* efficiency.memory.max */
    CP_MEM_HALF,      /* efficiency.memory.half, bytes */
    CP_KERNEL,        /* efficiency.kernel_overhead, seconds */
    CP_GROUP,         /* efficiency.grouped_gemm.<dt>.overhead: seconds per expert FFN */
    CP_SMALL_GROUP,   /* efficiency.grouped_gemm.<dt>.small.overhead */
    CP_DEQUANT,       /* efficiency.dequant_gelem_s.<fmt>: unpacking rate of a packed format, elements/s */
} cal_param_kind;

typedef struct cal_param {
    cal_param_kind kind;
    sim_dtype dt;            /* for the curves */
    sim_wformat fmt;         /* for CP_DEQUANT */
    double prior;            /* physical value the fit is gently held to (and starts from) */
    double start;            /* physical value the fit starts from: the prior, or for a parameter the
                                base has no figure for (no_prior) one the points would show */
    bool no_prior;           /* the base gives 0 ("none"): no pull toward it */
    double value;            /* fitted, physical */
    double lo, hi;           /* one standard deviation either side, physical */
    bool free;               /* moved by the fit; false = held at the prior (see held_by) */
    const char *held_by;     /* NULL, or what measured this parameter directly, so that the fit must not
                                move it (memory.max: the triad); then it is held whatever its sensitivity */
    double sensitivity;      /* rms change of log(predicted time) over the fitted points per unit of
                                the transformed parameter: near 0 = the data do not pin it down */
} cal_param;

#define CAL_MAX_PARAMS 28

typedef struct cal_fit {
    cal_param p[CAL_MAX_PARAMS];
    int np;
    bool tied[SIM_DT_COUNT];     /* gemm.<dt> follows grouped_gemm.<dt>: no dense GEMM of that type was
                                measured, and the engine runs dense FFNs (shared experts) with the
                                same kernels as the routed ones */
    double prior_weight;     /* weight of (u - u_prior) against the log-ratio residuals */
    int n_fitted;            /* measured points the fit used */
    int outliers;            /* fitted points dropped as outliers before the final fit */
    int iterations;
    const char *status;      /* GSL's word for how it stopped */
    double rms_log_fit;      /* rms of log(predicted / measured) over the fitted points */
} cal_fit;

/* Name of a parameter as the hwmodel spells it ("grouped_gemm.bf16.max"). */
const char *cal_param_name(const cal_param *p, char *buf, size_t cap);

/* The transforms: u (unconstrained) <-> physical value. */
double cal_param_physical(cal_param_kind k, double u);
double cal_param_unconstrained(cal_param_kind k, double x);

/* Choose what to fit from the points on hardware `hw` (its peaks and bandwidth are the
 * basis; its efficiencies are the priors): a grouped-GEMM curve with its fixed cost per
 * expert per compute type the layers ran in (and its small-rows regime where the curve has a
 * kernel switch: see cal_hw_set_kernel_switch), a dense curve per type of fitted GEMM points,
 * memory (max, half; max held where a triad measured it), the per-kernel overhead, and the
 * unpacking rate of each packed format the layers ran in (int4_g32). Fails if there is nothing
 * to fit. */
int cal_fit_setup(cal_fit *f, const sim_hw *hw, const cal_set *s, sim_err *err);

/* Give hw's grouped-GEMM curves of the types the layers in s ran in a kernel switch at `rows`
 * rows per expert (the engine's, from cal_set_kernel_switch). A curve with no small regime yet
 * starts it at the curve's own values, so the prior is the one-kernel curve. */
void cal_hw_set_kernel_switch(sim_hw *hw, const cal_set *s, int rows);

/* Write the fit's values (value, not prior) into hw's efficiencies, ties included. */
void cal_fit_apply(const cal_fit *f, sim_hw *hw);

/* The simulator's time for one layer or GEMM point on hw. `routing` (may be NULL) memoizes the
 * routing statistics across calls; it is the caller's (step/routing.h). */
struct sim_routing_cache;
int cal_predict(const sim_hw *hw, const cal_point *p, struct sim_routing_cache *routing, double *seconds,
                sim_err *err);

/* Fit: minimise sum over fitted points of log(pred/meas)^2 plus prior_weight^2 (u - u_prior)^2
 * (trust region, finite-difference Jacobian, a few starts) over the parameters the points can
 * see (at the priors, a unit change moves the predictions by 5% rms or more); the others stay
 * at their priors. A fitted point far off the first fit (4 robust sigmas, and 50%) is marked
 * an outlier and the fit is run again without it. Then predict every layer and GEMM point
 * (predicted_s) with the fitted hardware model, written into *hw. */
int cal_fit_run(cal_fit *f, sim_hw *hw, cal_set *s, sim_err *err);

/* Alpha-beta of the all-to-all points: t = alpha + bytes / beta. Returns SIM_OK with *n = 0
 * when there are fewer than two such points. */
int cal_fit_alpha_beta(cal_set *s, double *alpha_s, double *beta_Bps, double *rms_log, int *n, sim_err *err);

#endif
