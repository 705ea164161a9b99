/*
 * memcount: the exact peak of the memory a decode holds, for bench/decode's child processes.
 *
 * Loaded twice into one child: by LD_PRELOAD, so that its malloc/calloc/realloc/free wrap
 * glibc's and count the C heap (what a decoder mallocs outside Lua, e.g. lua-cjson's buffer),
 * and by package.loadlib (the same object, already loaded), as the Lua module below, which
 * installs a counting lua_Alloc in front of the interpreter's own (PUC Lua's realloc/free,
 * LuaJIT's mmap-based allocator). Bytes the Lua allocator gets from malloc are counted once,
 * as Lua heap. Both counters are exact bytes as asked for (malloc_usable_size for the C heap),
 * so the result is the same in every run, unlike RSS (4 kB pages, allocator arenas).
 *
 *   local mc = package.loadlib(path, "luaopen_memcount")()
 *   mc.start()                       -- counting from zero from here on
 *   ... decode ...
 *   mc.peak() -> lua_peak, c_peak, total_peak   (bytes; total: the peak of their sum)
 *
 * Bench-only (not part of the module); glibc only (__libc_malloc & co.).
 */
#include <lua.h>
#include <malloc.h>
#include <stddef.h>

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);

typedef struct {
  lua_Alloc f; /* the interpreter's allocator */
  void *ud;
  int in_lua; /* inside it: its mallocs are Lua heap, not C heap */
  int armed;  /* counting the C heap */
  long long lua, c, lua_peak, c_peak, total_peak;
} Counts;

static Counts k;

static void note(long long dlua, long long dc) {
  k.lua += dlua;
  k.c += dc;
  if (k.lua > k.lua_peak) k.lua_peak = k.lua;
  if (k.c > k.c_peak) k.c_peak = k.c;
  /* a free of C memory from before start() (a collection finishing old garbage) must not
   * lower the sum: the C heap counts from 0 */
  if (k.lua + (k.c > 0 ? k.c : 0) > k.total_peak) k.total_peak = k.lua + (k.c > 0 ? k.c : 0);
}

static int counting_c(void) { return k.armed && !k.in_lua; }

void *malloc(size_t n) {
  void *p = __libc_malloc(n);
  if (p && counting_c()) note(0, (long long)malloc_usable_size(p));
  return p;
}

void *calloc(size_t n, size_t m) {
  void *p = __libc_calloc(n, m);
  if (p && counting_c()) note(0, (long long)malloc_usable_size(p));
  return p;
}

void *realloc(void *p, size_t n) {
  long long old = p && counting_c() ? (long long)malloc_usable_size(p) : 0;
  void *r = __libc_realloc(p, n);
  if (counting_c()) {
    if (r)
      note(0, (long long)malloc_usable_size(r) - old);
    else if (n == 0)
      note(0, -old);
  }
  return r;
}

void free(void *p) {
  if (p && counting_c()) note(0, -(long long)malloc_usable_size(p));
  __libc_free(p);
}

/* The interpreter's allocator, counted: nsize bytes held instead of osize (osize is a type tag
 * when p is NULL). */
static void *counting_alloc(void *ud, void *p, size_t osize, size_t nsize) {
  void *r;
  (void)ud;
  k.in_lua = 1;
  r = k.f(k.ud, p, osize, nsize);
  k.in_lua = 0;
  if (nsize == 0) {
    if (p) note(-(long long)osize, 0);
  } else if (r) {
    note((long long)nsize - (p ? (long long)osize : 0), 0);
  }
  return r;
}

static int l_start(lua_State *L) {
  if (k.f == NULL) {
    k.f = lua_getallocf(L, &k.ud);
    lua_setallocf(L, counting_alloc, NULL);
  }
  k.lua = k.c = k.lua_peak = k.c_peak = k.total_peak = 0;
  k.armed = 1;
  return 0;
}

static int l_peak(lua_State *L) {
  lua_pushnumber(L, (lua_Number)k.lua_peak);
  lua_pushnumber(L, (lua_Number)k.c_peak);
  lua_pushnumber(L, (lua_Number)k.total_peak);
  return 3;
}

int luaopen_memcount(lua_State *L);
int luaopen_memcount(lua_State *L) {
  lua_newtable(L);
  lua_pushcfunction(L, l_start);
  lua_setfield(L, -2, "start");
  lua_pushcfunction(L, l_peak);
  lua_setfield(L, -2, "peak");
  return 1;
}
