/*
 * core.session: blocking GETs over one easy handle kept alive between calls (see http.h).
 * The userdata owns the handle, the options and the transfer buffers; __gc, __close and
 * s:close() release them, and closing twice is harmless.
 */
#include <string.h>

#include "compat.h"
#include "http.h"
#include "http_xfer.h"

#define SESSION_MT "acedata.session"

typedef struct ad_session {
  ad_xfer x; /* x.easy == NULL once closed */
  ad_http_opts opts;
  long connects; /* new connections over the session's lifetime */
  int closed;
} ad_session;

static ad_session *session_check(lua_State *L) {
  ad_session *s = (ad_session *)luaL_checkudata(L, 1, SESSION_MT);
  if (s->closed) luaL_error(L, "session is closed");
  return s;
}

static void session_release(ad_session *s) {
  if (s->x.easy != NULL) {
    curl_easy_cleanup(s->x.easy);
    s->x.easy = NULL;
  }
  ad_xfer_free(&s->x);
  ad_http_opts_free(&s->opts);
  s->closed = 1;
}

/* s:close(), __gc, __close: idempotent. */
static int session_close(lua_State *L) {
  ad_session *s = (ad_session *)luaL_checkudata(L, 1, SESSION_MT);
  session_release(s);
  return 0;
}

/* core.session(opts) */
static int session_new(lua_State *L) {
  ad_http_opts_src src;
  ad_session *s;
  ad_http_opts_check(L, 1, "session", &src); /* raises on misuse, before any allocation */
  s = (ad_session *)lua_newuserdata(L, sizeof *s);
  memset(s, 0, sizeof *s);
  ad_xfer_init(&s->x, src.max_body); /* a valid empty session: __gc frees what got allocated */
  luaL_setmetatable(L, SESSION_MT);
  if (ad_http_opts_init(&s->opts, &src) != 0 || (s->x.easy = ad_http_easy_new(&s->opts)) == NULL) {
    session_release(s);
    return luaL_error(L, "cannot create a libcurl handle (out of memory?)");
  }
  ad_xfer_bind(&s->x, s->x.easy);
  return 1;
}

/* s:get(url [, header_lines [, timeout_override]])
 *   -> status, headers | nil, kind, message, curl_code */
static int session_get(lua_State *L) {
  ad_session *s = session_check(L);
  CURLcode code;
  long timeout_ms;
  lua_settop(L, 4);
  ad_http_check_request(L, 2, 3);
  timeout_ms = ad_http_timeout_arg(L, 4);
  if (ad_xfer_prepare(&s->x, L, 2, 3) != 0) return luaL_error(L, "not enough memory");
  /* Setting a long option never fails; the session's own timeout is put back right after. */
  if (timeout_ms >= 0) curl_easy_setopt(s->x.easy, CURLOPT_TIMEOUT_MS, timeout_ms);
  code = curl_easy_perform(s->x.easy); /* no Lua code runs until it returns */
  if (timeout_ms >= 0) curl_easy_setopt(s->x.easy, CURLOPT_TIMEOUT_MS, s->opts.timeout_ms);
  ad_xfer_finish(&s->x, code);
  s->connects += s->x.connects;
  return ad_xfer_push_result(L, &s->x);
}

static int session_decode(lua_State *L) {
  ad_session *s = session_check(L);
  return ad_xfer_push_decode(L, &s->x, 2);
}

static int session_body(lua_State *L) { return ad_xfer_push_body(L, &session_check(L)->x); }

static int session_info(lua_State *L) {
  ad_session *s = session_check(L);
  return ad_xfer_push_info(L, &s->x, s->connects);
}

static int session_tostring(lua_State *L) {
  ad_session *s = (ad_session *)luaL_checkudata(L, 1, SESSION_MT);
  if (s->closed)
    lua_pushliteral(L, "acedata.session (closed)");
  else
    lua_pushfstring(L, "acedata.session (%p)", (void *)s);
  return 1;
}

static const luaL_Reg session_methods[] = {{"get", session_get},     {"decode", session_decode},
                                           {"body", session_body},   {"info", session_info},
                                           {"close", session_close}, {NULL, NULL}};

static const luaL_Reg session_meta[] = {{"__gc", session_close},
#if LUA_VERSION_NUM >= 504
                                        {"__close", session_close},
#endif
                                        {"__tostring", session_tostring},
                                        {NULL, NULL}};

void ad_http_session_open(lua_State *L) {
  luaL_newmetatable(L, SESSION_MT); /* filled also when it exists (see new_class) */
  luaL_setfuncs(L, session_meta, 0);
  luaL_newlib(L, session_methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  lua_pushcfunction(L, session_new);
  lua_setfield(L, -2, "session");
}
