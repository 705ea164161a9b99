/* The few Lua C API functions that Lua 5.1 / LuaJIT lack, defined once. */
#ifndef ACEDATA_COMPAT_H
#define ACEDATA_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

#if LUA_VERSION_NUM < 502
#define lua_rawlen(L, i) lua_objlen((L), (i))
/* LuaJIT 2.1's lauxlib.h already has these two. */
#ifndef luaL_newlibtable
#define luaL_newlibtable(L, l) lua_createtable((L), 0, (int)(sizeof(l) / sizeof((l)[0]) - 1))
#endif
#ifndef luaL_newlib
#define luaL_newlib(L, l) (luaL_newlibtable((L), (l)), luaL_setfuncs((L), (l), 0))
#endif
void acedata_setfuncs(lua_State *L, const luaL_Reg *l, int nup);
#define luaL_setfuncs acedata_setfuncs
void *acedata_testudata(lua_State *L, int ud, const char *tname);
#define luaL_testudata acedata_testudata
#define luaL_setmetatable(L, tname) (luaL_getmetatable((L), (tname)), lua_setmetatable((L), -2))
#define lua_absindex(L, i) ((i) > 0 || (i) <= LUA_REGISTRYINDEX ? (i) : lua_gettop(L) + (i) + 1)
#endif

/* JSON integers become Lua integers where Lua has them (5.3+); floats otherwise. */
#if LUA_VERSION_NUM >= 503
#define ACEDATA_HAS_INTEGERS 1
#else
#define ACEDATA_HAS_INTEGERS 0
#endif

/* Only luaopen_* leaves the shared object. */
#define ACEDATA_EXPORT __attribute__((visibility("default")))

#endif
