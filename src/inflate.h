/*
 * core.inflate: gzip and deflate bodies back to their bytes, for transports that read bodies
 * themselves (the OpenResty one; libcurl inflates on its own).
 */
#ifndef ACEDATA_INFLATE_H
#define ACEDATA_INFLATE_H

#include <lua.h>

/* Sets core.inflate into the table at the stack top. */
void ad_inflate_open(lua_State *L);

#endif
