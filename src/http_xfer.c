/*
 * One transfer over an easy handle: the libcurl callbacks (they only append to malloc'd buffers
 * and never call Lua), per-request setup, and the conversion of the outcome into Lua values after
 * libcurl has returned.
 */
#include "http_xfer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "decode.h"

/* Header bytes of one response we are willing to keep (libcurl limits single lines itself). */
#define MAX_HEADER_BYTES ((size_t)1024 * 1024)
/* Buffers that grew beyond this are released before the next request instead of reused. */
#define KEEP_BUFFER_BYTES ((size_t)1024 * 1024)

enum { OVERFLOW_NONE = 0, OVERFLOW_BODY = 1, OVERFLOW_HEADERS = 2 };

void ad_xfer_init(ad_xfer *x, size_t max_body) {
  memset(x, 0, sizeof *x);
  ad_strbuf_init(&x->body);
  ad_strbuf_init(&x->headers);
  x->max_body = max_body;
  x->easy = NULL;
  x->req_headers = NULL;
  x->url = NULL;
}

void ad_xfer_free(ad_xfer *x) {
  ad_strbuf_free(&x->body);
  ad_strbuf_free(&x->headers);
  curl_slist_free_all(x->req_headers);
  x->req_headers = NULL;
  free(x->url);
  x->url = NULL;
}

/* ---- callbacks: append only ------------------------------------------------------------- */

static size_t xfer_on_body(char *p, size_t size, size_t n, void *ud) {
  ad_xfer *x = (ad_xfer *)ud;
  size_t len = size * n;
  if (len > x->max_body - x->body.len) { /* body.len <= max_body always holds */
    x->overflow = OVERFLOW_BODY;
    return 0; /* != len: libcurl aborts the transfer with CURLE_WRITE_ERROR */
  }
  if (ad_strbuf_append(&x->body, p, len) != 0) {
    x->oom = 1;
    return 0;
  }
  return len;
}

/* Called once per header line (CRLF included) of every response libcurl sees, redirects and
 * 1xx interim responses included: a status line starts a new response, so only the final
 * response's lines are kept. */
static size_t xfer_on_header(char *p, size_t size, size_t n, void *ud) {
  ad_xfer *x = (ad_xfer *)ud;
  size_t len = size * n;
  if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) ad_strbuf_clear(&x->headers);
  if (len > MAX_HEADER_BYTES - x->headers.len) {
    x->overflow = OVERFLOW_HEADERS;
    return 0;
  }
  if (ad_strbuf_append(&x->headers, p, len) != 0) {
    x->oom = 1;
    return 0;
  }
  return len;
}

void ad_xfer_bind(ad_xfer *x, CURL *easy) {
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, xfer_on_body);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, (void *)x);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, xfer_on_header);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, (void *)x);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, x->errbuf);
}

void ad_xfer_unbind(CURL *easy) {
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, (void *)NULL);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, (void *)NULL);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, (char *)NULL);
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
  curl_easy_setopt(easy, CURLOPT_PRIVATE, (void *)NULL);
}

/* ---- requests ------------------------------------------------------------------------------ */

void ad_http_check_request(lua_State *L, int url_idx, int hdr_idx) {
  size_t len, i, n;
  const char *url = luaL_checklstring(L, url_idx, &len);
  if (strlen(url) != len) luaL_argerror(L, url_idx, "URL contains a NUL byte");
  if (lua_isnoneornil(L, hdr_idx)) return;
  luaL_checktype(L, hdr_idx, LUA_TTABLE);
  n = (size_t)lua_rawlen(L, hdr_idx);
  for (i = 1; i <= n; i++) {
    const char *line;
    lua_rawgeti(L, hdr_idx, (int)i);
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "header line %d must be a string (got %s)", (int)i, luaL_typename(L, -1));
    line = lua_tolstring(L, -1, &len);
    if (strlen(line) != len || strpbrk(line, "\r\n") != NULL)
      luaL_error(L, "header line %d contains a NUL, CR or LF byte", (int)i);
    lua_pop(L, 1);
  }
}

/* Appends the checked header lines to x->req_headers (owned by x, so nothing leaks if we stop
 * half-way). lua_rawgeti and lua_tolstring on a string never raise. */
static int xfer_build_headers(ad_xfer *x, lua_State *L, int hdr_idx) {
  size_t i, n;
  if (lua_isnoneornil(L, hdr_idx)) return 0;
  n = (size_t)lua_rawlen(L, hdr_idx);
  for (i = 1; i <= n; i++) {
    struct curl_slist *next;
    lua_rawgeti(L, hdr_idx, (int)i);
    next = curl_slist_append(x->req_headers, lua_tostring(L, -1));
    lua_pop(L, 1);
    if (next == NULL) return -1;
    x->req_headers = next;
  }
  return 0;
}

static void xfer_reset_buffer(ad_strbuf *b) {
  if (b->cap > KEEP_BUFFER_BYTES)
    ad_strbuf_free(b);
  else
    ad_strbuf_clear(b);
}

int ad_xfer_prepare(ad_xfer *x, lua_State *L, int url_idx, int hdr_idx) {
  CURLcode rc;
  curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
  curl_slist_free_all(x->req_headers);
  x->req_headers = NULL;
  xfer_reset_buffer(&x->body);
  xfer_reset_buffer(&x->headers);
  x->overflow = OVERFLOW_NONE;
  x->oom = 0;
  x->code = CURLE_OK;
  x->status = 0;
  x->connects = 0;
  x->proxy_status = 0;
  x->total_time = 0.0;
  x->errbuf[0] = '\0';
  if (xfer_build_headers(x, L, hdr_idx) != 0) return -1;
  rc = curl_easy_setopt(x->easy, CURLOPT_URL, lua_tostring(L, url_idx));
  if (rc == CURLE_OK) rc = curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->req_headers);
  if (rc == CURLE_OK) rc = curl_easy_setopt(x->easy, CURLOPT_HTTPGET, 1L);
  return rc == CURLE_OK ? 0 : -1;
}

void ad_xfer_finish(ad_xfer *x, CURLcode code) {
  long status = 0, connects = 0, connect_code = 0;
  double total = 0.0;
  char *url = NULL;
  x->code = code;
  curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_getinfo(x->easy, CURLINFO_NUM_CONNECTS, &connects);
  /* The proxy's answer to CONNECT (https:// through an HTTP proxy); 0 when no tunnel was asked. */
  curl_easy_getinfo(x->easy, CURLINFO_HTTP_CONNECTCODE, &connect_code);
  curl_easy_getinfo(x->easy, CURLINFO_TOTAL_TIME, &total);
  curl_easy_getinfo(x->easy, CURLINFO_EFFECTIVE_URL, &url);
  x->status = code == CURLE_OK ? status : 0;
  x->connects = connects;
  x->proxy_status = connect_code;
  x->total_time = total;
  free(x->url);
  x->url = NULL;
  if (url != NULL) {
    size_t n = strlen(url) + 1;
    x->url = (char *)malloc(n); /* NULL on failure: info() then has no url */
    if (x->url != NULL) memcpy(x->url, url, n);
  }
  /* The list must outlive the transfer only; drop it now (and the handle's pointer to it). */
  curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
  curl_slist_free_all(x->req_headers);
  x->req_headers = NULL;
  if (code != CURLE_OK) { /* a failed transfer has no body; release a partial one */
    ad_strbuf_free(&x->body);
    ad_strbuf_free(&x->headers);
  }
}

/* ---- results ------------------------------------------------------------------------------- */

const char *ad_http_error_kind(CURLcode code, long proxy_status) {
  /* A tunnel the proxy refused (403 from an ACL, 407 without credentials, 502 when it could not
   * reach the API) fails with CURLE_RECV_ERROR or CURLE_COULDNT_CONNECT: it is the proxy's
   * answer, not the API's and not a network failure. */
  if (proxy_status >= 300) return "proxy";
  switch (code) {
    case CURLE_COULDNT_RESOLVE_PROXY:
#if LIBCURL_VERSION_NUM >= 0x074900
    case CURLE_PROXY: /* a SOCKS or HTTPS-proxy handshake failed (7.73+) */
#endif
      return "proxy";
    case CURLE_OPERATION_TIMEDOUT:
      return "timeout";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION: /* also CURLE_SSL_CACERT, merged in 7.62 */
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_USE_SSL_FAILED:
#if LIBCURL_VERSION_NUM >= 0x074d00
    case CURLE_SSL_CLIENTCERT:
#endif
      return "tls";
    default:
      return "network";
  }
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* Pushes the trimmed bytes [p, e). */
static void push_trimmed(lua_State *L, const char *p, const char *e) {
  while (p < e && is_space(*p)) p++;
  while (e > p && is_space(e[-1])) e--;
  lua_pushlstring(L, p, (size_t)(e - p));
}

/*
 * Pushes a table of the final response's headers: lower-case name -> trimmed value, the last
 * line of a name wins. Names are lower-cased in place (the buffer is ours; doing it twice is
 * harmless). Status lines, blank lines and lines without a colon are skipped; an obsolete
 * folded line (leading SP/HT) continues the previous header's value.
 */
static void push_headers(lua_State *L, ad_strbuf *h) {
  char *p = h->data, *end = h->data + h->len;
  char *last = NULL;
  size_t last_len = 0;
  int t;
  lua_newtable(L);
  t = lua_gettop(L);
  while (p != NULL && p < end) {
    char *eol = (char *)memchr(p, '\n', (size_t)(end - p));
    char *line_end = eol != NULL ? eol : end;
    char *next = eol != NULL ? eol + 1 : end;
    char *colon;
    if (line_end > p && line_end[-1] == '\r') line_end--;
    if (line_end == p || (line_end - p >= 5 && memcmp(p, "HTTP/", 5) == 0)) {
      last = NULL;
    } else if (*p == ' ' || *p == '\t') {
      if (last != NULL) {
        lua_pushlstring(L, last, last_len);
        lua_pushvalue(L, -1);
        lua_rawget(L, t);
        lua_pushliteral(L, " ");
        push_trimmed(L, p, line_end);
        lua_concat(L, 3);
        lua_rawset(L, t);
      }
    } else if ((colon = (char *)memchr(p, ':', (size_t)(line_end - p))) != NULL) {
      char *q, *name_end = colon;
      while (name_end > p && is_space(name_end[-1])) name_end--;
      for (q = p; q < name_end; q++)
        if (*q >= 'A' && *q <= 'Z') *q = (char)(*q - 'A' + 'a');
      if (name_end > p) {
        lua_pushlstring(L, p, (size_t)(name_end - p));
        push_trimmed(L, colon + 1, line_end);
        lua_rawset(L, t);
        last = p;
        last_len = (size_t)(name_end - p);
      } else {
        last = NULL;
      }
    } else {
      last = NULL;
    }
    p = next;
  }
}

int ad_xfer_push_result(lua_State *L, ad_xfer *x) {
  int n = ad_xfer_push_status(L, x);
  if (n != 1) return n; /* a failure: nil, kind, message, curl_code, proxy_status */
  push_headers(L, &x->headers);
  return 2;
}

int ad_xfer_push_headers(lua_State *L, ad_xfer *x) {
  push_headers(L, &x->headers);
  return 1;
}

int ad_xfer_push_status(lua_State *L, ad_xfer *x) {
  if (x->oom) return luaL_error(L, "not enough memory");
  if (x->code == CURLE_OK) {
    lua_pushinteger(L, (lua_Integer)x->status);
    return 1;
  }
  lua_pushnil(L);
  lua_pushstring(L, ad_http_error_kind(x->code, x->proxy_status));
  /* Only libcurl's own text (and our limits): never anything taken from the request headers. */
  if (x->overflow != OVERFLOW_NONE) {
    char msg[96];
    if (x->overflow == OVERFLOW_BODY)
      snprintf(msg, sizeof msg, "response body larger than %zu bytes", x->max_body);
    else
      snprintf(msg, sizeof msg, "response headers larger than %zu bytes", MAX_HEADER_BYTES);
    lua_pushstring(L, msg);
  } else if (x->errbuf[0] != '\0') {
    lua_pushstring(L, x->errbuf);
  } else {
    lua_pushstring(L, curl_easy_strerror(x->code));
  }
  lua_pushinteger(L, (lua_Integer)x->code);
  if (x->proxy_status >= 300)
    lua_pushinteger(L, (lua_Integer)x->proxy_status);
  else
    lua_pushnil(L);
  return 5;
}

/* Decodes the body with core.decode's options (read, and misuse raised, by the decoder's own
 * ad_decode_checkopts, so s:decode(opts) and core.decode(s, opts) agree exactly). */
int ad_xfer_push_decode(lua_State *L, ad_xfer *x, int opts_idx) {
  ad_decode_opts opts;
  ad_decode_checkopts(L, opts_idx, &opts); /* pushes the null value and the fields set */
  return ad_decode(L, x->body.data != NULL ? x->body.data : "", x->body.len, &opts);
}

int ad_xfer_push_body(lua_State *L, const ad_xfer *x) {
  lua_pushlstring(L, x->body.data != NULL ? x->body.data : "", x->body.len);
  return 1;
}

int ad_xfer_push_info(lua_State *L, const ad_xfer *x, long connects) {
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, (lua_Integer)connects);
  lua_setfield(L, -2, "connects");
  lua_pushnumber(L, (lua_Number)x->total_time);
  lua_setfield(L, -2, "total_time");
  if (x->url != NULL) {
    lua_pushstring(L, x->url);
    lua_setfield(L, -2, "url");
  }
  return 1;
}
