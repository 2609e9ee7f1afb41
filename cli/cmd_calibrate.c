/* cal_cmd.c: `moesim calibrate`: detect the hardware, pick a base hwmodel, measure with the
 * engine (or read earlier measurements with --from), fit, print how far the predictions
 * were, and write hwmodels/calibrated/NAME.json whole or not at all. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "model/registry.h"
#include "calibrate/cal_detect.h"
#include "calibrate/cal_fit.h"
#include "calibrate/cal_output.h"
#include "calibrate/cal_points.h"
#include "calibrate/cal_run.h"

/* A streaming kernel reaches most of what the triad reaches; the fit moves it from there. */
#define MEM_PRIOR_OF_TRIAD 0.9

static void usage(FILE *f)
{
    fprintf(f, "usage: moesim calibrate [--backend cpu|cuda] [--quick] [--base HWMODEL] [--out FILE]\n"
               "                        [--name NAME] [--bench-dir DIR] [--from FILE.json[,FILE2.json...]]\n"
               "  Runs bin/moe-engine bench on this machine, fits the hwmodel's efficiencies to what it\n"
               "  measured, prints measured against predicted times (held-out points show the prediction\n"
               "  error) and writes hwmodels/calibrated/NAME.json (use it: moesim eval --hw calibrated/NAME).\n"
               "  --quick       two MoE layer shapes, fewer token counts (under 2 minutes on two cores)\n"
               "  --base H      hwmodel to start from (default: the shipped one closest to this hardware)\n"
               "  --out FILE    where to write (default hwmodels/calibrated/NAME.json)\n"
               "  --name NAME   the calibrated hwmodel's name (default: from the hardware)\n"
               "  --bench-dir D keep the engine's JSON files in D (default: a temporary folder, removed)\n"
               "  --from FILES  fit these moe-engine bench files instead of measuring\n"
               "See calibrate/README.md.\n");
}

typedef struct opts {
    const char *backend, *base, *out, *name, *bench_dir, *from;
    bool quick;
} opts;

static int parse(int argc, char **argv, opts *o, sim_err *err)
{
    memset(o, 0, sizeof *o);
    o->backend = "cpu";
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char **dst = !strcmp(a, "--backend") ? &o->backend : !strcmp(a, "--base") ? &o->base
                         : !strcmp(a, "--out") ? &o->out : !strcmp(a, "--name") ? &o->name
                         : !strcmp(a, "--bench-dir") ? &o->bench_dir : !strcmp(a, "--from") ? &o->from : NULL;
        if (!strcmp(a, "--quick")) {
            o->quick = true;
        } else if (dst) {
            if (i + 1 >= argc || !argv[i + 1][0])
                return sim_fail(err, SIM_EINPUT, "calibrate: option '%s' needs a value", a);
            *dst = argv[++i];
        } else {
            return sim_fail(err, SIM_EINPUT, "calibrate: unknown argument '%s' (see moesim calibrate --help)", a);
        }
    }
    if (strcmp(o->backend, "cpu") != 0 && strcmp(o->backend, "cuda") != 0)
        return sim_fail(err, SIM_EINPUT, "calibrate: --backend %s: expected cpu or cuda", o->backend);
    if (o->name)
        for (const char *p = o->name; *p; p++)
            if (!(*p == '-' || *p == '_' || *p == '.' || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
                  (*p >= 'A' && *p <= 'Z')))
                return sim_fail(err, SIM_EINPUT, "calibrate: --name %s: use letters, digits, '-', '_' or '.'", o->name);
    return SIM_OK;
}

static void join_args(int argc, char **argv, char *out, size_t cap)
{
    snprintf(out, cap, "moesim calibrate");
    for (int i = 0; i < argc; i++)
        snprintf(out + strlen(out), cap - strlen(out), " %s", argv[i]);
}

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
static int measure(const opts *o, char *dir, size_t dcap, bool *temp, char *files, size_t fcap, sim_err *err)
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

static int run(int argc, char **argv, const opts *o, sim_err *err)
{
    cal_host host;
    cal_detect_host(&host);
    bool gpu = strcmp(o->backend, "cuda") == 0;
    int rc;
    if (gpu && !o->from && (rc = cal_detect_gpu(&host, err)))
        return rc;

    /* base hwmodel */
    char base_name[128], why[512];
    sim_hw base;
    if (o->base) {
        snprintf(base_name, sizeof base_name, "%s", o->base);
        snprintf(why, sizeof why, "given with --base");
    } else if ((rc = cal_pick_base(&host, gpu, base_name, sizeof base_name, why, sizeof why, err))) {
        return rc;
    }
    if ((rc = sim_registry_hw(base_name, &base, err)))
        return rc;
    if (gpu ? base.cls == HW_CPU : base.cls != HW_CPU)
        return sim_fail(err, SIM_EINPUT, "--base %s is a %s model; --backend %s calibrates a %s", base.name,
                        sim_hw_class_name(base.cls), o->backend, gpu ? "GPU" : "CPU");

    /* measurements */
    char dir[PATH_MAX] = "", files[8192];
    bool temp = false;
    if (o->from)
        snprintf(files, sizeof files, "%s", o->from);
    else if ((rc = measure(o, dir, sizeof dir, &temp, files, sizeof files, err))) {
        if (temp)
            remove_dir(dir);
        return rc;
    }
    cal_set set = { 0 };
    rc = cal_set_load_list(&set, files, err);
    if (temp)
        remove_dir(dir);
    if (rc) {
        cal_set_free(&set);
        return rc;
    }
    for (int i = 1; i < set.nfiles; i++)
        if (strcmp(set.files[i].backend, set.files[0].backend) != 0) {
            rc = sim_fail(err, SIM_EINPUT, "%s: backend %s, but %s is %s: calibrate one backend at a time",
                          set.files[i].path, set.files[i].backend, set.files[0].path, set.files[0].backend);
            cal_set_free(&set);
            return rc;
        }
    const cal_file *f0 = &set.files[0];
    if (strcmp(f0->backend, gpu ? "cuda" : "cpu") != 0 && !o->from) {
        cal_set_free(&set);
        return sim_fail(err, SIM_EFAIL, "%s: the engine measured backend %s, not %s", f0->path, f0->backend, o->backend);
    }

    /* the hardware model to fit: the base, with this host's peaks and measured bandwidth (CPU) */
    sim_hw hw = base;
    double peaks[DT_COUNT] = { 0 }, triad = cal_set_triad_Bps(&set);
    char peak_src[2048] = "", tier0_src[512] = "";
    bool here = !gpu && same_host(f0, &host);
    bool replace = !gpu && strcmp(f0->backend, "cpu") == 0;
    if (replace) {
        if (here) {
            cal_cpu_peaks(&host, peaks, peak_src, sizeof peak_src);
        } else {
            for (int t = 0; t < DT_COUNT; t++)
                peaks[t] = base.peak_flops[t];
            snprintf(peak_src, sizeof peak_src,
                     "Peaks of base %s: the measurements (%s) were not taken on this host, whose clock and vector "
                     "units moesim calibrate reads; the fitted efficiencies are relative to these peaks.",
                     base.name, f0->device);
        }
        for (int t = 0; t < DT_COUNT; t++)
            hw.peak_flops[t] = peaks[t];
        if (triad > 0) {
            /* the engine counts 12 bytes per element; plain stores also read the destination
             * line first (write-allocate), 16 bytes of traffic in all */
            hw.tiers[0].bandwidth_Bps = triad * 4.0 / 3.0;
            snprintf(tier0_src, sizeof tier0_src,
                     "Measured by moe-engine bench's STREAM triad on %s: %.4g GB/s as the engine counts it (12 bytes "
                     "per element) x 4/3 for the write-allocate read of the destination = %.4g GB/s%s",
                     f0->device, triad / 1e9, hw.tiers[0].bandwidth_Bps / 1e9,
                     here && host.mem_bytes > 0 ? "; capacity = MemTotal of /proc/meminfo" : "");
        } else {
            snprintf(tier0_src, sizeof tier0_src, "No triad among the measurements: bandwidth of base %s", base.name);
        }
        hw.eff.memory.max = MEM_PRIOR_OF_TRIAD;
    }

    /* a busy machine makes every timing slower by an amount the model cannot know */
    for (int i = 0; i < set.nfiles; i++)
        if (set.files[i].load_avg > 0.5 * (set.files[i].cores > 0 ? set.files[i].cores : 1))
            fprintf(stderr, "calibrate: note: %s was measured with load average %.1f on %d cores: other work shared "
                            "the machine, and its timings (and the errors below) carry that\n",
                    set.files[i].path, set.files[i].load_avg, set.files[i].cores);
    cal_set_hold_out(&set);
    /* the engine's kernel switch (bench kernel_switch): the grouped-GEMM curves get a second
     * regime at or below it, fitted apart */
    cal_hw_set_kernel_switch(&hw, &set, cal_set_kernel_switch(&set));
    cal_fit fit;
    if ((rc = cal_fit_setup(&fit, &hw, &set, err)) == SIM_OK) {
        fprintf(stderr, "calibrate: fitting %d parameters to %d points\n", fit.np, fit.n_fitted);
        rc = cal_fit_run(&fit, &hw, &set, err);
    }
    double alpha = 0, beta = 0, ab_rms = 0;
    int ab_n = 0;
    if (rc == SIM_OK)
        rc = cal_fit_alpha_beta(&set, &alpha, &beta, &ab_rms, &ab_n, err);
    if (rc) {
        cal_set_free(&set);
        return rc;
    }

    /* names, provenance */
    char name[96], display[256], out[PATH_MAX], command[2048], date[32];
    if (o->name)
        snprintf(name, sizeof name, "%s", o->name);
    else {
        cal_host who = host;
        if (!here && !gpu && f0->cpu[0]) {
            snprintf(who.cpu, sizeof who.cpu, "%s", f0->cpu);
            who.cores = f0->cores;
        }
        if (f0->gpu[0])
            snprintf(who.gpu, sizeof who.gpu, "%s", f0->gpu);
        cal_default_name(&who, gpu || f0->gpu[0], name, sizeof name);
    }
    if (gpu || f0->gpu[0])
        snprintf(display, sizeof display, "%s (calibrated)", f0->gpu[0] ? f0->gpu : host.gpu);
    else if (here && host.mem_bytes > 0)
        snprintf(display, sizeof display, "%s, %d cores, %.0f GB (calibrated)", host.cpu, host.cores,
                 host.mem_bytes / 1e9);
    else
        snprintf(display, sizeof display, "%s, %d cores (calibrated)", f0->cpu[0] ? f0->cpu : "unknown CPU", f0->cores);
    if (o->out)
        snprintf(out, sizeof out, "%s", o->out);
    else {
        char d[PATH_MAX];
        snprintf(d, sizeof d, "%s/hwmodels/calibrated", sim_home());
        mkdir(d, 0755);
        snprintf(out, sizeof out, "%s/%s.json", d, name);
    }
    join_args(argc, argv, command, sizeof command);
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    char device[512];
    snprintf(device, sizeof device, "%s", gpu && host.gpu[0] ? host.gpu : f0->device);
    char plan[64];
    snprintf(plan, sizeof plan, "%s", o->from ? "--from" : o->quick ? "quick" : "full");
    cal_meta meta = {
        .name = name, .display_name = display, .base_name = base.name, .base_path = base.path, .base_why = why,
        .backend = f0->backend, .plan = plan, .command = command, .date = date,
        .version = f0->version[0] ? f0->version : "unknown", .device = device, .driver = host.driver,
        .replace_peaks = replace, .peaks = peaks, .peak_source = peak_src,
        .mem_bytes = here ? host.mem_bytes : 0, .tier0_Bps = hw.tiers[0].bandwidth_Bps, .tier0_source = tier0_src,
        .ab_points = ab_n, .alpha_s = alpha, .beta_Bps = beta, .ab_rms = ab_rms,
    };
    cal_errors e;
    cal_errors_compute(&set, &e);
    cal_report_print(stdout, &set, &fit, &e, &meta);
    fflush(stdout);
    rc = cal_write_hwmodel(out, &hw, &set, &fit, &e, &meta, err);
    if (rc == SIM_OK) {
        char use[PATH_MAX];
        snprintf(use, sizeof use, o->out ? "%s" : "calibrated/%s", o->out ? out : name);
        fprintf(stderr, "calibrate: wrote %s\n  use it: moesim eval --hw %s --model qwen3-30b-a3b ...\n", out, use);
    }
    cal_set_free(&set);
    return rc;
}

int cmd_calibrate(int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
    opts o;
    sim_err err = { 0 };
    if (parse(argc, argv, &o, &err))
        return cmd_fail(err.code, err.msg);
    if (run(argc, argv, &o, &err))
        return cmd_fail(err.code, err.msg);
    return 0;
}
