/* prices.c: loading prices/devices.json and prices/apis.json (prices.h). */
#include "model/prices.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jsonfile.h"
#include "model/registry.h"

static const char *const kinds[] = { "on-demand", "spot", "reserved-1y", "reserved-3y", "tco", "own", NULL };

const char *sim_price_kinds(void)
{
    return "on-demand spot reserved-1y reserved-3y tco own";
}

int sim_price_kind_check(const char *kind)
{
    for (int i = 0; kinds[i]; i++)
        if (strcmp(kinds[i], kind) == 0)
            return 0;
    return -1;
}

static const cJSON *rows_of(const cJSON *root, const char *file, sim_err *err)
{
    static const char *const top[] = { "about", "rows", NULL };
    if (sim_json_check_keys(root, top, file, "", err))
        return NULL;
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(root, "rows");
    if (!cJSON_IsArray(rows)) {
        sim_fail(err, SIM_EINPUT, "%s: field 'rows' must be an array", file);
        return NULL;
    }
    return rows;
}

/* A price must be a positive number: 0 would be a free device, not an unknown price. */
static int positive(double v, const char *file, const char *path, const char *key, sim_err *err)
{
    if (!(v > 0) || v > 1e6)
        return sim_fail(err, SIM_EINPUT, "%s: field '%s.%s' must be a positive price (got %g)", file, path, key, v);
    return SIM_OK;
}

static int dev_row(const cJSON *o, const char *file, const char *path, sim_price_row *r, sim_err *err)
{
    static const char *const keys[] = { "hw", "kind", "provider", "instance", "usd_per_gpu_hour", "date", "note",
                                        "source", NULL };
    int rc;
    memset(r, 0, sizeof *r);
    if ((rc = sim_json_check_keys(o, keys, file, path, err)) ||
        (rc = sim_json_str(o, "hw", r->hw, sizeof r->hw, file, path, err)) ||
        (rc = sim_json_str(o, "kind", r->kind, sizeof r->kind, file, path, err)) ||
        (rc = sim_json_str(o, "provider", r->provider, sizeof r->provider, file, path, err)) ||
        (rc = sim_json_str(o, "instance", r->instance, sizeof r->instance, file, path, err)) ||
        (rc = sim_json_num(o, "usd_per_gpu_hour", &r->usd_per_gpu_hour, file, path, err)) ||
        (rc = sim_json_str(o, "date", r->date, sizeof r->date, file, path, err)) ||
        (rc = sim_json_str_opt(o, "note", r->note, sizeof r->note, file, path, err)) ||
        (rc = sim_json_str(o, "source", r->source, sizeof r->source, file, path, err)))
        return rc;
    if (sim_price_kind_check(r->kind) || !strcmp(r->kind, "tco") || !strcmp(r->kind, "own"))
        return sim_fail(err, SIM_EINPUT, "%s: field '%s.kind' must be one of on-demand spot reserved-1y reserved-3y "
                        "(tco and own come from the hwmodel) (got '%s')", file, path, r->kind);
    if (!r->date[0] || !r->source[0])
        return sim_fail(err, SIM_EINPUT, "%s: fields '%s.date' and '%s.source' must not be empty", file, path, path);
    return positive(r->usd_per_gpu_hour, file, path, "usd_per_gpu_hour", err);
}

static int api_row(const cJSON *o, const char *file, const char *path, sim_api_price *r, sim_err *err)
{
    static const char *const keys[] = { "model", "provider", "api_model", "usd_per_mtok_input", "usd_per_mtok_output",
                                        "date", "note", "source", NULL };
    int rc;
    memset(r, 0, sizeof *r);
    if ((rc = sim_json_check_keys(o, keys, file, path, err)) ||
        (rc = sim_json_str(o, "model", r->model, sizeof r->model, file, path, err)) ||
        (rc = sim_json_str(o, "provider", r->provider, sizeof r->provider, file, path, err)) ||
        (rc = sim_json_str(o, "api_model", r->api_model, sizeof r->api_model, file, path, err)) ||
        (rc = sim_json_num(o, "usd_per_mtok_input", &r->usd_per_mtok_input, file, path, err)) ||
        (rc = sim_json_num(o, "usd_per_mtok_output", &r->usd_per_mtok_output, file, path, err)) ||
        (rc = sim_json_str(o, "date", r->date, sizeof r->date, file, path, err)) ||
        (rc = sim_json_str_opt(o, "note", r->note, sizeof r->note, file, path, err)) ||
        (rc = sim_json_str(o, "source", r->source, sizeof r->source, file, path, err)))
        return rc;
    if (!r->date[0] || !r->source[0])
        return sim_fail(err, SIM_EINPUT, "%s: fields '%s.date' and '%s.source' must not be empty", file, path, path);
    if ((rc = positive(r->usd_per_mtok_input, file, path, "usd_per_mtok_input", err)))
        return rc;
    return positive(r->usd_per_mtok_output, file, path, "usd_per_mtok_output", err);
}

/* Load one file's rows through `one` into a fresh array of `size`-byte rows. */
static int load_rows(const char *dir, const char *name, size_t size,
                     int (*one)(const cJSON *, const char *, const char *, void *, sim_err *), void **out, int *n,
                     sim_err *err)
{
    char file[1024];
    snprintf(file, sizeof file, "%s/%s", dir, name);
    cJSON *root = sim_json_load(file, err);
    if (!root)
        return err->code;
    const cJSON *rows = rows_of(root, file, err);
    int rc = rows ? SIM_OK : err->code;
    int cnt = rows ? cJSON_GetArraySize(rows) : 0;
    char *a = rc ? NULL : calloc((size_t)(cnt ? cnt : 1), size);
    if (!rc && !a)
        rc = sim_fail(err, SIM_EFAIL, "out of memory");
    for (int i = 0; !rc && i < cnt; i++) {
        char path[32];
        snprintf(path, sizeof path, "rows[%d]", i);
        rc = one(cJSON_GetArrayItem(rows, i), file, path, a + (size_t)i * size, err);
    }
    cJSON_Delete(root);
    if (rc) {
        free(a);
        return rc;
    }
    *out = a;
    *n = cnt;
    return SIM_OK;
}

static int dev_one(const cJSON *o, const char *f, const char *p, void *r, sim_err *e) { return dev_row(o, f, p, r, e); }
static int api_one(const cJSON *o, const char *f, const char *p, void *r, sim_err *e) { return api_row(o, f, p, r, e); }

int sim_prices_load(const char *dir, sim_prices *p, sim_err *err)
{
    memset(p, 0, sizeof *p);
    void *dev = NULL, *api = NULL;
    int rc = load_rows(dir, "devices.json", sizeof(sim_price_row), dev_one, &dev, &p->ndev, err);
    if (!rc)
        rc = load_rows(dir, "apis.json", sizeof(sim_api_price), api_one, &api, &p->napi, err);
    p->dev = dev;
    p->api = api;
    if (rc)
        sim_prices_free(p);
    return rc;
}

int sim_prices_load_home(sim_prices *p, sim_err *err)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/prices", sim_home());
    return sim_prices_load(dir, p, err);
}

void sim_prices_free(sim_prices *p)
{
    free(p->dev);
    free(p->api);
    memset(p, 0, sizeof *p);
}

const sim_price_row *sim_prices_find(const sim_prices *p, const char *hw, const char *kind, const char *provider)
{
    for (int i = 0; i < p->ndev; i++) {
        const sim_price_row *r = &p->dev[i];
        if (!strcmp(r->hw, hw) && !strcmp(r->kind, kind) && (!provider || !provider[0] || !strcmp(r->provider, provider)))
            return r;
    }
    return NULL;
}

void sim_prices_list_for(const sim_prices *p, const char *hw, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < p->ndev && used < cap; i++)
        if (!strcmp(p->dev[i].hw, hw))
            used += (size_t)snprintf(buf + used, cap - used, "%s%s:%s", used ? ", " : "", p->dev[i].kind,
                                     p->dev[i].provider);
    if (!buf[0])
        snprintf(buf, cap, "none");
}
