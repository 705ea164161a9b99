/*
 * libFuzzer target: every number ad_decode makes is the one strtod makes. Built and run by
 * fuzz/run.
 *
 * An input is turned into a JSON number token (so that nearly every input is a valid number):
 * the first byte picks the sign, whether there is an integer part other than 0, a fraction, an
 * exponent and its sign and letter; the rest is a program of digits, one part after another
 * (bytes 250..255 end a part): a byte below 200 is the digit byte % 10, 200..229 a run of
 * (byte - 199) * 8 zeros, 230..249 a run of (byte - 229) * 8 nines. So long runs of zeros
 * before or after the point, 17-20 digit significands and exponents of any length all come up.
 * A first byte of 'R' instead takes the rest of the input as the token itself.
 *
 * The token is decoded alone and as the element of an array, in a Lua 5.4 state. Checked:
 *   - a generated token always decodes (it is valid JSON), the same way both times;
 *   - an integer result (a token without fraction or exponent that fits 64 bits) is strtoll's;
 *   - a float result has exactly the bits of strtod's double (signed zeros, infinities too).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_TOKEN (1u << 20)

typedef struct {
  char *s;
  size_t len, cap;
} Buf;

static void put(Buf *b, char c) {
  if (b->len + 1 >= b->cap) {
    b->cap = b->cap ? b->cap * 2 : 256;
    b->s = (char *)realloc(b->s, b->cap);
    if (b->s == NULL) abort();
  }
  b->s[b->len++] = c;
  b->s[b->len] = '\0';
}

/* Appends the digits of one part from the program at *pp; returns how many. */
static size_t digits(Buf *b, const uint8_t **pp, const uint8_t *end) {
  size_t n = 0;
  while (*pp < end && b->len < MAX_TOKEN) {
    unsigned c = *(*pp)++;
    if (c >= 250) break;
    if (c < 200) {
      put(b, (char)('0' + c % 10));
      n++;
    } else {
      unsigned k = (c < 230 ? c - 199 : c - 229) * 8;
      char d = c < 230 ? '0' : '9';
      while (k-- > 0) {
        put(b, d);
        n++;
      }
    }
  }
  return n;
}

/* The token for an input, NUL-terminated in b; returns 1 when it is valid JSON by construction. */
static int make_token(const uint8_t *data, size_t size, Buf *b) {
  const uint8_t *p = data + 1, *end = data + size;
  unsigned flags;
  size_t start;
  b->len = 0;
  put(b, '\0');
  b->len = 0;
  if (size == 0) return 0;
  flags = data[0];
  if (flags == 'R') {
    while (p < end && b->len < MAX_TOKEN) put(b, (char)*p++);
    return 0;
  }
  if (flags & 1) put(b, '-');
  start = b->len;
  if ((flags & 6) == 0 || digits(b, &p, end) == 0) {
    b->len = start;
    put(b, '0');
  } else if (b->s[start] == '0' && b->len - start > 1) {
    b->s[start] = '1'; /* no leading zeros */
  }
  if (flags & 8) {
    put(b, '.');
    if (digits(b, &p, end) == 0) put(b, '0');
  }
  if (flags & 16) {
    put(b, (flags & 128) ? 'E' : 'e');
    if (flags & 32)
      put(b, '-');
    else if (flags & 64)
      put(b, '+');
    if (digits(b, &p, end) == 0) put(b, '0');
  }
  return 1;
}

static void check(int cond, const char *what, const char *token) {
  if (!cond) {
    fprintf(stderr, "number_fuzz: %s for token (%zu bytes) %.200s\n", what, strlen(token), token);
    abort();
  }
}

/* The number at the stack top against strtoll / strtod of token. */
static void compare_token(lua_State *L, const char *token) {
  check(lua_type(L, -1) == LUA_TNUMBER, "a number", token);
  if (lua_isinteger(L, -1)) {
    long long want;
    char *endp;
    check(strpbrk(token, ".eE") == NULL, "an integer only for an integer token", token);
    errno = 0;
    want = strtoll(token, &endp, 10);
    check(errno == 0 && *endp == '\0', "an integer only when it fits 64 bits", token);
    check((long long)lua_tointeger(L, -1) == want, "strtoll's integer", token);
  } else {
    double got = (double)lua_tonumber(L, -1), want = strtod(token, NULL);
    check(memcmp(&got, &want, sizeof got) == 0, "strtod's double", token);
  }
}

/* The value at the stack top against the C library's reading of text (a token, perhaps with
 * JSON whitespace around it). */
static void compare(lua_State *L, const char *text) {
  char token[64], *copy = NULL;
  const char *b = text, *e;
  size_t n;
  while (*b == ' ' || *b == '\t' || *b == '\n' || *b == '\r') b++;
  e = b + strlen(b);
  while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r')) e--;
  n = (size_t)(e - b);
  if (n < sizeof token) {
    memcpy(token, b, n);
    token[n] = '\0';
  } else {
    copy = (char *)malloc(n + 1);
    if (copy == NULL) abort();
    memcpy(copy, b, n);
    copy[n] = '\0';
  }
  compare_token(L, copy ? copy : token);
  free(copy);
}

typedef struct {
  const char *s;
  size_t len;
} Text;

static int run_decode(lua_State *L) {
  const Text *t = (const Text *)lua_touserdata(L, 1);
  return ad_decode(L, t->s, t->len, NULL);
}

/* Decodes text in protected mode; returns the number of results (1 or 2) left on the stack. */
static int decode(lua_State *L, const char *s, size_t len) {
  Text t;
  int top = lua_gettop(L);
  t.s = s;
  t.len = len;
  lua_pushcfunction(L, run_decode);
  lua_pushlightuserdata(L, &t);
  if (lua_pcall(L, 1, LUA_MULTRET, 0) != LUA_OK) {
    fprintf(stderr, "number_fuzz: decode raised: %s\n", lua_tostring(L, -1));
    abort();
  }
  return lua_gettop(L) - top;
}

typedef struct {
  lua_State *L;
  Buf token, array;
} Fuzz;

static Fuzz *fuzz_state(void) {
  static Fuzz f; /* a fuzz harness is one process-wide fixture */
  if (f.L == NULL) {
    f.L = luaL_newstate();
    if (f.L == NULL) abort();
    luaL_openlibs(f.L);
  }
  return &f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  Fuzz *f = fuzz_state();
  lua_State *L = f->L;
  int top = lua_gettop(L), valid, n;
  size_t i;

  valid = make_token(data, size, &f->token);
  if (f->token.len == 0) return 0;
  n = decode(L, f->token.s, f->token.len);
  if (n == 2) {
    check(!valid, "a valid token decodes", f->token.s);
    lua_settop(L, top);
    return 0;
  }
  if (lua_type(L, -1) != LUA_TNUMBER) { /* raw text that is some other JSON value */
    check(!valid, "a valid token is a number", f->token.s);
    lua_settop(L, top);
    return 0;
  }
  compare(L, f->token.s);
  lua_settop(L, top);

  /* the same token as an array element */
  f->array.len = 0;
  put(&f->array, '[');
  for (i = 0; i < f->token.len; i++) put(&f->array, f->token.s[i]);
  put(&f->array, ']');
  n = decode(L, f->array.s, f->array.len);
  check(n == 1 && lua_type(L, -1) == LUA_TTABLE, "the array decodes", f->token.s);
  lua_rawgeti(L, -1, 1);
  compare(L, f->token.s);
  lua_settop(L, top);
  if (f->token.len > 4096) lua_gc(L, LUA_GCCOLLECT, 0);
  return 0;
}
