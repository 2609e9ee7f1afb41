/* sandbox.h: the Lua state a scenario runs in. The environment is built by construction:
 * a fresh table holding only what scenarios need (safe string without dump, table, math,
 * utf8, os.clock/time/date/difftime, the pure base functions, a text-only load and a
 * require limited to Lua source in scenarios/lib and the script's folder). No io, os
 * beyond those four, package, debug, dofile, loadfile, collectgarbage or string.dump is
 * reachable, and no binary chunk can be loaded. The state also counts Lua instructions and
 * memory and stops a scenario that passes either limit. */
#ifndef MOESIM_LUA_SANDBOX_H
#define MOESIM_LUA_SANDBOX_H

#include <lua.h>
#include <stddef.h>

/* Defaults: far above what the shipped scenarios use (README, "Writing a scenario"). */
#define LSB_DEFAULT_MAX_INSTRUCTIONS 2000000000LL   /* Lua VM instructions; about 10 s of pure Lua */
#define LSB_DEFAULT_MAX_MEMORY_MB 2048              /* Lua heap, MiB */

typedef struct lsb_limits {
    long long max_instructions; /* 0 = no limit (--allow-slow) */
    size_t max_memory;          /* bytes of Lua heap; 0 = no limit */
} lsb_limits;

/* What stopped a scenario. */
typedef enum { LSB_NOT_STOPPED, LSB_STOPPED_INSTRUCTIONS, LSB_STOPPED_MEMORY } lsb_stop;

/* A new, empty Lua state (no libraries yet) with the limits applied. NULL when out of
 * memory. Close it with lsb_close, never lua_close (the accounting outlives the state). */
lua_State *lsb_new(const lsb_limits *lim);
void lsb_close(lua_State *L);

/* Whether a limit was hit: instructions for good once tripped; memory when an allocation
 * was refused and the state's error is the memory error `msg` (the last error message, may
 * be NULL). */
lsb_stop lsb_stopped(lua_State *L, int status, const char *msg);

/* Build the scenario environment and push it; it also becomes the state's global table,
 * so chunks loaded later (the script, load, require) see only it. `script_dir` is the
 * script's folder, searched by require after scenarios/lib. Raises on out of memory: call
 * it in protected mode. */
void lsb_push_env(lua_State *L, const char *script_dir);

/* Load `path` as Lua source text (mode "t"); a precompiled chunk is refused. Returns a
 * lua_load status with the chunk or the message pushed. */
int lsb_load_file(lua_State *L, const char *path);

#endif
