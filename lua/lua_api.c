/* lua_api.c: `moesim run FILE.lua`: a sandboxed Lua state with the `moesim` module.
 *
 * Scenarios get plain tables in and plain tables out: moesim.eval{...} takes the same
 * options as `moesim eval` and returns the same fields as its JSON. The sandbox has no io,
 * no os.execute, no C modules; files are written only through moesim.write_* and
 * moesim.plot, and only under the output folder. */
#include <errno.h>
#include <lauxlib.h>
#include <limits.h>
#include <lua.h>
#include <lualib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "report/catalog.h"
#include "cli/commands.h"
#include "serve/des.h"
#include "base/jsonfile.h"
#include "report/plot.h"
#include "model/registry.h"
#include "report/report.h"
#include "cli/request.h"
#include "search/search.h"

static char out_dir[PATH_MAX] = "out";

/* --- JSON <-> Lua --- */

/* The cards the running scenario has loaded (session.h): from the start of cmd_run to
 * lua_close, so every deployment a binding builds stays valid while the scenario runs. */
static sim_session *lua_session;

static void push_json(lua_State *L, const cJSON *j)
{
    if (cJSON_IsNumber(j)) {
        double v = j->valuedouble;
        if (v == floor(v) && fabs(v) < 9e15)
            lua_pushinteger(L, (lua_Integer)v);
        else
            lua_pushnumber(L, v);
    } else if (cJSON_IsString(j)) {
        lua_pushstring(L, j->valuestring);
    } else if (cJSON_IsBool(j)) {
        lua_pushboolean(L, cJSON_IsTrue(j));
    } else if (cJSON_IsArray(j)) {
        lua_createtable(L, cJSON_GetArraySize(j), 0);
        int i = 1;
        const cJSON *it;
        cJSON_ArrayForEach(it, j)
        {
            push_json(L, it);
            lua_rawseti(L, -2, i++);
        }
    } else if (cJSON_IsObject(j)) {
        lua_newtable(L);
        const cJSON *it;
        cJSON_ArrayForEach(it, j)
        {
            push_json(L, it);
            lua_setfield(L, -2, it->string);
        }
    } else {
        lua_pushnil(L);
    }
}

/* Is the table at idx a sequence 1..n (n >= 1)? */
static lua_Integer seq_len(lua_State *L, int idx)
{
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
    if (n == 0)
        return 0;
    lua_Integer count = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        count++;
        lua_pop(L, 1);
    }
    return count == n ? n : 0;
}

/* Convert the Lua value at idx to JSON. Keys of mixed tables become strings; functions
 * and userdata are refused with a message naming the path. */
static cJSON *to_json(lua_State *L, int idx, const char *path, int depth)
{
    idx = lua_absindex(L, idx);
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        return cJSON_CreateNull();
    case LUA_TBOOLEAN:
        return cJSON_CreateBool(lua_toboolean(L, idx));
    case LUA_TNUMBER:
        return cJSON_CreateNumber(lua_tonumber(L, idx));
    case LUA_TSTRING:
        return cJSON_CreateString(lua_tostring(L, idx));
    case LUA_TTABLE: {
        if (depth > 32)
            luaL_error(L, "value at '%s' is nested too deeply (or refers to itself)", path);
        lua_Integer n = seq_len(L, idx);
        if (n > 0 || lua_rawlen(L, idx) > 0) {
            cJSON *arr = cJSON_CreateArray();
            for (lua_Integer i = 1; i <= (lua_Integer)lua_rawlen(L, idx); i++) {
                lua_rawgeti(L, idx, i);
                char sub[256];
                snprintf(sub, sizeof sub, "%s[%lld]", path, (long long)i);
                cJSON_AddItemToArray(arr, to_json(L, -1, sub, depth + 1));
                lua_pop(L, 1);
            }
            return arr;
        }
        cJSON *obj = cJSON_CreateObject();
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            char key[128];
            if (lua_type(L, -2) == LUA_TSTRING)
                snprintf(key, sizeof key, "%s", lua_tostring(L, -2));
            else if (lua_type(L, -2) == LUA_TNUMBER)
                snprintf(key, sizeof key, "%g", lua_tonumber(L, -2));
            else
                snprintf(key, sizeof key, "?");
            char sub[256];
            snprintf(sub, sizeof sub, "%s.%s", path, key);
            cJSON_AddItemToObject(obj, key, to_json(L, -1, sub, depth + 1));
            lua_pop(L, 1);
        }
        return obj;
    }
    default:
        luaL_error(L, "value at '%s' is a %s, which cannot be written as data", path, luaL_typename(L, idx));
        return NULL;
    }
}

/* --- request from a table --- */

static int fill_request(lua_State *L, int idx, sim_request *r)
{
    sim_err err = { 0 };
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            return luaL_argerror(L, 1, "option names must be strings");
        const char *k = lua_tostring(L, -2);
        int rc = SIM_OK;
        /* a model or hardware table (from moesim.model / moesim.hardware) stands for its file */
        if ((strcmp(k, "model") == 0 || strcmp(k, "hw") == 0) && lua_istable(L, -1)) {
            lua_getfield(L, -1, "file");
            if (!lua_isstring(L, -1)) {
                lua_pop(L, 1);
                lua_getfield(L, -1, "name");
            }
            if (!lua_isstring(L, -1))
                return luaL_error(L, "bad argument #1 to 'eval' (field '%s': table without a name or file)", k);
            rc = sim_request_set_str(r, k, lua_tostring(L, -1), &err);
            lua_pop(L, 1);
        } else if (lua_type(L, -1) == LUA_TNUMBER) {
            rc = sim_request_set_num(r, k, lua_tonumber(L, -1), &err);
        } else if (lua_type(L, -1) == LUA_TSTRING) {
            rc = sim_request_set_str(r, k, lua_tostring(L, -1), &err);
        } else if (lua_type(L, -1) == LUA_TBOOLEAN) {
            rc = sim_request_set_bool(r, k, lua_toboolean(L, -1), &err);
        } else {
            return luaL_error(L, "bad argument #1 to 'eval' (field '%s': unexpected %s)", k, luaL_typename(L, -1));
        }
        if (rc)
            return luaL_error(L, "bad argument #1 to 'eval' (%s)", err.msg);
        lua_pop(L, 1);
    }
    return 0;
}

static int l_eval(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    sim_request r;
    sim_request_defaults(&r);
    fill_request(L, 1, &r);
    cJSON *res = NULL;
    sim_err err = { 0 };
    if (sim_request_run(lua_session, &r, &res, &err))
        return luaL_error(L, "eval: %s", err.msg);
    push_json(L, res);
    cJSON_Delete(res);
    return 1;
}

/* moesim.sweep{ base = {...}, vary = { name = {values}, ... } } -> list of results, each
 * with the varied values copied in. Dimensions combine as a cartesian product, in the
 * order of the keys sorted by name so the output order is stable. */
static int l_sweep(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "base");
    int base = lua_gettop(L);
    if (!lua_istable(L, base))
        return luaL_argerror(L, 1, "field 'base' must be a table of eval options");
    lua_getfield(L, 1, "vary");
    int vary = lua_gettop(L);
    if (!lua_istable(L, vary))
        return luaL_argerror(L, 1, "field 'vary' must be a table of option = {values}");
    const char *keys[16];
    int nk = 0;
    lua_Integer lens[16];
    lua_pushnil(L);
    while (lua_next(L, vary)) {
        if (lua_type(L, -2) != LUA_TSTRING || !lua_istable(L, -1) || lua_rawlen(L, -1) == 0)
            return luaL_argerror(L, 1, "each field of 'vary' must be a non-empty list");
        if (nk == 16)
            return luaL_argerror(L, 1, "'vary' has more than 16 dimensions");
        keys[nk++] = lua_tostring(L, -2);
        lua_pop(L, 1);
    }
    for (int i = 1; i < nk; i++) /* insertion sort: stable order */
        for (int j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
            const char *t = keys[j];
            keys[j] = keys[j - 1];
            keys[j - 1] = t;
        }
    lua_Integer total = 1;
    for (int i = 0; i < nk; i++) {
        lua_getfield(L, vary, keys[i]);
        lens[i] = (lua_Integer)lua_rawlen(L, -1);
        lua_pop(L, 1);
        total *= lens[i];
        if (total > 1000000)
            return luaL_argerror(L, 1, "sweep has more than 1,000,000 points");
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
        lua_pushcfunction(L, l_eval);
        lua_pushvalue(L, opts);
        lua_call(L, 1, 1);
        int res = lua_gettop(L);
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

static int l_model(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    sim_model m;
    sim_err err = { 0 };
    if (sim_registry_model(name, &m, &err))
        return luaL_error(L, "model: %s", err.msg);
    cJSON *row = sim_catalog_model_row(&m);
    push_json(L, row);
    cJSON_Delete(row);
    return 1;
}

static int l_hardware(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    sim_hw h;
    sim_err err = { 0 };
    if (sim_registry_hw(name, &h, &err))
        return luaL_error(L, "hardware: %s", err.msg);
    cJSON *row = sim_catalog_hw_row(&h);
    push_json(L, row);
    cJSON_Delete(row);
    return 1;
}

static int push_catalog(lua_State *L, bool models)
{
    cJSON *rows = NULL;
    sim_err err = { 0 };
    if ((models ? sim_catalog_models(&rows, &err) : sim_catalog_hw(&rows, &err)))
        return luaL_error(L, "%s", err.msg);
    push_json(L, rows);
    cJSON_Delete(rows);
    return 1;
}

static int l_models(lua_State *L)
{
    return push_catalog(L, true);
}

static int l_hardware_list(lua_State *L)
{
    return push_catalog(L, false);
}

/* Optional column list at idx -> array of strings (lifetime: the Lua stack). */
static int get_columns(lua_State *L, int idx, const char **cols, int cap)
{
    if (lua_isnoneornil(L, idx))
        return -1;
    luaL_checktype(L, idx, LUA_TTABLE);
    int n = (int)lua_rawlen(L, idx);
    if (n > cap)
        luaL_argerror(L, idx, "too many columns");
    for (int i = 0; i < n; i++) {
        lua_rawgeti(L, idx, i + 1);
        if (!lua_isstring(L, -1))
            luaL_argerror(L, idx, "columns must be strings");
        cols[i] = lua_tostring(L, -1);
        lua_pop(L, 1); /* the string stays alive in the table */
    }
    return n;
}

static cJSON *rows_arg(lua_State *L, int idx, const char *fn)
{
    luaL_checktype(L, idx, LUA_TTABLE);
    cJSON *rows = to_json(L, idx, "rows", 0);
    if (!cJSON_IsArray(rows)) {
        cJSON_Delete(rows);
        luaL_error(L, "bad argument #%d to '%s' (a list of rows expected)", idx, fn);
    }
    return rows;
}

static int l_print(lua_State *L)
{
    cJSON *rows = rows_arg(L, 1, "print");
    const char *cols[64];
    int n = get_columns(L, 2, cols, 64);
    sim_table_print(stdout, rows, n >= 0 ? cols : NULL, n);
    fflush(stdout);
    cJSON_Delete(rows);
    return 0;
}

/* A path under the output folder; refuses absolute paths and '..'. */
static const char *out_path(lua_State *L, int idx, char *buf, size_t cap)
{
    const char *name = luaL_checkstring(L, idx);
    if (!*name || name[0] == '/' || strstr(name, ".."))
        luaL_argerror(L, idx, "a file name inside the output folder expected (no absolute path, no '..')");
    if (snprintf(buf, cap, "%s/%s", out_dir, name) >= (int)cap)
        luaL_argerror(L, idx, "file name too long");
    /* make parent folders under out_dir */
    for (char *p = buf + strlen(out_dir) + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0755);
            *p = '/';
        }
    return buf;
}

static int l_write_csv(lua_State *L)
{
    char path[PATH_MAX];
    out_path(L, 1, path, sizeof path);
    cJSON *rows = rows_arg(L, 2, "write_csv");
    const char *cols[64];
    int n = get_columns(L, 3, cols, 64);
    char *csv = sim_table_csv(rows, n >= 0 ? cols : NULL, n);
    cJSON_Delete(rows);
    if (!csv)
        return luaL_error(L, "write_csv: out of memory");
    sim_err err = { 0 };
    int rc = jf_write_atomic(path, csv, &err);
    free(csv);
    if (rc)
        return luaL_error(L, "write_csv: %s", err.msg);
    lua_pushstring(L, path);
    return 1;
}

static int l_write_json(lua_State *L)
{
    char path[PATH_MAX];
    out_path(L, 1, path, sizeof path);
    luaL_checkany(L, 2);
    cJSON *j = to_json(L, 2, "value", 0);
    sim_err err = { 0 };
    int rc = jf_save(path, j, &err);
    cJSON_Delete(j);
    if (rc)
        return luaL_error(L, "write_json: %s", err.msg);
    lua_pushstring(L, path);
    return 1;
}

static const char *opt_field(lua_State *L, int idx, const char *k)
{
    lua_getfield(L, idx, k);
    const char *s = lua_isstring(L, -1) ? lua_tostring(L, -1) : NULL;
    lua_pop(L, 1); /* strings from a table field stay alive while the table does */
    return s;
}

static bool bool_field(lua_State *L, int idx, const char *k, bool dflt)
{
    lua_getfield(L, idx, k);
    bool v = lua_isnil(L, -1) ? dflt : lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

static int l_plot(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "rows");
    if (!lua_istable(L, -1))
        return luaL_argerror(L, 1, "field 'rows' must be a list of rows");
    cJSON *rows = rows_arg(L, lua_gettop(L), "plot");
    char path[PATH_MAX];
    lua_getfield(L, 1, "file");
    if (!lua_isstring(L, -1)) {
        cJSON_Delete(rows);
        return luaL_argerror(L, 1, "field 'file' must be a file name ending in .png or .svg");
    }
    out_path(L, lua_gettop(L), path, sizeof path);
    sim_plot_opts o = {
        .x = opt_field(L, 1, "x"),
        .y = opt_field(L, 1, "y"),
        .by = opt_field(L, 1, "by"),
        .file = path,
        .title = opt_field(L, 1, "title"),
        .xlabel = opt_field(L, 1, "xlabel"),
        .ylabel = opt_field(L, 1, "ylabel"),
        .logx = bool_field(L, 1, "logx", false),
        .logy = bool_field(L, 1, "logy", false),
        .lines = bool_field(L, 1, "lines", true),
    };
    sim_err err = { 0 };
    int rc = sim_plot(rows, &o, &err);
    cJSON_Delete(rows);
    if (rc)
        return luaL_error(L, "%s", err.msg);
    lua_pushstring(L, path);
    return 1;
}

/* moesim.serve{...}: the discrete-event simulation (des.h) with the options of `moesim
 * serve`; returns its JSON report as a table, plus `cdf`: latency CDF rows {metric,
 * latency_s, share} ready for moesim.plot. */
static int l_serve(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    sim_request r;
    sim_request_defaults(&r);
    fill_request(L, 1, &r);
    cJSON *rep = NULL;
    sim_des_result res;
    sim_err err = { 0 };
    if (sim_des_request_run(lua_session, &r, true, false, &rep, &res, &err))
        return luaL_error(L, "serve: %s", err.msg);
    cJSON_AddItemToObject(rep, "cdf", sim_des_cdf_rows(&res, 50));
    sim_des_result_free(&res);
    push_json(L, rep);
    cJSON_Delete(rep);
    return 1;
}

/* A search list field: a Lua list of strings, numbers or named tables, joined with commas. */
static void search_list(lua_State *L, int idx, const char *key, const char *what, sim_search_opts *o)
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
    if (sim_search_parse_list(text, what, o, &err))
        luaL_error(L, "search: %s", err.msg);
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
static int l_search(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    static const char *const own[] = { "goal", "max_gpus", "min_gpus", "precisions", "max_batched_tokens",
                                       "concurrency_per_gpu", "disagg", "force", "limit", "confirm", "hw", NULL };
    sim_search_opts o;
    sim_search_defaults(&o);
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
    const char *goal = opt_field(L, 1, "goal");
    o.disagg = bool_field(L, 1, "disagg", false);
    o.force = bool_field(L, 1, "force", false);
    /* the rest are request options */
    lua_newtable(L);
    int rest = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        bool skip = false;
        for (int i = 0; own[i] && !skip; i++)
            skip = lua_type(L, -2) == LUA_TSTRING && strcmp(lua_tostring(L, -2), own[i]) == 0 &&
                   (strcmp(own[i], "hw") != 0 || hw_list);
        if (skip) {
            lua_pop(L, 1);
            continue;
        }
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_settable(L, rest);
    }
    sim_request r;
    sim_request_defaults(&r);
    fill_request(L, rest, &r);
    if (hw_list)
        snprintf(r.hw, sizeof r.hw, "%s", o.hw[0]);
    if (o.nprec)
        snprintf(r.precision, sizeof r.precision, "%s", o.precisions[0]);
    bool frontier = goal ? strcmp(goal, "frontier") == 0 : !(r.rate > 0 && (r.slo_ttft_s > 0 || r.slo_tpot_s > 0));
    if (goal && !frontier && strcmp(goal, "cheapest") != 0)
        return luaL_error(L, "search: goal must be 'frontier' or 'cheapest' (got '%s')", goal);
    cJSON *res = NULL;
    sim_err err = { 0 };
    if (frontier ? sim_search_frontier(lua_session, &r, &o, &res, &err) : sim_search_cheapest(lua_session, &r, &o, &res, &err))
        return luaL_error(L, "search: %s", err.msg);
    push_json(L, res);
    cJSON_Delete(res);
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
    { NULL, NULL },
};

/* Keep only what cannot reach outside: no io, no os.execute/remove/rename/exit/getenv,
 * no loading of files or C code except Lua modules from scenarios/lib and the script's folder. */
static void sandbox(lua_State *L, const char *script)
{
    luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
    luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
    luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
    luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
    luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 1);
    luaL_requiref(L, LUA_LOADLIBNAME, luaopen_package, 1);
    luaL_requiref(L, LUA_OSLIBNAME, luaopen_os, 1);
    lua_pop(L, 7);

    lua_pushnil(L);
    lua_setglobal(L, "dofile");
    lua_pushnil(L);
    lua_setglobal(L, "loadfile");

    lua_getglobal(L, "os");
    const char *os_keep[] = { "clock", "time", "date", "difftime", NULL };
    lua_newtable(L);
    for (int i = 0; os_keep[i]; i++) {
        lua_getfield(L, -2, os_keep[i]);
        lua_setfield(L, -2, os_keep[i]);
    }
    lua_setglobal(L, "os");
    lua_pop(L, 1);

    lua_getglobal(L, "package");
    char dir[PATH_MAX], path[2 * PATH_MAX + 64];
    snprintf(dir, sizeof dir, "%s", script);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    snprintf(path, sizeof path, "%s/scenarios/lib/?.lua;%s/?.lua", sim_home(), dir);
    lua_pushstring(L, path);
    lua_setfield(L, -2, "path");
    lua_pushstring(L, "");
    lua_setfield(L, -2, "cpath");
    lua_pushnil(L);
    lua_setfield(L, -2, "loadlib");
    lua_getfield(L, -1, "searchers"); /* keep the preload and Lua searchers only */
    lua_pushnil(L);
    lua_rawseti(L, -2, 4);
    lua_pushnil(L);
    lua_rawseti(L, -2, 3);
    lua_pop(L, 2);

    luaL_newlib(L, moesim_fns);
    lua_pushstring(L, out_dir);
    lua_setfield(L, -2, "out_dir");
    lua_setglobal(L, "moesim");
}

static int traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    luaL_traceback(L, L, msg ? msg : "(error object is not a string)", 1);
    return 1;
}

static int make_dirs(const char *dir)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

int cmd_run(int argc, char **argv)
{
    const char *script = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--out") == 0) {
            if (i + 1 >= argc)
                return cmd_fail(SIM_EINPUT, "run: --out needs a folder");
            snprintf(out_dir, sizeof out_dir, "%s", argv[++i]);
        } else if (argv[i][0] == '-') {
            char msg[256];
            snprintf(msg, sizeof msg, "run: unknown option '%s' (usage: moesim run FILE.lua [--out DIR])", argv[i]);
            return cmd_fail(SIM_EINPUT, msg);
        } else if (!script) {
            script = argv[i];
        } else {
            return cmd_fail(SIM_EINPUT, "run: one scenario file at a time (usage: moesim run FILE.lua [--out DIR])");
        }
    }
    if (!script)
        return cmd_fail(SIM_EINPUT, "run: which scenario? (usage: moesim run FILE.lua [--out DIR])");
    if (make_dirs(out_dir) != 0) {
        char msg[PATH_MAX + 64];
        snprintf(msg, sizeof msg, "run: cannot create output folder '%s': %s", out_dir, strerror(errno));
        return cmd_fail(SIM_EFAIL, msg);
    }
    lua_State *L = luaL_newstate();
    lua_session = sim_session_alloc();
    if (!L || !lua_session) {
        if (L)
            lua_close(L);
        sim_session_free(lua_session);
        lua_session = NULL;
        return cmd_fail(SIM_EFAIL, "run: cannot create a Lua state (out of memory)");
    }
    sandbox(L, script);
    lua_pushcfunction(L, traceback);
    int rc = luaL_loadfile(L, script);
    if (rc == LUA_OK)
        rc = lua_pcall(L, 0, 0, -2);
    int status = 0;
    if (rc != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        fprintf(stderr, "moesim: %s\n", msg ? msg : "scenario failed");
        status = 2;
    }
    lua_close(L);
    sim_session_free(lua_session);
    lua_session = NULL;
    return status;
}
