/* cmd_calibrate.c: `moesim calibrate`: parse the arguments, calibrate (calibrate/cal_calibrate.h:
 * detect, measure or read --from files, fit), print how far the predictions were, and write
 * hwmodels/calibrated/NAME.json whole or not at all. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/jsonfile.h"
#include "cli/commands.h"
#include "model/registry.h"
#include "calibrate/cal_calibrate.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: moesim calibrate [--backend cpu|cuda] [--quick] [--base HWMODEL] [--out FILE]\n"
               "                        [--name NAME] [--bench-dir DIR] [--from FILE.json[,FILE2.json...]]\n"
               "  Runs bin/moe-engine bench on this machine, fits the hwmodel's efficiencies to what it\n"
               "  measured, prints measured against predicted times (held-out points show the prediction\n"
               "  error) and writes hwmodels/calibrated/NAME.json (use it: moesim eval --hw calibrated/NAME).\n"
               "  --quick       three MoE layer shapes (Qwen3 also in int8, fp32 and int4_g32), fewer token\n"
               "                counts (45-100 s on the two-core VMs of calibrate/README.md)\n"
               "  --base H      hwmodel to start from (default: the shipped one closest to this hardware)\n"
               "  --out FILE    where to write (default hwmodels/calibrated/NAME.json)\n"
               "  --name NAME   the calibrated hwmodel's name (default: from the hardware)\n"
               "  --force       replace an existing file calibrated on other hardware (or a shipped one)\n"
               "  --bench-dir D keep the engine's JSON files in D (default: a temporary folder, removed)\n"
               "  --from FILES  fit these moe-engine bench files instead of measuring\n"
               "See calibrate/README.md.\n");
}

typedef struct opts {
    const char *backend, *base, *out, *name, *bench_dir, *from;
    bool quick, force;
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
        } else if (!strcmp(a, "--force")) {
            o->force = true;
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

/* Where to write: --out, else hwmodels/calibrated/NAME.json (the folder made if need be). */
static void output_path(const opts *o, const char *name, char *out, size_t cap)
{
    if (o->out) {
        snprintf(out, cap, "%s", o->out);
        return;
    }
    char d[PATH_MAX];
    snprintf(d, sizeof d, "%s/hwmodels/calibrated", sim_home());
    mkdir(d, 0755);
    snprintf(out, cap, "%s/%s.json", d, name);
}

/* A calibration replaces an existing file only when that file records the same hardware:
 * two machines whose names collide (or a shipped file) are never overwritten silently. */
static int may_replace(const char *out, const char *identity, sim_err *err)
{
    struct stat st;
    if (stat(out, &st) != 0)
        return SIM_OK;
    sim_err ignore = { 0 };
    cJSON *old = sim_json_load(out, &ignore);
    const cJSON *pv = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(old, "calibration"), "provenance");
    const cJSON *host = cJSON_GetObjectItemCaseSensitive(pv, "host");
    bool same = cJSON_IsString(host) && strcmp(host->valuestring, identity) == 0;
    int rc = same ? SIM_OK
                  : sim_fail(err, SIM_EINPUT,
                             "calibrate: %s exists and records %s%s%s, not this hardware (%s); choose --name or "
                             "--out, or pass --force to replace it",
                             out, cJSON_IsString(host) ? "'" : "", cJSON_IsString(host) ? host->valuestring : "no hardware",
                             cJSON_IsString(host) ? "'" : "", identity);
    cJSON_Delete(old);
    return rc;
}

static int run(int argc, char **argv, const opts *o, sim_err *err)
{
    const cal_options co = { .backend = o->backend, .base = o->base, .bench_dir = o->bench_dir, .from = o->from,
                             .name = o->name, .quick = o->quick };
    cal_result *r = malloc(sizeof *r);
    if (!r)
        return sim_fail(err, SIM_EFAIL, "out of memory");
    int rc = cal_calibrate(&co, r, err);
    if (rc) {
        cal_result_free(r);
        free(r);
        return rc;
    }
    char out[PATH_MAX], command[2048], date[32];
    output_path(o, r->name, out, sizeof out);
    if (!o->force && (rc = may_replace(out, r->identity, err))) {
        cal_result_free(r);
        free(r);
        return rc;
    }
    join_args(argc, argv, command, sizeof command);
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    cal_meta meta;
    cal_result_meta(r, command, date, &meta);
    cal_report_print(stdout, &r->set, &r->fit, &r->errors, &meta);
    fflush(stdout);
    rc = cal_write_hwmodel(out, &r->hw, &r->set, &r->fit, &r->errors, &meta, err);
    if (rc == SIM_OK) {
        char use[PATH_MAX];
        snprintf(use, sizeof use, o->out ? "%s" : "calibrated/%s", o->out ? out : r->name);
        fprintf(stderr, "calibrate: wrote %s\n  use it: moesim eval --hw %s --model qwen3-30b-a3b ...\n", out, use);
    }
    cal_result_free(r);
    free(r);
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
