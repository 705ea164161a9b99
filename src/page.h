/*
 * core.dedup: the per-page duplicate check of acedata.paging, in C because it runs for every
 * record.
 */
#ifndef ACEDATA_PAGE_H
#define ACEDATA_PAGE_H

#include <lua.h>

/* Sets core.dedup into the table at the stack top. */
void ad_page_open(lua_State *L);

#endif
