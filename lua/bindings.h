/* bindings.h: the `moesim` table a scenario calls: eval, sweep, model, hardware, models,
 * hardware_list, print, write_csv, write_json, plot, serve, search, and out_dir. Every
 * error a binding raises starts with the name the scenario called ("serve: unknown option
 * 'bogus' ..."). What one Lua state needs across calls (the cards it has loaded, its output
 * folder) lives in a userdata in that state's registry, freed when the state closes: two
 * states never share it. */
#ifndef MOESIM_LUA_BINDINGS_H
#define MOESIM_LUA_BINDINGS_H

#include <lua.h>

/* Give the state its context (a new card session; the output folder `out_dir`, which must
 * exist) and push the moesim table. Raises on failure: call it in protected mode. */
void lbind_push(lua_State *L, const char *out_dir);

#endif
