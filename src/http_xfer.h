/*
 * The pieces shared by core.session (http_session.c) and core.multi (http_multi.c):
 *   - ad_http_opts: the validated options table (http_opts.c), and the easy handle it configures;
 *   - ad_xfer: one transfer's state - the easy handle, malloc'd response buffers filled by the
 *     libcurl callbacks, the request header list, and what is converted to Lua after curl has
 *     returned (http_xfer.c).
 * Every ad_xfer lives inside a userdata, so whatever it owns is freed by that userdata's __gc even
 * when building a Lua value raises half-way.
 */
#ifndef ACEDATA_HTTP_XFER_H
#define ACEDATA_HTTP_XFER_H

#include <curl/curl.h>
#include <lua.h>

#include "strbuf.h"

/* ---- options (http_opts.c) ---------------------------------------------------------------- */

/* The options as read from Lua; the strings point into the options table (still on the stack). */
typedef struct ad_http_opts_src {
  long timeout_ms;         /* 0 = no limit */
  long connect_timeout_ms; /* 0 = libcurl's default (300 s) */
  int ssl_verify;
  size_t max_body;
  const char *ca_file;    /* NULL = libcurl's default bundle */
  const char *user_agent; /* NULL = the default "acedata-lua/<v> (<Lua>; libcurl/<v>)" */
} ad_http_opts_src;

/* The same options owned by a userdata: the strings are malloc'd copies. */
typedef struct ad_http_opts {
  long timeout_ms;
  long connect_timeout_ms;
  int ssl_verify;
  size_t max_body;
  char *ca_file;
  char *user_agent;
} ad_http_opts;

/*
 * Reads and validates the options table at idx (none or nil -> defaults). Raises at once on
 * misuse: not a table, a non-string key, an unknown name, a value of the wrong type or range.
 * `what` names the constructor in messages ("session" / "multi"). Allocates nothing.
 */
void ad_http_opts_check(lua_State *L, int idx, const char *what, ad_http_opts_src *src);

/* Copies src into o (zero o first). Returns 0, or -1 when out of memory (o then owns only what
 * ad_http_opts_free releases). Never raises. */
int ad_http_opts_init(ad_http_opts *o, const ad_http_opts_src *src);
void ad_http_opts_free(ad_http_opts *o);

/* A new easy handle configured with o (everything except the per-request settings), or NULL. */
CURL *ad_http_easy_new(const ad_http_opts *o);

/* ---- transfers (http_xfer.c) -------------------------------------------------------------- */

typedef struct ad_xfer {
  CURL *easy;                     /* owned by whoever embeds the xfer; NULL when none */
  struct curl_slist *req_headers; /* the request header lines while a request is prepared */
  ad_strbuf body;                 /* response body (decoded content), the final response's */
  ad_strbuf headers;              /* raw header lines of the final response */
  size_t max_body;
  int overflow;      /* 1 body, 2 headers: a limit made a callback abort */
  int oom;           /* a callback could not allocate */
  CURLcode code;     /* result of the last transfer */
  long status;       /* HTTP status of the last transfer, 0 on failure */
  long connects;     /* new connections the last transfer made */
  long proxy_status; /* status of the proxy's answer to CONNECT (0: none, or no proxy) */
  double total_time; /* seconds the last transfer took */
  char *url;         /* malloc'd effective URL of the last transfer, or NULL */
  char errbuf[CURL_ERROR_SIZE];
} ad_xfer;

/* An empty transfer owning nothing, for an easy handle of max_body bytes at most. */
void ad_xfer_init(ad_xfer *x, size_t max_body);

/* Frees the buffers, the header list and the URL copy; leaves x->easy to the owner. */
void ad_xfer_free(ad_xfer *x);

/* Points the easy handle's callbacks and error buffer at x (ad_xfer_unbind undoes it: always
 * unbind a handle before it outlives x, e.g. when it goes back to a pool). */
void ad_xfer_bind(ad_xfer *x, CURL *easy);
void ad_xfer_unbind(CURL *easy);

/* Validates a request's arguments: url (string, no NUL) at url_idx and the optional array of
 * header lines (strings without NUL, CR or LF) at hdr_idx. Raises on misuse; allocates nothing. */
void ad_http_check_request(lua_State *L, int url_idx, int hdr_idx);

/* The optional per-call timeout at idx (seconds, > 0, at most 2000000) -> milliseconds (never 0,
 * which would mean "no limit" to libcurl), or -1 when absent. Raises on misuse; allocates nothing.
 */
long ad_http_timeout_arg(lua_State *L, int idx);

/* Resets x for a new GET of the (already checked) arguments, still at the absolute indices
 * url_idx and hdr_idx, and sets them on x->easy (which must be bound to x). Returns 0, or -1
 * when out of memory; never raises. */
int ad_xfer_prepare(ad_xfer *x, lua_State *L, int url_idx, int hdr_idx);

/* Records the outcome after libcurl finished the transfer with `code`, frees the header list.
 * Never raises. */
void ad_xfer_finish(ad_xfer *x, CURLcode code);

/* Pushes `status, headers` (returns 2) or `nil, kind, message, curl_code, proxy_status` (returns
 * 5; proxy_status is nil unless a proxy refused the CONNECT) for the last transfer. Raises only
 * memory errors (including the case of a callback that ran out of memory). */
int ad_xfer_push_result(lua_State *L, ad_xfer *x);

/* The same in two halves, for a caller that wants the headers only when it reads them:
 * ad_xfer_push_status pushes `status` (returns 1) or the five failure values (returns 5);
 * ad_xfer_push_headers pushes the headers table (returns 1; empty after a failure). */
int ad_xfer_push_status(lua_State *L, ad_xfer *x);
int ad_xfer_push_headers(lua_State *L, ad_xfer *x);

/* Decodes the body with the core.decode options table at opts_idx (none/nil: defaults): the
 * results of ad_decode. Raises on a malformed options table. */
int ad_xfer_push_decode(lua_State *L, ad_xfer *x, int opts_idx);

/* Pushes the body as a string; returns 1. */
int ad_xfer_push_body(lua_State *L, const ad_xfer *x);

/* Pushes { connects = n, total_time = s, url = u } with the given connection count. */
int ad_xfer_push_info(lua_State *L, const ad_xfer *x, long connects);

/* "timeout" | "tls" | "proxy" | "network" for a failed transfer; proxy_status is the proxy's
 * answer to CONNECT (CURLINFO_HTTP_CONNECTCODE), 0 when there was none. */
const char *ad_http_error_kind(CURLcode code, long proxy_status);

/* ---- the Lua classes (called by ad_http_open with the module table at the top) ------------ */
void ad_http_session_open(lua_State *L); /* core.session, http_session.c */
void ad_http_multi_open(lua_State *L);   /* core.multi, http_multi.c */

#endif
