/*
 * core.dedup(records, prev) -> fresh, ids, skipped
 *
 *   records  an array (1..#records) of records, as decoded from a page
 *   prev     the `ids` returned for the previous page, or nil
 *
 * A record is a duplicate when it is a table whose `id` field (raw) was on the previous page or
 * appeared earlier in the same page: inserts between two page fetches shift records of the
 * previous page into this one. `fresh` holds the records that are not duplicates, in order; it is
 * `records` itself when there is none (the common case: no copy). `ids` is an opaque value
 * (#ids: how many distinct ids the page had). Records that are not tables, and ids that are nil,
 * false or NaN (which cannot be table keys), are never duplicates.
 */
#include <string.h>

#include "compat.h"
#include "page.h"

/* Can the value at the top (of type t) be a table key? Not nil, false or NaN. */
static int is_usable_key(lua_State *L, int t) {
  return !(t == LUA_TNIL || (t == LUA_TBOOLEAN && !lua_toboolean(L, -1)) ||
           (t == LUA_TNUMBER && lua_tonumber(L, -1) != lua_tonumber(L, -1)));
}

/*
 * The ids go into an array (the userdata's user value, which also keeps them alive) and a bit
 * filter (two bits of a hash of each id, at least 16 bits per id), not a set table (filling a
 * hash table per page was the cost of the check); only an id whose bits are all set is compared,
 * with lua_rawequal, to the ids of the array: the same equality as table keys (1 and 1.0 are one
 * id, "1" another). The usual page, no repeats, costs a filter test per id.
 */
#define IDS_MT "acedata.ids"

#if LUA_VERSION_NUM < 502
#define ad_setuservalue lua_setfenv
#define ad_getuservalue lua_getfenv
#else
#define ad_setuservalue lua_setuservalue
#define ad_getuservalue lua_getuservalue
#endif

typedef unsigned long long ad_u64;

typedef struct ids_filter {
  size_t mask; /* bits - 1; bits is a power of two */
  ad_u64 word[1];
} ids_filter;

static ad_u64 mix64(ad_u64 h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

static ad_u64 hash_bytes(const char *p, size_t len) {
  ad_u64 h = 0x9e3779b97f4a7c15ULL ^ (ad_u64)len;
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    ad_u64 w;
    memcpy(&w, p + i, 8);
    h = (h ^ w) * 0x100000001b3ULL;
    h ^= h >> 29;
  }
  if (i < len) {
    ad_u64 w = 0;
    memcpy(&w, p + i, len - i);
    h = (h ^ w) * 0x100000001b3ULL;
  }
  return mix64(h);
}

/* A hash of the usable id at the top that agrees with lua_rawequal: numbers by value (an
 * integral float as the integer), strings by their bytes, anything else by identity. */
static ad_u64 hash_id(lua_State *L, int t) {
  if (t == LUA_TSTRING) {
    size_t len;
    const char *p = lua_tolstring(L, -1, &len);
    return hash_bytes(p, len);
  }
  if (t == LUA_TNUMBER) {
    double d = (double)lua_tonumber(L, -1);
    if (d >= -9.2e18 && d <= 9.2e18 && (double)(long long)d == d)
      return mix64((ad_u64)(long long)d ^ 0x1234567ULL);
    {
      ad_u64 bits;
      memcpy(&bits, &d, sizeof bits);
      return mix64(bits);
    }
  }
  if (t == LUA_TBOOLEAN) return 0x5bd1e995ULL; /* only true is usable */
  return mix64((ad_u64)(size_t)lua_topointer(L, -1));
}

static int filter_has(const ids_filter *f, ad_u64 h) {
  size_t a = (size_t)h & f->mask, b = (size_t)(h >> 32) & f->mask;
  return ((f->word[a >> 6] >> (a & 63)) & 1) && ((f->word[b >> 6] >> (b & 63)) & 1);
}

static void filter_add(ids_filter *f, ad_u64 h) {
  size_t a = (size_t)h & f->mask, b = (size_t)(h >> 32) & f->mask;
  f->word[a >> 6] |= (ad_u64)1 << (a & 63);
  f->word[b >> 6] |= (ad_u64)1 << (b & 63);
}

/* Is the value at the top raw-equal to one of list[1..n]? */
static int in_list(lua_State *L, int list, int n) {
  int j;
  for (j = 1; j <= n; j++) {
    int eq;
    lua_rawgeti(L, list, j);
    eq = lua_rawequal(L, -1, -2);
    lua_pop(L, 1);
    if (eq) return 1;
  }
  return 0;
}

static int l_dedup(lua_State *L) {
  size_t len, bits = 1024, words;
  int n, i, skipped = 0, out = 0, key, ids, list, prev_list = 0, prev_n = 0, fresh = 0, kept = 0;
  ids_filter *prev = NULL, *f;
  luaL_checktype(L, 1, LUA_TTABLE);
  if (!lua_isnoneornil(L, 2)) prev = (ids_filter *)luaL_checkudata(L, 2, IDS_MT);
  lua_settop(L, 2);
  len = lua_rawlen(L, 1);
  if (len > (size_t)1 << 24) luaL_error(L, "acedata: a page of more than %d records", 1 << 24);
  n = (int)len;
  while (bits < 16 * len) bits *= 2;
  words = bits / 64;
  lua_pushliteral(L, "id");
  key = lua_gettop(L);
  f = (ids_filter *)lua_newuserdata(L, sizeof(ids_filter) + (words - 1) * sizeof(ad_u64));
  memset(f, 0, sizeof(ids_filter) + (words - 1) * sizeof(ad_u64));
  f->mask = bits - 1;
  luaL_setmetatable(L, IDS_MT);
  ids = lua_gettop(L);
  lua_createtable(L, n, 0); /* this page's distinct ids, in order */
  list = lua_gettop(L);
  lua_pushvalue(L, list);
  ad_setuservalue(L, ids);
  if (prev != NULL) {
    ad_getuservalue(L, 2);
    prev_list = lua_gettop(L);
    prev_n = (int)lua_rawlen(L, prev_list);
  }
  for (i = 1; i <= n; i++) {
    int dup = 0;
    lua_rawgeti(L, 1, i);
    if (lua_type(L, -1) == LUA_TTABLE) {
      int t;
      lua_pushvalue(L, key);
      lua_rawget(L, -2);
      t = lua_type(L, -1);
      if (is_usable_key(L, t)) {
        ad_u64 h = hash_id(L, t);
        if (filter_has(f, h) && in_list(L, list, kept)) {
          dup = 1; /* a repeat inside this page */
        } else {
          dup = prev != NULL && filter_has(prev, h) && in_list(L, prev_list, prev_n);
          filter_add(f, h);
          lua_pushvalue(L, -1);
          lua_rawseti(L, list, ++kept);
        }
      }
      lua_pop(L, 2); /* the record and its id */
    } else {
      lua_pop(L, 1);
    }
    if (dup) {
      if (!fresh) { /* the first duplicate: copy what came before it */
        int j;
        lua_createtable(L, n - 1, 0);
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
  lua_pushvalue(L, ids);
  lua_pushinteger(L, (lua_Integer)skipped);
  return 3;
}

/* #ids: how many distinct ids the page had. */
static int ids_len(lua_State *L) {
  luaL_checkudata(L, 1, IDS_MT);
  ad_getuservalue(L, 1);
  lua_pushinteger(L, (lua_Integer)lua_rawlen(L, -1));
  return 1;
}

void ad_page_open(lua_State *L) {
  luaL_newmetatable(L, IDS_MT); /* filled also when it exists (see new_class in http_multi.c) */
  lua_pushcfunction(L, ids_len);
  lua_setfield(L, -2, "__len");
  lua_pop(L, 1);
  lua_pushcfunction(L, l_dedup);
  lua_setfield(L, -2, "dedup");
}
