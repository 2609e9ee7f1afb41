/* hw.c: loading a hardware model (hwmodels/NAME.json, schema moesim-hwmodel/1) into SI units,
 * filling efficiency curves for data types a file leaves out, and validating every field with
 * errors that name the file, the field path and what was expected. */
#include "model/hw.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/jsonfile.h"

#define SCHEMA_ID "moesim-hwmodel/1"

/* Unit factors: files use the units spec sheets use. */
#define TFLOPS 1e12
#define GB 1e9
#define GBPS 1e9
#define MB 1e6
#define US 1e-6
#define GELEM 1e9

static const char *const class_names[] = {[SIM_HW_GPU] = "gpu", [SIM_HW_CPU] = "cpu", [SIM_HW_APPLE_GPU] = "apple-gpu"};
static const char *const backend_names[] = {"cuda-graph", "cuda-eager", "rocm-graph", "cpu", "apple-metal"};

const char *sim_hw_class_name(sim_hw_class c)
{
    return (int)c >= 0 && c <= SIM_HW_APPLE_GPU ? class_names[c] : "?";
}

/* ---- field helpers ------------------------------------------------------------------- */

/* "path.key", or "key" at the top level. */
static const char *join(char *buf, size_t cap, const char *path, const char *key)
{
    snprintf(buf, cap, "%s%s%s", path && *path ? path : "", path && *path ? "." : "", key);
    return buf;
}

/* Every object holding numbers names where they come from. */
static int need_source(const cJSON *obj, const char *file, const char *path, sim_err *err)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(obj, "source");
    char where[256];
    join(where, sizeof where, path, "source");
    if (!s)
        return sim_fail(err, SIM_EINPUT,
                        "%s: field '%s' is missing (expected a string naming where these figures come from)",
                        file, where);
    if (!cJSON_IsString(s) || !s->valuestring[0])
        return sim_fail(err, SIM_EINPUT,
                        "%s: field '%s' must be a non-empty string naming where these figures come from", file,
                        where);
    return SIM_OK;
}

typedef enum { R_POSITIVE, R_NONNEG, R_FRACTION } num_range;

/* Every figure of a hwmodel (TFLOP/s, GB, GB/s, us, W, US$, token and row counts) lies
 * between these for any device that exists or is planned; a value outside gives infinities
 * and zeros downstream (a TTFT of 1e300 s), so it is refused with the field named. */
#define PHYS_MIN_POSITIVE 1e-6
#define PHYS_MAX 1e9

static const char *range_text(num_range r)
{
    switch (r) {
    case R_POSITIVE:
        return "a number in [1e-06, 1e+09]";
    case R_NONNEG:
        return "a number in [0, 1e+09]";
    case R_FRACTION:
    default:
        return "an efficiency in (0, 1]";
    }
}

/* A number in range. When `required` is false and the field is absent, *out keeps its value. */
static int get_num(const cJSON *obj, const char *key, bool required, num_range r, double *out, const char *file,
                   const char *path, sim_err *err)
{
    double v = *out;
    int rc = required ? sim_json_num(obj, key, &v, file, path, err) : sim_json_num_opt(obj, key, &v, file, path, err);
    if (rc)
        return rc;
    if (!required && !cJSON_GetObjectItemCaseSensitive(obj, key))
        return SIM_OK;
    bool ok = r == R_POSITIVE ? v >= PHYS_MIN_POSITIVE && v <= PHYS_MAX
            : r == R_NONNEG   ? v >= 0 && v <= PHYS_MAX
                              : v > 0 && v <= 1;
    if (!ok) {
        char where[256];
        return sim_fail(err, SIM_EINPUT, "%s: field '%s' is %g (expected %s)", file,
                        join(where, sizeof where, path, key), v, range_text(r));
    }
    *out = v;
    return SIM_OK;
}

/* A string that must be one of the n_names `names`; *index gets its position. */
static int get_enum(const cJSON *obj, const char *key, const char *const *names, int n_names, int *index,
                    const char *file, const char *path, sim_err *err)
{
    char s[64], where[256];
    int rc = sim_json_str(obj, key, s, sizeof s, file, path, err);
    if (rc)
        return rc;
    char list[256] = "";
    for (int i = 0; i < n_names; i++) {
        if (strcmp(s, names[i]) == 0) {
            *index = i;
            return SIM_OK;
        }
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", names[i]);
    }
    return sim_fail(err, SIM_EINPUT, "%s: field '%s' is '%s' (expected one of: %s)", file,
                    join(where, sizeof where, path, key), s, list);
}

/* Strict, lower-case match of a data type name as the schema spells it. */
static int dtype_from_key(const char *key, sim_dtype *out)
{
    for (int t = 0; t < SIM_DT_COUNT; t++)
        if (strcmp(key, sim_dtype_name((sim_dtype)t)) == 0) {
            *out = (sim_dtype)t;
            return 0;
        }
    return -1;
}

static int wformat_from_key(const char *key, sim_wformat *out)
{
    for (int f = 0; f < SIM_WF_COUNT; f++)
        if (strcmp(key, sim_wformat_name((sim_wformat)f)) == 0) {
            *out = (sim_wformat)f;
            return 0;
        }
    return -1;
}

/* "fp32, bf16, ..." into the caller's buffer, for messages; returns buf. */
static const char *dtype_list(char *buf, size_t cap)
{
    buf[0] = '\0';
    for (int t = 0; t < SIM_DT_COUNT; t++)
        snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", t ? ", " : "", sim_dtype_name((sim_dtype)t));
    return buf;
}

/* ---- top level ----------------------------------------------------------------------- */

static int parse_header(const cJSON *root, sim_hw *hw, const char *file, sim_err *err)
{
    char schema[64];
    int rc = sim_json_str(root, "schema", schema, sizeof schema, file, "", err);
    if (rc)
        return rc;
    if (strcmp(schema, SCHEMA_ID) != 0)
        return sim_fail(err, SIM_EINPUT, "%s: field 'schema' is '%s' (expected '%s')", file, schema, SCHEMA_ID);
    if ((rc = sim_json_str(root, "name", hw->name, sizeof hw->name, file, "", err)) ||
        (rc = sim_json_str(root, "display_name", hw->display_name, sizeof hw->display_name, file, "", err)))
        return rc;
    if (!hw->name[0])
        return sim_fail(err, SIM_EINPUT, "%s: field 'name' is empty (expected the model's short name)", file);
    char released[32] = "";
    if ((rc = sim_json_str_opt(root, "released", released, sizeof released, file, "", err)))
        return rc;
    int cls = 0, backend = 0;
    if ((rc = get_enum(root, "class", class_names, 3, &cls, file, "", err)) ||
        (rc = get_enum(root, "backend", backend_names, 5, &backend, file, "", err)))
        return rc;
    hw->cls = (sim_hw_class)cls;
    snprintf(hw->backend, sizeof hw->backend, "%s", backend_names[backend]);
    return SIM_OK;
}

static int parse_compute(const cJSON *root, sim_hw *hw, const char *file, sim_err *err)
{
    static const char *const keys[] = {"source", "tflops", "sms", NULL};
    const cJSON *c = sim_json_obj(root, "compute", file, "", err);
    if (!c)
        return err->code;
    int rc;
    if ((rc = sim_json_check_keys(c, keys, file, "compute", err)) || (rc = need_source(c, file, "compute", err)))
        return rc;
    const cJSON *t = sim_json_obj(c, "tflops", file, "compute", err);
    if (!t)
        return err->code;
    char types[128];
    int n = 0;
    for (const cJSON *it = t->child; it; it = it->next) {
        sim_dtype dt;
        if (dtype_from_key(it->string, &dt) != 0)
            return sim_fail(err, SIM_EINPUT, "%s: unknown field 'compute.tflops.%s' (expected one of: %s)", file,
                            it->string, dtype_list(types, sizeof types));
        double v = 0;
        if ((rc = get_num(t, it->string, true, R_POSITIVE, &v, file, "compute.tflops", err)))
            return rc;
        if (hw->peak_flops[dt] > 0)
            return sim_fail(err, SIM_EINPUT, "%s: field 'compute.tflops.%s' appears twice", file, it->string);
        hw->peak_flops[dt] = v * TFLOPS;
        n++;
    }
    if (n == 0)
        return sim_fail(err, SIM_EINPUT, "%s: field 'compute.tflops' is empty (expected at least one of: %s)", file,
                        dtype_list(types, sizeof types));
    /* optional: the SM count, for communication kernels that occupy SMs (step.c) */
    double sms = 0;
    if ((rc = get_num(c, "sms", false, R_POSITIVE, &sms, file, "compute", err)))
        return rc;
    if (sms != floor(sms) || sms > 100000)
        return sim_fail(err, SIM_EINPUT, "%s: field 'compute.sms' is %g (expected a whole number of SMs)", file, sms);
    hw->sms = (int)sms;
    return SIM_OK;
}

static int parse_tier(const cJSON *t, int i, sim_mem_tier *tier, const char *file, sim_err *err)
{
    static const char *const keys[] = {"name", "capacity_gb", "bandwidth_gbs", "spill", "page_cache", "reported_gib",
                                       "source", NULL};
    char path[64];
    snprintf(path, sizeof path, "memory.tiers[%d]", i);
    if (!cJSON_IsObject(t))
        return sim_fail(err, SIM_EINPUT, "%s: field '%s' must be an object", file, path);
    int rc;
    double cap = 0, bw = 0, rep = 0;
    if ((rc = sim_json_check_keys(t, keys, file, path, err)) ||
        (rc = sim_json_str(t, "name", tier->name, sizeof tier->name, file, path, err)) ||
        (rc = get_num(t, "capacity_gb", true, R_POSITIVE, &cap, file, path, err)) ||
        (rc = get_num(t, "bandwidth_gbs", true, R_POSITIVE, &bw, file, path, err)) ||
        (rc = sim_json_bool_opt(t, "spill", &tier->spill_default, file, path, err)) ||
        (rc = sim_json_bool_opt(t, "page_cache", &tier->page_cache, file, path, err)) ||
        (rc = get_num(t, "reported_gib", false, R_POSITIVE, &rep, file, path, err)))
        return rc;
    /* A per-tier source is optional, but when given it must say something. */
    if (cJSON_GetObjectItemCaseSensitive(t, "source") && (rc = need_source(t, file, path, err)))
        return rc;
    tier->capacity_bytes = cap * GB;
    tier->bandwidth_Bps = bw * GBPS;
    /* the driver's total, in GiB as engines print it (vLLM's total_gpu_memory) */
    tier->reported_bytes = rep * 1073741824.0;
    return SIM_OK;
}

static int parse_memory(const cJSON *root, sim_hw *hw, const char *file, sim_err *err)
{
    static const char *const keys[] = {"source", "tiers", NULL};
    const cJSON *m = sim_json_obj(root, "memory", file, "", err);
    if (!m)
        return err->code;
    int rc;
    if ((rc = sim_json_check_keys(m, keys, file, "memory", err)) || (rc = need_source(m, file, "memory", err)))
        return rc;
    const cJSON *tiers = cJSON_GetObjectItemCaseSensitive(m, "tiers");
    if (!cJSON_IsArray(tiers))
        return sim_fail(err, SIM_EINPUT, "%s: field 'memory.tiers' %s (expected an array of 1 to %d tiers)", file,
                        tiers ? "must be an array" : "is missing", SIM_MAX_TIERS);
    int n = cJSON_GetArraySize(tiers);
    if (n < 1 || n > SIM_MAX_TIERS)
        return sim_fail(err, SIM_EINPUT, "%s: field 'memory.tiers' has %d tiers (expected 1 to %d)", file, n,
                        SIM_MAX_TIERS);
    for (int i = 0; i < n; i++)
        if ((rc = parse_tier(cJSON_GetArrayItem(tiers, i), i, &hw->tiers[i], file, err)))
            return rc;
    hw->n_tiers = n;
    return SIM_OK;
}

/* A link. For scale-up, domain_size 1 means no device-to-device link: bandwidth and latency
 * may then be left out. Scale-out has no domain (any number of nodes): domain_size stays 0. */
static int parse_link(const cJSON *ic, const char *key, bool scale_up, sim_link *l, const char *file,
                      sim_err *err)
{
    static const char *const up_keys[] = {"name", "domain_size", "bandwidth_gbs", "latency_us", NULL};
    static const char *const out_keys[] = {"name", "bandwidth_gbs", "latency_us", NULL};
    char path[64];
    snprintf(path, sizeof path, "interconnect.%s", key);
    const cJSON *o = sim_json_obj(ic, key, file, "interconnect", err);
    if (!o)
        return err->code;
    int rc;
    if ((rc = sim_json_check_keys(o, scale_up ? up_keys : out_keys, file, path, err)) ||
        (rc = sim_json_str(o, "name", l->name, sizeof l->name, file, path, err)))
        return rc;
    bool linked = true;
    if (scale_up) {
        if ((rc = sim_json_int(o, "domain_size", &l->domain_size, file, path, err)))
            return rc;
        if (l->domain_size < 1)
            return sim_fail(err, SIM_EINPUT, "%s: field '%s.domain_size' is %d (expected an integer >= 1)", file,
                            path, l->domain_size);
        linked = l->domain_size > 1;
    }
    double bw = 0, lat = 0;
    if ((rc = get_num(o, "bandwidth_gbs", linked, R_POSITIVE, &bw, file, path, err)) ||
        (rc = get_num(o, "latency_us", linked, R_NONNEG, &lat, file, path, err)))
        return rc;
    l->bandwidth_Bps = bw * GBPS;
    l->latency_s = lat * US;
    return SIM_OK;
}

static int parse_interconnect(const cJSON *root, sim_hw *hw, const char *file, sim_err *err)
{
    static const char *const keys[] = {"source", "devices_per_node", "scale_up", "scale_out", NULL};
    const cJSON *ic = sim_json_obj(root, "interconnect", file, "", err);
    if (!ic)
        return err->code;
    int rc;
    if ((rc = sim_json_check_keys(ic, keys, file, "interconnect", err)) || (rc = need_source(ic, file, "interconnect", err)) ||
        (rc = sim_json_int(ic, "devices_per_node", &hw->devices_per_node, file, "interconnect", err)))
        return rc;
    if (hw->devices_per_node < 1)
        return sim_fail(err, SIM_EINPUT, "%s: field 'interconnect.devices_per_node' is %d (expected an integer >= 1)",
                        file, hw->devices_per_node);
    if ((rc = parse_link(ic, "scale_up", true, &hw->scale_up, file, err)))
        return rc;
    /* No scale-out object: a single box with no network (a laptop, a Pi). */
    snprintf(hw->scale_out.name, sizeof hw->scale_out.name, "none");
    if (cJSON_GetObjectItemCaseSensitive(ic, "scale_out"))
        return parse_link(ic, "scale_out", false, &hw->scale_out, file, err);
    return SIM_OK;
}

static int parse_power(const cJSON *root, sim_hw *hw, const char *file, sim_err *err)
{
    static const char *const keys[] = {"source", "device_w", "host_w", NULL};
    const cJSON *p = sim_json_obj(root, "power", file, "", err);
    if (!p)
        return err->code;
    int rc;
    if ((rc = sim_json_check_keys(p, keys, file, "power", err)) || (rc = need_source(p, file, "power", err)) ||
        (rc = get_num(p, "device_w", true, R_POSITIVE, &hw->power_w, file, "power", err)) ||
        (rc = get_num(p, "host_w", true, R_NONNEG, &hw->host_power_w, file, "power", err)))
        return rc;
    return SIM_OK;
}

/* Other names the hwmodel answers to (the registry finds NAME.json by them; hw->name stays the
 * file's): a list of strings, none empty. */
static int check_aliases(const cJSON *root, const char *file, sim_err *err)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, "aliases");
    if (!a)
        return SIM_OK;
    if (!cJSON_IsArray(a))
        return sim_fail(err, SIM_EINPUT, "%s: field 'aliases' must be an array of names", file);
    for (const cJSON *it = a->child; it; it = it->next)
        if (!cJSON_IsString(it) || !it->valuestring[0])
            return sim_fail(err, SIM_EINPUT, "%s: field 'aliases' must hold non-empty names (strings)", file);
    return SIM_OK;
}

/* A multi-socket CPU: sockets and the link between two of them (hw.h). Absent = one socket.
 * Only a CPU has sockets here: a GPU's host CPU is its own hwmodel (--host-cpu). */
#define MAX_SOCKETS 8
static int parse_numa(const cJSON *root, sim_hw *hw, const char *file, sim_err *err)
{
    static const char *const keys[] = {"source", "sockets", "link_name", "link_gbs", NULL};
    hw->numa.sockets = 1;
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(root, "numa");
    if (!n)
        return SIM_OK;
    if (!cJSON_IsObject(n))
        return sim_fail(err, SIM_EINPUT, "%s: field 'numa' must be an object (sockets, link_name, link_gbs, source)",
                        file);
    int rc;
    if ((rc = sim_json_check_keys(n, keys, file, "numa", err)) || (rc = need_source(n, file, "numa", err)) ||
        (rc = sim_json_int(n, "sockets", &hw->numa.sockets, file, "numa", err)))
        return rc;
    if (hw->numa.sockets < 1 || hw->numa.sockets > MAX_SOCKETS)
        return sim_fail(err, SIM_EINPUT, "%s: field 'numa.sockets' is %d (expected an integer from 1 to %d)", file,
                        hw->numa.sockets, MAX_SOCKETS);
    if (hw->cls != SIM_HW_CPU)
        return sim_fail(err, SIM_EINPUT, "%s: field 'numa' is given for a %s model (expected only for class cpu: a GPU's "
                        "host CPU is its own hwmodel)", file, sim_hw_class_name(hw->cls));
    bool linked = hw->numa.sockets > 1;
    double gbs = 0;
    if ((rc = get_num(n, "link_gbs", linked, R_POSITIVE, &gbs, file, "numa", err)))
        return rc;
    hw->numa.link_Bps = gbs * GBPS;
    snprintf(hw->numa.link_name, sizeof hw->numa.link_name, "none");
    if (cJSON_GetObjectItemCaseSensitive(n, "link_name") &&
        (rc = sim_json_str(n, "link_name", hw->numa.link_name, sizeof hw->numa.link_name, file, "numa", err)))
        return rc;
    return SIM_OK;
}

/* usd_per_hour 0 = not rented anywhere; purchase_usd 0 = no purchase price known. One of the
 * two must be known, or no cost can be computed. */
static int parse_price(const cJSON *root, sim_hw *hw, const char *file, sim_err *err)
{
    static const char *const keys[] = {"source", "usd_per_hour", "purchase_usd", "lifetime_years", NULL};
    const cJSON *p = sim_json_obj(root, "price", file, "", err);
    if (!p)
        return err->code;
    int rc;
    if ((rc = sim_json_check_keys(p, keys, file, "price", err)) || (rc = need_source(p, file, "price", err)) ||
        (rc = get_num(p, "usd_per_hour", true, R_NONNEG, &hw->usd_per_hour, file, "price", err)) ||
        (rc = get_num(p, "purchase_usd", true, R_NONNEG, &hw->purchase_usd, file, "price", err)) ||
        (rc = get_num(p, "lifetime_years", true, R_POSITIVE, &hw->lifetime_years, file, "price", err)) ||
        (rc = sim_json_str(p, "source", hw->price_source, sizeof hw->price_source, file, "price", err)))
        return rc;
    if (hw->usd_per_hour <= 0 && hw->purchase_usd <= 0)
        return sim_fail(err, SIM_EINPUT,
                        "%s: fields 'price.usd_per_hour' and 'price.purchase_usd' are both 0 (expected at least one "
                        "price)",
                        file);
    return SIM_OK;
}

/* ---- efficiency ---------------------------------------------------------------------- */

/* When a file has no curve for a type, the nearest type that has one stands in: narrower
 * types fall back to the next wider float type first (their kernels are the closest), wider
 * ones to the next type of similar width. -1 terminated; the type itself is not listed. */
static const int curve_fallback[SIM_DT_COUNT][SIM_DT_COUNT] = {
    [SIM_DT_FP4] = {SIM_DT_FP8, SIM_DT_INT8, SIM_DT_BF16, SIM_DT_FP16, SIM_DT_TF32, SIM_DT_FP32, -1},
    [SIM_DT_FP8] = {SIM_DT_BF16, SIM_DT_FP16, SIM_DT_INT8, SIM_DT_TF32, SIM_DT_FP32, SIM_DT_FP4, -1},
    [SIM_DT_INT8] = {SIM_DT_FP8, SIM_DT_BF16, SIM_DT_FP16, SIM_DT_TF32, SIM_DT_FP32, SIM_DT_FP4, -1},
    [SIM_DT_BF16] = {SIM_DT_FP16, SIM_DT_TF32, SIM_DT_FP32, SIM_DT_FP8, SIM_DT_INT8, SIM_DT_FP4, -1},
    [SIM_DT_FP16] = {SIM_DT_BF16, SIM_DT_TF32, SIM_DT_FP32, SIM_DT_FP8, SIM_DT_INT8, SIM_DT_FP4, -1},
    [SIM_DT_TF32] = {SIM_DT_FP32, SIM_DT_BF16, SIM_DT_FP16, SIM_DT_FP8, SIM_DT_INT8, SIM_DT_FP4, -1},
    [SIM_DT_FP32] = {SIM_DT_TF32, SIM_DT_BF16, SIM_DT_FP16, SIM_DT_FP8, SIM_DT_INT8, SIM_DT_FP4, -1},
};

/* The optional second kernel regime of a GEMM curve (hw.h): "small": {"rows": 8, "max", "half"}. */
static int parse_small_regime(const cJSON *o, const char *path, sim_curve *c, const char *file, sim_err *err)
{
    static const char *const keys[] = {"rows", "max", "half", "overhead_us", NULL};
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "small");
    if (!s)
        return SIM_OK;
    char where[128];
    join(where, sizeof where, path, "small");
    if (!cJSON_IsObject(s))
        return sim_fail(err, SIM_EINPUT,
                        "%s: field '%s' must be an object {\"rows\": ..., \"max\": ..., \"half\": ...}", file, where);
    double rows = 0;
    int rc;
    if ((rc = sim_json_check_keys(s, keys, file, where, err)) ||
        (rc = get_num(s, "rows", true, R_POSITIVE, &rows, file, where, err)) ||
        (rc = get_num(s, "max", true, R_FRACTION, &c->small_max, file, where, err)) ||
        (rc = get_num(s, "half", true, R_NONNEG, &c->small_half, file, where, err)) ||
        (rc = get_num(s, "overhead_us", false, R_NONNEG, &c->small_group_s, file, where, err)))
        return rc;
    c->small_group_s *= 1e-6;
    if (rows != floor(rows) || rows > 1e6) {
        char f[160];
        return sim_fail(err, SIM_EINPUT, "%s: field '%s' is %g (expected a whole number of rows, 1 to 1000000)", file,
                        join(f, sizeof f, where, "rows"), rows);
    }
    c->small_rows = (int)rows;
    return SIM_OK;
}

/* An optional whole number `key` of `o` in [lo, hi] into *out (absent: *out unchanged). */
static int get_count(const cJSON *o, const char *key, int lo, int hi, int *out, const char *path, const char *file,
                     sim_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v)
        return SIM_OK;
    double x = cJSON_IsNumber(v) ? v->valuedouble : -1;
    if (!(x >= lo && x <= hi && x == floor(x)))
        return sim_fail(err, SIM_EINPUT, "%s: field '%s.%s' must be a whole number, %d to %d", file, path, key, lo, hi);
    *out = (int)x;
    return SIM_OK;
}

static int parse_curve(const cJSON *o, const char *path, sim_curve *c, const char *file, sim_err *err)
{
    static const char *const keys[] = {"max",      "half",      "overhead_us",      "small",
                                       "measured", "tile_rows", "tile_from_tokens", NULL};
    if (!cJSON_IsObject(o))
        return sim_fail(err, SIM_EINPUT, "%s: field '%s' must be an object {\"max\": ..., \"half\": ...}", file, path);
    int rc;
    *c = (sim_curve){0};
    if ((rc = sim_json_check_keys(o, keys, file, path, err)) ||
        (rc = get_num(o, "max", true, R_FRACTION, &c->max, file, path, err)) ||
        (rc = get_num(o, "half", true, R_NONNEG, &c->half, file, path, err)) ||
        (rc = get_num(o, "overhead_us", false, R_NONNEG, &c->group_s, file, path, err)) ||
        (rc = parse_small_regime(o, path, c, file, err)))
        return rc;
    if ((rc = get_count(o, "tile_rows", 1, 4096, &c->tile_rows, path, file, err)) ||
        (rc = get_count(o, "tile_from_tokens", 1, 1 << 20, &c->tile_from_tokens, path, file, err)))
        return rc;
    if (c->tile_from_tokens > 0 && c->tile_rows == 0)
        return sim_fail(err, SIM_EINPUT, "%s: field '%s.tile_from_tokens' needs '%s.tile_rows'", file, path, path);
    /* "measured" is written by calibration; a calibrated file from before it listed only the
     * types it measured, so a listed curve without the field counts as measured there (the
     * caller clears it for prior files). */
    c->measured = true;
    if ((rc = sim_json_bool_opt(o, "measured", &c->measured, file, path, err)))
        return rc;
    c->group_s *= 1e-6;
    return SIM_OK;
}

/* A table of curves by data type ("gemm", "grouped_gemm") inside the object at `where`; `have`
 * (may be NULL) gets the types listed. Then the fallback fill, unless `have` is given (a
 * runtime's table: an unlisted type keeps the base curve). */
static int parse_curves_in(const cJSON *eff, const char *where, const char *key, sim_curve *curves, bool *have_out,
                           const char *file, sim_err *err)
{
    char path[128];
    snprintf(path, sizeof path, "%s.%s", where, key);
    const cJSON *t = sim_json_obj(eff, key, file, where, err);
    if (!t)
        return err->code;
    bool have[SIM_DT_COUNT] = {false};
    char types[128];
    int n = 0, rc;
    for (const cJSON *it = t->child; it; it = it->next) {
        sim_dtype dt;
        if (dtype_from_key(it->string, &dt) != 0)
            return sim_fail(err, SIM_EINPUT, "%s: unknown field '%s.%s' (expected one of: %s)", file, path,
                            it->string, dtype_list(types, sizeof types));
        if (have[dt])
            return sim_fail(err, SIM_EINPUT, "%s: field '%s.%s' appears twice", file, path, it->string);
        char sub[96];
        if ((rc = parse_curve(it, join(sub, sizeof sub, path, it->string), &curves[dt], file, err)))
            return rc;
        if (curves[dt].tile_rows > 0 && strcmp(key, "grouped_gemm") != 0)
            return sim_fail(err, SIM_EINPUT, "%s: field '%s.tile_rows' is for grouped_gemm curves only (the experts' "
                            "rows are padded per expert; a dense GEMM's are one group)", file, sub);
        have[dt] = true;
        n++;
    }
    if (n == 0)
        return sim_fail(err, SIM_EINPUT, "%s: field '%s' is empty (expected a curve for at least one of: %s)", file,
                        path, dtype_list(types, sizeof types));
    if (have_out) {
        memcpy(have_out, have, sizeof have);
        return SIM_OK;
    }
    for (int dt = 0; dt < SIM_DT_COUNT; dt++)
        for (const int *f = curve_fallback[dt]; !have[dt] && *f >= 0; f++)
            if (have[*f]) {
                curves[dt] = curves[*f];
                curves[dt].measured = false; /* another type's curve: nothing measured this one */
                break;
            }
    return SIM_OK;
}

static int parse_curves(const cJSON *eff, const char *key, sim_curve *curves, const char *file, sim_err *err)
{
    return parse_curves_in(eff, "efficiency", key, curves, NULL, file, err);
}

static const char *const runtime_names[SIM_RUNTIME_COUNT] = {"llamacpp", "ik_llamacpp"};

const char *sim_runtime_name(sim_runtime r)
{
    return r >= 0 && r < SIM_RUNTIME_COUNT ? runtime_names[r] : "?";
}

int sim_runtime_parse(const char *s, sim_runtime *out)
{
    for (int r = 0; r < SIM_RUNTIME_COUNT; r++)
        if (strcmp(s, runtime_names[r]) == 0) {
            *out = (sim_runtime)r;
            return 0;
        }
    return -1;
}

sim_curve sim_hw_gemm_curve(const sim_hw *hw, sim_runtime r, sim_dtype t, bool grouped)
{
    if (r > 0 && r < SIM_RUNTIME_COUNT && hw->eff.runtime[r].set && hw->eff.runtime[r].have[t])
        return grouped ? hw->eff.runtime[r].grouped_gemm[t] : hw->eff.runtime[r].gemm[t];
    return grouped ? hw->eff.grouped_gemm[t] : hw->eff.gemm[t];
}

/* gguf_matvec: {"source": "...", "<GGUF tensor type>": share of the INT8 peak, ...} under
 * `where` (efficiency, or one of efficiency.runtimes). Keys are GGUF tensor types (q4_0, q4_k,
 * iq2_xxs, ...), not file recipes (q4_k_m mixes types); each share in (0, 1]. */
static int parse_matvec(const cJSON *parent, const char *where, double share[SIM_WF_COUNT], char *src, size_t cap,
                        const char *file, sim_err *err)
{
    const cJSON *mv = cJSON_GetObjectItemCaseSensitive(parent, "gguf_matvec");
    if (!mv)
        return SIM_OK;
    char path[128];
    snprintf(path, sizeof path, "%s.gguf_matvec", where);
    if (!cJSON_IsObject(mv))
        return sim_fail(err, SIM_EINPUT, "%s: field '%s' must be an object of shares by GGUF tensor type", file, path);
    int rc;
    if ((rc = need_source(mv, file, path, err)))
        return rc;
    int n = 0;
    for (const cJSON *it = mv->child; it; it = it->next) {
        if (strcmp(it->string, "source") == 0)
            continue;
        sim_wformat f;
        if (wformat_from_key(it->string, &f) != 0 || !sim_wformat_is_gguf(f) || sim_wformat_is_recipe(f))
            return sim_fail(err, SIM_EINPUT,
                            "%s: unknown field '%s.%s' (expected a GGUF tensor type: q4_0, q4_1, q5_0, q5_1, q8_0, "
                            "q2_k, q3_k, q4_k, q5_k, q6_k, iq2_xxs, iq2_xs, iq2_s, iq3_xxs, iq3_s, iq4_nl, iq4_xs; "
                            "file types such as q4_k_m are recipes of several)",
                            file, path, it->string);
        if ((rc = get_num(mv, it->string, true, R_FRACTION, &share[f], file, path, err)))
            return rc;
        n++;
    }
    if (n == 0)
        return sim_fail(err, SIM_EINPUT, "%s: field '%s' lists no GGUF tensor type", file, path);
    const char *s = cJSON_GetObjectItemCaseSensitive(mv, "source")->valuestring;
    if (snprintf(src, cap, "%s", s) >= (int)cap)
        memcpy(src + cap - 4, "...", 4);
    return SIM_OK;
}

double sim_hw_matvec_share(const sim_hw *hw, sim_runtime r, sim_wformat f, const char **source)
{
    if ((int)f < 0 || f >= SIM_WF_COUNT)
        return 0;
    if (r > 0 && r < SIM_RUNTIME_COUNT && hw->eff.runtime[r].matvec_share[f] > 0) {
        if (source)
            *source = hw->eff.runtime[r].matvec_source;
        return hw->eff.runtime[r].matvec_share[f];
    }
    if (source)
        *source = hw->eff.matvec_source;
    return hw->eff.matvec_share[f];
}

/* A GGUF tensor type a llama.cpp kernel computes with integer dot products: the GGUF types,
 * and MXFP4 (ggml_vec_dot_mxfp4_q8_0 against 8-bit activations), not file recipes. */
static bool gguf_kernel_type(sim_wformat f)
{
    return (sim_wformat_is_gguf(f) && !sim_wformat_is_recipe(f)) || f == SIM_WF_MXFP4;
}

/* The type a gguf_gemm key (or dense_only entry) `key` names; `what` says where it stands
 * ("field 'PATH.KEY'" or "entry 'KEY' of 'PATH'"), for an error listing the known ones. */
static int gemm_share_type(const char *key, const char *what, const char *file, sim_wformat *f, sim_err *err)
{
    if (wformat_from_key(key, f) == 0 && gguf_kernel_type(*f))
        return SIM_OK;
    return sim_fail(err, SIM_EINPUT,
                    "%s: unknown %s (expected a GGUF tensor type: q4_0, q4_1, q5_0, q5_1, q8_0, q2_k, q3_k, q4_k, "
                    "q5_k, q6_k, iq2_xxs, iq2_xs, iq2_s, iq3_xxs, iq3_s, iq4_nl, iq4_xs, mxfp4; file types such as "
                    "q4_k_m are recipes of several)",
                    file, what);
}

/* gguf_gemm: {"source": "...", "<GGUF tensor type>": share of the INT8 peak, ..., "dense_only":
 * [types whose figure is of a dense-only kernel]} under `where`. Each share in (0, 1]; a
 * dense_only entry must be a type the table gives. */
static int parse_gemm_shares(const cJSON *parent, const char *where, double share[SIM_WF_COUNT],
                             bool dense_only[SIM_WF_COUNT], char *src, size_t cap, const char *file, sim_err *err)
{
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(parent, "gguf_gemm");
    if (!g)
        return SIM_OK;
    char path[128];
    snprintf(path, sizeof path, "%s.gguf_gemm", where);
    if (!cJSON_IsObject(g))
        return sim_fail(err, SIM_EINPUT, "%s: field '%s' must be an object of shares by GGUF tensor type", file, path);
    int rc;
    if ((rc = need_source(g, file, path, err)))
        return rc;
    int n = 0;
    sim_wformat f;
    for (const cJSON *it = g->child; it; it = it->next) {
        if (strcmp(it->string, "source") == 0 || strcmp(it->string, "dense_only") == 0)
            continue;
        char what[192];
        snprintf(what, sizeof what, "field '%s.%s'", path, it->string);
        if ((rc = gemm_share_type(it->string, what, file, &f, err)) ||
            (rc = get_num(g, it->string, true, R_FRACTION, &share[f], file, path, err)))
            return rc;
        n++;
    }
    if (n == 0)
        return sim_fail(err, SIM_EINPUT, "%s: field '%s' lists no GGUF tensor type", file, path);
    const cJSON *dense = cJSON_GetObjectItemCaseSensitive(g, "dense_only");
    if (dense && !cJSON_IsArray(dense))
        return sim_fail(err, SIM_EINPUT, "%s: field '%s.dense_only' must be a list of GGUF tensor types", file, path);
    char dpath[160];
    snprintf(dpath, sizeof dpath, "%s.dense_only", path);
    for (const cJSON *it = dense ? dense->child : NULL; it; it = it->next) {
        if (!cJSON_IsString(it))
            return sim_fail(err, SIM_EINPUT, "%s: field '%s' must be a list of GGUF tensor types", file, dpath);
        char what[256];
        snprintf(what, sizeof what, "entry '%s' of '%s'", it->valuestring, dpath);
        if ((rc = gemm_share_type(it->valuestring, what, file, &f, err)))
            return rc;
        if (!(share[f] > 0))
            return sim_fail(err, SIM_EINPUT, "%s: field '%s' names '%s', which '%s' gives no share", file, dpath,
                            it->valuestring, path);
        dense_only[f] = true;
    }
    const char *s = cJSON_GetObjectItemCaseSensitive(g, "source")->valuestring;
    if (snprintf(src, cap, "%s", s) >= (int)cap)
        memcpy(src + cap - 4, "...", 4);
    return SIM_OK;
}

double sim_hw_gemm_share(const sim_hw *hw, sim_runtime r, sim_wformat f, bool grouped, const char **source)
{
    if ((int)f < 0 || f >= SIM_WF_COUNT)
        return 0;
    bool own = r > 0 && r < SIM_RUNTIME_COUNT && hw->eff.runtime[r].set;
    const double *share = own ? hw->eff.runtime[r].gemm_share : hw->eff.gemm_share;
    const bool *dense_only = own ? hw->eff.runtime[r].gemm_dense_only : hw->eff.gemm_dense_only;
    if (source)
        *source = own ? hw->eff.runtime[r].gemm_source : hw->eff.gemm_source;
    return grouped && dense_only[f] ? 0 : share[f];
}

/* efficiency.runtimes: {"ik_llamacpp": {"source", "gemm", "grouped_gemm"}}. The base curves are
 * mainline llama.cpp's (runtime "llamacpp"), so that name is not a key here. Both tables list
 * the same types. */
static int parse_runtimes(const cJSON *eff, sim_hw *hw, const char *file, sim_err *err)
{
    static const char *const keys[] = {"source", "gemm", "grouped_gemm", "gguf_matvec", "gguf_gemm", NULL};
    const cJSON *rt = cJSON_GetObjectItemCaseSensitive(eff, "runtimes");
    if (!rt)
        return SIM_OK;
    if (!cJSON_IsObject(rt))
        return sim_fail(err, SIM_EINPUT, "%s: field 'efficiency.runtimes' must be an object", file);
    int rc;
    for (const cJSON *it = rt->child; it; it = it->next) {
        sim_runtime r;
        if (sim_runtime_parse(it->string, &r) != 0 || r == SIM_RUNTIME_LLAMACPP)
            return sim_fail(err, SIM_EINPUT, "%s: unknown field 'efficiency.runtimes.%s' (expected ik_llamacpp; the "
                            "base curves are llamacpp's)", file, it->string);
        char where[96];
        snprintf(where, sizeof where, "efficiency.runtimes.%s", it->string);
        if (!cJSON_IsObject(it))
            return sim_fail(err, SIM_EINPUT, "%s: field '%s' must be an object", file, where);
        bool have_g[SIM_DT_COUNT];
        if ((rc = sim_json_check_keys(it, keys, file, where, err)) || (rc = need_source(it, file, where, err)) ||
            (rc = parse_curves_in(it, where, "gemm", hw->eff.runtime[r].gemm, hw->eff.runtime[r].have, file, err)) ||
            (rc = parse_curves_in(it, where, "grouped_gemm", hw->eff.runtime[r].grouped_gemm, have_g, file, err)) ||
            (rc = parse_matvec(it, where, hw->eff.runtime[r].matvec_share, hw->eff.runtime[r].matvec_source,
                               sizeof hw->eff.runtime[r].matvec_source, file, err)) ||
            (rc = parse_gemm_shares(it, where, hw->eff.runtime[r].gemm_share, hw->eff.runtime[r].gemm_dense_only,
                                    hw->eff.runtime[r].gemm_source, sizeof hw->eff.runtime[r].gemm_source, file,
                                    err)))
            return rc;
        if (memcmp(have_g, hw->eff.runtime[r].have, sizeof have_g) != 0)
            return sim_fail(err, SIM_EINPUT, "%s: fields '%s.gemm' and '%s.grouped_gemm' must list the same types",
                            file, where, where);
        const char *src = cJSON_GetObjectItemCaseSensitive(it, "source")->valuestring;
        if (snprintf(hw->eff.runtime[r].source, sizeof hw->eff.runtime[r].source, "%s", src) >=
            (int)sizeof hw->eff.runtime[r].source)
            memcpy(hw->eff.runtime[r].source + sizeof hw->eff.runtime[r].source - 4, "...", 4);
        hw->eff.runtime[r].set = true;
    }
    return SIM_OK;
}

static int parse_memory_eff(const cJSON *eff, sim_hw *hw, const char *file, sim_err *err)
{
    static const char *const keys[] = {"max", "half_mb", NULL};
    const char *path = "efficiency.memory";
    const cJSON *m = sim_json_obj(eff, "memory", file, "efficiency", err);
    if (!m)
        return err->code;
    double half_mb = 0;
    int rc;
    if ((rc = sim_json_check_keys(m, keys, file, path, err)) ||
        (rc = get_num(m, "max", true, R_FRACTION, &hw->eff.memory.max, file, path, err)) ||
        (rc = get_num(m, "half_mb", true, R_NONNEG, &half_mb, file, path, err)))
        return rc;
    hw->eff.memory.half = half_mb * MB;
    return SIM_OK;
}

static int parse_attention(const cJSON *eff, sim_hw *hw, const char *file, sim_err *err)
{
    static const char *const dkeys[] = {"mem_max", "half_tokens", "compute", NULL};
    static const char *const pkeys[] = {"compute", NULL};
    const char *dpath = "efficiency.attention_decode", *ppath = "efficiency.attention_prefill";
    const cJSON *d = sim_json_obj(eff, "attention_decode", file, "efficiency", err);
    if (!d)
        return err->code;
    int rc;
    if ((rc = sim_json_check_keys(d, dkeys, file, dpath, err)) ||
        (rc = get_num(d, "mem_max", true, R_FRACTION, &hw->eff.attn_decode_mem.max, file, dpath, err)) ||
        (rc = get_num(d, "half_tokens", true, R_NONNEG, &hw->eff.attn_decode_mem.half, file, dpath, err)) ||
        (rc = get_num(d, "compute", true, R_FRACTION, &hw->eff.attn_decode_compute, file, dpath, err)))
        return rc;
    const cJSON *p = sim_json_obj(eff, "attention_prefill", file, "efficiency", err);
    if (!p)
        return err->code;
    if ((rc = sim_json_check_keys(p, pkeys, file, ppath, err)) ||
        (rc = get_num(p, "compute", true, R_FRACTION, &hw->eff.attn_prefill_compute, file, ppath, err)))
        return rc;
    return SIM_OK;
}

/* Unpacking rates by storage format; absent or 0 = fused into the matrix kernel, free. */
/* A GGUF tensor type the file does not list unpacks at the file's int4 rate (sub-8-bit types)
 * or int8 rate (Q8_0): on every llama.cpp backend the K-quant, legacy and IQ kernels unpack a
 * block to 8-bit integers or halves in registers before the dot product, the same work the int4
 * figure prices (mask, shift, scale per element). These rates price widening to 16 bits; where
 * llama.cpp computes a GGUF type with integer dot products, its per-type cost at decode (IQ grid
 * lookups, Q3_K/Q6_K bit planes) is the mat-vec share of efficiency.gguf_matvec instead. */
static void gguf_dequant_defaults(sim_hw *hw, const bool have[SIM_WF_COUNT])
{
    for (int f = 0; f < SIM_WF_COUNT; f++) {
        if (have[f] || !sim_wformat_is_gguf((sim_wformat)f) || sim_wformat_is_recipe((sim_wformat)f))
            continue;
        int from = sim_wformat_bits((sim_wformat)f) >= 8 ? SIM_WF_INT8 : SIM_WF_INT4;
        hw->eff.dequant_elems_per_s[f] = hw->eff.dequant_elems_per_s[from];
    }
}

static int parse_dequant(const cJSON *eff, sim_hw *hw, const char *file, sim_err *err)
{
    const char *path = "efficiency.dequant_gelem_s";
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(eff, "dequant_gelem_s");
    if (!d)
        return SIM_OK;
    if (!cJSON_IsObject(d))
        return sim_fail(err, SIM_EINPUT, "%s: field '%s' must be an object of rates by format", file, path);
    int rc;
    bool have[SIM_WF_COUNT] = {false};
    for (const cJSON *it = d->child; it; it = it->next) {
        sim_wformat f;
        if (wformat_from_key(it->string, &f) != 0 || sim_wformat_is_recipe(f))
            return sim_fail(err, SIM_EINPUT,
                            "%s: unknown field '%s.%s' (expected a storage format: %s; GGUF file types such "
                            "as q4_k_m are recipes, give their tensor types: q4_k, q6_k, ...)",
                            file, path, it->string, sim_wformat_names());
        if (have[f])
            return sim_fail(err, SIM_EINPUT, "%s: field '%s.%s' appears twice", file, path, it->string);
        have[f] = true;
        double v = 0;
        if ((rc = get_num(d, it->string, true, R_NONNEG, &v, file, path, err)))
            return rc;
        hw->eff.dequant_elems_per_s[f] = v * GELEM;
    }
    gguf_dequant_defaults(hw, have);
    /* int4_g32 unpacks the same 4-bit integers as int4 (mask, shift, scale per element); only
     * its scale is read every 32 elements instead of every 128 */
    if (!have[SIM_WF_INT4_G32])
        hw->eff.dequant_elems_per_s[SIM_WF_INT4_G32] = hw->eff.dequant_elems_per_s[SIM_WF_INT4];
    return SIM_OK;
}

/* dequant_measured: ["int4_g32", ...], the formats of dequant_gelem_s whose rate calibration
 * measured on this hardware (moesim calibrate writes it; the others are priors). Each must be a
 * format the file gives a rate for. */
static int parse_dequant_measured(const cJSON *eff, sim_hw *hw, const char *file, sim_err *err)
{
    const char *path = "efficiency.dequant_measured";
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(eff, "dequant_measured");
    if (!a)
        return SIM_OK;
    if (!cJSON_IsArray(a))
        return sim_fail(err, SIM_EINPUT, "%s: field '%s' must be an array of storage format names", file, path);
    for (const cJSON *it = a->child; it; it = it->next) {
        sim_wformat f;
        if (!cJSON_IsString(it) || wformat_from_key(it->valuestring, &f) != 0)
            return sim_fail(err, SIM_EINPUT, "%s: an entry of '%s' is not a storage format (expected one of: %s)", file,
                            path, sim_wformat_names());
        if (!(hw->eff.dequant_elems_per_s[f] > 0))
            return sim_fail(err, SIM_EINPUT, "%s: '%s' lists %s, which has no rate in efficiency.dequant_gelem_s", file,
                            path, it->valuestring);
        hw->eff.dequant_measured[f] = true;
    }
    return SIM_OK;
}

/* Link shares: required for each link the device has, optional otherwise. */
static int parse_link_eff(const cJSON *eff, sim_hw *hw, const char *file, sim_err *err)
{
    static const char *const keys[] = {"scale_up", "scale_out", NULL};
    const char *path = "efficiency.link";
    bool need_up = hw->scale_up.domain_size > 1, need_out = hw->scale_out.bandwidth_Bps > 0;
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(eff, "link");
    if (!l) {
        if (need_up || need_out)
            return sim_fail(err, SIM_EINPUT,
                            "%s: field '%s' is missing (expected achieved shares of the device's links)", file, path);
        return SIM_OK;
    }
    if (!cJSON_IsObject(l))
        return sim_fail(err, SIM_EINPUT, "%s: field '%s' must be an object", file, path);
    int rc;
    if ((rc = sim_json_check_keys(l, keys, file, path, err)) ||
        (rc = get_num(l, "scale_up", need_up, R_FRACTION, &hw->eff.link_scale_up, file, path, err)) ||
        (rc = get_num(l, "scale_out", need_out, R_FRACTION, &hw->eff.link_scale_out, file, path, err)))
        return rc;
    return SIM_OK;
}

/* Keys of an efficiency block that carry figures; a block with efficiency_from and none of
 * these takes its figures from the named hwmodel. */
static const char *const eff_figures[] = {"gemm",           "grouped_gemm",       "memory",           "attention_decode",
                                          "attention_prefill", "dequant_gelem_s", "kernel_overhead_us",
                                          "step_overhead_us", "runtimes", "gguf_matvec", "gguf_gemm", NULL};

/* efficiency_from: "NAME" (shipped), "calibrated/NAME", or a path, tried as given and then
 * beside the file naming it. */
static int load_transfer_source(const char *from, const char *file, const sim_hw_resolver *resolver, sim_hw *src,
                                sim_err *err)
{
    if (!resolver)
        return sim_fail(err, SIM_EINPUT, "%s: field 'efficiency.efficiency_from' ('%s') names another hwmodel; load "
                        "this file through the registry, which finds it", file, from);
    char beside[600] = "";
    const char *slash = strrchr(file, '/');
    FILE *probe = NULL;
    if (slash && from[0] != '/' && (strchr(from, '/') || strstr(from, ".json")) &&
        snprintf(beside, sizeof beside, "%.*s/%s", (int)(slash - file), file, from) < (int)sizeof beside &&
        !(probe = fopen(from, "r")) && (probe = fopen(beside, "r"))) {
        fclose(probe);
        from = beside;
    } else if (probe) {
        fclose(probe);
    }
    sim_err inner = {0, ""};
    int rc = resolver->load(resolver->ctx, from, src, &inner);
    if (rc)
        return sim_fail(err, rc, "%s: field 'efficiency.efficiency_from': %s", file, inner.msg);
    return SIM_OK;
}

/* A GEMM curve's half-point (the rows at which it reaches half its top efficiency) sits where
 * the kernel stops streaming its weights at the memory's pace and starts to fill the ALUs: for
 * one kernel it moves with the device's balance, peak FLOP/s over memory bytes/s (the
 * roofline's ridge point). A curve taken from another device of the family keeps its
 * kernel's shape, so its half-points scale by (P/B here) / (P/B there), type by type; without
 * this a device with less compute per byte (an RTX 3090 on the 4090's curves) would be
 * costed compute-bound at one token, where every GPU streams weights. */
static void scale_curve_halves(sim_curve *c, const sim_hw *hw, const sim_hw *src)
{
    double bw = hw->tiers[0].bandwidth_Bps, sbw = src->tiers[0].bandwidth_Bps;
    for (int t = 0; t < SIM_DT_COUNT; t++) {
        double p = hw->peak_flops[t], sp = src->peak_flops[t];
        if (!(p > 0 && sp > 0 && bw > 0 && sbw > 0))
            continue;
        double r = (p / bw) / (sp / sbw);
        c[t].half *= r;
        c[t].small_half *= r;
    }
}

/* Take the efficiencies of another hwmodel of the same family (class and backend: the
 * kernels' efficiencies and fixed costs are those of one kind of device and software).
 * The file's own `source` says why; `link` may be given, since links belong to the device. */
static int transfer_efficiency(const cJSON *e, sim_hw *hw, const char *file, const sim_hw_resolver *resolver,
                               sim_err *err)
{
    static const char *const keys[] = {"source", "efficiency_from", "link", NULL};
    int rc;
    if ((rc = sim_json_check_keys(e, keys, file, "efficiency", err)))
        return rc;
    char from[64];
    if ((rc = sim_json_str(e, "efficiency_from", from, sizeof from, file, "efficiency", err)))
        return rc;
    sim_hw src;
    if ((rc = load_transfer_source(from, file, resolver, &src, err)))
        return rc;
    if (src.cls != hw->cls || strcmp(src.backend, hw->backend) != 0)
        return sim_fail(err, SIM_EINPUT,
                        "%s: field 'efficiency.efficiency_from' names %s, a %s model with backend %s; %s is %s with "
                        "backend %s (efficiencies transfer only within one class and backend)",
                        file, from, sim_hw_class_name(src.cls), src.backend, hw->name, sim_hw_class_name(hw->cls),
                        hw->backend);
    hw->eff = src.eff;
    scale_curve_halves(hw->eff.gemm, hw, &src);
    scale_curve_halves(hw->eff.grouped_gemm, hw, &src);
    for (int r = 0; r < SIM_RUNTIME_COUNT; r++) {
        scale_curve_halves(hw->eff.runtime[r].gemm, hw, &src);
        scale_curve_halves(hw->eff.runtime[r].grouped_gemm, hw, &src);
    }
    snprintf(hw->eff.efficiency_from, sizeof hw->eff.efficiency_from, "%s", from);
    const char *why = cJSON_GetObjectItemCaseSensitive(e, "source")->valuestring;
    if (snprintf(hw->eff.source, sizeof hw->eff.source, "%s", why) >= (int)sizeof hw->eff.source)
        memcpy(hw->eff.source + sizeof hw->eff.source - 4, "...", 4);
    if (cJSON_GetObjectItemCaseSensitive(e, "link") && (rc = parse_link_eff(e, hw, file, err)))
        return rc;
    if ((hw->scale_up.domain_size > 1 && hw->eff.link_scale_up <= 0) ||
        (hw->scale_out.bandwidth_Bps > 0 && hw->eff.link_scale_out <= 0))
        return sim_fail(err, SIM_EINPUT,
                        "%s: field 'efficiency.link' is missing (%s has no share for this device's links: give "
                        "{\"scale_up\": ..., \"scale_out\": ...})",
                        file, from);
    return SIM_OK;
}

static int parse_efficiency(const cJSON *root, sim_hw *hw, const char *file, const sim_hw_resolver *resolver,
                            sim_err *err)
{
    static const char *const keys[] = {"provenance",         "source",           "efficiency_from",  "gemm",
                                       "grouped_gemm",       "memory",           "attention_decode", "attention_prefill",
                                       "dequant_gelem_s",    "kernel_overhead_us", "step_overhead_us", "link",
                                       "runtimes",           "gguf_matvec",      "gguf_gemm",        "dequant_measured",
                                       NULL};
    static const char *const provenances[] = {"prior", "calibrated"};
    const cJSON *e = sim_json_obj(root, "efficiency", file, "", err);
    if (!e)
        return err->code;
    int rc, prov = 0;
    if ((rc = sim_json_check_keys(e, keys, file, "efficiency", err)) || (rc = need_source(e, file, "efficiency", err)))
        return rc;
    /* efficiency_from alone: take the figures from that hwmodel; with figures beside it, it
     * only records where they were copied from */
    bool figures = false;
    for (const char *const *k = eff_figures; *k && !figures; k++)
        figures = cJSON_GetObjectItemCaseSensitive(e, *k) != NULL;
    if (!figures && cJSON_GetObjectItemCaseSensitive(e, "efficiency_from"))
        return transfer_efficiency(e, hw, file, resolver, err);
    if ((rc = get_enum(e, "provenance", provenances, 2, &prov, file, "efficiency", err)))
        return rc;
    snprintf(hw->eff.provenance, sizeof hw->eff.provenance, "%s", provenances[prov]);
    /* Kept for display; a source longer than the buffer is cut, marked with "...". */
    const char *src = cJSON_GetObjectItemCaseSensitive(e, "source")->valuestring;
    if (snprintf(hw->eff.source, sizeof hw->eff.source, "%s", src) >= (int)sizeof hw->eff.source)
        memcpy(hw->eff.source + sizeof hw->eff.source - 4, "...", 4);
    double k_us = 0, s_us = 0;
    if ((rc = sim_json_str_opt(e, "efficiency_from", hw->eff.efficiency_from, sizeof hw->eff.efficiency_from, file,
                         "efficiency", err)) ||
        (rc = parse_curves(e, "gemm", hw->eff.gemm, file, err)) ||
        (rc = parse_curves(e, "grouped_gemm", hw->eff.grouped_gemm, file, err)) ||
        (rc = parse_memory_eff(e, hw, file, err)) || (rc = parse_attention(e, hw, file, err)) ||
        (rc = parse_dequant(e, hw, file, err)) || (rc = parse_dequant_measured(e, hw, file, err)) ||
        (rc = get_num(e, "kernel_overhead_us", true, R_NONNEG, &k_us, file, "efficiency", err)) ||
        (rc = get_num(e, "step_overhead_us", true, R_NONNEG, &s_us, file, "efficiency", err)) ||
        (rc = parse_link_eff(e, hw, file, err)) || (rc = parse_runtimes(e, hw, file, err)) ||
        (rc = parse_matvec(e, "efficiency", hw->eff.matvec_share, hw->eff.matvec_source, sizeof hw->eff.matvec_source,
                           file, err)) ||
        (rc = parse_gemm_shares(e, "efficiency", hw->eff.gemm_share, hw->eff.gemm_dense_only, hw->eff.gemm_source,
                                sizeof hw->eff.gemm_source, file, err)))
        return rc;
    hw->eff.kernel_overhead_s = k_us * US;
    hw->eff.step_overhead_s = s_us * US;
    if (strcmp(hw->eff.provenance, "calibrated") != 0) { /* a prior file measured nothing */
        for (int t = 0; t < SIM_DT_COUNT; t++)
            hw->eff.gemm[t].measured = hw->eff.grouped_gemm[t].measured = false;
        for (int f = 0; f < SIM_WF_COUNT; f++)
            hw->eff.dequant_measured[f] = false;
    }
    return SIM_OK;
}

/* What calibration recorded (moesim calibrate): where the file came from, the fit and the raw
 * measurements. Kept in the file for readers; the simulator uses none of it, so only its
 * shape is checked. */
static int parse_calibration(const cJSON *root, const char *file, sim_err *err)
{
    static const char *const keys[] = {"source", "provenance", "fit", "measurements", NULL};
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(root, "calibration");
    if (!c)
        return SIM_OK;
    if (!cJSON_IsObject(c))
        return sim_fail(err, SIM_EINPUT, "%s: field 'calibration' must be an object", file);
    int rc;
    if ((rc = sim_json_check_keys(c, keys, file, "calibration", err)) || (rc = need_source(c, file, "calibration", err)))
        return rc;
    if (!sim_json_obj(c, "provenance", file, "calibration", err) || !sim_json_obj(c, "fit", file, "calibration", err))
        return err->code;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(c, "measurements");
    if (!cJSON_IsArray(m))
        return sim_fail(err, SIM_EINPUT, "%s: field 'calibration.measurements' %s (expected an array)", file,
                        m ? "must be an array" : "is missing");
    return SIM_OK;
}

/* ---- formats --------------------------------------------------------------------------- */

/* One list of `formats` (native or weight_only): storage format names, or "gguf" for every
 * llama.cpp GGUF type and file type at once (they run on the same llama.cpp backends). */
static int parse_format_list(const cJSON *f, const char *key, sim_fmt_support s, sim_hw *hw, const char *file,
                             sim_err *err)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(f, key);
    if (!a)
        return SIM_OK;
    if (!cJSON_IsArray(a))
        return sim_fail(err, SIM_EINPUT, "%s: field 'formats.%s' must be an array of format names", file, key);
    for (const cJSON *it = a->child; it; it = it->next) {
        if (!cJSON_IsString(it))
            return sim_fail(err, SIM_EINPUT, "%s: field 'formats.%s' must hold format names (strings)", file, key);
        bool gguf = strcmp(it->valuestring, "gguf") == 0;
        sim_wformat one = SIM_WF_FP32;
        if (!gguf && (sim_wformat_parse(it->valuestring, &one) != 0 || sim_wformat_is_gguf(one)))
            return sim_fail(err, SIM_EINPUT,
                            "%s: field 'formats.%s' has unknown format '%s' (expected fp32 bf16 fp8 int8 nvfp4 mxfp4 "
                            "int4 int4_g32, or gguf for every GGUF type)",
                            file, key, it->valuestring);
        for (int w = 0; w < SIM_WF_COUNT; w++) {
            if (gguf ? !sim_wformat_is_gguf((sim_wformat)w) : w != (int)one)
                continue;
            if (hw->formats.support[w] != SIM_FMT_UNSUPPORTED)
                return sim_fail(err, SIM_EINPUT, "%s: field 'formats': '%s' is listed twice", file, it->valuestring);
            hw->formats.support[w] = (unsigned char)s;
        }
    }
    return SIM_OK;
}

static int parse_formats(const cJSON *root, sim_hw *hw, const char *file, sim_err *err)
{
    static const char *const keys[] = {"source", "native", "weight_only", NULL};
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(root, "formats");
    if (!f)
        return SIM_OK;
    if (!cJSON_IsObject(f))
        return sim_fail(err, SIM_EINPUT, "%s: field 'formats' must be an object", file);
    int rc;
    if ((rc = sim_json_check_keys(f, keys, file, "formats", err)) || (rc = need_source(f, file, "formats", err)) ||
        (rc = parse_format_list(f, "native", SIM_FMT_NATIVE, hw, file, err)) ||
        (rc = parse_format_list(f, "weight_only", SIM_FMT_WEIGHT_ONLY, hw, file, err)))
        return rc;
    hw->formats.stated = true;
    return SIM_OK;
}

sim_fmt_support sim_hw_format_support(const sim_hw *hw, sim_wformat f)
{
    if (!hw->formats.stated)
        return SIM_FMT_NATIVE;
    return (unsigned)f < SIM_WF_COUNT ? (sim_fmt_support)hw->formats.support[f] : SIM_FMT_UNSUPPORTED;
}

const char *sim_fmt_support_name(sim_fmt_support s)
{
    return s == SIM_FMT_NATIVE ? "native" : s == SIM_FMT_WEIGHT_ONLY ? "weight-only" : "unsupported";
}

void sim_hw_format_list(const sim_hw *hw, sim_fmt_support s, char *out, int cap)
{
    int n = 0;
    bool gguf_done = false;
    out[0] = 0;
    for (int w = 0; w < SIM_WF_COUNT && n < cap; w++) {
        if (sim_hw_format_support(hw, (sim_wformat)w) != s || (sim_wformat_is_gguf((sim_wformat)w) && gguf_done))
            continue;
        const char *name = sim_wformat_is_gguf((sim_wformat)w) ? "gguf" : sim_wformat_name((sim_wformat)w);
        gguf_done |= sim_wformat_is_gguf((sim_wformat)w);
        n += snprintf(out + n, (size_t)(cap - n), "%s%s", n ? " " : "", name);
    }
    if (!out[0])
        snprintf(out, (size_t)cap, "none");
}

double sim_hw_format_peak(const sim_hw *hw, sim_wformat f, sim_dtype *used)
{
    const int *chain = sim_wformat_compute_chain(f);
    if (sim_hw_format_support(hw, f) != SIM_FMT_WEIGHT_ONLY || sim_wformat_is_gguf(f))
        return sim_hw_peak_for(hw, chain, used);
    static const int wide[] = {SIM_DT_BF16, SIM_DT_FP16, SIM_DT_FP32, -1};
    return sim_hw_peak_for(hw, wide, used);
}

/* ---- public -------------------------------------------------------------------------- */

static int parse_root(const cJSON *root, sim_hw *hw, const char *file, const sim_hw_resolver *resolver,
                      sim_err *err)
{
    static const char *const keys[] = {"schema",  "name",   "display_name", "class", "backend",    "released",
                                       "compute", "memory", "interconnect", "power", "price", "efficiency",
                                       "formats", "calibration", "numa", "aliases", NULL};
    if (!cJSON_IsObject(root))
        return sim_fail(err, SIM_EINPUT, "%s: the top level must be an object (a hardware model, schema %s)", file,
                        SCHEMA_ID);
    int rc;
    if ((rc = sim_json_check_keys(root, keys, file, "", err)) || (rc = parse_header(root, hw, file, err)) ||
        (rc = parse_compute(root, hw, file, err)) || (rc = parse_memory(root, hw, file, err)) ||
        (rc = parse_interconnect(root, hw, file, err)) || (rc = parse_power(root, hw, file, err)) ||
        (rc = parse_price(root, hw, file, err)) || (rc = parse_formats(root, hw, file, err)) ||
        (rc = parse_numa(root, hw, file, err)) || (rc = check_aliases(root, file, err)) ||
        (rc = parse_efficiency(root, hw, file, resolver, err)) ||
        (rc = parse_calibration(root, file, err)))
        return rc;
    return SIM_OK;
}

/* The kernel table beside FILE, DIR/kernels/NAME.json, if there is one: the published table
 * beside a shipped hwmodel (hwmodels/kernels/), or the one calibration wrote beside a
 * calibrated one (hwmodels/calibrated/kernels/). A calibrated hwmodel measured this machine:
 * it never takes the published table, so a calibrated table overrides a published one. A
 * hwmodel whose efficiencies were copied from a calibrated one reads neither. */
static int load_kernel_table(sim_hw *hw, const char *file, sim_err *err)
{
    bool calibrated = strcmp(hw->eff.provenance, "calibrated") == 0;
    if (calibrated && hw->eff.efficiency_from[0])
        return SIM_OK;
    const char *slash = strrchr(file, '/');
    int dir_len = slash ? (int)(slash - file) + 1 : 0;
    char path[sizeof hw->path + 80];
    snprintf(path, sizeof path, "%.*skernels/%s.json", dir_len, file, hw->name);
    if (access(path, F_OK) != 0)
        return SIM_OK;
    sim_kernel_peaks pk = {.mem_Bps = hw->tiers[0].bandwidth_Bps, .scale_up_Bps = hw->scale_up.bandwidth_Bps,
                           .scale_out_Bps = hw->scale_out.bandwidth_Bps};
    memcpy(pk.flops, hw->peak_flops, sizeof pk.flops);
    return sim_kernel_table_load(&hw->kernels, path, hw->name, &pk, err);
}

int sim_hw_load(sim_hw *hw, const char *file, sim_err *err)
{
    return sim_hw_load_with(hw, file, NULL, err);
}

int sim_hw_load_with(sim_hw *hw, const char *file, const sim_hw_resolver *resolver, sim_err *err)
{
    sim_err scratch;
    if (!err)
        err = &scratch; /* the parsers read err->code back */
    memset(hw, 0, sizeof *hw);
    if (snprintf(hw->path, sizeof hw->path, "%s", file) >= (int)sizeof hw->path)
        return sim_fail(err, SIM_EINPUT, "%s: path too long (at most %zu characters)", file, sizeof hw->path - 1);
    cJSON *root = sim_json_load(file, err);
    if (!root)
        return err->code;
    int rc = parse_root(root, hw, file, resolver, err);
    cJSON_Delete(root);
    if (rc == SIM_OK)
        rc = load_kernel_table(hw, file, err);
    return rc;
}

double sim_hw_peak_for(const sim_hw *hw, const int *chain, sim_dtype *used)
{
    for (const int *t = chain; t && *t >= 0; t++)
        if (*t < SIM_DT_COUNT && hw->peak_flops[*t] > 0) {
            if (used)
                *used = (sim_dtype)*t;
            return hw->peak_flops[*t];
        }
    return 0;
}
