/* core.now and core.sleep: what plain Lua lacks for backoff between retries. */
#define _POSIX_C_SOURCE 200809L
#include "clock.h"

#include <errno.h>
#include <math.h>
#include <time.h>

#include "compat.h"

static int clock_now(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
  return 1;
}

/* Sleeps the whole requested time even when signals interrupt it. */
static int clock_sleep(lua_State *L) {
  lua_Number s = luaL_checknumber(L, 1);
  struct timespec req;
  luaL_argcheck(L, s >= 0 && s <= 86400.0, 1, "seconds must be within [0, 86400]");
  req.tv_sec = (time_t)s;
  req.tv_nsec = (long)((s - floor(s)) * 1e9);
  if (req.tv_nsec > 999999999L) req.tv_nsec = 999999999L;
  while (nanosleep(&req, &req) == -1 && errno == EINTR) {
  }
  return 0;
}

void ad_clock_open(lua_State *L) {
  static const luaL_Reg fns[] = {{"now", clock_now}, {"sleep", clock_sleep}, {NULL, NULL}};
  luaL_setfuncs(L, fns, 0);
}
