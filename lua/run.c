/* run.c: `moesim run FILE.lua [--out DIR] [--allow-slow] [--max-instructions N]
 * [--max-memory MB]`: parse the arguments, make the output folder, build the sandboxed
 * state (sandbox.h) with the moesim table (bindings.h), and run the script as Lua source
 * text. Exit status: 0 done; 2 the scenario failed (a Lua error, a bad option to a binding,
 * a limit passed) or bad arguments; 1 the output folder or the state could not be made. */
#include <errno.h>
#include <lauxlib.h>
#include <limits.h>
#include <lua.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "base/err.h"
#include "lua/bindings.h"
#include "lua/outdir.h"
#include "lua/sandbox.h"

#define RUN_USAGE "usage: moesim run FILE.lua [--out DIR] [--allow-slow] [--max-instructions N] [--max-memory MB]"

typedef struct run_args {
    const char *script;
    const char *out_dir;
    lsb_limits limits;
} run_args;

/* A positive whole number option value; -1 when it is not one. */
static long long count_arg(const char *s)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    return (errno || end == s || *end || v <= 0) ? -1 : v;
}

static int parse_args(int argc, char **argv, run_args *a)
{
    char msg[512];
    a->script = NULL;
    a->out_dir = "out";
    a->limits.max_instructions = LSB_DEFAULT_MAX_INSTRUCTIONS;
    a->limits.max_memory = (size_t)LSB_DEFAULT_MAX_MEMORY_MB << 20;
    bool slow = false;
    for (int i = 0; i < argc; i++) {
        const char *o = argv[i];
        bool takes_value = strcmp(o, "--out") == 0 || strcmp(o, "--max-instructions") == 0 || strcmp(o, "--max-memory") == 0;
        if (takes_value && i + 1 >= argc) {
            snprintf(msg, sizeof msg, "run: %s needs a value (%s)", o, RUN_USAGE);
            return cmd_fail(SIM_EINPUT, msg);
        }
        if (strcmp(o, "--out") == 0) {
            a->out_dir = argv[++i];
        } else if (strcmp(o, "--allow-slow") == 0) {
            slow = true;
        } else if (strcmp(o, "--max-instructions") == 0 || strcmp(o, "--max-memory") == 0) {
            long long v = count_arg(argv[++i]);
            bool mem = strcmp(o, "--max-memory") == 0;
            if (v < 0 || (mem && v > (1LL << 30))) {
                snprintf(msg, sizeof msg, "run: %s must be a positive whole number%s (got '%s')", o,
                         mem ? " of MB" : "", argv[i]);
                return cmd_fail(SIM_EINPUT, msg);
            }
            if (mem)
                a->limits.max_memory = (size_t)v << 20;
            else
                a->limits.max_instructions = v;
        } else if (o[0] == '-') {
            snprintf(msg, sizeof msg, "run: unknown option '%s' (%s)", o, RUN_USAGE);
            return cmd_fail(SIM_EINPUT, msg);
        } else if (!a->script) {
            a->script = o;
        } else {
            return cmd_fail(SIM_EINPUT, "run: one scenario file at a time (" RUN_USAGE ")");
        }
    }
    if (slow)
        a->limits.max_instructions = 0;
    if (!a->script)
        return cmd_fail(SIM_EINPUT, "run: which scenario? (" RUN_USAGE ")");
    return SIM_OK;
}

static int traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    luaL_traceback(L, L, msg ? msg : "(error object is not a string)", 1);
    return 1;
}

/* In protected mode: the environment, the moesim table, then the script's chunk, left on
 * the stack. Arguments: the script path, its folder, the output folder (light strings). */
static int setup(lua_State *L)
{
    const char *script = lua_touserdata(L, 1);
    const char *dir = lua_touserdata(L, 2);
    const char *out_dir = lua_touserdata(L, 3);
    lsb_push_env(L, dir);
    lbind_push(L, out_dir);
    lua_setfield(L, -2, "moesim");
    if (lsb_load_file(L, script) != LUA_OK)
        return lua_error(L);
    return 1;
}

/* Print why the scenario stopped; the exit status. */
static int report_failure(lua_State *L, int rc, const lsb_limits *lim)
{
    const char *msg = lua_tostring(L, -1);
    switch (lsb_stopped(L, rc, msg)) {
    case LSB_STOPPED_MEMORY:
        fprintf(stderr,
                "moesim: scenario stopped: its Lua memory passed the limit of %zu MB "
                "(a runaway table or string? `moesim run FILE --max-memory MB` raises it)\n",
                lim->max_memory >> 20);
        break;
    case LSB_STOPPED_INSTRUCTIONS: /* the message says so, with the line */
    case LSB_NOT_STOPPED:
        fprintf(stderr, "moesim: %s\n", msg ? msg : "scenario failed");
        break;
    }
    return 2;
}

int cmd_run(int argc, char **argv)
{
    run_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc;
    if (lout_make_dirs(a.out_dir) != 0) {
        char msg[PATH_MAX + 64];
        snprintf(msg, sizeof msg, "run: cannot create output folder '%s': %s", a.out_dir, strerror(errno));
        return cmd_fail(SIM_EFAIL, msg);
    }
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", a.script);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");

    lua_State *L = lsb_new(&a.limits);
    if (!L)
        return cmd_fail(SIM_EFAIL, "run: cannot create a Lua state (out of memory)");
    lua_pushcfunction(L, traceback);
    lua_pushcfunction(L, setup);
    lua_pushlightuserdata(L, (void *)a.script);
    lua_pushlightuserdata(L, dir);
    lua_pushlightuserdata(L, (void *)a.out_dir);
    rc = lua_pcall(L, 3, 1, 0);
    if (rc == LUA_OK)
        rc = lua_pcall(L, 0, 0, 1);
    int status = rc == LUA_OK ? 0 : report_failure(L, rc, &a.limits);
    lsb_close(L);
    return status;
}
