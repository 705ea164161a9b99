/*
 * acedata.core: the C half of the module.
 *   decode.c  JSON bytes -> Lua tables       (core.decode, core.null, core.array_mt)
 *   http.c    one HTTP exchange over libcurl (core.session, core.curl_version, core.multi ...)
 *   clock.c   core.now (monotonic) and core.sleep, for backoff between retries
 *   page.c    core.dedup: the duplicate check paging does on every page
 *   inflate.c core.inflate: gzip/deflate bodies, for the OpenResty transport
 * The Lua layer (lua/acedata/) holds all policy: paging, retries, errors.
 */
#include "clock.h"
#include "compat.h"
#include "decode.h"
#include "http.h"
#include "inflate.h"
#include "page.h"

#ifndef ACEDATA_VERSION
#define ACEDATA_VERSION "0.0.0"
#endif

/* The Lua whose headers this build used: LuaJIT's own version string, else lua.h's release. */
#ifdef ACEDATA_HAVE_LUAJIT_H
#include <luajit.h>
#define ACEDATA_BUILT_FOR LUAJIT_VERSION
#else
#define ACEDATA_BUILT_FOR LUA_RELEASE
#endif

ACEDATA_EXPORT int luaopen_acedata_core(lua_State *L);

int luaopen_acedata_core(lua_State *L) {
  lua_newtable(L);
  lua_pushliteral(L, ACEDATA_VERSION);
  lua_setfield(L, -2, "_VERSION");
  lua_pushliteral(L, ACEDATA_BUILT_FOR);
  lua_setfield(L, -2, "built_for");
  ad_clock_open(L);
  ad_decode_open(L);
  ad_http_open(L);
  ad_page_open(L);
  ad_inflate_open(L);
  return 1;
}
