/*
 * Out-of-memory harness for acedata.core (scripts/check/oom builds and runs it).
 *
 * A Lua 5.4 state whose allocator fails the k-th allocation (any call that allocates or grows a
 * block; shrinking never fails, as Lua requires), for every k from 1 until the call succeeds
 * without meeting the failure, across two calls:
 *   decode   core.decode of a real 100-record page of the mock's data set (mock/dataset.lua)
 *   request  core.session{} + s:get of a small page from the running mock ($ACEDATA_MOCK_URL)
 *            + s:decode() + s:close()
 *   fields   core.decode of the same page with fields = {"id", "deducted_amount"}
 *   inflate  core.inflate of that page gzipped (by gzip(1)), then core.decode
 * For every k the call must end with LUA_OK or LUA_ERRMEM (never another error, never a crash);
 * after a failure, with the allocator unlimited again, the state must go on: the same call
 * succeeds and gives the same result, and after a full collection the Lua heap is back to its
 * size before the failed call (nothing stays referenced).
 *
 * libcurl's own allocations go through curl_global_init_mem (set before the module loads):
 *   curl     the request scenario, with the k-th libcurl allocation (malloc, calloc, realloc,
 *            strdup) failing, for every k until the call no longer meets it. libcurl reports such
 *            a failure as an error: the call may end with s:get's error return, a raised error,
 *            or success with the right result; then the state goes on as above.
 * C-side leaks (buffers, curl handles) are left to valgrind or LeakSanitizer, under which
 * scripts/check/oom runs this program.
 *
 *   oom MODULE_CPATH REPO_ROOT [decode|fields|request|curl]...
 * Prints one line per scenario and ends with "oom: N passed, N failed".
 */
#include <curl/curl.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct alloc_state {
  long count;    /* allocations (and growths) so far */
  long fail_at;  /* the allocation number that fails; < 0: none */
  size_t in_use; /* bytes held by Lua */
  int failed;    /* the limit was hit */
} alloc_state;

static void *limited_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  alloc_state *a = (alloc_state *)ud;
  size_t old = ptr != NULL ? osize : 0;
  void *p;
  if (nsize == 0) {
    free(ptr);
    a->in_use -= old;
    return NULL;
  }
  if (nsize > old) {
    a->count++;
    if (a->fail_at >= 0 && a->count >= a->fail_at) {
      a->failed = 1;
      return NULL;
    }
  }
  p = realloc(ptr, nsize);
  if (p == NULL) return NULL;
  a->in_use = a->in_use - old + nsize;
  return p;
}

/* libcurl's allocator: the fail_at-th allocation (only that one) fails; < 0: none. */
static struct {
  long count, fail_at;
  int failed;
} cm = {0, -1, 0};

static int cm_fails(void) {
  cm.count++;
  if (cm.fail_at >= 0 && cm.count == cm.fail_at) {
    cm.failed = 1;
    return 1;
  }
  return 0;
}
static void *cm_malloc(size_t n) { return cm_fails() ? NULL : malloc(n); }
static void cm_free(void *p) { free(p); }
static void *cm_realloc(void *p, size_t n) { return cm_fails() ? NULL : realloc(p, n); }
static void *cm_calloc(size_t n, size_t size) { return cm_fails() ? NULL : calloc(n, size); }
static char *cm_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d;
  if (cm_fails()) return NULL;
  d = (char *)malloc(n);
  if (d != NULL) memcpy(d, s, n);
  return d;
}

static void full_gc(lua_State *L) {
  lua_gc(L, LUA_GCCOLLECT, 0);
  lua_gc(L, LUA_GCCOLLECT, 0);
}

/* Runs the global function `name` under pcall; leaves nothing on the stack. Its one result is
 * kept in the global `<name>_result` as a string summary (set by the Lua side). */
static int call(lua_State *L, const char *name, char *msg, size_t msglen) {
  int rc;
  lua_getglobal(L, name);
  rc = lua_pcall(L, 0, 0, 0);
  msg[0] = '\0';
  if (rc != LUA_OK) {
    const char *m = lua_tostring(L, -1);
    snprintf(msg, msglen, "%s", m != NULL ? m : "(not a string)");
    lua_pop(L, 1);
  }
  return rc;
}

static const char *summary(lua_State *L) {
  const char *s;
  lua_getglobal(L, "last_result");
  s = lua_tostring(L, -1);
  lua_pop(L, 1);
  return s != NULL ? s : "";
}

/* Setup code: loads the module and defines run_decode / run_request; each sets last_result. */
static const char *SETUP =
    "local repo = ...\n"
    "package.path = repo .. '/?.lua;' .. package.path\n"
    "core = require 'acedata.core'\n"
    "local dataset = require 'mock.dataset'\n"
    "local parts = {}\n"
    "for i = 1, 100 do parts[i] = dataset.record_json(i) end\n"
    "PAGE = '{\"count\":1000,\"items\":[' .. table.concat(parts, ',') .. ']}'\n"
    "function run_decode()\n"
    "  last_result = nil\n"
    "  local v = core.decode(PAGE)\n"
    "  last_result = #v.items .. ' records, last ' .. v.items[100].id\n"
    "end\n"
    "local FIELDS = { fields = { 'id', 'deducted_amount' } }\n"
    "do\n"
    "  local path = os.tmpname()\n"
    "  local f = assert(io.open(path, 'wb')); f:write(PAGE); f:close()\n"
    "  local p = assert(io.popen('gzip -c < ' .. path)); GZ = p:read('a'); p:close()\n"
    "  os.remove(path)\n"
    "end\n"
    "function run_inflate()\n"
    "  last_result = nil\n"
    "  local text = assert(core.inflate(GZ, 'gzip', #PAGE))\n"
    "  local v = core.decode(text)\n"
    "  last_result = #text .. ' bytes, ' .. #v.items .. ' records'\n"
    "end\n"
    "function run_fields()\n"
    "  last_result = nil\n"
    "  local v = core.decode(PAGE, FIELDS)\n"
    "  last_result = #v.items .. ' records, last ' .. v.items[100].id .. ' ' .. "
    "v.items[100].deducted_amount\n"
    "end\n"
    "local base = os.getenv 'ACEDATA_MOCK_URL'\n"
    "if base then\n"
    "  URL = base .. '/api/v1/usage/proxies/?limit=5&user_id=' .. dataset.USER_ID\n"
    "  HEADERS = { 'Authorization: Bearer ' .. dataset.TOKEN, 'Accept: application/json' }\n"
    "end\n"
    "function run_request()\n"
    "  last_result = nil\n"
    "  local s = core.session { timeout = 10 }\n"
    "  local status, hdrs = s:get(URL, HEADERS)\n"
    "  if status ~= 200 then error('request failed: ' .. tostring(status) .. ' ' .. "
    "tostring(hdrs)) end\n"
    "  local v = s:decode()\n"
    "  s:close()\n"
    "  last_result = status .. ' ' .. #v.items .. ' records of ' .. v.count\n"
    "end\n"
    "function run_curl()\n"
    "  last_result = nil\n"
    "  local s = core.session { timeout = 10 }\n"
    "  local status, hdrs, msg = s:get(URL, HEADERS)\n"
    "  if status ~= 200 then\n"
    "    s:close()\n"
    "    last_result = 'failed: ' .. tostring(status or hdrs) .. ': ' .. tostring(msg)\n"
    "    return\n"
    "  end\n"
    "  local v = s:decode()\n"
    "  s:close()\n"
    "  last_result = status .. ' ' .. #v.items .. ' records of ' .. v.count\n"
    "end\n";

static int passed = 0, failed = 0;

static void scenario(lua_State *L, alloc_state *a, const char *name) {
  char fn[64], msg[512], want[256];
  size_t baseline;
  long k, errmem = 0, steps = 0, reported = 0;
  int rc, ok = 1, on_curl = strcmp(name, "curl") == 0, hit;
  snprintf(fn, sizeof fn, "run_%s", name);

  /* Warm-up (unlimited): caches, interned strings and the like settle; this is the baseline. */
  a->fail_at = -1;
  if (call(L, fn, msg, sizeof msg) != LUA_OK) {
    printf("FAIL %s: the call fails even without a limit: %s\n", name, msg);
    failed++;
    return;
  }
  snprintf(want, sizeof want, "%s", summary(L));
  lua_pushnil(L);
  lua_setglobal(L, "last_result");
  full_gc(L);
  baseline = a->in_use;

  for (k = 1;; k++) {
    a->count = cm.count = 0;
    a->failed = cm.failed = 0;
    if (on_curl)
      cm.fail_at = k;
    else
      a->fail_at = k;
    rc = call(L, fn, msg, sizeof msg);
    a->fail_at = cm.fail_at = -1;
    hit = on_curl ? cm.failed : a->failed;
    steps++;
    if (rc == LUA_OK && !hit) {
      if (strcmp(summary(L), want) != 0) { /* done, unless it failed on its own */
        printf("FAIL %s: k=%ld: no allocation failed, yet: %s\n", name, k, summary(L));
        ok = 0;
      }
      break; /* k is beyond the last allocation: done */
    }
    if (on_curl && (rc != LUA_OK || strncmp(summary(L), "failed: ", 8) == 0)) {
      reported++; /* libcurl's error, returned or raised: both are the caller's to see */
    } else if (rc == LUA_OK) {
      /* an allocation failed and the call still succeeded: fine only if the result is right */
      if (strcmp(summary(L), want) != 0) {
        printf("FAIL %s: k=%ld: succeeded after a failed allocation with a wrong result\n", name,
               k);
        ok = 0;
        break;
      }
    } else if (rc != LUA_ERRMEM) {
      printf("FAIL %s: k=%ld: error %d instead of a memory error: %s\n", name, k, rc, msg);
      ok = 0;
      break;
    } else {
      errmem++;
    }
    /* The state goes on: unlimited, the same call succeeds with the same result ... */
    if (call(L, fn, msg, sizeof msg) != LUA_OK || strcmp(summary(L), want) != 0) {
      printf("FAIL %s: k=%ld: the state cannot go on: %s\n", name, k, msg[0] ? msg : summary(L));
      ok = 0;
      break;
    }
    /* ... and nothing of the failed call stays referenced. */
    lua_pushnil(L);
    lua_setglobal(L, "last_result");
    full_gc(L);
    if (a->in_use > baseline) {
      printf("FAIL %s: k=%ld: the Lua heap grew from %zu to %zu bytes\n", name, k, baseline,
             a->in_use);
      ok = 0;
      break;
    }
    if (k > 2000000) {
      printf("FAIL %s: no end after %ld allocations\n", name, k);
      ok = 0;
      break;
    }
  }
  if (ok) {
    if (on_curl)
      printf(
          "ok   %s: %ld libcurl allocation points failed in turn, %ld reported as errors, "
          "state recovered each time, heap back to %zu bytes (%s)\n",
          name, steps - 1, reported, baseline, want);
    else
      printf(
          "ok   %s: %ld allocation points failed in turn, %ld memory errors, state recovered "
          "each time, heap back to %zu bytes (%s)\n",
          name, steps - 1, errmem, baseline, want);
    passed++;
  } else {
    failed++;
  }
}

int main(int argc, char **argv) {
  alloc_state a = {0, -1, 0, 0};
  lua_State *L;
  int i;
  if (argc < 3) {
    fprintf(stderr, "usage: %s MODULE_CPATH REPO_ROOT [decode|request]...\n", argv[0]);
    return 2;
  }
  if (curl_global_init_mem(CURL_GLOBAL_DEFAULT, cm_malloc, cm_free, cm_realloc, cm_strdup,
                           cm_calloc) != CURLE_OK) {
    fprintf(stderr, "curl_global_init_mem failed\n");
    return 2;
  }
  L = lua_newstate(limited_alloc, &a);
  if (L == NULL) return 2;
  luaL_openlibs(L);
  lua_getglobal(L, "package");
  lua_pushstring(L, argv[1]);
  lua_setfield(L, -2, "cpath");
  lua_pop(L, 1);
  if (luaL_loadstring(L, SETUP) != LUA_OK) {
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
    return 2;
  }
  lua_pushstring(L, argv[2]);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    printf("FAIL setup: %s\n", lua_tostring(L, -1));
    printf("oom: 0 passed, 1 failed\n");
    lua_close(L);
    return 1;
  }
  if (argc == 3) {
    scenario(L, &a, "decode");
    scenario(L, &a, "fields");
    scenario(L, &a, "inflate");
    scenario(L, &a, "request");
    scenario(L, &a, "curl");
  }
  for (i = 3; i < argc; i++) scenario(L, &a, argv[i]);
  lua_close(L);
  curl_global_cleanup();
  printf("oom: %d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
