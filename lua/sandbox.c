/* sandbox.c: the scenario's Lua state (see sandbox.h): an allocator that counts the Lua
 * heap against a cap, a count hook that stops runaway loops, and an environment built
 * from an empty table by adding only what is safe. */
#include "lua/sandbox.h"

#include <ctype.h>
#include <lauxlib.h>
#include <limits.h>
#include <lualib.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/registry.h"

/* --- limits --- */

/* The allocator's user data: owned by lsb_new / lsb_close, reached through lua_getallocf. */
typedef struct lsb_acct {
    size_t used, cap;     /* bytes of Lua heap; cap 0 = none */
    bool refused;         /* an allocation was refused for the cap */
    long long max_instr;  /* 0 = none */
    long long executed;   /* instructions counted so far (in steps of `step`) */
    int step;
    bool instr_tripped;
} lsb_acct;

static lsb_acct *acct_of(lua_State *L)
{
    void *ud = NULL;
    lua_getallocf(L, &ud);
    return ud;
}

static void *lsb_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    lsb_acct *a = ud;
    size_t old = ptr ? osize : 0; /* with ptr NULL, osize is a type tag */
    if (nsize == 0) {
        free(ptr);
        a->used -= old;
        return NULL;
    }
    if (a->cap && nsize > old && a->used - old + nsize > a->cap) {
        a->refused = true; /* Lua collects garbage and retries once before raising */
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (p)
        a->used = a->used - old + nsize;
    return p;
}

static void count_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lsb_acct *a = acct_of(L);
    a->executed += a->step;
    if (!a->instr_tripped && a->executed < a->max_instr)
        return;
    if (!a->instr_tripped) {
        /* from now on every instruction raises, so a pcall in the scenario cannot swallow it */
        a->instr_tripped = true;
        lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
    }
    luaL_error(L, "scenario stopped after %I Lua instructions, its limit (a runaway loop? "
                  "`moesim run FILE --allow-slow` lifts the limit, --max-instructions N sets it)",
               (lua_Integer)a->max_instr);
}

static int panic(lua_State *L)
{
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "moesim: Lua panic: %s\n", msg ? msg : "(no message)");
    return 0;
}

lua_State *lsb_new(const lsb_limits *lim)
{
    lsb_acct *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->cap = lim->max_memory;
    a->max_instr = lim->max_instructions;
    lua_State *L = lua_newstate(lsb_alloc, a);
    if (!L) {
        free(a);
        return NULL;
    }
    lua_atpanic(L, panic);
    if (a->max_instr > 0) {
        a->step = a->max_instr < 1000 ? (int)a->max_instr : 1000;
        lua_sethook(L, count_hook, LUA_MASKCOUNT, a->step);
    }
    return L;
}

void lsb_close(lua_State *L)
{
    if (!L)
        return;
    lsb_acct *a = acct_of(L);
    lua_close(L);
    free(a);
}

lsb_stop lsb_stopped(lua_State *L, int status, const char *msg)
{
    const lsb_acct *a = acct_of(L);
    if (a->instr_tripped)
        return LSB_STOPPED_INSTRUCTIONS;
    /* LUA_ERRERR: the message handler itself ran out of memory */
    if (a->refused && (status == LUA_ERRMEM || status == LUA_ERRERR || (msg && strstr(msg, "not enough memory"))))
        return LSB_STOPPED_MEMORY;
    return LSB_NOT_STOPPED;
}

/* --- loading --- */

int lsb_load_file(lua_State *L, const char *path)
{
    int rc = luaL_loadfilex(L, path, "t");
    if (rc == LUA_ERRSYNTAX) {
        const char *m = lua_tostring(L, -1);
        if (m && strstr(m, "binary chunk")) {
            lua_pop(L, 1);
            lua_pushfstring(L, "%s is a precompiled (binary) Lua chunk; only Lua source text can run", path);
        }
    }
    return rc;
}

/* load(chunk [, chunkname [, mode [, env]]]) with mode "t" only; without env the chunk
 * sees the sandbox (the state's global table). Upvalue 1: the base library's load. */
static int sb_load(lua_State *L)
{
    int n = lua_gettop(L);
    const char *mode = luaL_optstring(L, 3, "t");
    if (strcmp(mode, "t") != 0) {
        luaL_pushfail(L);
        lua_pushfstring(L, "load: only text chunks can be loaded (mode '%s' refused)", mode);
        return 2;
    }
    lua_settop(L, 4);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_pushliteral(L, "t");
    if (n >= 4)
        lua_pushvalue(L, 4);
    lua_call(L, n >= 4 ? 4 : 3, LUA_MULTRET);
    return lua_gettop(L) - 4;
}

static bool module_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 200 || s[0] == '.' || s[n - 1] == '.' || strstr(s, ".."))
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.')
            return false;
    return true;
}

/* require(name): a Lua source module from scenarios/lib or the script's folder, run in the
 * sandbox, loaded once. Upvalues: 1 the loaded modules, 2 and 3 the folders. */
static int sb_require(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    if (!module_name_ok(name))
        return luaL_error(L, "require: '%s' is not a module name (letters, digits, '_', and '.' between parts)", name);
    lua_settop(L, 1);
    if (lua_getfield(L, lua_upvalueindex(1), name) != LUA_TNIL)
        return 1;
    lua_pop(L, 1);
    char rel[256], path[PATH_MAX];
    snprintf(rel, sizeof rel, "%s.lua", name);
    for (char *p = rel; *p && strcmp(p, ".lua") != 0; p++)
        if (*p == '.')
            *p = '/';
    bool found = false;
    for (int u = 2; u <= 3 && !found; u++) {
        snprintf(path, sizeof path, "%s/%s", lua_tostring(L, lua_upvalueindex(u)), rel);
        found = access(path, R_OK) == 0;
    }
    if (!found)
        return luaL_error(L, "require: module '%s' not found (looked for %s in %s and %s)", name, rel,
                          lua_tostring(L, lua_upvalueindex(2)), lua_tostring(L, lua_upvalueindex(3)));
    if (lsb_load_file(L, path) != LUA_OK)
        return lua_error(L);
    lua_pushvalue(L, 1);
    lua_pushstring(L, path);
    lua_call(L, 2, 1);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
    }
    lua_pushvalue(L, -1);
    lua_setfield(L, lua_upvalueindex(1), name);
    lua_pushstring(L, path);
    return 2;
}

/* --- the environment --- */

/* Open a library without registering it anywhere (no package.loaded) and push its table. */
static int open_lib(lua_State *L, lua_CFunction open)
{
    lua_pushcfunction(L, open);
    lua_call(L, 0, 1);
    return lua_gettop(L);
}

static void copy_fields(lua_State *L, int from, int to, const char *const *names)
{
    for (int i = 0; names[i]; i++) {
        lua_getfield(L, from, names[i]);
        lua_setfield(L, to, names[i]);
    }
}

/* string without dump; it also becomes the string metatable's __index, so ("").dump is nil. */
static void add_string(lua_State *L, int env)
{
    int full = open_lib(L, luaopen_string);
    lua_newtable(L);
    int safe = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, full)) {
        if (lua_type(L, -2) == LUA_TSTRING && strcmp(lua_tostring(L, -2), "dump") == 0) {
            lua_pop(L, 1);
            continue;
        }
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, safe);
    }
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_pushvalue(L, safe);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 2);
    lua_setfield(L, env, "string");
    lua_pop(L, 1); /* the full library, now unreachable */
}

void lsb_push_env(lua_State *L, const char *script_dir)
{
    static const char *const base_keep[] = { "assert", "error", "getmetatable", "ipairs", "next", "pairs", "pcall",
                                             "print", "rawequal", "rawget", "rawlen", "rawset", "select",
                                             "setmetatable", "tonumber", "tostring", "type", "xpcall", "_VERSION",
                                             NULL };
    static const char *const os_keep[] = { "clock", "time", "date", "difftime", NULL };
    luaL_checkstack(L, 10, "building the sandbox");
    lua_newtable(L);
    int env = lua_gettop(L);

    int base = open_lib(L, luaopen_base); /* fills and returns the state's original global table */
    copy_fields(L, base, env, base_keep);
    lua_getfield(L, base, "load");
    lua_pushcclosure(L, sb_load, 1);
    lua_setfield(L, env, "load");
    lua_pop(L, 1);

    add_string(L, env);
    open_lib(L, luaopen_table);
    lua_setfield(L, env, "table");
    open_lib(L, luaopen_math);
    lua_setfield(L, env, "math");
    open_lib(L, luaopen_utf8);
    lua_setfield(L, env, "utf8");
    int os = open_lib(L, luaopen_os);
    lua_newtable(L);
    copy_fields(L, os, lua_gettop(L), os_keep);
    lua_setfield(L, env, "os");
    lua_pop(L, 1);

    lua_newtable(L); /* modules loaded by require */
    lua_pushfstring(L, "%s/scenarios/lib", sim_home());
    lua_pushstring(L, script_dir);
    lua_pushcclosure(L, sb_require, 3);
    lua_setfield(L, env, "require");

    lua_pushvalue(L, env);
    lua_setfield(L, env, "_G");
    /* the environment replaces the global table: what defaults to it (luaL_loadfilex, the
     * base load) gets the sandbox, and the original table, with dofile and the rest, goes */
    lua_pushvalue(L, env);
    lua_rawseti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
}
