/*
 * core.decode, core.null, core.array_mt: the Lua face of the decoder (the parser is decode_json.c).
 *
 *   core.decode(s [, opts])  -> value | nil, "<what> at byte <offset>"
 *     opts.null      value used for JSON null (default core.null, the NULL light userdata that is
 *                    also cjson.null). A Lua table cannot hold nil, so nulls cannot be dropped
 *                    from here; C callers can pass a stack index holding nil (see decode.h).
 *     opts.array_mt  boolean: give every decoded array core.array_mt as metatable, so that an
 *                    empty array can be told from an empty object.
 *   Malformed JSON is a return value; misuse (s not a string, unknown option, wrong option
 *   type) raises an error.
 */
#include <string.h>

#include "compat.h"
#include "decode.h"

void ad_decode_checkopts(lua_State *L, int idx, ad_decode_opts *o) {
  o->null_index = 0;
  o->array_mt = 0;
  if (lua_isnoneornil(L, idx)) {
    lua_pushnil(L);
    return;
  }
  idx = lua_absindex(L, idx);
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    if (k == NULL || (strcmp(k, "null") != 0 && strcmp(k, "array_mt") != 0)) {
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
