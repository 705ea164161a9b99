/*
 * core.fresh and core.dedup: the per-page duplicate check of acedata.paging, in C because it runs
 * for every record (paging uses core.dedup; core.fresh is the same check with a set table).
 */
#ifndef ACEDATA_PAGE_H
#define ACEDATA_PAGE_H

#include <lua.h>

/* Sets core.fresh and core.dedup into the table at the stack top. */
void ad_page_open(lua_State *L);

#endif
