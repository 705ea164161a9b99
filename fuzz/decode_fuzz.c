/*
 * libFuzzer target for ad_decode (src/decode_json.c). Built and run by fuzz/run.
 *
 * Every input is decoded in one long-lived Lua 5.4 state under lua_pcall, with options chosen
 * from the input length (plain, null = a table, array_mt, fields = {"id", "a"}, and their
 * combinations). Checked on every input:
 *   - the call returns normally (or with a memory error, see below), never crashes;
 *   - success pushes exactly one non-nil value; failure pushes exactly nil and a message that
 *     ends in " at byte N" with N <= size; the stack holds nothing else afterwards;
 *   - with fields, the verdict and the message are those of the same options without fields
 *     (a value a record drops is checked exactly as if it were decoded);
 * Every 4th input runs with a small allocation budget derived from the input, so Lua memory
 * errors are raised at arbitrary points inside the decoder: only then may the call raise, the
 * state must stay usable and LeakSanitizer must find nothing. A full collection runs every 64
 * inputs.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Allocator with an optional budget: when limited, allocations beyond `budget` bytes fail. */
typedef struct {
  int limited;
  size_t budget;
} Alloc;

static void *fuzz_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  Alloc *a = (Alloc *)ud;
  if (nsize == 0) {
    free(ptr);
    return NULL;
  }
  if (a->limited) {
    /* for a new block osize is a type tag, not a size */
    size_t grow = ptr == NULL ? nsize : nsize > osize ? nsize - osize : 0;
    if (grow > a->budget) return NULL;
    a->budget -= grow;
  }
  return realloc(ptr, nsize);
}

typedef struct {
  const uint8_t *data;
  size_t size;
  int variant;
} Input;

static int run_decode(lua_State *L) {
  const Input *in = (const Input *)lua_touserdata(L, 1);
  ad_decode_opts opts = {0, 0, 0};
  if (in->variant & 1) {
    lua_newtable(L); /* a distinct value for null */
    opts.null_index = lua_gettop(L);
  }
  opts.array_mt = (in->variant & 2) != 0;
  if (in->variant & 4) {
    lua_createtable(L, 0, 2);
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "id");
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "a");
    opts.fields_index = lua_gettop(L);
  }
  return ad_decode(L, (const char *)in->data, in->size, &opts);
}

static void check(int cond, const char *what) {
  if (!cond) {
    fprintf(stderr, "decode_fuzz: invariant violated: %s\n", what);
    abort();
  }
}

/* The one state, kept across inputs so the decoder meets a used heap and a warm GC. */
typedef struct {
  lua_State *L;
  Alloc alloc;
  unsigned long runs;
} Fuzz;

static Fuzz *fuzz_state(void) {
  static Fuzz f; /* a fuzz harness is one process-wide fixture */
  if (f.L == NULL) {
    f.L = lua_newstate(fuzz_alloc, &f.alloc);
    luaL_openlibs(f.L);
  }
  return &f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  Fuzz *f = fuzz_state();
  lua_State *L = f->L;
  Input in;
  int top = lua_gettop(L), status, n, limited = 0;

  in.data = data;
  in.size = size;
  in.variant = (int)(size & 7);
  lua_pushcfunction(L, run_decode);
  lua_pushlightuserdata(L, &in);
  if (size >= 2 && (f->runs & 3) == 3) {
    f->alloc.limited = limited = 1;
    f->alloc.budget = (size_t)data[size - 1] * 32 + (size_t)(data[0] & 15) * 1024;
  }
  status = lua_pcall(L, 1, LUA_MULTRET, 0);
  f->alloc.limited = 0;
  n = lua_gettop(L) - top;
  if (status != LUA_OK) {
    /* only allocation failures may raise: a memory error, or lua_checkstack failing to grow
     * the stack, which luaL_checkstack reports as "stack overflow" */
    check(limited, "errors are raised only when memory runs out");
    check(status == LUA_ERRMEM ||
              (status == LUA_ERRRUN && strstr(lua_tostring(L, -1), "stack overflow") != NULL),
          "a memory error or a failed stack growth");
    check(n == 1, "one error object after a raised error");
  } else {
    if (n == 1) {
      check(!lua_isnil(L, -1), "success pushes a non-nil value");
    } else {
      const char *msg, *at;
      unsigned long off;
      check(n == 2, "one value, or nil and a message");
      check(lua_isnil(L, -2), "failure pushes nil first");
      check(lua_type(L, -1) == LUA_TSTRING, "failure message is a string");
      msg = lua_tostring(L, -1);
      at = strstr(msg, " at byte ");
      check(at != NULL, "message names a byte offset");
      check(sscanf(at, " at byte %lu", &off) == 1 && off <= size, "offset within the input");
    }
  }
  if (!limited && status == LUA_OK && (in.variant & 4)) {
    /* the same input and options without fields: the same verdict and message */
    Input plain = in;
    int top2 = lua_gettop(L), n2;
    plain.variant &= 3;
    lua_pushcfunction(L, run_decode);
    lua_pushlightuserdata(L, &plain);
    check(lua_pcall(L, 1, LUA_MULTRET, 0) == LUA_OK, "the plain decode returns");
    n2 = lua_gettop(L) - top2;
    check(n2 == n, "fields: the same verdict as without");
    if (n == 2)
      check(strcmp(lua_tostring(L, top + 2), lua_tostring(L, top2 + 2)) == 0,
            "fields: the same message as without");
  }
  lua_settop(L, top);
  if (++f->runs % 64 == 0) lua_gc(L, LUA_GCCOLLECT, 0);
  return 0;
}
