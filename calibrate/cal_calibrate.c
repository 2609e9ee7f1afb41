/* cal_calibrate.c: one calibration from options to a fitted hwmodel (cal_calibrate.h). */
#include "cal_calibrate.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cal_run.h"
#include "model/registry.h"

/* A streaming kernel reaches most of what the triad reaches; the fit moves it from there. */
#define MEM_PRIOR_OF_TRIAD 0.9

/* Remove the temporary bench folder and what the plan wrote into it. */
static void remove_dir(const char *dir)
{
    for (int i = 1; i <= 16; i++)
        for (const char *ext = "json"; ext; ext = !strcmp(ext, "json") ? "txt" : !strcmp(ext, "txt") ? "err" : NULL) {
            char p[PATH_MAX];
            snprintf(p, sizeof p, "%s/step%d-bench.%s", dir, i, ext);
            unlink(p);
        }
    rmdir(dir);
}

/* Measure: run the plan into a folder; `files` gets the JSON list. */
static int measure(const cal_options *o, char *dir, size_t dcap, bool *temp, char *files, size_t fcap, sim_err *err)
{
    *temp = !o->bench_dir;
    if (o->bench_dir) {
        snprintf(dir, dcap, "%s", o->bench_dir);
        if (mkdir(dir, 0755) != 0 && errno != EEXIST)
            return sim_fail(err, SIM_EINPUT, "--bench-dir %s: cannot create: %s", dir, strerror(errno));
    } else {
        const char *t = getenv("TMPDIR");
        snprintf(dir, dcap, "%s/moesim-calibrate-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(dir))
            return sim_fail(err, SIM_EFAIL, "cannot create a temporary folder for the measurements: %s", strerror(errno));
    }
    int n;
    const cal_step *plan = cal_plan(o->quick, &n);
    fprintf(stderr, "calibrate: %s plan, engine JSON into %s:\n", o->quick ? "quick" : "full", dir);
    cal_plan_describe(plan, n, o->backend, stderr);
    return cal_run_plan(plan, n, o->backend, dir, *temp, files, fcap, err);
}

/* Was this file measured on this host? (CPU model and core count agree) */
static bool same_host(const cal_file *f, const cal_host *h)
{
    return !f->gpu[0] && strcmp(f->cpu, h->cpu) == 0 && f->cores == h->cores;
}

/* The base hwmodel: --base, else the shipped one closest to this host. */
static int load_base(const cal_options *o, cal_result *r, sim_err *err)
{
    char base_name[128];
    int rc;
    if (o->base) {
        snprintf(base_name, sizeof base_name, "%s", o->base);
        snprintf(r->base_why, sizeof r->base_why, "given with --base");
    } else if ((rc = cal_pick_base(&r->host, r->gpu, base_name, sizeof base_name, r->base_why, sizeof r->base_why,
                                   err))) {
        return rc;
    }
    if ((rc = sim_registry_hw(base_name, &r->base, err)))
        return rc;
    /* The fit measures this machine's curves; a published kernel table of the base device would
     * stand in for them inside the fit, so it is set aside. */
    memset(&r->base.kernels, 0, sizeof r->base.kernels);
    if (r->gpu ? r->base.cls == SIM_HW_CPU : r->base.cls != SIM_HW_CPU)
        return sim_fail(err, SIM_EINPUT, "--base %s is a %s model; --backend %s calibrates a %s", r->base.name,
                        sim_hw_class_name(r->base.cls), o->backend, r->gpu ? "GPU" : "CPU");
    return SIM_OK;
}

/* Measure (or take --from), load the files, and check they are one backend, the asked one. */
static int load_measurements(const cal_options *o, cal_result *r, sim_err *err)
{
    char dir[PATH_MAX] = "", files[8192];
    bool temp = false;
    int rc;
    if (o->from)
        snprintf(files, sizeof files, "%s", o->from);
    else if ((rc = measure(o, dir, sizeof dir, &temp, files, sizeof files, err))) {
        if (temp)
            remove_dir(dir);
        return rc;
    }
    rc = cal_set_load_list(&r->set, files, err);
    if (temp)
        remove_dir(dir);
    if (rc)
        return rc;
    for (int i = 1; i < r->set.nfiles; i++)
        if (strcmp(r->set.files[i].backend, r->set.files[0].backend) != 0)
            return sim_fail(err, SIM_EINPUT, "%s: backend %s, but %s is %s: calibrate one backend at a time",
                            r->set.files[i].path, r->set.files[i].backend, r->set.files[0].path,
                            r->set.files[0].backend);
    const cal_file *f0 = &r->set.files[0];
    if (strcmp(f0->backend, r->gpu ? "cuda" : "cpu") != 0 && !o->from)
        return sim_fail(err, SIM_EFAIL, "%s: the engine measured backend %s, not %s", f0->path, f0->backend,
                        o->backend);
    return SIM_OK;
}

/* The hardware model to fit: the base, with this host's peaks and measured bandwidth (CPU). */
static void prepare_hw(cal_result *r)
{
    const cal_file *f0 = &r->set.files[0];
    const sim_hw *base = &r->base;
    double triad = cal_set_triad_Bps(&r->set);
    r->hw = *base;
    r->here = !r->gpu && same_host(f0, &r->host);
    r->replace = !r->gpu && strcmp(f0->backend, "cpu") == 0;
    if (!r->replace)
        return;
    if (r->here) {
        cal_cpu_peaks(&r->host, r->peaks, r->peak_source, sizeof r->peak_source);
    } else {
        for (int t = 0; t < SIM_DT_COUNT; t++)
            r->peaks[t] = base->peak_flops[t];
        snprintf(r->peak_source, sizeof r->peak_source,
                 "Peaks of base %s: the measurements (%s) were not taken on this host, whose clock and vector "
                 "units moesim calibrate reads; the fitted efficiencies are relative to these peaks.",
                 base->name, f0->device);
    }
    for (int t = 0; t < SIM_DT_COUNT; t++)
        r->hw.peak_flops[t] = r->peaks[t];
    if (triad > 0) {
        /* the engine counts 12 bytes per element; plain stores also read the destination
         * line first (write-allocate), 16 bytes of traffic in all */
        r->hw.tiers[0].bandwidth_Bps = triad * 4.0 / 3.0;
        snprintf(r->tier0_source, sizeof r->tier0_source,
                 "Measured by moe-engine bench's STREAM triad on %s: %.4g GB/s as the engine counts it (12 bytes "
                 "per element) x 4/3 for the write-allocate read of the destination = %.4g GB/s%s",
                 f0->device, triad / 1e9, r->hw.tiers[0].bandwidth_Bps / 1e9,
                 r->here && r->host.mem_bytes > 0 ? "; capacity = MemTotal of /proc/meminfo" : "");
    } else {
        snprintf(r->tier0_source, sizeof r->tier0_source, "No triad among the measurements: bandwidth of base %s",
                 base->name);
    }
    r->hw.eff.memory.max = MEM_PRIOR_OF_TRIAD;
}

/* Fit the efficiencies (held-out points kept apart) and the all-to-all's alpha and beta. */
static int fit(cal_result *r, sim_err *err)
{
    cal_set *set = &r->set;
    /* a busy machine makes every timing slower by an amount the model cannot know */
    for (int i = 0; i < set->nfiles; i++)
        if (set->files[i].load_avg > 0.5 * (set->files[i].cores > 0 ? set->files[i].cores : 1))
            fprintf(stderr, "calibrate: note: %s was measured with load average %.1f on %d cores: other work shared "
                            "the machine, and its timings (and the errors below) carry that\n",
                    set->files[i].path, set->files[i].load_avg, set->files[i].cores);
    cal_set_hold_out(set);
    /* the engine's kernel switch (bench kernel_switch): the grouped-GEMM curves get a second
     * regime at or below it, fitted apart */
    cal_hw_set_kernel_switch(&r->hw, set, cal_set_kernel_switch(set));
    int rc;
    if ((rc = cal_fit_setup(&r->fit, &r->hw, set, err)) == SIM_OK) {
        fprintf(stderr, "calibrate: fitting %d parameters to %d points\n", r->fit.np, r->fit.n_fitted);
        rc = cal_fit_run(&r->fit, &r->hw, set, err);
    }
    if (rc == SIM_OK)
        rc = cal_fit_alpha_beta(set, &r->alpha_s, &r->beta_Bps, &r->ab_rms, &r->ab_points, err);
    if (rc == SIM_OK)
        cal_errors_compute(set, &r->errors);
    return rc;
}

/* The calibrated model's name, display name, device and plan. */
static void describe(const cal_options *o, cal_result *r)
{
    const cal_file *f0 = &r->set.files[0];
    const cal_host *host = &r->host;
    bool gpu = r->gpu;
    /* who was measured: this host, or the one the --from files name (only its CPU and cores) */
    cal_host who = *host;
    if (!r->here && !gpu && f0->cpu[0]) {
        snprintf(who.cpu, sizeof who.cpu, "%s", f0->cpu);
        who.cores = f0->cores;
        who.family = who.model_id = 0;
        who.mem_bytes = 0;
    }
    if (f0->gpu[0])
        snprintf(who.gpu, sizeof who.gpu, "%s", f0->gpu);
    cal_host_identity(&who, gpu || f0->gpu[0], r->identity, sizeof r->identity);
    if (o->name)
        snprintf(r->name, sizeof r->name, "%s", o->name);
    else
        cal_default_name(&who, gpu || f0->gpu[0], r->name, sizeof r->name);
    if (gpu || f0->gpu[0])
        snprintf(r->display_name, sizeof r->display_name, "%s (calibrated)", f0->gpu[0] ? f0->gpu : host->gpu);
    else if (r->here && host->mem_bytes > 0)
        snprintf(r->display_name, sizeof r->display_name, "%s, %d cores, %.0f GB (calibrated)", host->cpu,
                 host->cores, host->mem_bytes / 1e9);
    else
        snprintf(r->display_name, sizeof r->display_name, "%s, %d cores (calibrated)",
                 f0->cpu[0] ? f0->cpu : "unknown CPU", f0->cores);
    snprintf(r->device, sizeof r->device, "%s", gpu && host->gpu[0] ? host->gpu : f0->device);
    snprintf(r->plan, sizeof r->plan, "%s", o->from ? "--from" : o->quick ? "quick" : "full");
}

int cal_calibrate(const cal_options *o, cal_result *r, sim_err *err)
{
    memset(r, 0, sizeof *r);
    cal_detect_host(&r->host);
    r->gpu = strcmp(o->backend, "cuda") == 0;
    int rc;
    if (r->gpu && !o->from && (rc = cal_detect_gpu(&r->host, err)))
        return rc;
    if ((rc = load_base(o, r, err)) || (rc = load_measurements(o, r, err)))
        return rc;
    prepare_hw(r);
    if ((rc = fit(r, err)))
        return rc;
    describe(o, r);
    return SIM_OK;
}

void cal_result_free(cal_result *r)
{
    cal_set_free(&r->set);
}

void cal_result_meta(const cal_result *r, const char *command, const char *date, cal_meta *m)
{
    const cal_file *f0 = &r->set.files[0];
    *m = (cal_meta){
        .name = r->name, .display_name = r->display_name, .base_name = r->base.name, .base_path = r->base.path,
        .base_why = r->base_why, .backend = f0->backend, .plan = r->plan, .command = command, .date = date,
        .version = f0->version[0] ? f0->version : "unknown", .device = r->device, .driver = r->host.driver,
        .replace_peaks = r->replace, .peaks = r->peaks, .peak_source = r->peak_source,
        .mem_bytes = r->here ? r->host.mem_bytes : 0, .tier0_Bps = r->hw.tiers[0].bandwidth_Bps,
        .tier0_source = r->tier0_source, .ab_points = r->ab_points, .alpha_s = r->alpha_s, .beta_Bps = r->beta_Bps,
        .ab_rms = r->ab_rms, .identity = r->identity,
    };
}
