/*
 * The options of core.session / core.multi: validated from Lua up front (misuse raises before
 * anything is allocated), copied into the userdata, and applied to every easy handle.
 */
#include "http_xfer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"

#ifndef ACEDATA_VERSION
#define ACEDATA_VERSION "0.0.0"
#endif

#ifdef LUA_LJDIR
#define AD_LUA_NAME "LuaJIT"
#else
#define AD_LUA_NAME LUA_VERSION
#endif

#define DEFAULT_TIMEOUT_MS 30000L
#define DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define DEFAULT_MAX_BODY ((size_t)256 * 1024 * 1024)
/* Upper bound for seconds options: keeps seconds * 1000 inside a 32-bit long (~24 days). */
#define MAX_SECONDS 2000000.0
/* Upper bound for max_body: integers beyond 2^53 are not exact as Lua 5.1-5.2 numbers. */
#define MAX_BODY_LIMIT 9007199254740992.0

static void opts_type_error(lua_State *L, const char *what, const char *name,
                            const char *expected) {
  luaL_error(L, "%s option '%s' must be %s (got %s)", what, name, expected, luaL_typename(L, -1));
}

/* The value at the top as a number of seconds -> milliseconds; a positive value is never 0 ms
 * (0 would mean "no limit" to libcurl). */
static long opts_seconds(lua_State *L, const char *what, const char *name) {
  double v;
  long ms;
  if (lua_type(L, -1) != LUA_TNUMBER) opts_type_error(L, what, name, "a number of seconds");
  v = (double)lua_tonumber(L, -1);
  if (!(v >= 0.0 && v <= MAX_SECONDS)) /* also rejects NaN */
    luaL_error(L, "%s option '%s' must be between 0 and %f seconds", what, name, MAX_SECONDS);
  ms = (long)(v * 1000.0 + 0.5);
  if (ms == 0 && v > 0.0) ms = 1;
  return ms;
}

static size_t opts_size(lua_State *L, const char *what, const char *name) {
  double v;
  if (lua_type(L, -1) != LUA_TNUMBER) opts_type_error(L, what, name, "a number of bytes");
  v = (double)lua_tonumber(L, -1);
  if (!(v >= 0.0 && v <= MAX_BODY_LIMIT) || floor(v) != v)
    luaL_error(L, "%s option '%s' must be a non-negative integer", what, name);
  if (v >= (double)(size_t)-1) return (size_t)-1;
  return (size_t)v;
}

static const char *opts_string(lua_State *L, const char *what, const char *name) {
  size_t len;
  const char *s;
  if (lua_type(L, -1) != LUA_TSTRING) opts_type_error(L, what, name, "a string");
  s = lua_tolstring(L, -1, &len);
  if (strlen(s) != len) luaL_error(L, "%s option '%s' must not contain a NUL byte", what, name);
  return s;
}

void ad_http_opts_check(lua_State *L, int idx, const char *what, ad_http_opts_src *src) {
  src->timeout_ms = DEFAULT_TIMEOUT_MS;
  src->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
  src->ssl_verify = 1;
  src->max_body = DEFAULT_MAX_BODY;
  src->ca_file = NULL;
  src->user_agent = NULL;
  if (lua_isnoneornil(L, idx)) return;
  idx = lua_absindex(L, idx);
  if (lua_type(L, idx) != LUA_TTABLE)
    luaL_error(L, "%s options must be a table (got %s)", what, luaL_typename(L, idx));
  luaL_checkstack(L, 3, NULL);
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    const char *name;
    if (lua_type(L, -2) != LUA_TSTRING)
      luaL_error(L, "%s option names must be strings (got %s)", what, luaL_typename(L, -2));
    name = lua_tostring(L, -2);
    if (strcmp(name, "timeout") == 0) {
      src->timeout_ms = opts_seconds(L, what, name);
    } else if (strcmp(name, "connect_timeout") == 0) {
      src->connect_timeout_ms = opts_seconds(L, what, name);
    } else if (strcmp(name, "ssl_verify") == 0) {
      if (lua_type(L, -1) != LUA_TBOOLEAN) opts_type_error(L, what, name, "a boolean");
      src->ssl_verify = lua_toboolean(L, -1);
    } else if (strcmp(name, "ca_file") == 0) {
      src->ca_file = opts_string(L, what, name);
    } else if (strcmp(name, "user_agent") == 0) {
      src->user_agent = opts_string(L, what, name);
    } else if (strcmp(name, "max_body") == 0) {
      src->max_body = opts_size(L, what, name);
    } else {
      luaL_error(L, "unknown %s option '%s'", what, name);
    }
    lua_pop(L, 1);
  }
}

static char *opts_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = (char *)malloc(n);
  if (p != NULL) memcpy(p, s, n);
  return p;
}

int ad_http_opts_init(ad_http_opts *o, const ad_http_opts_src *src) {
  o->timeout_ms = src->timeout_ms;
  o->connect_timeout_ms = src->connect_timeout_ms;
  o->ssl_verify = src->ssl_verify;
  o->max_body = src->max_body;
  o->ca_file = NULL;
  o->user_agent = NULL;
  if (src->ca_file != NULL && (o->ca_file = opts_strdup(src->ca_file)) == NULL) return -1;
  if (src->user_agent != NULL) {
    o->user_agent = opts_strdup(src->user_agent);
  } else {
    char ua[128];
    snprintf(ua, sizeof ua, "acedata-lua/%s (%s; libcurl/%s)", ACEDATA_VERSION, AD_LUA_NAME,
             curl_version_info(CURLVERSION_NOW)->version);
    o->user_agent = opts_strdup(ua);
  }
  return o->user_agent != NULL ? 0 : -1;
}

void ad_http_opts_free(ad_http_opts *o) {
  free(o->ca_file);
  free(o->user_agent);
  o->ca_file = NULL;
  o->user_agent = NULL;
}

CURL *ad_http_easy_new(const ad_http_opts *o) {
  CURLcode rc = CURLE_OK;
  CURL *e = curl_easy_init();
  if (e == NULL) return NULL;
#define SET(opt, val) \
  if (rc == CURLE_OK) rc = curl_easy_setopt(e, opt, val)
  /* No SIGALRM for DNS timeouts: we may run inside a host program (nginx, Neovim). */
  SET(CURLOPT_NOSIGNAL, 1L);
  /* "" = every encoding this libcurl was built with (gzip, deflate, ...); decoded transparently. */
  SET(CURLOPT_ACCEPT_ENCODING, "");
  SET(CURLOPT_TIMEOUT_MS, o->timeout_ms);
  SET(CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
  SET(CURLOPT_SSL_VERIFYPEER, o->ssl_verify ? 1L : 0L);
  SET(CURLOPT_SSL_VERIFYHOST, o->ssl_verify ? 2L : 0L);
  if (o->ca_file != NULL) SET(CURLOPT_CAINFO, o->ca_file);
  SET(CURLOPT_USERAGENT, o->user_agent);
  /* Only http and https, also after a redirect (no file://, no gopher://). Proxies come from the
   * environment (http_proxy, https_proxy, no_proxy) as libcurl does by default. */
#if LIBCURL_VERSION_NUM >= 0x075500
  SET(CURLOPT_PROTOCOLS_STR, "http,https");
  SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
  SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
  SET(CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  SET(CURLOPT_FOLLOWLOCATION, 1L);
  SET(CURLOPT_MAXREDIRS, 5L);
  /* Kept off on purpose: since 7.58 libcurl then drops a custom Authorization (and Cookie) header
   * when a redirect leads to another host or port, so the token never leaves for a third party. */
  SET(CURLOPT_UNRESTRICTED_AUTH, 0L);
  SET(CURLOPT_TCP_KEEPALIVE, 1L);
  /* A bigger receive buffer than libcurl's 16 KB: a page of 100 records (~75 KB) arrives in one
   * read and one write callback instead of five, with fewer polls in between. */
  SET(CURLOPT_BUFFERSIZE, 128L * 1024);
#undef SET
  if (rc != CURLE_OK) {
    curl_easy_cleanup(e);
    return NULL;
  }
  return e;
}

/* Longest per-call timeout accepted, as for the options: seconds * 1000 fits a 32-bit long. */
#define MAX_OVERRIDE_SECONDS 2000000.0

long ad_http_timeout_arg(lua_State *L, int idx) {
  double v;
  long ms;
  if (lua_isnoneornil(L, idx)) return -1;
  if (lua_type(L, idx) != LUA_TNUMBER)
    luaL_argerror(L, idx, "timeout_override must be a number of seconds");
  v = (double)lua_tonumber(L, idx);
  if (!(v > 0.0 && v <= MAX_OVERRIDE_SECONDS)) /* also rejects NaN */
    luaL_argerror(L, idx, "timeout_override must be > 0 and at most 2000000 seconds");
  ms = (long)(v * 1000.0 + 0.5);
  return ms > 0 ? ms : 1;
}
