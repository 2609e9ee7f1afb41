/* cal_output.c: the calibration report (a table on stdout), the calibrated hwmodel file, and
 * the kernel table beside it (calibrated/kernels/NAME.json, the format published tables use).
 * The file is the base hwmodel with what this run measured put in place, every replaced
 * figure's source saying so, and a `calibration` object holding provenance, the fit and the
 * raw measurements, so a later run (or a reader) can see what the numbers rest on. */
#include "cal_output.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include "base/jsonfile.h"
#include "model/kernels.h"
#include "step/routing.h"

static const char *role(const cal_point *p)
{
    return p->held_out ? "held out" : p->fitted ? "fitted" : p->outlier ? "outlier, not fitted" : "not fitted";
}

static double err_pct(const cal_point *p)
{
    return 100.0 * (p->predicted_s - p->measured_s) / p->measured_s;
}

void cal_errors_compute(const cal_set *s, cal_errors *e)
{
    memset(e, 0, sizeof *e);
    e->worst = -1;
    for (int i = 0; i < s->n; i++) {
        const cal_point *p = &s->p[i];
        if (p->kind != CAL_LAYER || p->predicted_s <= 0 || (!p->held_out && !p->fitted))
            continue;
        double a = fabs(err_pct(p));
        if (p->held_out) {
            e->n_held++;
            e->mape_held += a;
            if (e->worst < 0 || a > fabs(e->worst_pct)) {
                e->worst = i;
                e->worst_pct = err_pct(p);
            }
        } else {
            e->n_fit++;
            e->mape_fit += a;
        }
    }
    if (e->n_held)
        e->mape_held /= e->n_held;
    if (e->n_fit)
        e->mape_fit /= e->n_fit;
}

/* Four significant digits: the files are read by people too. */
static double r4(double x)
{
    char b[32];
    snprintf(b, sizeof b, "%.4g", x);
    return strtod(b, NULL);
}

static double param_display(const cal_param *p, double v)
{
    if (p->kind == CP_DEQUANT)
        return v / 1e9; /* Gelem/s, as dequant_gelem_s */
    return p->kind == CP_MEM_HALF ? v / 1e6 : p->kind == CP_KERNEL || p->kind == CP_GROUP || p->kind == CP_SMALL_GROUP ? v * 1e6 : v;
}

/* Sensitivity below this: changing the parameter by a factor e moves the fitted predictions
 * by under 2% rms, i.e. the measurements do not determine it; it stays near its prior. */
#define CONSTRAINED 0.02

void cal_report_print(FILE *f, const cal_set *s, const cal_fit *fit, const cal_errors *e, const cal_meta *m)
{
    const cal_file *f0 = s->nfiles > 0 ? &s->files[0] : NULL;
    fprintf(f, "calibration of %s (%s), backend %s%s%s%s%s, base %s\n", m->name, m->device, m->backend,
            f0 && f0->cpu_kernels[0] ? ", kernels " : "", f0 ? f0->cpu_kernels : "",
            f0 && f0->cpu_prefetch[0] ? ", prefetch " : "", f0 ? f0->cpu_prefetch : "", m->base_name);
    fprintf(f, "%-18s %-5s %6s %13s %12s %12s %8s  %s\n", "shape", "dtype", "tokens", "touched/unif", "measured_ms",
            "predicted_ms", "error_%", "role");
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < s->n; i++) {
            const cal_point *p = &s->p[i];
            if (p->kind != (pass == 0 ? CAL_LAYER : CAL_GEMM) || p->predicted_s <= 0)
                continue;
            char touched[32] = "";
            if (p->kind == CAL_LAYER)
                snprintf(touched, sizeof touched, "%.0f/%.1f", p->touched,
                         sim_routing_distinct_uniform(p->experts, p->top_k, p->tokens * p->ep));
            fprintf(f, "%-18s %-5s %6.0f %13s %12.4g %12.4g %+8.1f  %s\n", p->shape, sim_wformat_name(p->fmt), p->tokens,
                    touched, p->measured_s * 1e3, p->predicted_s * 1e3, err_pct(p), role(p));
        }
    if (e->n_held) {
        const cal_point *w = &s->p[e->worst];
        fprintf(f, "held-out MAPE %.1f%% over %d MoE layer points; worst: %s %s %.0f tokens, %+.1f%%\n", e->mape_held,
                e->n_held, w->shape, sim_wformat_name(w->fmt), w->tokens, e->worst_pct);
    } else {
        fprintf(f, "no point held out: no prediction error to report\n");
    }
    fprintf(f, "fitted MoE layer points: MAPE %.1f%% over %d; fit rms log error %.3f over %d points (%s, %d iterations)%s\n",
            e->mape_fit, e->n_fit, fit->rms_log_fit, fit->n_fitted, fit->status ? fit->status : "?", fit->iterations,
            fit->outliers ? "; outliers left out, listed above" : "");
    fprintf(f, "fitted efficiencies (1-sigma range; prior from %s):\n", m->base_name);
    for (int j = 0; j < fit->np; j++) {
        const cal_param *p = &fit->p[j];
        char name[64];
        double lo = param_display(p, p->lo), hi = param_display(p, p->hi);
        char range[64]; /* a 1-sigma range the data cannot bound is said so, never printed as NaN */
        if (isfinite(lo) && isfinite(hi))
            snprintf(range, sizeof range, "%.3g-%.3g", lo, hi);
        else
            snprintf(range, sizeof range, "range not constrained");
        fprintf(f, "  %-24s %10.4g  (%s; prior %.4g)%s%s\n", cal_param_name(p, name, sizeof name),
                param_display(p, p->value), range, param_display(p, p->prior),
                p->held_by ? "  held: measured by " : !p->free ? "  held at the prior: these measurements cannot see it"
                : p->sensitivity < CONSTRAINED ? "  weakly constrained by these measurements" : "",
                p->held_by ? p->held_by : "");
    }
    for (int t = 0; t < SIM_DT_COUNT; t++)
        if (fit->tied[t])
            fprintf(f, "  gemm.%s follows grouped_gemm.%s (no dense %s GEMM measured; the engine runs shared experts "
                       "with the routed experts' kernels)\n",
                    sim_dtype_name((sim_dtype)t), sim_dtype_name((sim_dtype)t), sim_dtype_name((sim_dtype)t));
    if (m->ab_points > 0)
        fprintf(f, "all-to-all (%d points): alpha %.3g us, beta %.3g GB/s, rms log error %.3f\n", m->ab_points,
                m->alpha_s * 1e6, m->beta_Bps / 1e9, m->ab_rms);
}

/* ---- the file ------------------------------------------------------------------------ */

static void set_item(cJSON *obj, const char *key, cJSON *v)
{
    if (cJSON_GetObjectItemCaseSensitive(obj, key))
        cJSON_ReplaceItemInObjectCaseSensitive(obj, key, v);
    else
        cJSON_AddItemToObject(obj, key, v);
}

static void set_num(cJSON *obj, const char *key, double v)
{
    set_item(obj, key, cJSON_CreateNumber(r4(v)));
}

static void set_str(cJSON *obj, const char *key, const char *v)
{
    set_item(obj, key, cJSON_CreateString(v));
}

/* "From base hwmodel X (not measured by calibration): <old source>" on a kept object. */
static void mark_from_base(cJSON *root, const char *key, const char *base)
{
    cJSON *o = cJSON_GetObjectItemCaseSensitive(root, key);
    const cJSON *src = o ? cJSON_GetObjectItemCaseSensitive(o, "source") : NULL;
    if (!cJSON_IsString(src))
        return;
    size_t n = strlen(src->valuestring) + strlen(base) + 96;
    char *s = malloc(n);
    if (!s)
        return;
    snprintf(s, n, "From base hwmodel %s (not measured by calibration): %s", base, src->valuestring);
    set_str(o, "source", s);
    free(s);
}

static cJSON *curve_json(sim_curve c)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "max", r4(c.max));
    cJSON_AddNumberToObject(o, "half", r4(c.half));
    if (c.group_s > 1e-8) /* below 10 ns: none (a held "no prior" sits at the transform's floor) */
        cJSON_AddNumberToObject(o, "overhead_us", r4(c.group_s * 1e6));
    if (c.small_rows > 0) {
        cJSON *small = cJSON_AddObjectToObject(o, "small");
        cJSON_AddNumberToObject(small, "rows", c.small_rows);
        cJSON_AddNumberToObject(small, "max", r4(c.small_max));
        cJSON_AddNumberToObject(small, "half", r4(c.small_half));
        if (c.small_group_s > 1e-8)
            cJSON_AddNumberToObject(small, "overhead_us", r4(c.small_group_s * 1e6));
    }
    return o;
}

static const cal_param *find_param(const cal_fit *fit, cal_param_kind k, sim_dtype dt)
{
    for (int j = 0; j < fit->np; j++)
        if (fit->p[j].kind == k && (fit->p[j].dt == dt || k == CP_MEM_MAX || k == CP_MEM_HALF || k == CP_KERNEL))
            return &fit->p[j];
    return NULL;
}

static cJSON *efficiency_json(const cJSON *base_eff, const sim_hw *hw, const cal_fit *fit, const cal_meta *m)
{
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "provenance", "calibrated");
    char src[1400], fitted[400] = "", tied[200] = "";
    for (int j = 0; j < fit->np; j++) {
        char name[64];
        if (fit->p[j].kind == CP_GROUPED_HALF || fit->p[j].kind == CP_SMALL_HALF || fit->p[j].kind == CP_GEMM_HALF ||
            fit->p[j].kind == CP_MEM_HALF || fit->p[j].kind == CP_GROUP || fit->p[j].kind == CP_SMALL_GROUP)
            continue; /* named with its max */
        cal_param_name(&fit->p[j], name, sizeof name);
        char *dot = strrchr(name, '.');
        if (dot && fit->p[j].kind != CP_KERNEL && fit->p[j].kind != CP_DEQUANT)
            *dot = '\0';
        snprintf(fitted + strlen(fitted), sizeof fitted - strlen(fitted), "%s%s", fitted[0] ? ", " : "", name);
    }
    for (int t = 0; t < SIM_DT_COUNT; t++)
        if (fit->tied[t])
            snprintf(tied + strlen(tied), sizeof tied - strlen(tied), "%sgemm.%s = grouped_gemm.%s", tied[0] ? ", " : "",
                     sim_dtype_name((sim_dtype)t), sim_dtype_name((sim_dtype)t));
    char regime[200] = "";
    for (int t = 0; t < SIM_DT_COUNT && !regime[0]; t++)
        if (find_param(fit, CP_SMALL_MAX, (sim_dtype)t))
            snprintf(regime, sizeof regime,
                     "grouped_gemm.<type>.small is the engine's kernel for experts with at most %d rows, fitted apart "
                     "from the larger ones (its bench kernel_switch). ",
                     hw->eff.grouped_gemm[t].small_rows);
    snprintf(src, sizeof src,
             "Fitted by moesim calibrate (%s, %s) to %d points measured with moe-engine on %s: %s, by GSL "
             "multifit_nlinear (trust region, residuals log(predicted/measured) of the simulator's own layer and GEMM "
             "times). %s%s%srelative to this file's compute peaks and tier-0 bandwidth. attention_decode.mem_max = "
             "memory.max. Not measured, kept from base %s: attention compute, half_tokens, the unpacking rates "
             "(dequant_gelem_s) of formats not in dequant_measured, step overhead, links. Types not listed fall back "
             "to the nearest listed one.",
             m->plan, m->date, fit->n_fitted, m->device, fitted, regime, tied,
             tied[0] ? " (the engine runs shared experts with the routed experts' kernels); " : "",
             m->base_name);
    cJSON_AddStringToObject(e, "source", src);
    /* Every compute type the device has: the measured ones as fitted, the others as the base's
     * priors marked "measured": false, so that no type inherits another's fit (the loader fills
     * an unlisted type from the nearest listed one). */
    cJSON *g = cJSON_AddObjectToObject(e, "gemm"), *gg = cJSON_AddObjectToObject(e, "grouped_gemm");
    for (int t = 0; t < SIM_DT_COUNT; t++) {
        bool gemm_fit = find_param(fit, CP_GEMM_MAX, (sim_dtype)t) || fit->tied[t];
        bool grouped_fit = find_param(fit, CP_GROUPED_MAX, (sim_dtype)t) != NULL;
        if (!gemm_fit && !grouped_fit && !(hw->peak_flops[t] > 0))
            continue;
        cJSON *gc = curve_json(hw->eff.gemm[t]), *ggc = curve_json(hw->eff.grouped_gemm[t]);
        cJSON_AddBoolToObject(gc, "measured", gemm_fit);
        cJSON_AddBoolToObject(ggc, "measured", grouped_fit);
        cJSON_AddItemToObject(g, sim_dtype_name((sim_dtype)t), gc);
        cJSON_AddItemToObject(gg, sim_dtype_name((sim_dtype)t), ggc);
    }
    cJSON *mem = cJSON_AddObjectToObject(e, "memory");
    cJSON_AddNumberToObject(mem, "max", r4(hw->eff.memory.max));
    cJSON_AddNumberToObject(mem, "half_mb", r4(hw->eff.memory.half / 1e6));
    cJSON *ad = cJSON_AddObjectToObject(e, "attention_decode");
    cJSON_AddNumberToObject(ad, "mem_max", r4(hw->eff.memory.max));
    cJSON_AddNumberToObject(ad, "half_tokens", r4(hw->eff.attn_decode_mem.half));
    cJSON_AddNumberToObject(ad, "compute", r4(hw->eff.attn_decode_compute));
    cJSON *ap = cJSON_AddObjectToObject(e, "attention_prefill");
    cJSON_AddNumberToObject(ap, "compute", r4(hw->eff.attn_prefill_compute));
    /* the base's unpacking rates, with those this run fitted in place and named in
     * dequant_measured (the others stay priors, and an eval of their formats says so) */
    const cJSON *dq = cJSON_GetObjectItemCaseSensitive(base_eff, "dequant_gelem_s");
    cJSON *dqo = dq ? cJSON_Duplicate(dq, 1) : NULL, *dqm = NULL;
    for (int j = 0; j < fit->np; j++) {
        if (fit->p[j].kind != CP_DEQUANT)
            continue;
        if (!dqo)
            dqo = cJSON_CreateObject();
        if (!dqm)
            dqm = cJSON_CreateArray();
        set_num(dqo, sim_wformat_name(fit->p[j].fmt), hw->eff.dequant_elems_per_s[fit->p[j].fmt] / 1e9);
        cJSON_AddItemToArray(dqm, cJSON_CreateString(sim_wformat_name(fit->p[j].fmt)));
    }
    if (dqo)
        cJSON_AddItemToObject(e, "dequant_gelem_s", dqo);
    if (dqm)
        cJSON_AddItemToObject(e, "dequant_measured", dqm);
    cJSON_AddNumberToObject(e, "kernel_overhead_us", r4(hw->eff.kernel_overhead_s * 1e6));
    cJSON_AddNumberToObject(e, "step_overhead_us", r4(hw->eff.step_overhead_s * 1e6));
    const cJSON *link = cJSON_GetObjectItemCaseSensitive(base_eff, "link");
    if (link)
        cJSON_AddItemToObject(e, "link", cJSON_Duplicate(link, 1));
    return e;
}

static cJSON *point_json(const cal_point *p)
{
    static const char *const kinds[] = { "moe_layer", "gemm", "triad", "alltoall" };
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kind", kinds[p->kind]);
    cJSON_AddStringToObject(o, "shape", p->shape);
    cJSON_AddNumberToObject(o, "bench", p->file); /* index into provenance.bench_commands */
    if (p->kind == CAL_LAYER || p->kind == CAL_GEMM)
        cJSON_AddStringToObject(o, "dtype", sim_wformat_name(p->fmt));
    if (p->kind == CAL_LAYER) {
        cJSON_AddNumberToObject(o, "tokens", p->tokens);
        cJSON_AddNumberToObject(o, "ep", p->ep);
        cJSON_AddNumberToObject(o, "experts_touched", p->touched);
    } else if (p->kind == CAL_GEMM) {
        cJSON_AddNumberToObject(o, "m", p->m);
        cJSON_AddNumberToObject(o, "n", p->n);
        cJSON_AddNumberToObject(o, "k", p->k);
    } else {
        if (p->kind == CAL_ALLTOALL) {
            cJSON_AddNumberToObject(o, "tokens", p->tokens);
            cJSON_AddNumberToObject(o, "ep", p->ep);
        }
        cJSON_AddNumberToObject(o, "bytes", p->bytes);
    }
    cJSON_AddNumberToObject(o, "min_s", r4(p->measured_s));
    cJSON_AddNumberToObject(o, "median_s", r4(p->median_s));
    cJSON_AddNumberToObject(o, "p10_s", r4(p->p10_s));
    cJSON_AddNumberToObject(o, "p90_s", r4(p->p90_s));
    cJSON_AddNumberToObject(o, "rounds", p->rounds);
    if (p->predicted_s > 0) {
        cJSON_AddNumberToObject(o, "predicted_s", r4(p->predicted_s));
        cJSON_AddNumberToObject(o, "error_pct", r4(err_pct(p)));
    }
    cJSON_AddStringToObject(o, "role", p->kind == CAL_TRIAD ? "tier-0 bandwidth" : role(p));
    return o;
}

static cJSON *calibration_json(const cal_set *s, const cal_fit *fit, const cal_errors *e, const cal_meta *m)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "source", "moesim calibrate: moe-engine bench on this host, fitted to the simulator's "
                                         "step model (calibrate/README.md)");
    cJSON *pv = cJSON_AddObjectToObject(c, "provenance");
    cJSON_AddStringToObject(pv, "device", m->device);
    cJSON_AddStringToObject(pv, "host", m->identity ? m->identity : "");
    cJSON_AddStringToObject(pv, "driver", m->driver ? m->driver : "");
    cJSON_AddStringToObject(pv, "backend", m->backend);
    cJSON_AddStringToObject(pv, "date", m->date);
    cJSON_AddStringToObject(pv, "moesim_version", m->version);
    cJSON_AddStringToObject(pv, "command", m->command);
    cJSON_AddStringToObject(pv, "plan", m->plan);
    cJSON_AddStringToObject(pv, "base", m->base_name);
    cJSON_AddStringToObject(pv, "base_reason", m->base_why);
    if (s->nfiles > 0 && s->files[0].cpu_kernels[0]) /* the engine's kernel level, beside the hardware's peaks */
        cJSON_AddStringToObject(pv, "cpu_kernels", s->files[0].cpu_kernels);
    if (s->nfiles > 0 && s->files[0].cpu_prefetch[0]) /* and where its decode tiles prefetched */
        cJSON_AddStringToObject(pv, "cpu_prefetch", s->files[0].cpu_prefetch);
    cJSON *cmds = cJSON_AddArrayToObject(pv, "bench_commands");
    for (int i = 0; i < s->nfiles; i++)
        cJSON_AddItemToArray(cmds, cJSON_CreateString(s->files[i].command));

    cJSON *f = cJSON_AddObjectToObject(c, "fit");
    cJSON_AddStringToObject(f, "method", "GSL gsl_multifit_nlinear, trust region (Levenberg-Marquardt), finite-"
                                         "difference Jacobian, residuals log(predicted/measured) plus a weak pull "
                                         "of each transformed parameter toward its prior");
    cJSON_AddStringToObject(f, "status", fit->status ? fit->status : "");
    cJSON_AddNumberToObject(f, "iterations", fit->iterations);
    cJSON_AddNumberToObject(f, "fitted_points", fit->n_fitted);
    cJSON_AddNumberToObject(f, "outliers", fit->outliers);
    cJSON_AddNumberToObject(f, "rms_log_error", r4(fit->rms_log_fit));
    cJSON_AddNumberToObject(f, "prior_weight", fit->prior_weight);
    cJSON *ps = cJSON_AddArrayToObject(f, "parameters");
    for (int j = 0; j < fit->np; j++) {
        const cal_param *p = &fit->p[j];
        char name[64];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", cal_param_name(p, name, sizeof name));
        cJSON_AddNumberToObject(o, "value", r4(param_display(p, p->value)));
        sim_json_add_num(o, "sigma_lo", r4(param_display(p, p->lo))); /* null when not constrained */
        sim_json_add_num(o, "sigma_hi", r4(param_display(p, p->hi)));
        cJSON_AddNumberToObject(o, "prior", r4(param_display(p, p->prior)));
        cJSON_AddBoolToObject(o, "fitted", p->free);
        if (p->held_by)
            cJSON_AddStringToObject(o, "measured_by", p->held_by);
        cJSON_AddBoolToObject(o, "constrained", p->free && p->sensitivity >= CONSTRAINED);
        cJSON_AddItemToArray(ps, o);
    }
    cJSON_AddNumberToObject(f, "fitted_layer_points", e->n_fit);
    cJSON_AddNumberToObject(f, "mape_fitted_pct", r4(e->mape_fit));
    cJSON_AddNumberToObject(f, "held_out_points", e->n_held);
    if (e->n_held) {
        const cal_point *w = &s->p[e->worst];
        cJSON_AddNumberToObject(f, "mape_held_out_pct", r4(e->mape_held));
        cJSON *wo = cJSON_AddObjectToObject(f, "worst_held_out");
        cJSON_AddStringToObject(wo, "shape", w->shape);
        cJSON_AddStringToObject(wo, "dtype", sim_wformat_name(w->fmt));
        cJSON_AddNumberToObject(wo, "tokens", w->tokens);
        cJSON_AddNumberToObject(wo, "error_pct", r4(e->worst_pct));
    }
    if (m->ab_points > 0) {
        cJSON *ab = cJSON_AddObjectToObject(f, "alltoall");
        cJSON_AddStringToObject(ab, "model", "t = alpha + bytes / beta, fitted on log ratios");
        cJSON_AddNumberToObject(ab, "points", m->ab_points);
        cJSON_AddNumberToObject(ab, "alpha_us", r4(m->alpha_s * 1e6));
        cJSON_AddNumberToObject(ab, "beta_gbs", r4(m->beta_Bps / 1e9));
        cJSON_AddNumberToObject(ab, "rms_log_error", r4(m->ab_rms));
        cJSON_AddStringToObject(ab, "note", m->replace_peaks ? "MPI ranks on one host share one device: informational, "
                                                               "not written into the device's links"
                                                             : "");
    }
    cJSON *ms = cJSON_AddArrayToObject(c, "measurements");
    for (int i = 0; i < s->n; i++)
        cJSON_AddItemToArray(ms, point_json(&s->p[i]));
    return c;
}

/* Load the text back as a hwmodel: the file must be usable before it replaces anything. The
 * copy sits alone in a folder of its own: a hwmodel reads the kernel table beside it
 * (DIR/kernels/NAME.json), and a copy in TMPDIR itself picked up whatever table another run
 * had left in TMPDIR/kernels (write_kernel_table checks this run's table on its own). */
static int check_loads(const char *text, const char *out, sim_err *err)
{
    const char *tmpdir = getenv("TMPDIR");
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/moesim-calibrated-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (!mkdtemp(dir))
        return sim_fail(err, SIM_EFAIL, "cannot create a temporary folder to check %s: %s", out, strerror(errno));
    snprintf(path, sizeof path, "%s/hwmodel.json", dir);
    FILE *f = fopen(path, "w");
    size_t len = strlen(text);
    bool ok = f && fwrite(text, 1, len, f) == len;
    if (f && fclose(f) != 0)
        ok = false;
    int rc = SIM_OK;
    if (!ok)
        rc = sim_fail(err, SIM_EFAIL, "%s: cannot write the check copy", path);
    sim_hw hw;
    if (rc == SIM_OK && (rc = sim_hw_load(&hw, path, err)) != SIM_OK)
        sim_wrap(err, "calibrated hwmodel for %s does not load back", out);
    unlink(path);
    rmdir(dir);
    return rc;
}

/* The kernel table of this run: its GEMM points as `gemm` rows (the fastest run of each, the
 * same estimate the fit uses), in the format of the published tables (hwmodels/kernels/
 * SCHEMA.md). A point above the fitted peak (a clock above the one the peak was derived
 * from) is left out, and the table's note counts it. NULL when the run measured no GEMM. */
static cJSON *kernel_table_json(const sim_hw *fitted, const cal_set *s, const cal_meta *m, const char *out)
{
    cJSON *rows = cJSON_CreateArray();
    int kept = 0, above = 0;
    for (int i = 0; i < s->n; i++) {
        const cal_point *p = &s->p[i];
        if (p->kind != CAL_GEMM || !(p->measured_s > 0))
            continue;
        double tflops = 2.0 * p->m * p->n * p->k / p->measured_s / 1e12;
        if (tflops * 1e12 > fitted->peak_flops[SIM_DT_FP32]) {
            above++;
            continue;
        }
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "op", "gemm");
        cJSON_AddStringToObject(r, "dtype", "fp32");
        cJSON_AddNumberToObject(r, "m", p->m);
        cJSON_AddNumberToObject(r, "n", p->n);
        cJSON_AddNumberToObject(r, "k", p->k);
        cJSON_AddNumberToObject(r, "tflops", r4(tflops));
        cJSON_AddStringToObject(r, "source", "moesim-calibrate");
        char note[160];
        snprintf(note, sizeof note, "fastest of %d round(s): %.6g s (median %.6g s)", p->rounds, p->measured_s,
                 p->median_s);
        cJSON_AddStringToObject(r, "note", note);
        cJSON_AddItemToArray(rows, r);
        kept++;
    }
    if (kept == 0) {
        cJSON_Delete(rows);
        return NULL;
    }
    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "schema", "moesim-kernels/1");
    cJSON_AddStringToObject(t, "device", m->name);
    char note[256];
    snprintf(note, sizeof note, "Written by moesim calibrate beside %s; %d GEMM point(s) left out for lying above "
             "the fitted FP32 peak.", out, above);
    cJSON_AddStringToObject(t, "note", note);
    cJSON *src = cJSON_AddObjectToObject(cJSON_AddObjectToObject(t, "sources"), "moesim-calibrate");
    char title[200];
    snprintf(title, sizeof title, "moesim calibrate on %s", m->device && *m->device ? m->device : m->name);
    cJSON_AddStringToObject(src, "title", title);
    cJSON_AddStringToObject(src, "url", out);
    cJSON_AddStringToObject(src, "date", m->date && *m->date ? m->date : "unknown");
    char lib[120];
    snprintf(lib, sizeof lib, "moe-engine bench %s", m->version && *m->version ? m->version : "");
    cJSON_AddStringToObject(src, "library", lib);
    cJSON_AddStringToObject(src, "note", m->command ? m->command : "");
    cJSON_AddItemToObject(t, "rows", rows);
    return t;
}

/* DIR/kernels/NAME.json for the hwmodel at `out` (DIR/NAME.json); the folder is made. */
static int kernel_table_path(const char *out, const char *name, char *path, size_t cap, sim_err *err)
{
    const char *slash = strrchr(out, '/');
    int dir_len = slash ? (int)(slash - out) + 1 : 0;
    char dir[1024];
    if (snprintf(dir, sizeof dir, "%.*skernels", dir_len, out) >= (int)sizeof dir ||
        snprintf(path, cap, "%s/%s.json", dir, name) >= (int)cap)
        return sim_fail(err, SIM_EINPUT, "%s: path too long for its kernel table", out);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return sim_fail(err, SIM_EFAIL, "%s: cannot create the folder: %s", dir, strerror(errno));
    return SIM_OK;
}

/* Write this run's kernel table, checked by loading it against the fitted peaks; with no
 * GEMM measured, remove a table an earlier run left (it would describe another run). */
static int write_kernel_table(const char *out, const sim_hw *fitted, const cal_set *s, const cal_meta *m,
                              sim_err *err)
{
    char path[1100];
    int rc = kernel_table_path(out, m->name, path, sizeof path, err);
    if (rc)
        return rc;
    cJSON *t = kernel_table_json(fitted, s, m, out);
    if (!t) {
        unlink(path);
        return SIM_OK;
    }
    char *text = cJSON_Print(t);
    cJSON_Delete(t);
    if (!text)
        return sim_fail(err, SIM_EFAIL, "%s: out of memory formatting JSON", path);
    char tmp[1200];
    snprintf(tmp, sizeof tmp, "%s.check", path);
    rc = sim_json_write_atomic(tmp, text, err);
    if (rc == SIM_OK) {
        static sim_kernel_table check; /* big: kept off the stack */
        sim_kernel_peaks pk = {.mem_Bps = fitted->tiers[0].bandwidth_Bps, .scale_up_Bps = fitted->scale_up.bandwidth_Bps,
                               .scale_out_Bps = fitted->scale_out.bandwidth_Bps};
        memcpy(pk.flops, fitted->peak_flops, sizeof pk.flops);
        rc = sim_kernel_table_load(&check, tmp, m->name, &pk, err);
        if (rc)
            sim_wrap(err, "calibrated kernel table for %s does not load back", out);
        unlink(tmp);
    }
    if (rc == SIM_OK)
        rc = sim_json_write_atomic(path, text, err);
    free(text);
    if (rc)
        unlink(path); /* a table from an earlier run would describe another run */
    return rc;
}

int cal_write_hwmodel(const char *out, const sim_hw *fitted, const cal_set *s, const cal_fit *fit,
                      const cal_errors *e, const cal_meta *m, sim_err *err)
{
    cJSON *root = sim_json_load(m->base_path, err);
    if (!root)
        return err->code;
    set_str(root, "name", m->name);
    set_str(root, "display_name", m->display_name);
    cJSON_DeleteItemFromObjectCaseSensitive(root, "released"); /* the base's release year is not this host's */
    /* nor are its other names (rpi5's rpi5-16gb) or its sockets: calibration measures this host's
     * memory as one pool (its STREAM triad), so a base's `numa` would misstate it */
    cJSON_DeleteItemFromObjectCaseSensitive(root, "aliases");
    cJSON_DeleteItemFromObjectCaseSensitive(root, "numa");
    if (m->replace_peaks) {
        cJSON *c = cJSON_GetObjectItemCaseSensitive(root, "compute");
        set_str(c, "source", m->peak_source);
        cJSON *t = cJSON_CreateObject();
        for (int d = 0; d < SIM_DT_COUNT; d++)
            if (m->peaks[d] > 0)
                cJSON_AddNumberToObject(t, sim_dtype_name((sim_dtype)d), r4(m->peaks[d] / 1e12));
        set_item(c, "tflops", t);
        cJSON *mem = cJSON_GetObjectItemCaseSensitive(root, "memory");
        cJSON *tier0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(mem, "tiers"), 0);
        set_num(tier0, "bandwidth_gbs", m->tier0_Bps / 1e9);
        if (m->mem_bytes > 0)
            set_num(tier0, "capacity_gb", m->mem_bytes / 1e9);
        set_str(tier0, "name", "host memory (measured)");
        set_str(tier0, "source", m->tier0_source);
        mark_from_base(root, "memory", m->base_name);
    } else {
        mark_from_base(root, "compute", m->base_name);
        mark_from_base(root, "memory", m->base_name);
    }
    mark_from_base(root, "interconnect", m->base_name);
    mark_from_base(root, "power", m->base_name);
    mark_from_base(root, "price", m->base_name);
    const cJSON *base_eff = cJSON_GetObjectItemCaseSensitive(root, "efficiency");
    cJSON *eff = efficiency_json(base_eff, fitted, fit, m);
    set_item(root, "efficiency", eff);
    set_item(root, "calibration", calibration_json(s, fit, e, m));

    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text)
        return sim_fail(err, SIM_EFAIL, "%s: out of memory formatting JSON", out);
    size_t n = strlen(text);
    char *nl = realloc(text, n + 2);
    if (!nl) {
        free(text);
        return sim_fail(err, SIM_EFAIL, "%s: out of memory formatting JSON", out);
    }
    nl[n] = '\n';
    nl[n + 1] = '\0';
    int rc = check_loads(nl, out, err);
    if (rc == SIM_OK)
        rc = sim_json_write_atomic(out, nl, err);
    free(nl);
    if (rc == SIM_OK)
        rc = write_kernel_table(out, fitted, s, m, err);
    return rc;
}
