/* bindings.c: the moesim.* functions (see bindings.h). Scenarios pass plain tables in and
 * get plain tables out: moesim.eval{...} takes the options of `moesim eval` (the shared
 * table of cli/request.h) and returns the fields of its JSON. Every C allocation is boxed
 * (convert.h) before anything that can raise, so an error never leaks it. */
#include "lua/bindings.h"

#include <math.h>

#include <lauxlib.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/request.h"
#include "cli/session.h"
#include "lua/convert.h"
#include "lua/outdir.h"
#include "model/registry.h"
#include "report/catalog.h"
#include "report/plot.h"
#include "report/report.h"
#include "cli/compare_request.h"
#include "cli/search_request.h"
#include "cli/serve_request.h"
#include "report/serve_report.h"
#include "base/jsonfile.h"
#include "serve/serving.h"

/* --- the per-state context --- */

typedef struct lbind_ctx {
    sim_session *session;   /* the cards this scenario has loaded; owned */
    int out_fd;             /* the output folder, open; owned (-1 = none) */
    char out_dir[PATH_MAX]; /* as given, for the paths bindings return */
} lbind_ctx;

static const char CTX_KEY = 0; /* its address is the registry key */

static int ctx_gc(lua_State *L)
{
    lbind_ctx *c = lua_touserdata(L, 1);
    sim_session_free(c->session);
    c->session = NULL;
    if (c->out_fd >= 0)
        close(c->out_fd);
    c->out_fd = -1;
    return 0;
}

static lbind_ctx *ctx(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &CTX_KEY);
    lbind_ctx *c = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return c;
}

/* --- errors --- */

/* Raise "fn: message". A file that is not JSON must not have its first bytes echoed back
 * (moesim.model("/etc/passwd")), so the excerpt the JSON reader adds is cut. */
static int raise_err(lua_State *L, const char *fn, sim_err *err)
{
    static const char tag[] = "malformed JSON near '";
    char *near = strstr(err->msg, tag);
    if (near)
        near[sizeof "malformed JSON" - 1] = '\0';
    return luaL_error(L, "%s: %s", fn, err->msg);
}

static void check_table(lua_State *L, int idx, const char *fn)
{
    if (!lua_istable(L, idx))
        luaL_error(L, "%s: a table of options expected, got %s", fn, luaL_typename(L, idx));
}

/* --- options --- */

/* The table at idx (option = value) into r; errors name `fn`. */
static void fill_request(lua_State *L, int idx, sim_request *r, const char *fn)
{
    idx = lua_absindex(L, idx);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_error(L, "%s: option names must be strings", fn);
        const char *k = lua_tostring(L, -2);
        sim_err err = { 0 };
        int rc = SIM_OK;
        /* a model or hardware table (from moesim.model / moesim.hardware) stands for its file */
        if ((strcmp(k, "model") == 0 || strcmp(k, "hw") == 0) && lua_istable(L, -1)) {
            lua_getfield(L, -1, "file");
            if (!lua_isstring(L, -1)) {
                lua_pop(L, 1);
                lua_getfield(L, -1, "name");
            }
            if (!lua_isstring(L, -1))
                luaL_error(L, "%s: field '%s': table without a name or file", fn, k);
            rc = sim_request_set_str(r, k, lua_tostring(L, -1), &err);
            lua_pop(L, 1);
        } else if (lua_type(L, -1) == LUA_TNUMBER) {
            rc = sim_request_set_num(r, k, lua_tonumber(L, -1), &err);
        } else if (lua_type(L, -1) == LUA_TSTRING) {
            rc = sim_request_set_str(r, k, lua_tostring(L, -1), &err);
        } else if (lua_type(L, -1) == LUA_TBOOLEAN) {
            rc = sim_request_set_bool(r, k, lua_toboolean(L, -1), &err);
        } else {
            luaL_error(L, "%s: field '%s': unexpected %s", fn, k, luaL_typename(L, -1));
        }
        if (rc)
            raise_err(L, fn, &err);
        lua_pop(L, 1);
    }
}

/* A string field, left on the stack so it stays alive; NULL when absent or not a string. */
static const char *str_field(lua_State *L, int idx, const char *k)
{
    lua_getfield(L, idx, k);
    return lua_isstring(L, -1) ? lua_tostring(L, -1) : NULL;
}

static bool bool_field(lua_State *L, int idx, const char *k, bool dflt)
{
    lua_getfield(L, idx, k);
    bool v = lua_isnil(L, -1) ? dflt : lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

/* --- eval and sweep --- */

/* Evaluate the options table at idx and push the result table. */
static void eval_push(lua_State *L, int idx, const char *fn)
{
    sim_request r;
    sim_request_defaults(&r);
    fill_request(L, idx, &r, fn);
    lconv_box *box = lconv_box_json(L);
    cJSON *res = NULL;
    sim_err err = { 0 };
    int rc = sim_request_run(ctx(L)->session, &r, &res, &err);
    box->p = res;
    if (rc)
        raise_err(L, fn, &err);
    lconv_push_json(L, res);
    lconv_box_release(box);
    lua_remove(L, -2);
}

static int l_eval(lua_State *L)
{
    check_table(L, 1, "eval");
    eval_push(L, 1, "eval");
    return 1;
}

/* A protected evaluation for sweep's skip: the options table at 1, the result pushed. */
static int eval_protected(lua_State *L)
{
    eval_push(L, 1, "sweep");
    return 1;
}

/* sweep's tie = { dp = "ep", ... }: each tied option takes the value of the one it names
 * (after the varied values are set), so dp = ep sweeps the diagonal. */
static void apply_ties(lua_State *L, int tie, int opts)
{
    if (tie == 0)
        return;
    lua_pushnil(L);
    while (lua_next(L, tie)) {
        if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "sweep: field 'tie' must map option names to option names (dp = \"ep\")");
        lua_getfield(L, opts, lua_tostring(L, -1));
        lua_setfield(L, opts, lua_tostring(L, -3));
        lua_pop(L, 1);
    }
}

/* Evaluate one point: raising on error, or (skip) as { skipped = true, reason = "..." }. */
static void sweep_point(lua_State *L, int opts, bool skip)
{
    if (!skip) {
        eval_push(L, opts, "sweep");
        return;
    }
    lua_pushcfunction(L, eval_protected);
    lua_pushvalue(L, opts);
    if (lua_pcall(L, 1, 1, 0) == LUA_OK)
        return;
    const char *msg = lua_tostring(L, -1);
    lua_createtable(L, 0, 2);
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "skipped");
    lua_pushstring(L, msg ? msg : "(error without a message)");
    lua_setfield(L, -2, "reason");
    lua_remove(L, -2); /* the message */
}

/* moesim.sweep{ base = {...}, vary = { name = {values}, ... }, tie = { dp = "ep" },
 * skip_invalid = true } -> list of results, each with the varied (and tied) values copied
 * in. Dimensions combine as a cartesian product, in the order of the keys sorted by name so
 * the output order is stable. With skip_invalid, a point whose options are refused is a row
 * { skipped = true, reason = "..." } instead of an error that ends the sweep. */
static int l_sweep(lua_State *L)
{
    check_table(L, 1, "sweep");
    lua_getfield(L, 1, "base");
    int base = lua_gettop(L);
    if (!lua_istable(L, base))
        return luaL_error(L, "sweep: field 'base' must be a table of eval options");
    lua_getfield(L, 1, "vary");
    int vary = lua_gettop(L);
    if (!lua_istable(L, vary))
        return luaL_error(L, "sweep: field 'vary' must be a table of option = {values}");
    const char *keys[16];
    int nk = 0;
    lua_Integer lens[16];
    lua_pushnil(L);
    while (lua_next(L, vary)) {
        if (lua_type(L, -2) != LUA_TSTRING || !lua_istable(L, -1) || lua_rawlen(L, -1) == 0)
            return luaL_error(L, "sweep: each field of 'vary' must be a non-empty list");
        if (nk == 16)
            return luaL_error(L, "sweep: 'vary' has more than 16 dimensions");
        keys[nk++] = lua_tostring(L, -2); /* alive: a key of `vary` */
        lua_pop(L, 1);
    }
    for (int i = 1; i < nk; i++) /* insertion sort: stable order */
        for (int j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
            const char *t = keys[j];
            keys[j] = keys[j - 1];
            keys[j - 1] = t;
        }
    lua_getfield(L, 1, "tie");
    int tie = lua_istable(L, -1) ? lua_gettop(L) : 0;
    if (!tie && !lua_isnil(L, -1))
        return luaL_error(L, "sweep: field 'tie' must be a table of option = \"other option\"");
    bool skip = bool_field(L, 1, "skip_invalid", false);
    lua_Integer total = 1;
    for (int i = 0; i < nk; i++) {
        lua_getfield(L, vary, keys[i]);
        lens[i] = (lua_Integer)lua_rawlen(L, -1);
        lua_pop(L, 1);
        total *= lens[i];
        if (total > 1000000)
            return luaL_error(L, "sweep: more than 1,000,000 points");
    }
    lua_createtable(L, (int)total, 0);
    int out = lua_gettop(L);
    for (lua_Integer p = 0; p < total; p++) {
        lua_newtable(L); /* options for this point */
        int opts = lua_gettop(L);
        lua_pushnil(L);
        while (lua_next(L, base)) {
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_settable(L, opts);
        }
        lua_Integer rest = p;
        for (int i = nk - 1; i >= 0; i--) {
            lua_getfield(L, vary, keys[i]);
            lua_rawgeti(L, -1, rest % lens[i] + 1);
            lua_setfield(L, opts, keys[i]);
            lua_pop(L, 1);
            rest /= lens[i];
        }
        apply_ties(L, tie, opts);
        sweep_point(L, opts, skip);
        int res = lua_gettop(L);
        if (tie) { /* the tied values too */
            lua_pushnil(L);
            while (lua_next(L, tie)) {
                lua_pop(L, 1);
                lua_getfield(L, opts, lua_tostring(L, -1));
                lua_setfield(L, res, lua_tostring(L, -2));
            }
        }
        for (int i = 0; i < nk; i++) { /* the varied values, as given */
            lua_getfield(L, opts, keys[i]);
            if (lua_istable(L, -1)) {
                lua_getfield(L, -1, "name");
                lua_remove(L, -2);
            }
            lua_setfield(L, res, keys[i]);
        }
        lua_rawseti(L, out, p + 1);
        lua_pop(L, 1); /* opts */
    }
    return 1;
}

/* --- frontiers and ratios of rows --- */

typedef struct xy {
    double x, y;
    int group, idx;     /* group: order of first appearance of `by`; idx: 1-based row */
} xy;

/* The numbers x and y of every row of the list at idx (rows without both are left out). */
static int read_xy(lua_State *L, int idx, const char *x, const char *y, const char *by, xy *out, const char *fn)
{
    int n = 0, ng = 0;
    lua_Integer len = (lua_Integer)lua_rawlen(L, idx);
    lua_newtable(L); /* group name -> number */
    int groups = lua_gettop(L);
    for (lua_Integer i = 1; i <= len; i++) {
        lua_rawgeti(L, idx, i);
        if (!lua_istable(L, -1))
            luaL_error(L, "%s: row %d is not a table", fn, (int)i);
        lua_getfield(L, -1, x);
        lua_getfield(L, -2, y);
        int g = 0;
        if (by) {
            lua_getfield(L, -3, by);
            const char *v = luaL_tolstring(L, -1, NULL);
            lua_getfield(L, groups, v);
            if (lua_isnil(L, -1)) {
                lua_pushinteger(L, ng);
                lua_setfield(L, groups, v);
                g = ng++;
            } else {
                g = (int)lua_tointeger(L, -1);
            }
            lua_pop(L, 3);
        }
        if (lua_type(L, -2) == LUA_TNUMBER && lua_type(L, -1) == LUA_TNUMBER) {
            double xv = lua_tonumber(L, -2), yv = lua_tonumber(L, -1);
            if (isfinite(xv) && isfinite(yv))
                out[n++] = (xy){ xv, yv, g, (int)i };
        }
        lua_pop(L, 3);
    }
    lua_pop(L, 1);
    return n;
}

static int by_group_x_desc(const void *a, const void *b)
{
    const xy *p = a, *q = b;
    if (p->group != q->group)
        return p->group - q->group;
    if (p->x != q->x)
        return p->x < q->x ? 1 : -1;
    return (p->y < q->y) - (p->y > q->y);
}

static xy *rows_xy(lua_State *L, int idx, const char *x, const char *y, const char *by, int *n, const char *fn)
{
    if (!lua_istable(L, idx))
        luaL_error(L, "%s: a list of rows expected", fn);
    size_t len = lua_rawlen(L, idx);
    xy *p = lua_newuserdatauv(L, (len ? len : 1) * sizeof *p, 0); /* freed by the collector */
    *n = read_xy(L, lua_absindex(L, idx), x, y, by, p, fn);
    return p;
}

/* moesim.pareto{ rows = rows, x = "tps_user", y = "tps_gpu", by = "system" } -> the rows on
 * the Pareto frontier (no other row of the group has both a higher x and a higher y), per
 * group in rising x. */
static int l_pareto(lua_State *L)
{
    check_table(L, 1, "pareto");
    lua_settop(L, 1);
    lua_getfield(L, 1, "rows");
    const char *x = str_field(L, 1, "x"), *y = str_field(L, 1, "y"), *by = str_field(L, 1, "by");
    if (!x || !y)
        return luaL_error(L, "pareto: fields 'x' and 'y' (column names) are required");
    int n;
    xy *p = rows_xy(L, 2, x, y, by, &n, "pareto");
    qsort(p, (size_t)n, sizeof *p, by_group_x_desc);
    lua_newtable(L);
    int out = lua_gettop(L), k = 0;
    for (int s = 0; s < n;) {
        int e = s, nk = 0;
        while (e < n && p[e].group == p[s].group)
            e++;
        double best = -INFINITY;
        for (int i = s; i < e; i++)
            if (p[i].y > best) {
                best = p[i].y;
                p[s + nk++] = p[i];
            }
        for (int i = s + nk - 1; i >= s; i--) {
            lua_rawgeti(L, 2, p[i].idx);
            lua_rawseti(L, out, ++k);
        }
        s = e;
    }
    return 1;
}

/* y on the rising-x list p at level v, log-log between neighbours; below the first point the
 * first point's y (it delivers at least v); NaN above the last. */
static double frontier_at(const xy *p, int n, double v)
{
    if (n < 1 || !(v > 0) || v > p[n - 1].x * (1 + 1e-9))
        return NAN;
    int i = 0;
    while (i < n && p[i].x < v)
        i++;
    if (i == 0 || p[i].x == v || !(p[i - 1].x > 0) || !(p[i - 1].y > 0) || !(p[i].y > 0))
        return p[i].y;
    double f = (log(v) - log(p[i - 1].x)) / (log(p[i].x) - log(p[i - 1].x));
    return exp(log(p[i - 1].y) + f * (log(p[i].y) - log(p[i - 1].y)));
}

static int by_x_asc(const void *a, const void *b)
{
    const xy *p = a, *q = b;
    return (p->x > q->x) - (p->x < q->x);
}

/* moesim.ratio{ a = rows, b = rows, x = "tps_user", y = "tps_gpu", at = {levels} } -> rows
 * { <x> = level, a = ..., b = ..., ratio = b / a } at each level both reach (default: a's x
 * values), each side interpolated log-log on its own rows (give frontiers: moesim.pareto). */
static int l_ratio(lua_State *L)
{
    check_table(L, 1, "ratio");
    lua_settop(L, 1);
    lua_getfield(L, 1, "a");
    lua_getfield(L, 1, "b");
    lua_getfield(L, 1, "at");
    const char *x = str_field(L, 1, "x"), *y = str_field(L, 1, "y");
    if (!x || !y)
        return luaL_error(L, "ratio: fields 'x' and 'y' (column names) are required");
    int na, nb;
    xy *a = rows_xy(L, 2, x, y, NULL, &na, "ratio");
    xy *b = rows_xy(L, 3, x, y, NULL, &nb, "ratio");
    qsort(a, (size_t)na, sizeof *a, by_x_asc);
    qsort(b, (size_t)nb, sizeof *b, by_x_asc);
    bool at = lua_istable(L, 4);
    if (!at && !lua_isnil(L, 4))
        return luaL_error(L, "ratio: field 'at' must be a list of levels");
    int nl = at ? (int)lua_rawlen(L, 4) : na;
    lua_newtable(L);
    int out = lua_gettop(L), k = 0;
    for (int i = 0; i < nl; i++) {
        double v;
        if (at) {
            lua_rawgeti(L, 4, i + 1);
            if (lua_type(L, -1) != LUA_TNUMBER)
                return luaL_error(L, "ratio: 'at' must hold numbers");
            v = lua_tonumber(L, -1);
            lua_pop(L, 1);
        } else {
            v = a[i].x;
        }
        double ya = frontier_at(a, na, v), yb = frontier_at(b, nb, v);
        if (!isfinite(ya) || !isfinite(yb) || ya == 0)
            continue;
        lua_createtable(L, 0, 4);
        lua_pushnumber(L, v);
        lua_setfield(L, -2, x);
        lua_pushnumber(L, ya);
        lua_setfield(L, -2, "a");
        lua_pushnumber(L, yb);
        lua_setfield(L, -2, "b");
        lua_pushnumber(L, yb / ya);
        lua_setfield(L, -2, "ratio");
        lua_rawseti(L, out, ++k);
    }
    return 1;
}

/* --- cards and catalogs --- */

/* Push a catalog row (or rows) built by C: boxed first, then pushed. */
static int push_owned_json(lua_State *L, lconv_box *box, cJSON *j, const char *fn)
{
    box->p = j;
    if (!j)
        return luaL_error(L, "%s: out of memory", fn);
    lconv_push_json(L, j);
    lconv_box_release(box);
    return 1;
}

/* moesim.llama_bench{ eval options..., pp = 512, tg = 128, ubatch = 512, depth = 0 } -> the two
 * llama-bench rows (pp and tg) for the deployment the options describe, as `moesim eval
 * --llama-bench --json` prints them: one sequence, tokens/s, null with a reason when the
 * weights do not fit. pp, tg, ubatch and depth are llama-bench's -p, -n, -ub and -d
 * (sim_local_bench_opts), not the request's. */
static const char *const bench_fields[] = { "pp", "tg", "ubatch", "depth" };
static const int bench_field_min[] = { 1, 1, 1, 0 }; /* a depth may be 0 */

static bool is_bench_field(lua_State *L, int idx)
{
    if (lua_type(L, idx) != LUA_TSTRING)
        return false;
    for (size_t i = 0; i < sizeof bench_fields / sizeof bench_fields[0]; i++)
        if (!strcmp(lua_tostring(L, idx), bench_fields[i]))
            return true;
    return false;
}

static int l_llama_bench(lua_State *L)
{
    check_table(L, 1, "llama_bench");
    sim_local_bench_opts o;
    sim_local_bench_defaults(&o);
    int *const slot[] = { &o.pp, &o.tg, &o.ubatch, &o.depth };
    for (int i = 0; i < 4; i++) {
        lua_getfield(L, 1, bench_fields[i]);
        if (!lua_isnil(L, -1)) {
            int isint;
            lua_Integer v = lua_tointegerx(L, -1, &isint);
            const lua_Integer lo = bench_field_min[i];
            if (!isint || v < lo || v > 10000000)
                return luaL_error(L, "llama_bench: field '%s' must be a whole number of tokens, %d to 10000000 (got %s)",
                                  bench_fields[i], (int)lo, luaL_tolstring(L, -1, NULL));
            *slot[i] = (int)v;
        }
        lua_pop(L, 1);
    }
    /* the eval options without llama-bench's own */
    lua_newtable(L);
    int opts = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        if (is_bench_field(L, -2)) {
            lua_pop(L, 1);
            continue;
        }
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_settable(L, opts);
    }
    sim_request r;
    sim_request_defaults(&r);
    fill_request(L, opts, &r, "llama_bench");
    sim_session *session = ctx(L)->session; /* the scenario's: the deployment points into it */
    sim_deploy d, pre;
    sim_serve_opts so;
    bool has_prefill;
    sim_local_bench b;
    sim_err err = { 0 };
    int rc = sim_request_bench_options(&r, &err);
    if (rc == SIM_OK)
        rc = sim_request_deploy(session, &r, &d, &pre, &has_prefill, &so, &err);
    if (rc == SIM_OK)
        rc = sim_local_bench_run(&d, &o, &b, &err);
    if (rc)
        return raise_err(L, "llama_bench", &err);
    lconv_box *box = lconv_box_json(L);
    return push_owned_json(L, box, sim_report_llama_bench(&d, &b), "llama_bench");
}

/* moesim.published(name) -> tests/published/NAME.json under MOESIM_HOME, as a table: the
 * gathered public measurements a scenario checks itself against (tests/published/README.md).
 * The name is a bare file name (letters, digits, '_' and '-'): nothing else is readable. */
static int l_published(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    size_t n = strlen(name);
    if (n == 0 || n > 64 || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") != n)
        return luaL_error(L, "published: '%s' is not a file name under tests/published (expected letters, "
                             "digits, '_' or '-', e.g. \"local\")", name);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/tests/published/%s.json", sim_home(), name);
    sim_err err = { 0 };
    lconv_box *box = lconv_box_json(L);
    cJSON *j = sim_json_load(path, &err);
    if (!j)
        return raise_err(L, "published", &err);
    return push_owned_json(L, box, j, "published");
}

static int l_model(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    sim_model m;
    sim_err err = { 0 };
    if (sim_registry_model(name, &m, &err))
        return raise_err(L, "model", &err);
    lconv_box *box = lconv_box_json(L);
    return push_owned_json(L, box, sim_catalog_model_row(&m), "model");
}

static int l_hardware(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    sim_hw h;
    sim_err err = { 0 };
    if (sim_registry_hw(name, &h, &err))
        return raise_err(L, "hardware", &err);
    lconv_box *box = lconv_box_json(L);
    return push_owned_json(L, box, sim_catalog_hw_row(&h), "hardware");
}

static int push_catalog(lua_State *L, bool models, const char *fn)
{
    lconv_box *box = lconv_box_json(L);
    cJSON *rows = NULL;
    sim_err err = { 0 };
    int rc = models ? sim_catalog_models(&rows, &err) : sim_catalog_hw(&rows, &err);
    box->p = rows;
    if (rc)
        return raise_err(L, fn, &err);
    return push_owned_json(L, box, rows, fn);
}

static int l_models(lua_State *L)
{
    return push_catalog(L, true, "models");
}

static int l_hardware_list(lua_State *L)
{
    return push_catalog(L, false, "hardware_list");
}

/* --- tables and files --- */

/* Optional column list at idx -> array of strings (alive while the list is). -1 = none. */
static int get_columns(lua_State *L, int idx, const char **cols, int cap, const char *fn)
{
    if (lua_isnoneornil(L, idx))
        return -1;
    if (!lua_istable(L, idx))
        luaL_error(L, "%s: the columns must be a list of names, got %s", fn, luaL_typename(L, idx));
    int n = (int)lua_rawlen(L, idx);
    if (n > cap)
        luaL_error(L, "%s: more than %d columns", fn, cap);
    for (int i = 0; i < n; i++) {
        lua_rawgeti(L, idx, i + 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "%s: columns must be strings", fn);
        cols[i] = lua_tostring(L, -1);
        lua_pop(L, 1); /* the string stays alive in the table */
    }
    return n;
}

/* The list of rows at idx as JSON, owned by the box it pushes (*box). */
static cJSON *rows_arg(lua_State *L, int idx, const char *fn, lconv_box **box)
{
    if (!lua_istable(L, idx))
        luaL_error(L, "%s: a list of rows expected, got %s", fn, luaL_typename(L, idx));
    cJSON *rows = lconv_to_json(L, idx, fn, "rows", box);
    if (!cJSON_IsArray(rows))
        luaL_error(L, "%s: a list of rows expected", fn);
    return rows;
}

static int l_print(lua_State *L)
{
    lua_settop(L, 2); /* the boxes pushed below must not pass for arguments */
    lconv_box *box;
    cJSON *rows = rows_arg(L, 1, "print", &box);
    const char *cols[64];
    int n = get_columns(L, 2, cols, 64, "print");
    sim_table_print(stdout, rows, n >= 0 ? cols : NULL, n);
    fflush(stdout);
    lconv_box_release(box);
    return 0;
}

/* The file name argument at idx, checked (outdir.h). */
static const char *out_name(lua_State *L, int idx, const char *fn)
{
    if (lua_type(L, idx) != LUA_TSTRING)
        luaL_error(L, "%s: a file name expected, got %s", fn, luaL_typename(L, idx));
    const char *name = lua_tostring(L, idx);
    const char *why = lout_check_name(name);
    if (why)
        luaL_error(L, "%s: '%s': %s", fn, name, why);
    return name;
}

/* Write `len` bytes to name in the output folder and push the path written. */
static int write_out(lua_State *L, const char *name, const char *data, size_t len, const char *fn)
{
    lbind_ctx *c = ctx(L);
    sim_err err = { 0 };
    if (lout_write(c->out_fd, name, data, len, &err))
        return raise_err(L, fn, &err);
    lua_pushfstring(L, "%s/%s", c->out_dir, name);
    return 1;
}

static int l_write_csv(lua_State *L)
{
    lua_settop(L, 3);
    const char *name = out_name(L, 1, "write_csv");
    lconv_box *rbox;
    cJSON *rows = rows_arg(L, 2, "write_csv", &rbox);
    const char *cols[64];
    int n = get_columns(L, 3, cols, 64, "write_csv");
    lconv_box *tbox = lconv_box_push(L, free, 0);
    char *csv = sim_table_csv(rows, n >= 0 ? cols : NULL, n);
    tbox->p = csv;
    lconv_box_release(rbox);
    if (!csv)
        return luaL_error(L, "write_csv: out of memory");
    write_out(L, name, csv, strlen(csv), "write_csv");
    lconv_box_release(tbox);
    return 1;
}

static int l_write_json(lua_State *L)
{
    luaL_checkany(L, 2);
    lua_settop(L, 2);
    const char *name = out_name(L, 1, "write_json");
    lconv_box *jbox;
    cJSON *j = lconv_to_json(L, 2, "write_json", "value", &jbox);
    lconv_box *tbox = lconv_box_push(L, free, 0);
    char *text = cJSON_Print(j); /* formatted, plus a newline: as sim_json_save writes */
    tbox->p = text;
    lconv_box_release(jbox);
    size_t n = text ? strlen(text) : 0;
    char *nl = text ? realloc(text, n + 2) : NULL;
    if (!nl)
        return luaL_error(L, "write_json: out of memory");
    tbox->p = nl;
    nl[n] = '\n';
    nl[n + 1] = '\0';
    write_out(L, name, nl, n + 1, "write_json");
    lconv_box_release(tbox);
    return 1;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Render into a private temporary folder, then copy into the output folder (outdir.h):
 * gnuplot writes by path, and a path could be redirected by a link. */
static int plot_into(lbind_ctx *c, const char *name, const cJSON *rows, sim_plot_opts *o, sim_err *err)
{
    const char *tmpdir = getenv("TMPDIR");
    char dir[PATH_MAX], file[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/moesim-plot-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (!mkdtemp(dir))
        return sim_fail(err, SIM_EFAIL, "plot: cannot create a temporary folder in %s", tmpdir ? tmpdir : "/tmp");
    snprintf(file, sizeof file, "%s/chart%s", dir, ends_with(name, ".svg") ? ".svg" : ".png");
    o->file = file;
    int rc = sim_plot(rows, o, err);
    char *at = rc ? strstr(err->msg, file) : NULL;
    if (at) { /* name the file the scenario asked for, not the temporary one */
        char rest[sizeof err->msg];
        snprintf(rest, sizeof rest, "%s", at + strlen(file));
        snprintf(at, sizeof err->msg - (size_t)(at - err->msg), "%s/%s%s", c->out_dir, name, rest);
    }
    if (!rc)
        rc = lout_copy(c->out_fd, name, file, err);
    unlink(file);
    rmdir(dir);
    return rc;
}

static int l_plot(lua_State *L)
{
    check_table(L, 1, "plot");
    lua_settop(L, 1);
    lua_getfield(L, 1, "rows");
    if (!lua_istable(L, 2))
        return luaL_error(L, "plot: field 'rows' must be a list of rows");
    lua_getfield(L, 1, "file");
    if (lua_type(L, 3) != LUA_TSTRING)
        return luaL_error(L, "plot: field 'file' must be a file name ending in .png or .svg");
    const char *name = out_name(L, 3, "plot");
    if (!ends_with(name, ".png") && !ends_with(name, ".svg"))
        return luaL_error(L, "plot: file '%s' must end in .png or .svg", name);
    sim_plot_opts o = {
        .x = str_field(L, 1, "x"), /* strings stay on the stack until we return */
        .y = str_field(L, 1, "y"),
        .by = str_field(L, 1, "by"),
        .title = str_field(L, 1, "title"),
        .xlabel = str_field(L, 1, "xlabel"),
        .ylabel = str_field(L, 1, "ylabel"),
        .logx = bool_field(L, 1, "logx", false),
        .logy = bool_field(L, 1, "logy", false),
        .lines = bool_field(L, 1, "lines", true),
        .label = str_field(L, 1, "label"),
    };
    lconv_box *box;
    cJSON *rows = rows_arg(L, 2, "plot", &box);
    lbind_ctx *c = ctx(L);
    sim_err err = { 0 };
    int rc = plot_into(c, name, rows, &o, &err);
    lconv_box_release(box);
    if (rc)
        return strncmp(err.msg, "plot: ", 6) == 0 ? luaL_error(L, "%s", err.msg) : raise_err(L, "plot", &err);
    lua_pushfstring(L, "%s/%s", c->out_dir, name);
    return 1;
}

/* --- serving simulation and search --- */

static void free_des(void *p)
{
    sim_des_result_free(p);
}

/* moesim.serve{...}: the discrete-event simulation (des.h) with the options of `moesim
 * serve`; returns its JSON report as a table, plus `cdf`: latency CDF rows {metric,
 * latency_s, share} ready for moesim.plot. */
static int l_serve(lua_State *L)
{
    check_table(L, 1, "serve");
    sim_request r;
    sim_request_defaults(&r);
    fill_request(L, 1, &r, "serve");
    lconv_box *rep_box = lconv_box_json(L);
    lconv_box *res_box = lconv_box_push(L, free_des, sizeof(sim_des_result));
    sim_des_result *res = res_box->p;
    cJSON *rep = NULL;
    sim_err err = { 0 };
    int rc = cli_serve_request_run(ctx(L)->session, &r, true, false, &rep, res, &err);
    rep_box->p = rep;
    if (rc)
        return raise_err(L, "serve", &err);
    cJSON *cdf = sim_serve_report_cdf(res, 50);
    lconv_box_release(res_box);
    if (!cdf || !cJSON_AddItemToObject(rep, "cdf", cdf)) {
        cJSON_Delete(cdf);
        return luaL_error(L, "serve: out of memory");
    }
    lconv_push_json(L, rep);
    lconv_box_release(rep_box);
    return 1;
}

/* A search list field: a Lua list of strings, numbers or named tables, joined with commas. */
static void search_list(lua_State *L, int idx, const char *key, const char *what, cli_search_opts *o)
{
    lua_getfield(L, idx, key);
    int t = lua_gettop(L);
    if (lua_isnil(L, t)) {
        lua_pop(L, 1);
        return;
    }
    if (!lua_istable(L, t))
        luaL_error(L, "search: field '%s' must be a list", key);
    char text[2048] = "";
    size_t used = 0;
    for (lua_Integer i = 1; i <= (lua_Integer)lua_rawlen(L, t); i++) {
        lua_rawgeti(L, t, i);
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "name");
            lua_remove(L, -2);
        }
        if (!lua_isstring(L, -1))
            luaL_error(L, "search: field '%s' must list strings or numbers", key);
        if (used < sizeof text)
            used += (size_t)snprintf(text + used, sizeof text - used, "%s%s", i > 1 ? "," : "", lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    sim_err err = { 0 };
    if (used >= sizeof text)
        luaL_error(L, "search: field '%s' is too long", key);
    if (cli_search_parse_list(text, what, o, &err))
        raise_err(L, "search", &err);
}

static lua_Integer int_field(lua_State *L, int idx, const char *k, lua_Integer dflt)
{
    lua_getfield(L, idx, k);
    lua_Integer v = lua_isnil(L, -1) ? dflt : lua_tointeger(L, -1);
    if (!lua_isnil(L, -1) && !lua_isinteger(L, -1))
        luaL_error(L, "search: field '%s' must be an integer", k);
    lua_pop(L, 1);
    return v;
}

/* moesim.search{ model = ..., hw = {"h100-sxm", "h200"}, max_gpus = 8, goal = "frontier" or
 * "cheapest", precisions = {...}, max_batched_tokens = {...}, concurrency_per_gpu = {...},
 * disagg, force, limit, confirm, and any eval/serve option }: the search of search.h. */
/* Copy the fields of the table at index 1 into the table at `rest`, leaving out the names
 * in `own` (NULL-terminated) that the caller reads itself; "hw" is left out only when
 * `own_hw` (a list of hardware the caller handles, not one request field). */
static void copy_request_fields(lua_State *L, const char *const *own, bool own_hw, int rest)
{
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        bool skip = false;
        for (int i = 0; own[i] && !skip; i++)
            skip = lua_type(L, -2) == LUA_TSTRING && strcmp(lua_tostring(L, -2), own[i]) == 0 &&
                   (strcmp(own[i], "hw") != 0 || own_hw);
        if (skip) {
            lua_pop(L, 1);
            continue;
        }
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_settable(L, rest);
    }
}

static int l_search(lua_State *L)
{
    check_table(L, 1, "search");
    lua_settop(L, 1);
    static const char *const own[] = { "goal", "max_gpus", "min_gpus", "precisions", "max_batched_tokens",
                                       "concurrency_per_gpu", "disagg", "xpyd", "force", "limit", "confirm", "hw", NULL };
    cli_search_opts o;
    cli_search_defaults(&o);
    lua_getfield(L, 1, "hw");
    bool hw_list = lua_istable(L, -1) && lua_rawlen(L, -1) > 0;
    lua_pop(L, 1);
    if (hw_list)
        search_list(L, 1, "hw", "hw", &o);
    search_list(L, 1, "precisions", "precisions", &o);
    search_list(L, 1, "max_batched_tokens", "mbt", &o);
    search_list(L, 1, "concurrency_per_gpu", "concurrency_per_gpu", &o);
    o.max_gpus = (int)int_field(L, 1, "max_gpus", 8);
    o.min_gpus = (int)int_field(L, 1, "min_gpus", 1);
    o.limit = (long)int_field(L, 1, "limit", 20000);
    o.confirm = (int)int_field(L, 1, "confirm", 3);
    o.disagg = bool_field(L, 1, "disagg", false);
    o.xpyd = bool_field(L, 1, "xpyd", false);
    o.force = bool_field(L, 1, "force", false);
    const char *goal = str_field(L, 1, "goal"); /* stays on the stack (index 2) */
    /* the rest are request options */
    lua_newtable(L);
    int rest = lua_gettop(L);
    copy_request_fields(L, own, hw_list, rest);
    sim_request r;
    sim_request_defaults(&r);
    fill_request(L, rest, &r, "search");
    if (hw_list)
        snprintf(r.hw, sizeof r.hw, "%s", o.hw[0]);
    if (o.nprec && !cli_precision_is_native(o.precisions[0]))
        snprintf(r.precision, sizeof r.precision, "%s", o.precisions[0]);
    bool frontier = goal ? strcmp(goal, "frontier") == 0 : !(cli_search_has_rate(&r) && (r.slo_ttft_s > 0 || r.slo_tpot_s > 0));
    if (goal && !frontier && strcmp(goal, "cheapest") != 0)
        return luaL_error(L, "search: goal must be 'frontier' or 'cheapest' (got '%s')", goal);
    sim_session *session = ctx(L)->session;
    lconv_box *box = lconv_box_json(L);
    cJSON *res = NULL;
    sim_err err = { 0 };
    int rc = frontier ? cli_search_frontier(session, &r, &o, &res, &err) : cli_search_cheapest(session, &r, &o, &res, &err);
    box->p = res;
    if (rc)
        return raise_err(L, "search", &err);
    lconv_push_json(L, res);
    lconv_box_release(box);
    return 1;
}

/* A list field of strings or numbers joined with commas ("fp8,nvfp4"), for the parsers the
 * command line uses; a string is taken as it is. Left on the stack. */
static const char *joined_field(lua_State *L, int idx, const char *k, const char *fn)
{
    lua_getfield(L, idx, k);
    if (lua_isnil(L, -1) || lua_type(L, -1) == LUA_TSTRING)
        return lua_tostring(L, -1);
    if (!lua_istable(L, -1))
        luaL_error(L, "%s: field '%s' must be a list or a comma-separated string", fn, k);
    int list = lua_gettop(L);
    lua_Integer n = (lua_Integer)lua_rawlen(L, list);
    lua_pushliteral(L, "");
    for (lua_Integer i = 1; i <= n; i++) {
        if (i > 1) {
            lua_pushliteral(L, ",");
            lua_concat(L, 2);
        }
        lua_rawgeti(L, list, i);
        if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
            luaL_error(L, "%s: field '%s' must hold names or numbers", fn, k);
        lua_concat(L, 2);
    }
    return lua_tostring(L, -1);
}

/* moesim.compare{ model = ..., hw = {"HGX H200=h200:8", "gb200-nvl72"}, precisions = {...},
 * mtp = {0, 1, 2, 3}, claim = 10, disagg = true, concurrency_per_gpu = {...}, limit, force,
 * and any eval/serve option }: `moesim compare` (search/compare.h) as a table: systems (with
 * their definitions and frontiers, a layout per point), levels (ratios B / A at matched
 * tokens/s per user, the layout per side) and answer. */
static int l_compare(lua_State *L)
{
    check_table(L, 1, "compare");
    lua_settop(L, 1);
    static const char *const own[] = { "hw", "precisions", "mtp", "claim", "disagg", "concurrency_per_gpu",
                                       "max_batched_tokens", "limit", "force", NULL };
    cli_compare_opts o;
    cli_compare_defaults(&o);
    sim_err err = { 0 };
    const char *hw = joined_field(L, 1, "hw", "compare");
    if (!hw)
        return luaL_error(L, "compare: field 'hw' must name two systems ({\"h200\", \"gb200-nvl72\"})");
    if (cli_compare_parse_systems(hw, &o, &err))
        return raise_err(L, "compare", &err);
    const char *prec = joined_field(L, 1, "precisions", "compare");
    if (cli_search_parse_list(prec ? prec : "fp8,nvfp4", "precisions", &o.search, &err))
        return raise_err(L, "compare", &err);
    o.precisions_given = prec != NULL;
    const char *mtp = joined_field(L, 1, "mtp", "compare");
    if (mtp && cli_compare_parse_mtp(mtp, &o, &err))
        return raise_err(L, "compare", &err);
    const char *conc = joined_field(L, 1, "concurrency_per_gpu", "compare");
    if (conc && cli_search_parse_list(conc, "concurrency_per_gpu", &o.search, &err))
        return raise_err(L, "compare", &err);
    const char *mbt = joined_field(L, 1, "max_batched_tokens", "compare");
    if (mbt && cli_search_parse_list(mbt, "mbt", &o.search, &err))
        return raise_err(L, "compare", &err);
    lua_getfield(L, 1, "claim");
    if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TNUMBER)
        return luaL_error(L, "compare: field 'claim' must be a positive number");
    if (!lua_isnil(L, -1))
        o.claim = lua_tonumber(L, -1);
    lua_pop(L, 1);
    o.search.disagg = bool_field(L, 1, "disagg", true);
    o.search.force = bool_field(L, 1, "force", false);
    lua_getfield(L, 1, "limit");
    if (lua_isinteger(L, -1))
        o.search.limit = (long)lua_tointeger(L, -1);
    else if (!lua_isnil(L, -1))
        return luaL_error(L, "compare: field 'limit' must be an integer");
    lua_pop(L, 1);
    lua_newtable(L);
    int rest = lua_gettop(L);
    copy_request_fields(L, own, true, rest);
    sim_request r;
    sim_request_defaults(&r);
    fill_request(L, rest, &r, "compare");
    if (!cli_precision_is_native(o.search.precisions[0]))
        snprintf(r.precision, sizeof r.precision, "%s", o.search.precisions[0]);
    if (mbt)
        r.max_batched_tokens = o.search.mbt[0];
    cli_compare_add_native(ctx(L)->session, &r, &o);
    lconv_box *box = lconv_box_json(L);
    cJSON *res = NULL;
    int rc = cli_compare_json(ctx(L)->session, &r, &o, &res, &err);
    box->p = res;
    if (rc)
        return raise_err(L, "compare", &err);
    lconv_push_json(L, res);
    lconv_box_release(box);
    return 1;
}

static const luaL_Reg moesim_fns[] = {
    { "eval", l_eval },
    { "sweep", l_sweep },
    { "model", l_model },
    { "hardware", l_hardware },
    { "models", l_models },
    { "hardware_list", l_hardware_list },
    { "print", l_print },
    { "write_csv", l_write_csv },
    { "write_json", l_write_json },
    { "plot", l_plot },
    { "serve", l_serve },
    { "search", l_search },
    { "compare", l_compare },
    { "pareto", l_pareto },
    { "ratio", l_ratio },
    { "llama_bench", l_llama_bench },
    { "published", l_published },
    { NULL, NULL },
};

void lbind_push(lua_State *L, const char *out_dir)
{
    lbind_ctx *c = lua_newuserdatauv(L, sizeof *c, 0);
    c->session = NULL;
    c->out_fd = -1;
    snprintf(c->out_dir, sizeof c->out_dir, "%s", out_dir);
    lua_newtable(L);
    lua_pushcfunction(L, ctx_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &CTX_KEY);
    c->session = sim_session_alloc();
    if (!c->session)
        luaL_error(L, "run: out of memory");
    c->out_fd = lout_open(out_dir);
    if (c->out_fd < 0)
        luaL_error(L, "run: cannot open the output folder '%s'", out_dir);

    luaL_newlib(L, moesim_fns);
    lua_pushstring(L, c->out_dir);
    lua_setfield(L, -2, "out_dir");
}
