/*
 * JSON bytes -> Lua values.
 *
 * ad_decode is the one decoder of the module: core.decode (decode.c) and the HTTP layer both call
 * it, the latter directly on its response buffer. The parser itself lives in decode_json.c.
 */
#ifndef ACEDATA_DECODE_H
#define ACEDATA_DECODE_H

#include <stddef.h>
#include <lua.h>

/* Sets core.decode, core.null and core.array_mt into the table at the stack top. */
void ad_decode_open(lua_State *L);

typedef struct ad_decode_opts {
  int null_index;   /* absolute stack index of the value used for JSON null; 0 => lightuserdata NULL
                     */
  int array_mt;     /* nonzero => every decoded array gets core.array_mt as metatable */
  int fields_index; /* absolute stack index of a set (name -> true) of the keys kept in records:
                       objects that are elements of an array held by the top-level object; 0 =>
                       every key */
} ad_decode_opts;

/*
 * Decodes s[0..len) (need not be NUL-terminated) and pushes one value: returns 1.
 * On malformed input pushes nil and a message "<what> at byte <0-based offset>" and returns 2;
 * the stack is otherwise left as found (no partial value). opts may be NULL (defaults).
 * Raises only Lua memory errors (and "stack overflow" when the Lua stack cannot grow); all
 * scratch memory is owned by Lua objects on the stack, so nothing leaks when it does.
 */
int ad_decode(lua_State *L, const char *s, size_t len, const ad_decode_opts *opts);

/*
 * Reads core.decode's options table at idx (or none/nil: defaults) into o, raising on misuse
 * (not a table, unknown key, non-boolean array_mt, fields not an array of strings). Always pushes
 * exactly two values: the null value to use (o->null_index is then its index) or nil, and the set
 * made from `fields` (o->fields_index) or nil. For C callers that take the same options as
 * core.decode, e.g. session:decode([opts]).
 */
void ad_decode_checkopts(lua_State *L, int idx, ad_decode_opts *o);

/* Registry key (luaL_getmetatable name) of the table used as core.array_mt. */
#define AD_ARRAY_MT "acedata.array_mt"

#endif
