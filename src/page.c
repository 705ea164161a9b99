/*
 * core.fresh(records, prev) -> fresh, seen, skipped
 *
 *   records  an array (1..#records) of records, as decoded from a page
 *   prev     the `seen` set returned for the previous page, or nil
 *
 * A record is a duplicate when it is a table whose `id` field (raw) is already in `prev` or
 * appeared earlier in the same page: inserts between two page fetches shift records of the
 * previous page into this one. `fresh` holds the records that are not duplicates, in order; it is
 * `records` itself when there is none (the common case: no copy). `seen` is the set
 * (id -> true) of every id on this page, repeats included, pre-sized so that it never rehashes.
 * Records that are not tables, and ids that are nil, false or NaN (which cannot be table keys), are
 * never duplicates.
 */
#include <limits.h>

#include "compat.h"
#include "page.h"

/* Pushes records[i].id (raw) when it can be a set key, and returns 1; else pushes nothing.
 * `key` is the index of the string "id" (pushed once per call of core.fresh, not per record). */
static int push_id(lua_State *L, int records, int i, int key) {
  int t;
  lua_rawgeti(L, records, i);
  if (lua_type(L, -1) != LUA_TTABLE) {
    lua_pop(L, 1);
    return 0;
  }
  lua_pushvalue(L, key);
  lua_rawget(L, -2);
  lua_remove(L, -2);
  t = lua_type(L, -1);
  if (t == LUA_TNIL || (t == LUA_TBOOLEAN && !lua_toboolean(L, -1)) ||
      (t == LUA_TNUMBER && lua_tonumber(L, -1) != lua_tonumber(L, -1))) {
    lua_pop(L, 1);
    return 0;
  }
  return 1;
}

/* Is the value at the top a key of the table at idx? */
static int in_set(lua_State *L, int idx) {
  int found;
  lua_pushvalue(L, -1);
  lua_rawget(L, idx);
  found = !lua_isnil(L, -1);
  lua_pop(L, 1);
  return found;
}

static int l_fresh(lua_State *L) {
  size_t len;
  int n, i, skipped = 0, out = 0, has_prev, seen, key, fresh = 0;
  luaL_checktype(L, 1, LUA_TTABLE);
  has_prev = !lua_isnoneornil(L, 2);
  if (has_prev) luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  lua_pushliteral(L, "id");
  key = lua_gettop(L);
  len = lua_rawlen(L, 1);
  if (len > INT_MAX) luaL_error(L, "acedata: a page of more than %d records", INT_MAX);
  n = (int)len;
  lua_createtable(L, 0, n < 1 << 20 ? n : 1 << 20);
  seen = lua_gettop(L);
  for (i = 1; i <= n; i++) {
    int dup = 0;
    if (push_id(L, 1, i, key)) {
      if (in_set(L, seen)) {
        dup = 1;
        lua_pop(L, 1);
      } else {
        dup = has_prev && in_set(L, 2);
        lua_pushboolean(L, 1);
        lua_rawset(L, seen); /* a repeat of the previous page is of this page too */
      }
    }
    if (dup) {
      if (!fresh) { /* the first duplicate: copy what came before it */
        int j;
        lua_createtable(L, n - 1 < 1 << 20 ? n - 1 : 1 << 20, 0);
        fresh = lua_gettop(L);
        for (j = 1; j < i; j++) {
          lua_rawgeti(L, 1, j);
          lua_rawseti(L, fresh, j);
        }
        out = i - 1;
      }
      skipped++;
    } else if (fresh) {
      lua_rawgeti(L, 1, i);
      lua_rawseti(L, fresh, ++out);
    }
  }
  lua_pushvalue(L, fresh ? fresh : 1);
  lua_pushvalue(L, seen);
  lua_pushinteger(L, (lua_Integer)skipped);
  return 3;
}

void ad_page_open(lua_State *L) {
  lua_pushcfunction(L, l_fresh);
  lua_setfield(L, -2, "fresh");
}
