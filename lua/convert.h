/* convert.h: moving data between Lua and C for the moesim bindings: Lua tables <-> cJSON
 * (with a nesting limit and stack checks), and "boxes": userdata on the Lua stack that own a
 * C allocation, so that a Lua error raised after the allocation (a bad argument, out of
 * memory while pushing the result) unwinds without leaking it. */
#ifndef MOESIM_LUA_CONVERT_H
#define MOESIM_LUA_CONVERT_H

#include <cjson/cJSON.h>
#include <lua.h>
#include <stddef.h>

/* Tables nested deeper than this are refused (and a table that contains itself is). */
#define LCONV_MAX_DEPTH 64

/* A box: a full userdata whose __gc and __close call free_fn(p) once, when p is not NULL. */
typedef struct lconv_box {
    void (*free_fn)(void *);
    void *p;
} lconv_box;

/* Push a new box owning nothing yet and return it. Push the box BEFORE allocating (pushing
 * can raise) and store the pointer in box->p right after, with nothing that can raise in
 * between. With `inline_size` > 0 the box also carries a zeroed block of that size
 * (aligned for any type) and p points to it, for structs with allocations inside them
 * (free_fn must accept the zeroed block). Raises on out of memory. */
lconv_box *lconv_box_push(lua_State *L, void (*free_fn)(void *), size_t inline_size);
/* A box for a cJSON tree (free_fn = cJSON_Delete). */
lconv_box *lconv_box_json(lua_State *L);
/* Free what the box owns now (idempotent); the userdata stays on the stack. */
void lconv_box_release(lconv_box *b);

/* Push the JSON value as a Lua value: objects and arrays become tables, integral numbers
 * integers. Raises on out of memory; `j` stays owned by the caller (box it). */
void lconv_push_json(lua_State *L, const cJSON *j);

/* Convert the Lua value at idx to JSON for function `fn` (named in errors, e.g.
 * "write_json: table nested deeper than 64 levels"); `what` labels the value in paths
 * ("rows", "value"). A sequence becomes an array, any other table an object; functions,
 * userdata and threads are refused. Pushes a box that owns the result and returns the
 * result (owned by the box: lconv_box_release(box) or the GC frees it); *box receives it. */
cJSON *lconv_to_json(lua_State *L, int idx, const char *fn, const char *what, lconv_box **box);

#endif
