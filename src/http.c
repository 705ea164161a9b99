/*
 * The HTTP half of acedata.core: initialises libcurl and registers core.session
 * (http_session.c), core.multi (http_multi.c) and core.curl_version. See http.h.
 */
#include "http.h"

#include "compat.h"
#include "http_xfer.h"

/* core.curl_version() -> "7.88.1": the libcurl loaded at run time, not the headers' version. */
static int http_curl_version(lua_State *L) {
  lua_pushstring(L, curl_version_info(CURLVERSION_NOW)->version);
  return 1;
}

void ad_http_open(lua_State *L) {
  /* Reference counted, and thread-safe since 7.84, so calling it on every require is fine (e.g.
   * one Lua state per nginx worker or thread). Never paired with curl_global_cleanup: another
   * library of the process may still use libcurl when a Lua state closes. */
  CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (rc != CURLE_OK) luaL_error(L, "libcurl initialisation failed: %s", curl_easy_strerror(rc));
  ad_http_session_open(L);
  ad_http_multi_open(L);
  lua_pushcfunction(L, http_curl_version);
  lua_setfield(L, -2, "curl_version");
}
