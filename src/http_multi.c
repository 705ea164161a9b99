/*
 * core.multi: non-blocking GETs on libcurl's multi interface (see http.h for the Lua contract).
 *
 * Ownership: the multi userdata owns the CURLM handle, a small pool of idle easy handles and the
 * C arrays the socket callback fills. Each request userdata owns its transfer (buffers, header
 * list) and, while it runs, an easy handle that sits in the multi. A request keeps its multi
 * alive (user value) and the multi points at its running requests (`active`), so either side's
 * __gc can detach the other: a collected running request is cancelled; a closed multi cancels
 * its running requests. The callbacks never call Lua; results are built after curl returns.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compat.h"
#include "http.h"
#include "http_xfer.h"

#define MULTI_MT "acedata.multi"
#define REQUEST_MT "acedata.request"
#define POOL_MAX 8  /* idle easy handles kept per multi */
#define SPARE_MAX 8 /* released body buffers kept per multi, for the next requests */
/* A released body buffer larger than this is freed instead of kept. */
#define SPARE_MAX_BYTES ((size_t)1024 * 1024)

#if LUA_VERSION_NUM < 502
#define ad_setuservalue lua_setfenv
#else
#define ad_setuservalue lua_setuservalue
#endif

enum { REQ_NEW, REQ_RUNNING, REQ_DONE, REQ_CANCELLED };

typedef struct ad_sock_change {
  curl_socket_t fd;
  int what; /* CURL_POLL_* */
} ad_sock_change;

typedef struct ad_request ad_request;

typedef struct ad_multi {
  CURLM *multi; /* NULL once closed */
  ad_http_opts opts;
  ad_request **active; /* requests whose easy handle is in `multi` */
  size_t nactive, cap_active;
  lua_Integer *done; /* ids finished since the last m:done() */
  size_t ndone, cap_done;
  ad_sock_change *changes; /* socket interest changes since the last m:poll_changes() */
  size_t nchanges, cap_changes;
  ad_sock_change *taken; /* the changes m:poll_changes() is converting (see there) */
  size_t ntaken, cap_taken;
  CURL *pool[POOL_MAX];
  int npool;
  ad_strbuf spare[SPARE_MAX]; /* body buffers of released requests: no regrowth per page */
  int nspare;
  int cb_oom; /* the socket callback could not record a change */
  int closed;
  lua_Integer next_id;
  long connects;
} ad_multi;

struct ad_request {
  ad_xfer x;
  ad_multi *m;     /* set while the request holds an easy handle of m */
  ad_multi *owner; /* the multi it was added to: alive as long as the request (its user value) */
  lua_Integer id;
  int state;
  int released; /* req:release() gave the body buffer back: no decode or body any more */
};

/* ---- growable C arrays (never raise; -1 when out of memory) -------------------------------- */

static int grow(void **p, size_t *cap, size_t need, size_t size) {
  size_t n = *cap ? *cap : 8;
  void *q;
  if (need <= *cap) return 0;
  while (n < need) n *= 2;
  if (n > (size_t)-1 / size) return -1;
  q = realloc(*p, n * size);
  if (q == NULL) return -1;
  *p = q;
  *cap = n;
  return 0;
}

/* ---- socket callback: record only ---------------------------------------------------------- */

/*
 * Keeps at most [remove] then [latest interest] per fd, in order: an event loop applying the
 * list in order ends in libcurl's current state, a closed-then-reused fd number is re-registered,
 * and the list stays bounded even if nobody reads it.
 */
static int changes_record(ad_multi *m, curl_socket_t fd, int what) {
  size_t i, first = (size_t)-1, second = (size_t)-1;
  for (i = 0; i < m->nchanges; i++) {
    if (m->changes[i].fd != fd) continue;
    if (first == (size_t)-1)
      first = i;
    else
      second = i;
  }
  if (first != (size_t)-1) {
    size_t last = second != (size_t)-1 ? second : first;
    if (what == CURL_POLL_REMOVE) {
      m->changes[first].what = CURL_POLL_REMOVE;
      if (second != (size_t)-1) {
        memmove(&m->changes[second], &m->changes[second + 1],
                (m->nchanges - second - 1) * sizeof *m->changes);
        m->nchanges--;
      }
      return 0;
    }
    if (m->changes[last].what != CURL_POLL_REMOVE) {
      m->changes[last].what = what;
      return 0;
    }
  }
  if (grow((void **)&m->changes, &m->cap_changes, m->nchanges + 1, sizeof *m->changes) != 0)
    return -1;
  m->changes[m->nchanges].fd = fd;
  m->changes[m->nchanges].what = what;
  m->nchanges++;
  return 0;
}

static int multi_on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
  ad_multi *m = (ad_multi *)userp;
  (void)easy;
  (void)socketp;
  if (changes_record(m, fd, what) != 0) m->cb_oom = 1;
  return 0;
}

/* ---- easy handle pool ---------------------------------------------------------------------- */

static CURL *pool_get(ad_multi *m) {
  if (m->npool > 0) return m->pool[--m->npool];
  return ad_http_easy_new(&m->opts);
}

static void pool_put(ad_multi *m, CURL *easy) {
  ad_xfer_unbind(easy);
  if (!m->closed && m->npool < POOL_MAX)
    m->pool[m->npool++] = easy;
  else
    curl_easy_cleanup(easy);
}

/* ---- requests <-> multi -------------------------------------------------------------------- */

static void active_remove(ad_multi *m, const ad_request *r) {
  size_t i;
  for (i = 0; i < m->nactive; i++) {
    if (m->active[i] == r) {
      m->active[i] = m->active[--m->nactive];
      return;
    }
  }
}

/* Takes r's easy handle out of the multi and back to the pool; r keeps its buffers. */
static void request_detach(ad_request *r, int state) {
  ad_multi *m = r->m;
  if (r->state == REQ_RUNNING) {
    active_remove(m, r);
    curl_multi_remove_handle(m->multi, r->x.easy);
  }
  if (r->x.easy != NULL) pool_put(m, r->x.easy);
  r->x.easy = NULL;
  curl_slist_free_all(r->x.req_headers);
  r->x.req_headers = NULL;
  r->m = NULL;
  r->state = state;
}

/* Moves finished transfers from the multi to their requests and the done list. */
static void multi_collect(ad_multi *m) {
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(m->multi, &left)) != NULL) {
    CURL *easy = msg->easy_handle; /* msg dies with curl_multi_remove_handle: copy first */
    CURLcode code = msg->data.result;
    char *priv = NULL;
    ad_request *r;
    if (msg->msg != CURLMSG_DONE) continue;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
    r = (ad_request *)(void *)priv;
    if (r == NULL) continue;
    ad_xfer_finish(&r->x, code);
    m->connects += r->x.connects;
    request_detach(r, REQ_DONE);
    m->done[m->ndone++] = r->id; /* room reserved by m:add */
  }
}

static void multi_release(ad_multi *m) {
  size_t i;
  int j;
  if (m->closed) return;
  m->closed = 1;
  for (i = 0; i < m->nactive; i++) {
    ad_request *r = m->active[i];
    curl_multi_remove_handle(m->multi, r->x.easy);
    curl_easy_cleanup(r->x.easy);
    r->x.easy = NULL;
    curl_slist_free_all(r->x.req_headers);
    r->x.req_headers = NULL;
    r->m = NULL;
    r->state = REQ_CANCELLED;
  }
  m->nactive = 0;
  for (j = 0; j < m->npool; j++) curl_easy_cleanup(m->pool[j]);
  m->npool = 0;
  for (j = 0; j < m->nspare; j++) ad_strbuf_free(&m->spare[j]);
  m->nspare = 0;
  if (m->multi != NULL) curl_multi_cleanup(m->multi); /* may still call the socket callback */
  m->multi = NULL;
  free(m->active);
  free(m->done);
  free(m->changes);
  free(m->taken);
  m->active = NULL;
  m->done = NULL;
  m->changes = NULL;
  m->taken = NULL;
  m->cap_active = m->cap_done = m->cap_changes = m->cap_taken = 0;
  m->ndone = m->nchanges = m->ntaken = 0;
  ad_http_opts_free(&m->opts);
}

static ad_multi *multi_check(lua_State *L) {
  ad_multi *m = (ad_multi *)luaL_checkudata(L, 1, MULTI_MT);
  if (m->closed) luaL_error(L, "multi is closed");
  return m;
}

/* Common tail of the driving methods: collect finished transfers, report errors, push running. */
static int multi_after(lua_State *L, ad_multi *m, CURLMcode mc, int running) {
  multi_collect(m);
  if (m->cb_oom) {
    m->cb_oom = 0;
    return luaL_error(L, "not enough memory");
  }
  if (mc != CURLM_OK) return luaL_error(L, "libcurl multi: %s", curl_multi_strerror(mc));
  lua_pushinteger(L, (lua_Integer)running);
  return 1;
}

/* ---- core.multi ---------------------------------------------------------------------------- */

static int multi_new(lua_State *L) {
  ad_http_opts_src src;
  ad_multi *m;
  ad_http_opts_check(L, 1, "multi", &src);
  m = (ad_multi *)lua_newuserdata(L, sizeof *m);
  memset(m, 0, sizeof *m); /* a valid, empty, open multi: __gc frees whatever got allocated */
  luaL_setmetatable(L, MULTI_MT);
  if (ad_http_opts_init(&m->opts, &src) != 0 || (m->multi = curl_multi_init()) == NULL ||
      curl_multi_setopt(m->multi, CURLMOPT_SOCKETFUNCTION, multi_on_socket) != CURLM_OK ||
      curl_multi_setopt(m->multi, CURLMOPT_SOCKETDATA, (void *)m) != CURLM_OK) {
    multi_release(m);
    return luaL_error(L, "cannot create a libcurl multi handle (out of memory?)");
  }
  return 1;
}

/* m:add(url [, header_lines [, timeout_override]]) -> request */
static int multi_add(lua_State *L) {
  ad_multi *m = multi_check(L);
  ad_request *r;
  CURLMcode mc;
  long timeout_ms;
  lua_settop(L, 4); /* the request is pushed at 5: keep index 3 the (maybe nil) header lines */
  ad_http_check_request(L, 2, 3);
  timeout_ms = ad_http_timeout_arg(L, 4);
  /* Reserve now what completion needs later, when nothing may fail. */
  /* NOLINTNEXTLINE(bugprone-sizeof-expression): the elements are pointers; sizeof *p is right */
  if (grow((void **)&m->active, &m->cap_active, m->nactive + 1, sizeof *m->active) != 0 ||
      grow((void **)&m->done, &m->cap_done, m->ndone + m->nactive + 1, sizeof *m->done) != 0)
    return luaL_error(L, "not enough memory");
  r = (ad_request *)lua_newuserdata(L, sizeof *r);
  ad_xfer_init(&r->x, m->opts.max_body);
  r->m = NULL;
  r->owner = m;
  r->id = 0;
  r->state = REQ_NEW;
  r->released = 0;
  luaL_setmetatable(L, REQUEST_MT);
  lua_createtable(L, 1, 0); /* user value { multi }: keeps the multi alive while r is */
  lua_pushvalue(L, 1);
  lua_rawseti(L, -2, 1);
  ad_setuservalue(L, -2);
  if ((r->x.easy = pool_get(m)) == NULL) return luaL_error(L, "not enough memory");
  if (m->nspare > 0) r->x.body = m->spare[--m->nspare]; /* r owns it now (freed by its __gc) */
  r->m = m;
  ad_xfer_bind(&r->x, r->x.easy);
  curl_easy_setopt(r->x.easy, CURLOPT_PRIVATE, (void *)r);
  /* Pooled handles keep the last request's options: set the timeout every time. */
  curl_easy_setopt(r->x.easy, CURLOPT_TIMEOUT_MS,
                   timeout_ms >= 0 ? timeout_ms : m->opts.timeout_ms);
  if (ad_xfer_prepare(&r->x, L, 2, 3) != 0) {
    request_detach(r, REQ_CANCELLED);
    return luaL_error(L, "not enough memory");
  }
  mc = curl_multi_add_handle(m->multi, r->x.easy);
  if (mc != CURLM_OK) {
    request_detach(r, REQ_CANCELLED);
    return luaL_error(L, "libcurl multi: %s", curl_multi_strerror(mc));
  }
  r->state = REQ_RUNNING;
  r->id = ++m->next_id;
  m->active[m->nactive++] = r;
  return 1;
}

/* m:socket_action(fd, flags) -> running; fd -1 = the timer expired; flags "r", "w", "rw", "". */
static int multi_socket_action(lua_State *L) {
  ad_multi *m = multi_check(L);
  lua_Integer fd = luaL_checkinteger(L, 2);
  const char *f = luaL_optstring(L, 3, "");
  int mask = 0, running = 0;
  CURLMcode mc;
  for (; *f != '\0'; f++) {
    if (*f == 'r')
      mask |= CURL_CSELECT_IN;
    else if (*f == 'w')
      mask |= CURL_CSELECT_OUT;
    else if (*f == 'e')
      mask |= CURL_CSELECT_ERR;
    else
      return luaL_argerror(L, 3, "flags must be made of 'r', 'w' and 'e'");
  }
  if (fd < -1 || fd > INT_MAX) return luaL_argerror(L, 2, "not a file descriptor (or -1)");
  mc = curl_multi_socket_action(m->multi, fd < 0 ? CURL_SOCKET_TIMEOUT : (curl_socket_t)fd, mask,
                                &running);
  return multi_after(L, m, mc, running);
}

/* m:perform() -> running (never blocks) */
static int multi_perform(lua_State *L) {
  ad_multi *m = multi_check(L);
  int running = 0;
  CURLMcode mc = curl_multi_perform(m->multi, &running);
  return multi_after(L, m, mc, running);
}

/* m:wait([ms = 1000]) -> running: blocks until activity or ms, then performs. */
static int multi_wait(lua_State *L) {
  ad_multi *m = multi_check(L);
  lua_Number ms = luaL_optnumber(L, 2, 1000);
  int running = 0;
  CURLMcode mc = CURLM_OK;
  if (!(ms >= 0)) return luaL_argerror(L, 2, "must be a non-negative number of milliseconds");
  if (ms > INT_MAX) ms = INT_MAX;
  if (m->nactive > 0) mc = curl_multi_poll(m->multi, NULL, 0, (int)ms, NULL);
  if (mc == CURLM_OK) mc = curl_multi_perform(m->multi, &running);
  return multi_after(L, m, mc, running);
}

static double monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* m:wait_done([ms = 1000]) -> running: m:wait repeated (in C, without coming back to Lua after
 * every wake-up) until a request has finished (it is in m:done()), none runs, or ms passed. */
static int multi_wait_done(lua_State *L) {
  ad_multi *m = multi_check(L);
  lua_Number ms = luaL_optnumber(L, 2, 1000);
  int running = (int)m->nactive;
  CURLMcode mc = CURLM_OK;
  double until;
  if (!(ms >= 0)) return luaL_argerror(L, 2, "must be a non-negative number of milliseconds");
  if (ms > INT_MAX) ms = INT_MAX;
  until = monotonic_ms() + (double)ms;
  while (m->nactive > 0 && m->ndone == 0 && !m->cb_oom) {
    double left = until - monotonic_ms();
    if (left < 0) left = 0;
    mc = curl_multi_poll(m->multi, NULL, 0, (int)(left + 0.999), NULL);
    if (mc == CURLM_OK) mc = curl_multi_perform(m->multi, &running);
    if (mc != CURLM_OK) break;
    multi_collect(m);
    if (left <= 0) break;
  }
  if (m->nactive == 0) running = 0;
  return multi_after(L, m, mc, running);
}

/* m:running() -> requests in flight (m:info().running without the table) */
static int multi_running(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)multi_check(L)->nactive);
  return 1;
}

/* m:finished() -> how many requests m:done() would list now (without making the table) */
static int multi_finished(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)multi_check(L)->ndone);
  return 1;
}

/* m:timeout() -> ms until libcurl wants m:socket_action(-1, ""), 0 = now, -1 = no timer. */
static int multi_timeout(lua_State *L) {
  ad_multi *m = multi_check(L);
  long ms = -1;
  CURLMcode mc = curl_multi_timeout(m->multi, &ms);
  if (mc != CURLM_OK) return luaL_error(L, "libcurl multi: %s", curl_multi_strerror(mc));
  lua_pushinteger(L, (lua_Integer)ms);
  return 1;
}

static const char *what_name(int what) {
  switch (what) {
    case CURL_POLL_IN:
      return "r";
    case CURL_POLL_OUT:
      return "w";
    case CURL_POLL_INOUT:
      return "rw";
    case CURL_POLL_REMOVE:
      return "remove";
    default:
      return ""; /* CURL_POLL_NONE: known socket, no interest yet */
  }
}

/*
 * m:poll_changes() -> { {fd = n, what = "r"|"w"|"rw"|"remove"|""}, ... } since the last call
 *
 * An allocation below may run a finalizer that cancels a request of this multi, and libcurl then
 * reports socket changes: so the pending list is first moved to `taken`, which no callback
 * touches, and converted from there. `taken` is emptied only once the table is complete, so a
 * memory error loses nothing (the next call delivers those changes first).
 */
static int multi_poll_changes(lua_State *L) {
  ad_multi *m = multi_check(L);
  size_t i;
  if (m->ntaken == 0) {
    ad_sock_change *p = m->taken;
    size_t cap = m->cap_taken;
    m->taken = m->changes;
    m->cap_taken = m->cap_changes;
    m->ntaken = m->nchanges;
    m->changes = p;
    m->cap_changes = cap;
    m->nchanges = 0;
  } else if (m->nchanges > 0) {
    if (grow((void **)&m->taken, &m->cap_taken, m->ntaken + m->nchanges, sizeof *m->taken) != 0)
      return luaL_error(L, "not enough memory");
    memcpy(m->taken + m->ntaken, m->changes, m->nchanges * sizeof *m->changes);
    m->ntaken += m->nchanges;
    m->nchanges = 0;
  }
  lua_createtable(L, (int)m->ntaken, 0);
  for (i = 0; i < m->ntaken; i++) {
    lua_createtable(L, 0, 2);
    lua_pushinteger(L, (lua_Integer)m->taken[i].fd);
    lua_setfield(L, -2, "fd");
    lua_pushstring(L, what_name(m->taken[i].what));
    lua_setfield(L, -2, "what");
    lua_rawseti(L, -2, (int)i + 1);
  }
  m->ntaken = 0;
  return 1;
}

/* m:done() -> { id, ... } finished since the last call */
static int multi_done(lua_State *L) {
  ad_multi *m = multi_check(L);
  size_t i;
  lua_createtable(L, (int)m->ndone, 0);
  for (i = 0; i < m->ndone; i++) {
    lua_pushinteger(L, m->done[i]);
    lua_rawseti(L, -2, (int)i + 1);
  }
  m->ndone = 0;
  return 1;
}

/* m:info() -> { connects = n, running = n, pooled = n } */
static int multi_info(lua_State *L) {
  ad_multi *m = multi_check(L);
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, (lua_Integer)m->connects);
  lua_setfield(L, -2, "connects");
  lua_pushinteger(L, (lua_Integer)m->nactive);
  lua_setfield(L, -2, "running");
  lua_pushinteger(L, (lua_Integer)m->npool);
  lua_setfield(L, -2, "pooled");
  return 1;
}

static int multi_close(lua_State *L) {
  multi_release((ad_multi *)luaL_checkudata(L, 1, MULTI_MT));
  return 0;
}

static int multi_tostring(lua_State *L) {
  ad_multi *m = (ad_multi *)luaL_checkudata(L, 1, MULTI_MT);
  if (m->closed)
    lua_pushliteral(L, "acedata.multi (closed)");
  else
    lua_pushfstring(L, "acedata.multi (%p)", (void *)m);
  return 1;
}

/* ---- requests ------------------------------------------------------------------------------ */

static ad_request *request_check(lua_State *L) {
  return (ad_request *)luaL_checkudata(L, 1, REQUEST_MT);
}

/* The request, which must have finished. */
static ad_request *request_finished(lua_State *L) {
  ad_request *r = request_check(L);
  if (r->state == REQ_CANCELLED) luaL_error(L, "request was cancelled");
  if (r->state != REQ_DONE) luaL_error(L, "request is still running");
  return r;
}

/* The finished request, whose body was not released. */
static ad_request *request_with_body(lua_State *L) {
  ad_request *r = request_finished(L);
  if (r->released) luaL_error(L, "request body was released");
  return r;
}

static int request_result(lua_State *L) { return ad_xfer_push_result(L, &request_finished(L)->x); }

static int request_status(lua_State *L) { return ad_xfer_push_status(L, &request_finished(L)->x); }

static int request_headers(lua_State *L) {
  return ad_xfer_push_headers(L, &request_finished(L)->x);
}

static int request_decode(lua_State *L) {
  return ad_xfer_push_decode(L, &request_with_body(L)->x, 2);
}

static int request_body(lua_State *L) { return ad_xfer_push_body(L, &request_with_body(L)->x); }

/* req:release(): the body is no longer needed; its buffer goes back to the multi for the next
 * request (or is freed). Status and headers stay. Idempotent; nothing for a running request. */
static int request_release(lua_State *L) {
  ad_request *r = request_check(L);
  ad_multi *m = r->owner;
  if (r->state != REQ_DONE || r->released) return 0;
  r->released = 1;
  if (!m->closed && m->nspare < SPARE_MAX && r->x.body.data != NULL &&
      r->x.body.cap <= SPARE_MAX_BYTES) {
    m->spare[m->nspare++] = r->x.body;
    ad_strbuf_init(&r->x.body);
  } else {
    ad_strbuf_free(&r->x.body);
  }
  return 0;
}

static int request_info(lua_State *L) {
  ad_request *r = request_finished(L);
  return ad_xfer_push_info(L, &r->x, r->x.connects);
}

static int request_id(lua_State *L) {
  lua_pushinteger(L, request_check(L)->id);
  return 1;
}

/* req:status() -> "running" | "done" | "cancelled" */
static int request_state(lua_State *L) {
  ad_request *r = request_check(L);
  lua_pushstring(L, r->state == REQ_DONE        ? "done"
                    : r->state == REQ_CANCELLED ? "cancelled"
                                                : "running");
  return 1;
}

/* req:cancel() -> true if it was running; a finished or cancelled request is left alone. */
static int request_cancel(lua_State *L) {
  ad_request *r = request_check(L);
  int was_running = r->state == REQ_RUNNING;
  if (r->m != NULL) request_detach(r, REQ_CANCELLED);
  lua_pushboolean(L, was_running);
  return 1;
}

/* __gc / __close: cancel if running, free the buffers. Idempotent. */
static int request_gc(lua_State *L) {
  ad_request *r = request_check(L);
  if (r->m != NULL) request_detach(r, r->state == REQ_DONE ? REQ_DONE : REQ_CANCELLED);
  if (r->x.easy != NULL) { /* not reachable today; belt and braces */
    curl_easy_cleanup(r->x.easy);
    r->x.easy = NULL;
  }
  ad_xfer_free(&r->x);
  return 0;
}

static int request_tostring(lua_State *L) {
  ad_request *r = request_check(L);
  lua_pushfstring(L, "acedata.request #%d", (int)r->id);
  return 1;
}

static const luaL_Reg multi_methods[] = {{"add", multi_add},
                                         {"socket_action", multi_socket_action},
                                         {"perform", multi_perform},
                                         {"wait", multi_wait},
                                         {"wait_done", multi_wait_done},
                                         {"running", multi_running},
                                         {"finished", multi_finished},
                                         {"timeout", multi_timeout},
                                         {"poll_changes", multi_poll_changes},
                                         {"done", multi_done},
                                         {"info", multi_info},
                                         {"close", multi_close},
                                         {NULL, NULL}};

static const luaL_Reg multi_meta[] = {{"__gc", multi_close},
#if LUA_VERSION_NUM >= 504
                                      {"__close", multi_close},
#endif
                                      {"__tostring", multi_tostring},
                                      {NULL, NULL}};

static const luaL_Reg request_methods[] = {{"result", request_result},
                                           {"status", request_status},
                                           {"headers", request_headers},
                                           {"decode", request_decode},
                                           {"body", request_body},
                                           {"release", request_release},
                                           {"info", request_info},
                                           {"id", request_id},
                                           {"state", request_state},
                                           {"cancel", request_cancel},
                                           {NULL, NULL}};

static const luaL_Reg request_meta[] = {{"__gc", request_gc},
#if LUA_VERSION_NUM >= 504
                                        {"__close", request_gc},
#endif
                                        {"__tostring", request_tostring},
                                        {NULL, NULL}};

static void new_class(lua_State *L, const char *name, const luaL_Reg *meta,
                      const luaL_Reg *methods) {
  /* filled every time, also when it exists: a memory error half way through an earlier load
   * may have left it registered but incomplete */
  luaL_newmetatable(L, name);
  luaL_setfuncs(L, meta, 0);
  lua_newtable(L);
  luaL_setfuncs(L, methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}

void ad_http_multi_open(lua_State *L) {
  new_class(L, MULTI_MT, multi_meta, multi_methods);
  new_class(L, REQUEST_MT, request_meta, request_methods);
  lua_pushcfunction(L, multi_new);
  lua_setfield(L, -2, "multi");
}
