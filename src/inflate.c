/*
 * core.inflate(data, encoding, max_bytes) -> string | nil, message
 *
 *   encoding   "gzip" (RFC 1952) or "deflate" (HTTP's deflate: zlib-wrapped, RFC 1950; raw
 *              RFC 1951 deflate is accepted too, as some servers send it and as libcurl does)
 *   max_bytes  the most the result may hold: beyond it the result is an error, so a small body
 *              cannot expand into all the memory there is
 *
 * Malformed, truncated or over-long data, or bytes after the end of the compressed stream, give
 * nil and a message (never a partial result). Misuse raises. zlib's state and the output buffer
 * are owned by a userdata whose __gc releases them, so a Lua memory error raised on the way leaks
 * nothing.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#define ZLIB_CONST /* next_in is const: zlib never writes its input */
#include <zlib.h>

#include "compat.h"
#include "inflate.h"
#include "strbuf.h"

#define INFLATER_MT "acedata.inflater"
#define CHUNK 16384
#define MAX_OUT (((size_t)-1) >> 1) /* a limit beyond any memory there is */

typedef struct {
  z_stream z;
  int live; /* inflateInit2 done, inflateEnd not yet */
  ad_strbuf out;
} Inflater;

static void inflater_end(Inflater *f) {
  if (f->live) {
    inflateEnd(&f->z);
    f->live = 0;
  }
}

static int inflater_gc(lua_State *L) {
  Inflater *f = (Inflater *)luaL_checkudata(L, 1, INFLATER_MT);
  inflater_end(f);
  ad_strbuf_free(&f->out);
  return 0;
}

/* One pass over in[0..n) with zlib's windowBits wb. NULL on success (f->out holds the result),
 * else what went wrong; *bad_header is set when the data is rejected before any output. */
static const char *run(Inflater *f, const unsigned char *in, size_t n, int wb, size_t max,
                       int *bad_header) {
  unsigned char chunk[CHUNK];
  *bad_header = 0;
  ad_strbuf_clear(&f->out);
  memset(&f->z, 0, sizeof f->z);
  if (inflateInit2(&f->z, wb) != Z_OK) return "out of memory";
  f->live = 1;
  f->z.next_in = in;
  f->z.avail_in = (uInt)n;
  for (;;) {
    size_t produced;
    int rc;
    f->z.next_out = chunk;
    f->z.avail_out = CHUNK;
    rc = inflate(&f->z, Z_NO_FLUSH);
    produced = CHUNK - f->z.avail_out;
    if (rc == Z_NEED_DICT || rc == Z_DATA_ERROR || rc == Z_STREAM_ERROR) {
      *bad_header = f->z.total_out == 0 && f->z.total_in < 16;
      inflater_end(f);
      return "the compressed data is corrupt";
    }
    if (rc == Z_MEM_ERROR) {
      inflater_end(f);
      return "out of memory";
    }
    if (produced > max - f->out.len) {
      inflater_end(f);
      return "too large";
    }
    if (ad_strbuf_append(&f->out, (const char *)chunk, produced) != 0) {
      inflater_end(f);
      return "out of memory";
    }
    if (rc == Z_STREAM_END) break;
    if (f->z.avail_in == 0 && produced == 0) { /* Z_BUF_ERROR: no input left, no progress */
      inflater_end(f);
      return "the compressed data is truncated";
    }
  }
  n = f->z.avail_in;
  inflater_end(f);
  return n == 0 ? NULL : "there are bytes after the end of the compressed data";
}

static int l_inflate(lua_State *L) {
  size_t n, max;
  const unsigned char *in = (const unsigned char *)luaL_checklstring(L, 1, &n);
  const char *enc = luaL_checkstring(L, 2);
  lua_Number maxn = luaL_checknumber(L, 3);
  const char *why;
  int gzip, bad_header;
  Inflater *f;
  if (strcmp(enc, "gzip") == 0)
    gzip = 1;
  else if (strcmp(enc, "deflate") == 0)
    gzip = 0;
  else
    return luaL_argerror(L, 2, "\"gzip\" or \"deflate\" expected");
  if (!(maxn >= 0)) return luaL_argerror(L, 3, "a byte count >= 0 expected");
  max = maxn >= (lua_Number)MAX_OUT ? MAX_OUT : (size_t)maxn;
  if (n > UINT_MAX) {
    lua_pushnil(L);
    lua_pushliteral(L, "compressed body too large (over 4 GiB)");
    return 2;
  }
  f = (Inflater *)lua_newuserdata(L, sizeof *f);
  memset(f, 0, sizeof *f);
  ad_strbuf_init(&f->out);
  luaL_getmetatable(L, INFLATER_MT);
  lua_setmetatable(L, -2);
  why = run(f, in, n, gzip ? 15 + 16 : 15, max, &bad_header);
  if (why != NULL && !gzip && bad_header) why = run(f, in, n, -15, max, &bad_header); /* raw */
  if (why != NULL) {
    lua_pushnil(L);
    if (strcmp(why, "too large") == 0) {
      char msg[96];
      snprintf(msg, sizeof msg, "%s body larger than %lu bytes once decompressed", enc,
               (unsigned long)max);
      lua_pushstring(L, msg);
    } else {
      lua_pushfstring(L, "%s body: %s", enc, why);
    }
    return 2;
  }
  lua_pushlstring(L, f->out.data != NULL ? f->out.data : "", f->out.len);
  ad_strbuf_free(&f->out); /* now, not at the next collection: it may be big */
  return 1;
}

void ad_inflate_open(lua_State *L) {
  luaL_newmetatable(L, INFLATER_MT);
  lua_pushcfunction(L, inflater_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  lua_pushcfunction(L, l_inflate);
  lua_setfield(L, -2, "inflate");
}
