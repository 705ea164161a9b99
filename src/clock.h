/* Time for the Lua layer's retry policy: a monotonic clock and a blocking sleep. */
#ifndef ACEDATA_CLOCK_H
#define ACEDATA_CLOCK_H

#include <lua.h>

/* Sets core.now (monotonic seconds, float) and core.sleep(seconds) into the table at the top. */
void ad_clock_open(lua_State *L);

#endif
