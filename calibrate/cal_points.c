/* cal_points.c: reading `moe-engine bench` JSON into calibration points, strictly: a file
 * cut short or edited by hand fails with the file and the field at fault, never with a fit
 * that quietly rests on half the data. */
#include "cal_points.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jsonfile.h"

/* Below this many rows the engine never calls BLAS (engine/cpu.c streams up to 8 rows
 * through its own kernel), so OpenBLAS's packing cost at those sizes says nothing about
 * what the engine does: such GEMM points are kept in the file, not fitted. */
#define GEMM_MIN_FIT_M 16

void cal_set_free(cal_set *s)
{
    free(s->p);
    memset(s, 0, sizeof *s);
}

static cal_point *push(cal_set *s, sim_err *err)
{
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 64;
        cal_point *p = realloc(s->p, sizeof *p * (size_t)cap);
        if (!p) {
            sim_fail(err, SIM_EFAIL, "out of memory holding %d measurements", s->n);
            return NULL;
        }
        s->p = p;
        s->cap = cap;
    }
    cal_point *p = &s->p[s->n++];
    memset(p, 0, sizeof *p);
    return p;
}

/* A number > 0 (lo_ok: >= 0) at obj.key; `path` labels the message. */
static int pos_num(const cJSON *obj, const char *key, bool zero_ok, double *out, const char *file, const char *path,
                   sim_err *err)
{
    int rc = sim_json_num(obj, key, out, file, path, err);
    if (rc)
        return rc;
    if (zero_ok ? *out < 0 : *out <= 0)
        return sim_fail(err, SIM_EINPUT, "%s: field '%s.%s' is %g (expected a number %s 0)", file, path, key, *out,
                        zero_ok ? ">=" : ">");
    return SIM_OK;
}

static int pos_int(const cJSON *obj, const char *key, bool zero_ok, int *out, const char *file, const char *path,
                   sim_err *err)
{
    int rc = sim_json_int(obj, key, out, file, path, err);
    if (rc)
        return rc;
    if (zero_ok ? *out < 0 : *out <= 0)
        return sim_fail(err, SIM_EINPUT, "%s: field '%s.%s' is %d (expected an integer %s 0)", file, path, key, *out,
                        zero_ok ? ">=" : ">");
    return SIM_OK;
}

/* total: {median_s, p10_s, p90_s}; the median is required, the spread optional. */
static int timing(const cJSON *r, cal_point *p, const char *file, const char *path, sim_err *err)
{
    const cJSON *t = sim_json_obj(r, "total", file, path, err);
    if (!t)
        return err->code;
    char sub[96];
    snprintf(sub, sizeof sub, "%s.total", path);
    int rc;
    if ((rc = pos_num(t, "median_s", false, &p->median_s, file, sub, err)) ||
        (rc = pos_num(t, "min_s", false, &p->measured_s, file, sub, err)))
        return rc;
    if (p->measured_s > p->median_s)
        return sim_fail(err, SIM_EINPUT, "%s: field '%s.min_s' is %g, above median_s %g (expected the fastest run)", file,
                        sub, p->measured_s, p->median_s);
    p->rounds = 1;
    p->p10_s = p->p90_s = p->median_s;
    if ((rc = sim_json_num_opt(t, "p10_s", &p->p10_s, file, sub, err)) || (rc = sim_json_num_opt(t, "p90_s", &p->p90_s, file, sub, err)))
        return rc;
    return SIM_OK;
}

static int parse_layer(const cJSON *r, cal_point *p, const char *model, sim_wformat fmt, const char *file,
                       const char *path, sim_err *err)
{
    int rc;
    p->kind = CAL_LAYER;
    p->fmt = fmt;
    int tokens = 0;
    if ((rc = pos_int(r, "tokens", false, &tokens, file, path, err)) ||
        (rc = pos_int(r, "hidden", false, &p->hidden, file, path, err)) ||
        (rc = pos_int(r, "ffn", false, &p->ffn, file, path, err)) ||
        (rc = pos_int(r, "experts", false, &p->experts, file, path, err)) ||
        (rc = pos_int(r, "top_k", false, &p->top_k, file, path, err)) ||
        (rc = pos_int(r, "shared", true, &p->shared, file, path, err)) ||
        (rc = pos_int(r, "shared_ffn", true, &p->shared_ffn, file, path, err)) ||
        (rc = pos_int(r, "ep", false, &p->ep, file, path, err)) ||
        (rc = pos_num(r, "experts_touched", false, &p->touched, file, path, err)) || (rc = timing(r, p, file, path, err)))
        return rc;
    if (p->top_k > p->experts)
        return sim_fail(err, SIM_EINPUT, "%s: field '%s.top_k' is %d, more than the %d experts", file, path, p->top_k,
                        p->experts);
    if (p->shared > 0 && p->shared_ffn <= 0)
        return sim_fail(err, SIM_EINPUT, "%s: field '%s.shared_ffn' is %d with %d shared experts (expected > 0)", file,
                        path, p->shared_ffn, p->shared);
    p->tokens = tokens;
    if (model && *model)
        snprintf(p->shape, sizeof p->shape, "%s", model);
    else
        snprintf(p->shape, sizeof p->shape, "h%d-f%d-e%d-k%d-s%d", p->hidden, p->ffn, p->experts, p->top_k, p->shared);
    return SIM_OK;
}

static int parse_gemm(const cJSON *r, cal_point *p, bool *skip, const char *file, const char *path, sim_err *err)
{
    char variant[32] = "single";
    int rc = sim_json_str_opt(r, "variant", variant, sizeof variant, file, path, err);
    if (rc)
        return rc;
    /* "experts" is OpenBLAS over a layer's whole expert set, a baseline for the engine's own
     * speed check, not one GEMM: not a calibration point. */
    if (strcmp(variant, "single") != 0) {
        *skip = true;
        return SIM_OK;
    }
    p->kind = CAL_GEMM;
    p->fmt = SIM_WF_FP32; /* the sweep is OpenBLAS sgemm */
    if ((rc = pos_int(r, "m", false, &p->m, file, path, err)) || (rc = pos_int(r, "n", false, &p->n, file, path, err)) ||
        (rc = pos_int(r, "k", false, &p->k, file, path, err)) || (rc = timing(r, p, file, path, err)))
        return rc;
    p->tokens = p->m;
    snprintf(p->shape, sizeof p->shape, "gemm %dx%d", p->n, p->k);
    return SIM_OK;
}

static int parse_file_header(const cJSON *root, cal_file *f, sim_wformat *fmt, const char *file, sim_err *err)
{
    int rc;
    if ((rc = sim_json_str(root, "backend", f->backend, sizeof f->backend, file, "", err)) ||
        (rc = sim_json_str(root, "dtype", f->dtype, sizeof f->dtype, file, "", err)) ||
        (rc = sim_json_str(root, "date", f->date, sizeof f->date, file, "", err)) ||
        (rc = sim_json_str_opt(root, "command", f->command, sizeof f->command, file, "", err)) ||
        (rc = sim_json_str_opt(root, "moesim_version", f->version, sizeof f->version, file, "", err)))
        return rc;
    if (strcmp(f->backend, "cpu") != 0 && strcmp(f->backend, "cuda") != 0)
        return sim_fail(err, SIM_EINPUT, "%s: field 'backend' is '%s' (expected cpu or cuda)", file, f->backend);
    if (strcmp(f->dtype, "fp32") == 0)
        *fmt = SIM_WF_FP32;
    else if (strcmp(f->dtype, "bf16") == 0)
        *fmt = SIM_WF_BF16;
    else if (strcmp(f->dtype, "int8") == 0)
        *fmt = SIM_WF_INT8;
    else if (strcmp(f->dtype, "int4_g32") == 0)
        *fmt = SIM_WF_INT4_G32;
    else
        return sim_fail(err, SIM_EINPUT, "%s: field 'dtype' is '%s' (expected fp32, bf16, int8 or int4_g32)", file,
                        f->dtype);
    const cJSON *dev = sim_json_obj(root, "device", file, "", err);
    if (!dev)
        return err->code;
    if ((rc = sim_json_str_opt(dev, "cpu", f->cpu, sizeof f->cpu, file, "device", err)) ||
        (rc = sim_json_str_opt(dev, "gpu", f->gpu, sizeof f->gpu, file, "device", err)) ||
        (rc = sim_json_str_opt(dev, "cpu_kernels", f->cpu_kernels, sizeof f->cpu_kernels, file, "device", err)) ||
        (rc = sim_json_str_opt(dev, "cpu_prefetch", f->cpu_prefetch, sizeof f->cpu_prefetch, file, "device", err)) ||
        (rc = pos_int(dev, "ranks", false, &f->ranks, file, "device", err)))
        return rc;
    f->cores = f->threads = 0;
    f->load_avg = -1;
    if ((rc = sim_json_num_opt(dev, "load_avg", &f->load_avg, file, "device", err)))
        return rc;
    if ((rc = sim_json_int_opt(dev, "cores", &f->cores, file, "device", err)) ||
        (rc = sim_json_int_opt(dev, "threads", &f->threads, file, "device", err)))
        return rc;
    const cJSON *sw = cJSON_GetObjectItemCaseSensitive(root, "kernel_switch");
    if (sw) {
        if (!cJSON_IsObject(sw))
            return sim_fail(err, SIM_EINPUT, "%s: field 'kernel_switch' must be an object {\"rows\": ..., \"per\": ...}",
                            file);
        if ((rc = pos_int(sw, "rows", false, &f->switch_rows, file, "kernel_switch", err)) ||
            (rc = sim_json_str(sw, "per", f->switch_per, sizeof f->switch_per, file, "kernel_switch", err)))
            return rc;
        if (strcmp(f->switch_per, "expert") != 0 && strcmp(f->switch_per, "layer") != 0)
            return sim_fail(err, SIM_EINPUT, "%s: field 'kernel_switch.per' is '%s' (expected expert or layer)", file,
                            f->switch_per);
    }
    char dv[sizeof f->device];
    if (f->gpu[0])
        snprintf(dv, sizeof dv, "%s, %d rank(s)", f->gpu, f->ranks);
    else
        snprintf(dv, sizeof dv, "%s, %d cores, %d threads, %d rank(s)", f->cpu[0] ? f->cpu : "unknown CPU", f->cores,
                 f->threads, f->ranks);
    memcpy(f->device, dv, sizeof dv);
    return SIM_OK;
}

int cal_set_load(cal_set *s, const char *file, sim_err *err)
{
    if (s->nfiles == CAL_MAX_FILES)
        return sim_fail(err, SIM_EINPUT, "%s: at most %d measurement files", file, CAL_MAX_FILES);
    cJSON *root = sim_json_load(file, err);
    if (!root)
        return err->code;
    int rc = SIM_OK;
    cal_file *f = &s->files[s->nfiles];
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", file);
    sim_wformat fmt = SIM_WF_FP32;
    char model[64] = "";
    const cJSON *results = NULL;
    if (!cJSON_IsObject(root))
        rc = sim_fail(err, SIM_EINPUT, "%s: the top level must be an object (a moe-engine bench result)", file);
    if (rc == SIM_OK)
        rc = parse_file_header(root, f, &fmt, file, err);
    const cJSON *cfg = rc == SIM_OK ? cJSON_GetObjectItemCaseSensitive(root, "config") : NULL;
    if (rc == SIM_OK && cfg)
        rc = cJSON_IsObject(cfg) ? sim_json_str_opt(cfg, "model", model, sizeof model, file, "config", err)
                                 : sim_fail(err, SIM_EINPUT, "%s: field 'config' must be an object", file);
    if (rc == SIM_OK) {
        results = cJSON_GetObjectItemCaseSensitive(root, "results");
        if (!cJSON_IsArray(results) || cJSON_GetArraySize(results) == 0)
            rc = sim_fail(err, SIM_EINPUT, "%s: field 'results' %s (expected a non-empty array of measurements)", file,
                          !results ? "is missing" : cJSON_IsArray(results) ? "is empty" : "must be an array");
    }
    int first = s->n, i = 0;
    const cJSON *r;
    const cJSON *list = rc == SIM_OK ? results : NULL;
    cJSON_ArrayForEach(r, list)
    {
        char path[48], kind[32];
        snprintf(path, sizeof path, "results[%d]", i);
        if (!cJSON_IsObject(r)) {
            rc = sim_fail(err, SIM_EINPUT, "%s: field '%s' must be an object", file, path);
            break;
        }
        if ((rc = sim_json_str(r, "kind", kind, sizeof kind, file, path, err)))
            break;
        cal_point *p = push(s, err);
        if (!p) {
            rc = err->code;
            break;
        }
        bool skip = false;
        if (strcmp(kind, "moe_layer") == 0) {
            rc = parse_layer(r, p, model, fmt, file, path, err);
        } else if (strcmp(kind, "gemm") == 0) {
            rc = parse_gemm(r, p, &skip, file, path, err);
        } else if (strcmp(kind, "triad") == 0) {
            p->kind = CAL_TRIAD;
            snprintf(p->shape, sizeof p->shape, "triad");
            if ((rc = pos_num(r, "bytes", false, &p->bytes, file, path, err)) == SIM_OK)
                rc = timing(r, p, file, path, err);
        } else if (strcmp(kind, "alltoall") == 0) {
            p->kind = CAL_ALLTOALL;
            int tokens = 0;
            if ((rc = pos_int(r, "tokens", false, &tokens, file, path, err)) ||
                (rc = pos_num(r, "bytes", true, &p->bytes, file, path, err)) ||
                (rc = pos_int(r, "ep", false, &p->ep, file, path, err)) || (rc = timing(r, p, file, path, err)))
                break;
            p->tokens = tokens;
            snprintf(p->shape, sizeof p->shape, "alltoall ep%d", p->ep);
        } else {
            skip = true; /* a kind this reader does not know */
        }
        if (rc)
            break;
        if (skip)
            s->n--;
        else {
            p->file = s->nfiles;
            p->index = i;
        }
        i++;
    }
    cJSON_Delete(root);
    if (rc) {
        s->n = first; /* a file loads whole or not at all */
        return rc;
    }
    s->nfiles++;
    return SIM_OK;
}

int cal_set_load_list(cal_set *s, const char *list, sim_err *err)
{
    char *copy = strdup(list);
    if (!copy)
        return sim_fail(err, SIM_EFAIL, "out of memory");
    int rc = SIM_OK;
    char *save = NULL;
    for (char *f = strtok_r(copy, ",", &save); f && rc == SIM_OK; f = strtok_r(NULL, ",", &save))
        rc = cal_set_load(s, f, err);
    free(copy);
    if (rc == SIM_OK && s->nfiles == 0)
        rc = sim_fail(err, SIM_EINPUT, "--from: no file given");
    bool layer = false;
    for (int i = 0; i < s->n && !layer; i++)
        layer = s->p[i].kind == CAL_LAYER;
    if (rc == SIM_OK && !layer)
        rc = sim_fail(err, SIM_EINPUT, "%s: no moe_layer measurement (expected results of kind 'moe_layer')", list);
    if (rc)
        cal_set_free(s); /* all the files or none */
    else
        cal_set_merge_rounds(s);
    return rc;
}

/* The same measurement: kind, shape, weight format, size and ranks. */
static bool same_point(const cal_point *a, const cal_point *b)
{
    return a->kind == b->kind && strcmp(a->shape, b->shape) == 0 && a->fmt == b->fmt && a->tokens == b->tokens &&
           a->ep == b->ep && a->m == b->m && a->n == b->n && a->k == b->k && a->bytes == b->bytes;
}

void cal_set_merge_rounds(cal_set *s)
{
    int kept = 0;
    for (int i = 0; i < s->n; i++) {
        int j = 0;
        while (j < kept && !same_point(&s->p[j], &s->p[i]))
            j++;
        if (j == kept) {
            s->p[kept++] = s->p[i];
            continue;
        }
        int rounds = s->p[j].rounds + s->p[i].rounds;
        if (s->p[i].measured_s < s->p[j].measured_s)
            s->p[j] = s->p[i]; /* keeps the first appearance's place in the order */
        s->p[j].rounds = rounds;
    }
    s->n = kept;
}

int cal_set_kernel_switch(const cal_set *s)
{
    int rows = 0;
    for (int i = 0; i < s->n; i++) {
        if (s->p[i].kind != CAL_LAYER)
            continue;
        const cal_file *f = &s->files[s->p[i].file];
        if (f->switch_rows <= 0 || strcmp(f->switch_per, "expert") != 0)
            return 0;
        if (rows && rows != f->switch_rows)
            return 0; /* files from different engines: no one switch to fit */
        rows = f->switch_rows;
    }
    return rows;
}

static bool same_shape(const cal_point *a, const cal_point *b)
{
    return strcmp(a->shape, b->shape) == 0 && a->fmt == b->fmt && a->ep == b->ep;
}

void cal_set_hold_out(cal_set *s)
{
    /* the last layer shape in file order, if there are two or more */
    int last = -1, shapes = 0;
    for (int i = 0; i < s->n; i++) {
        if (s->p[i].kind != CAL_LAYER || s->p[i].ep != 1)
            continue;
        bool seen = false;
        for (int j = 0; j < i && !seen; j++)
            seen = s->p[j].kind == CAL_LAYER && s->p[j].ep == 1 && strcmp(s->p[j].shape, s->p[i].shape) == 0;
        if (!seen) {
            shapes++;
            last = i;
        }
    }
    for (int i = 0; i < s->n; i++) {
        cal_point *p = &s->p[i];
        p->held_out = p->fitted = p->outlier = false;
        if (p->kind == CAL_GEMM)
            p->fitted = p->m >= GEMM_MIN_FIT_M;
        if (p->kind != CAL_LAYER || p->ep != 1)
            continue; /* layers over several ranks on one host are not one device's time */
        if (shapes > 1 && strcmp(p->shape, s->p[last].shape) == 0) {
            p->held_out = true;
            continue;
        }
        /* rank of this token count among the shape's points */
        int rank = 0;
        for (int j = 0; j < s->n; j++)
            if (j != i && s->p[j].kind == CAL_LAYER && same_shape(&s->p[j], p) &&
                (s->p[j].tokens < p->tokens || (s->p[j].tokens == p->tokens && j < i)))
                rank++;
        p->held_out = rank % 3 == 2;
        p->fitted = !p->held_out;
    }
}

double cal_set_triad_Bps(const cal_set *s)
{
    double best = 0;
    for (int i = 0; i < s->n; i++)
        if (s->p[i].kind == CAL_TRIAD && s->p[i].bytes / s->p[i].measured_s > best)
            best = s->p[i].bytes / s->p[i].measured_s;
    return best;
}
