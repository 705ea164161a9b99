/*
 * core.decode, core.null, core.array_mt: the Lua face of the decoder (the parser is decode_json.c).
 *
 *   core.decode(s [, opts])  -> value | nil, "<what> at byte <offset>"
 *     opts.null      value used for JSON null (default core.null, the NULL light userdata that is
 *                    also cjson.null). A Lua table cannot hold nil, so nulls cannot be dropped
 *                    from here; C callers can pass a stack index holding nil (see decode.h).
 *     opts.array_mt  boolean: give every decoded array core.array_mt as metatable, so that an
 *                    empty array can be told from an empty object.
 *     opts.fields    array of strings: the records of a page (the objects in an array held by the
 *                    top-level object) keep only these keys; the rest of each record is checked
 *                    but not made into Lua values. Everything else decodes as usual.
 *   Malformed JSON is a return value; misuse (s not a string, unknown option, wrong option
 *   type) raises an error.
 */
#include <string.h>

#include "compat.h"
#include "decode.h"

/* Pushes the set made from the array of names at idx (the `fields` option), raising on misuse. */
static void push_fields_set(lua_State *L, int idx) {
  size_t n = lua_rawlen(L, idx), i, count = 0;
  int set;
  lua_createtable(L, 0, n < 256 ? (int)n : 256);
  set = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) { /* only the keys 1..n: an array, not a set or a map */
    lua_Number k = lua_type(L, -2) == LUA_TNUMBER ? lua_tonumber(L, -2) : 0;
    if (!(k >= 1 && k <= (lua_Number)n && k == (lua_Number)(size_t)k))
      luaL_error(L, "acedata.decode: option 'fields' must be an array of strings");
    count++;
    lua_pop(L, 1);
  }
  if (count != n) luaL_error(L, "acedata.decode: option 'fields' must be an array of strings");
  for (i = 1; i <= n; i++) {
    lua_rawgeti(L, idx, (int)i);
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "acedata.decode: option 'fields' must hold strings, got %s at [%d]",
                 luaL_typename(L, -1), (int)i);
    lua_pushboolean(L, 1);
    lua_rawset(L, set);
  }
}

void ad_decode_checkopts(lua_State *L, int idx, ad_decode_opts *o) {
  o->null_index = 0;
  o->array_mt = 0;
  o->fields_index = 0;
  if (lua_isnoneornil(L, idx)) {
    lua_pushnil(L);
    lua_pushnil(L);
    return;
  }
  idx = lua_absindex(L, idx);
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    if (k == NULL ||
        (strcmp(k, "null") != 0 && strcmp(k, "array_mt") != 0 && strcmp(k, "fields") != 0)) {
      if (k != NULL) luaL_error(L, "acedata.decode: unknown option '%s'", k);
      luaL_error(L, "acedata.decode: unknown option (a %s key)", luaL_typename(L, -2));
    }
    lua_pop(L, 1);
  }
  lua_pushliteral(L, "array_mt");
  lua_rawget(L, idx);
  if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TBOOLEAN)
    luaL_error(L, "acedata.decode: option 'array_mt' must be a boolean, got %s",
               luaL_typename(L, -1));
  o->array_mt = lua_toboolean(L, -1);
  lua_pop(L, 1);
  lua_pushliteral(L, "null");
  lua_rawget(L, idx);
  if (!lua_isnil(L, -1)) o->null_index = lua_gettop(L);
  lua_pushliteral(L, "fields");
  lua_rawget(L, idx);
  if (lua_isnil(L, -1)) return; /* the second value: nil */
  if (lua_type(L, -1) != LUA_TTABLE)
    luaL_error(L, "acedata.decode: option 'fields' must be an array of strings, got %s",
               luaL_typename(L, -1));
  push_fields_set(L, lua_gettop(L));
  lua_replace(L, -2);
  o->fields_index = lua_gettop(L);
}

static int l_decode(lua_State *L) {
  ad_decode_opts o;
  const char *s;
  size_t len;
  if (lua_type(L, 1) != LUA_TSTRING)
    return luaL_argerror(L, 1, lua_pushfstring(L, "string expected, got %s", luaL_typename(L, 1)));
  lua_settop(L, 2);
  ad_decode_checkopts(L, 2, &o);
  s = lua_tolstring(L, 1, &len);
  return ad_decode(L, s, len, &o);
}

void ad_decode_open(lua_State *L) {
  lua_pushcfunction(L, l_decode);
  lua_setfield(L, -2, "decode");
  lua_pushlightuserdata(L, NULL);
  lua_setfield(L, -2, "null");
  luaL_newmetatable(L, AD_ARRAY_MT);
  lua_setfield(L, -2, "array_mt");
}
