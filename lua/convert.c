/* convert.c: Lua <-> C data for the bindings (see convert.h): boxes that tie C allocations
 * to the Lua stack, and Lua tables <-> cJSON with a nesting limit. */
#include "lua/convert.h"

#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- boxes --- */

static const char BOX_MT[] = "moesim.box";

/* The userdata: the box, then (for inline boxes) the payload, aligned for the scalar types
 * the payload structs hold (Lua aligns userdata the same way). */
typedef union box_align {
    double d;
    long long l;
    void *p;
} box_align;
typedef struct box_ud {
    lconv_box box;
    box_align payload[];
} box_ud;

static int box_gc(lua_State *L)
{
    lconv_box_release(luaL_checkudata(L, 1, BOX_MT));
    return 0;
}

lconv_box *lconv_box_push(lua_State *L, void (*free_fn)(void *), size_t inline_size)
{
    box_ud *u = lua_newuserdatauv(L, sizeof(box_ud) + inline_size, 0);
    memset(u, 0, sizeof(box_ud) + inline_size);
    u->box.free_fn = free_fn;
    u->box.p = inline_size ? u->payload : NULL;
    if (luaL_newmetatable(L, BOX_MT)) {
        lua_pushcfunction(L, box_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, box_gc);
        lua_setfield(L, -2, "__close");
        lua_pushboolean(L, 0); /* getmetatable() on a box gives nothing away */
        lua_setfield(L, -2, "__metatable");
    }
    lua_setmetatable(L, -2);
    return &u->box;
}

static void free_json(void *p)
{
    cJSON_Delete(p);
}

lconv_box *lconv_box_json(lua_State *L)
{
    return lconv_box_push(L, free_json, 0);
}

void lconv_box_release(lconv_box *b)
{
    if (b && b->p) {
        void *p = b->p;
        b->p = NULL;
        if (b->free_fn)
            b->free_fn(p);
    }
}

/* --- JSON -> Lua --- */

void lconv_push_json(lua_State *L, const cJSON *j)
{
    luaL_checkstack(L, 3, "JSON value nested too deeply");
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
            lconv_push_json(L, it);
            lua_rawseti(L, -2, i++);
        }
    } else if (cJSON_IsObject(j)) {
        lua_newtable(L);
        const cJSON *it;
        cJSON_ArrayForEach(it, j)
        {
            lconv_push_json(L, it);
            lua_setfield(L, -2, it->string);
        }
    } else {
        lua_pushnil(L);
    }
}

/* --- Lua -> JSON --- */

/* Is the table at idx a sequence 1..n (n >= 1)? Returns n, or 0. */
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

typedef struct conv {
    const char *fn;   /* the binding, for messages */
    lconv_box *box;   /* owns the root, so every node is freed if a later step raises */
} conv;

/* Attach a new node to its parent (or the box, for the root) before anything else can
 * raise, so that no node is ever unreachable from the box. */
static cJSON *attach(lua_State *L, const conv *c, cJSON *parent, const char *key, cJSON *node)
{
    if (!node)
        luaL_error(L, "%s: out of memory", c->fn);
    if (!parent) {
        c->box->p = node;
    } else if (key) {
        if (!cJSON_AddItemToObject(parent, key, node)) {
            cJSON_Delete(node);
            luaL_error(L, "%s: out of memory", c->fn);
        }
    } else if (!cJSON_AddItemToArray(parent, node)) {
        cJSON_Delete(node);
        luaL_error(L, "%s: out of memory", c->fn);
    }
    return node;
}

static void to_json(lua_State *L, const conv *c, int idx, const char *path, int depth, cJSON *parent, const char *key);

static int by_key(const void *a, const void *b)
{
    return strcmp((*(cJSON *const *)a)->string, (*(cJSON *const *)b)->string);
}

/* A record's fields in key order: lua_next walks a table in its hash order, which Lua seeds
 * per run, so without this the same scenario wrote its JSON files with the fields in another
 * order each run. The scratch array is a Lua userdata (within the sandbox's memory limit,
 * collected if the allocation raises). */
static void sort_fields(lua_State *L, cJSON *obj)
{
    size_t n = 0;
    for (cJSON *it = obj->child; it; it = it->next)
        n++;
    if (n < 2)
        return;
    cJSON **v = lua_newuserdatauv(L, n * sizeof *v, 0);
    size_t i = 0;
    for (cJSON *it = obj->child; it; it = it->next)
        v[i++] = it;
    qsort(v, n, sizeof *v, by_key);
    for (i = 0; i < n; i++) {   /* cJSON's list: prev of the first is the last, next of the last NULL */
        v[i]->next = i + 1 < n ? v[i + 1] : NULL;
        v[i]->prev = i > 0 ? v[i - 1] : v[n - 1];
    }
    obj->child = v[0];
    lua_pop(L, 1);
}

static void table_to_json(lua_State *L, const conv *c, int idx, const char *path, int depth, cJSON *parent,
                          const char *key)
{
    if (depth >= LCONV_MAX_DEPTH)
        luaL_error(L, "%s: table nested deeper than %d levels at '%s' (or a table that contains itself)", c->fn,
                   LCONV_MAX_DEPTH, path);
    /* each level holds a key and a value on the stack, seq_len two more */
    if (!lua_checkstack(L, 4))
        luaL_error(L, "%s: table nested too deeply at '%s'", c->fn, path);
    lua_Integer n = seq_len(L, idx);
    if (n == 0 && lua_rawlen(L, idx) > 0) /* writing it as either would drop part of it */
        luaL_error(L, "%s: the table at '%s' is neither a list (1..n, no holes) nor a record of named fields; JSON, CSV and plots take one or "
                   "the other", c->fn, path);
    if (n > 0) {
        cJSON *arr = attach(L, c, parent, key, cJSON_CreateArray());
        for (lua_Integer i = 1; i <= (lua_Integer)lua_rawlen(L, idx); i++) {
            lua_rawgeti(L, idx, i);
            char sub[256];
            snprintf(sub, sizeof sub, "%s[%lld]", path, (long long)i);
            to_json(L, c, -1, sub, depth + 1, arr, NULL);
            lua_pop(L, 1);
        }
        return;
    }
    cJSON *obj = attach(L, c, parent, key, cJSON_CreateObject());
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        char k[128];
        if (lua_type(L, -2) == LUA_TSTRING)
            snprintf(k, sizeof k, "%s", lua_tostring(L, -2));
        else if (lua_type(L, -2) == LUA_TNUMBER)
            snprintf(k, sizeof k, "%g", lua_tonumber(L, -2));
        else
            snprintf(k, sizeof k, "?");
        char sub[256];
        snprintf(sub, sizeof sub, "%s.%s", path, k);
        to_json(L, c, -1, sub, depth + 1, obj, k);
        lua_pop(L, 1);
    }
    sort_fields(L, obj);
}

static void to_json(lua_State *L, const conv *c, int idx, const char *path, int depth, cJSON *parent, const char *key)
{
    idx = lua_absindex(L, idx);
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        attach(L, c, parent, key, cJSON_CreateNull());
        break;
    case LUA_TBOOLEAN:
        attach(L, c, parent, key, cJSON_CreateBool(lua_toboolean(L, idx)));
        break;
    case LUA_TNUMBER:
        attach(L, c, parent, key, cJSON_CreateNumber(lua_tonumber(L, idx)));
        break;
    case LUA_TSTRING:
        attach(L, c, parent, key, cJSON_CreateString(lua_tostring(L, idx)));
        break;
    case LUA_TTABLE:
        table_to_json(L, c, idx, path, depth, parent, key);
        break;
    default:
        luaL_error(L, "%s: value at '%s' is a %s, which cannot be written as data", c->fn, path,
                   luaL_typename(L, idx));
    }
}

cJSON *lconv_to_json(lua_State *L, int idx, const char *fn, const char *what, lconv_box **box)
{
    idx = lua_absindex(L, idx);
    conv c = { fn, lconv_box_json(L) };
    *box = c.box;
    to_json(L, &c, idx, what, 0, NULL, NULL);
    return c.box->p;
}
