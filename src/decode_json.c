/*
 * The JSON parser behind ad_decode: RFC 8259 strict, bytes straight to Lua values.
 *
 * Decisions (also the documented behaviour of core.decode):
 *  - Strings must be valid UTF-8 (no overlongs, no UTF-8-encoded surrogates, nothing above
 *    U+10FFFF); anything else is "invalid UTF-8 at byte N". A \u escape of a UTF-16 surrogate
 *    must be a high surrogate immediately followed by a \u low surrogate (-> one 4-byte UTF-8
 *    sequence); a lone surrogate is "unpaired UTF-16 surrogate at byte N". So every decoded
 *    string is valid UTF-8. \u0000 gives a NUL byte (Lua strings are 8-bit clean).
 *  - Numbers: on Lua 5.3+ an integer token that fits lua_Integer becomes an integer, one that
 *    does not becomes the correctly rounded float; a token with fraction or exponent is a float
 *    (correctly rounded, as strtod). "-0" is the float -0.0 (keeps the sign, like "-0.0").
 *    Out-of-range exponents give +-inf or +-0.0, as strtod. On 5.1/5.2/LuaJIT every number is a
 *    lua_Number (double), correctly rounded.
 *  - A byte-order mark is not whitespace: it is rejected like any other stray byte.
 *  - With opts->fields_index (a set of names), the objects that are elements of an array held by
 *    the top-level object (the records of an API page: {"count":..,"items":[{record},..]}) keep
 *    only the keys in the set. The other values are still checked exactly as if they were
 *    decoded (same errors, same offsets), only no Lua value is made for them.
 *
 * Speed: the cost of decoding is creating tables and strings, so the parser does little else
 * (docs/decoder.md has the measurements):
 *  - one loop with an explicit frame stack (no recursion, no indirect calls);
 *  - keys are interned once per decode in a two-way cache whose strings live in a Lua table, so
 *    a repeated key is an inline compare and a lua_rawgeti instead of lua_pushlstring's hashing;
 *    and each key is first compared with the one expected (the key that followed the previous
 *    key the last time), which saves the scan for its quote and the hash as well;
 *  - every table is made at its final size: values wait on the Lua stack until their container
 *    closes (arrays up to 32 elements, objects up to 32 pairs; longer ones get their table then
 *    and grow as Lua grows them), except objects in a place where the last two had the same
 *    size (a page's records), which are made at that size at once and filled directly;
 *  - strings, whitespace and UTF-8 are checked 16 bytes at a time (SSE2, x86-64), 8 bytes at a
 *    time elsewhere; strings without escapes are pushed from the input, escaped ones decoded
 *    into scratch memory while they are copied;
 *  - numbers: digits 8 at a time; integers exactly; decimals with up to 19 significant digits by
 *    Clinger's fast path or Eisel-Lemire (decode_number.c), both exact; strtod for the rest.
 *
 * Memory: frames (up to 32 deep; deeper documents move them to a userdata that doubles as they
 * nest) and the key cache are on the C stack; heap scratch (long escaped strings, long number
 * tokens, the key table, deep frames) is Lua objects in reserved stack slots, sized to the need.
 * A memory error raised by the Lua API therefore unwinds without leaking anything.
 */
#include <float.h>
#include <limits.h>
#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "decode.h"
#include "decode_number.h"
#include "decode_tune.h"

#define MAX_DEPTH 1000
#define FRAMES_MAX 1001 /* MAX_DEPTH + 1: the most frames a document needs */
#if FRAMES_MAX != MAX_DEPTH + 1
#error "FRAMES_MAX must be MAX_DEPTH + 1"
#endif
#if KC_POOL > 32767 || KC_SLOTS > 256
#error "KeyEnt.parent holds an entry index in 16 bits, kowner a slot in 8"
#endif

#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define AD_SWAR_CTZ 1
#else
#define AD_SWAR_CTZ 0
#endif

/* SSE2 is part of every x86-64: strings are scanned 16 bytes at a time there. */
#if AD_SWAR_CTZ && defined(__SSE2__)
#define AD_SSE2 1
#include <emmintrin.h>
#else
#define AD_SSE2 0
#endif

#if defined(__GNUC__)
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#else
#define likely(x) (x)
#define unlikely(x) (x)
#endif

#if defined(__GNUC__)
#define AD_INLINE static inline __attribute__((always_inline))
#else
#define AD_INLINE static inline
#endif

typedef const unsigned char *cptr;

enum { F_TOP, F_OBJ, F_ARR };

/* The objects seen in one place (as the value of one key, or the elements of one array). */
typedef struct {
  unsigned last;        /* its size, UINT_MAX before any */
  int16_t first;        /* the cache entry of the last one's first key (-1: none) */
  unsigned char stable; /* the last two had the same size */
} Hint;

/* A place with no object seen yet. */
static void hint_reset(Hint *h) {
  h->last = UINT_MAX;
  h->first = -1;
  h->stable = 0;
}

/* One interned key: its bytes (owned by the Lua string at index idx of the key table), the
 * object it was last seen in, the objects seen as its value (in one kind of parent: "entities"
 * of a tweet and of its user differ), and whether a record keeps it (-1: not looked up yet;
 * see opts->fields_index). */
typedef struct {
  const char *s;
  int idx;       /* index in the key table */
  unsigned seen; /* id of the object it was last a key of */
  Hint obj;
  uint16_t len;   /* longer keys are not cached */
  int16_t parent; /* obj is for objects in an object opened under this key's entry (-1: none) */
  int16_t next;   /* the entry of the key that came after it the last time (-1: none) */
  signed char keep;
} KeyEnt;

#if VC_SLOTS
/* One cached string value (in the key table at idx) and the hash of the last one missed in
 * this slot (a string is cached when it comes a second time). */
typedef struct {
  const char *s;
  uint32_t len;
  int idx;
} VEnt;

/* One cached long string (in the key table at idx). Lua 5.2+ makes a new copy of a string
 * longer than 40 bytes every time it is pushed (5.1 and LuaJIT intern every string), so a
 * value that repeats (a URL, a client name, a description) is pushed from here instead: the
 * document's tables share one copy, as they share a short string. A string is kept from its
 * second sighting (ghost: the hash of the last one missed in the slot); of the two slots it
 * may take, it replaces the one used less. */
typedef struct {
  const char *s;
  size_t len;
  int idx;
  unsigned uses;
} LEnt;
#endif

/* One open container. Its values wait on the Lua stack from slot base (0 once its table
 * exists) and the table is made at its final size when it closes, so no table is rehashed or
 * over-allocated (sibling arrays and nested objects vary in size); a long one gets its table
 * early and grows it as Lua does. An object whose place had two of the same size in a row (the
 * records of a page) is made at that size at once and filled directly. */
typedef struct {
  Hint *hint;  /* objects: the place it is in (NULL for none) */
  Hint child;  /* arrays: their object elements */
  unsigned n;  /* pairs / elements so far */
  unsigned id; /* objects: a number of its own, for KeyEnt.seen */
  int keyslot; /* objects: the slot of the key it is the value of, -1 for none */
  int base;
  int16_t lastkey;      /* objects: the entry of its last key; -1 before the first, -2 unknown */
  unsigned char kind;   /* F_TOP, F_OBJ, F_ARR */
  unsigned char filter; /* objects: a record whose keys are filtered by opts->fields_index */
  unsigned char dup;    /* objects: a key may repeat (then the pairs are set in order) */
} Frame;

typedef struct {
  lua_State *L;
  cptr start, end;
  const char *err; /* static message of the first error */
  cptr errpos;
  int scratch_slot; /* stack slot of the scratch userdata (nil until needed) */
  char *scratch;    /* the scratch memory, NULL when none is held */
  size_t scratch_cap;
  int kc_tab;       /* stack slot of the key table: the cached keys' strings */
  int kc_count;     /* indices of the key table in use */
  int fields_index; /* stack slot of the set of record keys to keep, 0 for all */
  int stack_top;    /* the stack top when parsing starts (everything above is values) */
  int frames_slot;  /* stack slot of the userdata holding the frames of a deep document */
  Frame *frames;    /* the open containers, frames[1..depth] */
  int frames_cap;   /* how many frames fit there */
  int depth;
  unsigned obj_id; /* the last object id given */
  /* The caches are hash tables of small indices (kslot: 0 for an empty slot, else 1 + the
   * entry's index) into smaller pools of entries, taken in order as slots are first filled:
   * this struct lives on the C stack, and every page of its size is a page deeper that the
   * functions it calls touch (a one-page difference in a decode's peak RSS, measured). */
  int kc_n;
  unsigned kc_clock; /* the next entry a new key takes once the pool is spent */
  uint16_t kslot[KC_SLOTS];
  unsigned char kowner[KC_POOL]; /* the slot of each entry */
  KeyEnt kc[KC_POOL];
#if VC_SLOTS
  int vc_n, lc_n;
  uint16_t vslot[VC_SLOTS];
  uint32_t vghost[VC_SLOTS]; /* the hash of the last value missed in the slot */
  VEnt vc[VC_POOL];
  int lc_ready; /* lslot and lghost are cleared at the first long string of a document */
  uint16_t lslot[LC_SLOTS];
  uint32_t lghost[LC_SLOTS];
  LEnt lc[LC_POOL];
#endif
  char small[SMALL_BUF];
} D;

static cptr fail(D *d, cptr at, const char *what) {
  d->err = what;
  d->errpos = at;
  return NULL;
}

/*
 * Scratch memory (escaped strings and number tokens longer than SMALL_BUF) is a userdata in
 * d->scratch_slot, sized to the longest string so far (grown by at least half; the one it
 * replaces is left to the collector). Lua owns it, so nothing is lost whatever unwinds. It came
 * from the state's allocator once, freed by a userdata's __gc on an error, but Lua cannot call a
 * finalizer when memory is short (the call itself needs memory), and the fuzzer found such
 * blocks lost. Pushes and pops one value.
 */
static void scratch_grow(D *d, size_t cap) {
  char *p = (char *)lua_newuserdata(d->L, cap);
  if (d->scratch != NULL) memcpy(p, d->scratch, d->scratch_cap);
  lua_replace(d->L, d->scratch_slot);
  d->scratch = p;
  d->scratch_cap = cap;
}

/* The capacity to grow scratch memory of cap bytes to for n bytes: n, or half as much again as
 * it has when that is more (a run of ever longer strings grows it a few times, not each time). */
static size_t scratch_size(size_t cap, size_t n) {
  size_t grown = cap + cap / 2;
  return grown > n ? grown : n;
}

/* Returns scratch memory of at least n bytes; it lives until the next call. */
static char *scratch(D *d, size_t n) {
  if (n <= SMALL_BUF) return d->small;
  if (n > d->scratch_cap) scratch_grow(d, scratch_size(d->scratch_cap, n));
  return d->scratch;
}

/* ------------------------------------------------------------------------------------------- */
/* Strings */

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* Length of the UTF-8 sequence starting at p (first byte >= 0x80), 0 if invalid or truncated. */
static size_t utf8_seq(cptr p, cptr end) {
  unsigned c = p[0];
  size_t avail = (size_t)(end - p);
  unsigned lo = 0x80, hi = 0xBF;
  size_t n, i;
  if (c >= 0xC2 && c <= 0xDF)
    n = 2;
  else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0)
      lo = 0xA0; /* overlong */
    else if (c == 0xED)
      hi = 0x9F; /* UTF-16 surrogates */
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0)
      lo = 0x90; /* overlong */
    else if (c == 0xF4)
      hi = 0x8F; /* above U+10FFFF */
  } else
    return 0;
  if (avail < n) return 0;
  if (p[1] < lo || p[1] > hi) return 0;
  for (i = 2; i < n; i++)
    if ((p[i] & 0xC0) != 0x80) return 0;
  return n;
}

/* utf8_seq, with the sequences checked inline from one load where 4 bytes are readable. */
AD_INLINE size_t utf8_len(cptr p, cptr end) {
#if AD_SWAR_CTZ
  if (end - p >= 4) {
    unsigned c = p[0];
    uint32_t w;
    memcpy(&w, p, 4);
    if ((w & 0xC0E0u) == 0x80C0u && c >= 0xC2) return 2;
    if ((w & 0xC0C0F0u) == 0x8080E0u && !(c == 0xE0 && p[1] < 0xA0) && !(c == 0xED && p[1] > 0x9F))
      return 3;
    if ((w & 0xC0C0C0F8u) == 0x808080F0u && c <= 0xF4 && !(c == 0xF0 && p[1] < 0x90) &&
        !(c == 0xF4 && p[1] > 0x8F))
      return 4;
  }
#endif
  return utf8_seq(p, end);
}

#if AD_SSE2
/* The masks of a 16-byte chunk: *special has bit i set for '"', '\\' and control bytes, the
 * result for bytes >= 0x80. */
AD_INLINE unsigned chunk_masks(__m128i v, unsigned *special) {
  __m128i sp =
      _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
  sp = _mm_or_si128(sp, _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1F)), v)); /* v <= 0x1F */
  *special = (unsigned)_mm_movemask_epi8(sp);
  return (unsigned)_mm_movemask_epi8(v);
}

/*
 * Validates the UTF-8 sequences of the chunk at q that come before its first special byte.
 * Returns the offset reached: that of the first special byte (< 16), or 16..19 when the chunk
 * has none (its last sequence may end beyond it); -1 - offset of an invalid sequence. (A valid
 * sequence never runs into a special byte: those are not continuation bytes.)
 */
AD_INLINE int chunk_utf8(cptr q, cptr end, unsigned special, unsigned high) {
  unsigned stop = special ? (unsigned)__builtin_ctz(special) : 16;
  unsigned i = (unsigned)__builtin_ctz(high); /* high != 0 */
  while (i < stop) {
    size_t n = utf8_len(q + i, end);
    unsigned rest;
    if (n == 0) return -1 - (int)i;
    i += (unsigned)n;
    if (i >= 16) break;
    rest = high & (~0u << i);
    i = rest ? (unsigned)__builtin_ctz(rest) : 16;
  }
  if (stop < 16) return (int)stop;
  return (int)(i > 16 ? i : 16);
}

/* The bit per byte of v that is (v & and_mask) == eq. */
AD_INLINE unsigned bytes_eq(__m128i v, int and_mask, int eq) {
  return (unsigned)_mm_movemask_epi8(
      _mm_cmpeq_epi8(_mm_and_si128(v, _mm_set1_epi8((char)and_mask)), _mm_set1_epi8((char)eq)));
}

/*
 * chunk_utf8 without a loop over the sequences, from bit masks of the byte classes: every lead
 * before the first special byte must be followed by exactly its continuation bytes, and no
 * other byte may be one. Returns the offset of the first special byte (< 16) when everything
 * before it is valid; with no special byte, 16, or the offset of a last sequence that runs past
 * the chunk (13..15: it is checked with the next chunk); -1 when it cannot tell (an error, or a
 * lead whose second byte is restricted: E0, ED, F0, F4), and chunk_utf8 must decide.
 */
AD_INLINE int chunk_utf8_fast(__m128i v, unsigned special, unsigned high) {
  unsigned stop = special ? (unsigned)__builtin_ctz(special) : 16, range;
  unsigned cont = bytes_eq(v, 0xC0, 0x80), l2 = bytes_eq(v, 0xE0, 0xC0);
  unsigned l3 = bytes_eq(v, 0xF0, 0xE0), l4 = bytes_eq(v, 0xF8, 0xF0), leads, want;
  if (stop == 16 && (((l2 << 1) | (l3 << 2) | (l4 << 3)) >> 16)) /* the last runs past */
    stop = 31u - (unsigned)__builtin_clz(l2 | l3 | l4);
  range = (1u << stop) - 1;
  l2 &= range;
  l3 &= range;
  l4 &= range;
  leads = l2 | l3 | l4;
  want = (l2 << 1) | (l3 << 1) | (l3 << 2) | (l4 << 1) | (l4 << 2) | (l4 << 3);
  if (want != (cont & range) || (want & leads) || (high & range) != (leads | want)) return -1;
  /* C0, C1 (overlong) and F5..FF are never valid; E0, ED, F0, F4 restrict the next byte */
  if (leads &
      (bytes_eq(v, 0xFE, 0xC0) |
       (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8((char)0xF5)), v)) |
       (unsigned)_mm_movemask_epi8(
           _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8((char)0xE0)),
                                     _mm_cmpeq_epi8(v, _mm_set1_epi8((char)0xED))),
                        _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8((char)0xF0)),
                                     _mm_cmpeq_epi8(v, _mm_set1_epi8((char)0xF4)))))))
    return -1;
  return (int)stop;
}
#endif

/*
 * Scans string content from p to the first '"' or '\\' and returns a pointer to it, validating
 * UTF-8 and rejecting control characters on the way. NULL on error (d->err set).
 */
static cptr scan_string(D *d, cptr p) {
  cptr end = d->end;
  for (;;) {
#if AD_SSE2
    while (end - p >= 16) {
      __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
      unsigned special, high = chunk_masks(v, &special);
      int k;
      if (!(special | high)) {
        p += 16;
        continue;
      }
      if (!high) {
        p += __builtin_ctz(special);
        goto bytes;
      }
      k = chunk_utf8_fast(v, special, high);
      if (k < 0) {
        k = chunk_utf8(p, end, special, high);
        if (k < 0) return fail(d, p + (-1 - k), "invalid UTF-8");
      }
      p += k;
      if (special && (unsigned)k == (unsigned)__builtin_ctz(special)) goto bytes;
    }
#endif
    while (end - p >= 8) {
      uint64_t w, x, y, t;
      memcpy(&w, p, 8);
      x = w ^ (ONES * '"');
      y = w ^ (ONES * '\\');
      /* A flag in each byte that is '"', '\\', < 0x20 or >= 0x80; flags above the first real one
       * may be spurious (borrows), the lowest one is exact. */
      t = (((x - ONES) & ~x) | ((y - ONES) & ~y) | ((w - ONES * 0x20) & ~w) | w) & HIGHS;
      if (t) {
#if AD_SWAR_CTZ
        p += (unsigned)__builtin_ctzll(t) >> 3;
#endif
        break;
      }
      p += 8;
    }
#if AD_SSE2
  bytes:
#endif
    for (;;) {
      unsigned c;
      if (unlikely(p >= end)) return fail(d, end, "unexpected end of input");
      c = *p;
      if (c == '"' || c == '\\') return p;
      if (c < 0x20) return fail(d, p, "control character in string");
      if (c < 0x80) {
        p++;
      } else {
        size_t n = utf8_len(p, end);
        if (n == 0) return fail(d, p, "invalid UTF-8");
        p += n;
        /* stay here through a run of non-ASCII text; ASCII goes back to the 8-byte loop */
        if (p < end && *p < 0x80 && *p != '"' && *p != '\\') break;
      }
    }
  }
}

/* scan_string for short strings (keys, most values): the first 16 bytes inline. */
AD_INLINE cptr scan_string_short(D *d, cptr p) {
#if AD_SSE2
  if (d->end - p >= 16) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i hit = _mm_or_si128(
        _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
        _mm_cmplt_epi8(v, _mm_set1_epi8(' ')));
    int mask = _mm_movemask_epi8(hit);
    if (mask) {
      p += __builtin_ctz((unsigned)mask); /* all ASCII before it */
      if (likely(*p == '"')) return p;
    } else {
      p += 16;
    }
  }
#endif
  return scan_string(d, p);
}

/* 1 + the value of each hex digit; 0 for every other byte. */
static const unsigned char hex1[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,  ['7'] = 8,
    ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
    ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

/* The 4 hex digits at p (p + 4 <= end checked by caller), or -1. */
AD_INLINE long hex4(cptr p) {
  long a = (long)hex1[p[0]] - 1, b = (long)hex1[p[1]] - 1, c = (long)hex1[p[2]] - 1,
       e = (long)hex1[p[3]] - 1;
  if ((a | b | c | e) < 0) return -1; /* one test: a non-digit is -1 */
  return (a << 12) | (b << 8) | (c << 4) | e;
}

static char *put_utf8(char *o, unsigned long cp) {
  if (cp < 0x80) {
    *o++ = (char)cp;
  } else if (cp < 0x800) {
    *o++ = (char)(0xC0 | (cp >> 6));
    *o++ = (char)(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *o++ = (char)(0xE0 | (cp >> 12));
    *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
    *o++ = (char)(0x80 | (cp & 0x3F));
  } else {
    *o++ = (char)(0xF0 | (cp >> 18));
    *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
    *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
    *o++ = (char)(0x80 | (cp & 0x3F));
  }
  return o;
}

/* What the one-character escapes \" \\ \/ \b \f \n \r \t stand for; 0: not one of them. */
static const unsigned char escape_char[256] = {
    ['"'] = '"',  ['\\'] = '\\', ['/'] = '/',  ['b'] = '\b',
    ['f'] = '\f', ['n'] = '\n',  ['r'] = '\r', ['t'] = '\t',
};

/*
 * The output of an escaped string. Decoded text is never longer than the raw text it comes from,
 * so the output starts in whatever scratch memory is at hand and only a string that may not fit
 * is measured (its raw end found) and given room for all of it, once.
 */
typedef struct {
  char *buf, *o, *lim; /* start, next byte, end of the memory */
} Out;

/* Room for the rest of the string from q (not inside an escape): at least OUT_SLACK beyond its
 * raw length. */
static void out_grow(D *d, Out *out, cptr q) {
  cptr end = d->end, r = q;
  size_t used = (size_t)(out->o - out->buf), need;
  int from_small = out->buf == d->small;
  char *b;
  for (;;) { /* the first quote not escaped by an odd run of backslashes */
    cptr k;
    r = (cptr)memchr(r, '"', (size_t)(end - r));
    if (r == NULL) {
      r = end;
      break;
    }
    for (k = r; k > q && k[-1] == '\\'; k--) {
    }
    if ((r - k) % 2 == 0) break;
    r++;
  }
  need = used + (size_t)(r - q) + OUT_SLACK;
  if (need > d->scratch_cap) /* keeps what is in the scratch memory */
    scratch_grow(d, scratch_size(d->scratch_cap, need));
  b = d->scratch;
  if (from_small) memcpy(b, d->small, used);
  out->buf = b;
  out->o = b + used;
  out->lim = b + d->scratch_cap;
}

/*
 * Slow path: the string starting at s has an escape at q. Decodes it into scratch memory and
 * pushes it; returns the position after the closing quote, or NULL. The text between escapes
 * is validated as scan_string does and copied 16 bytes at a time (o and lim are locals: stores
 * through a char pointer would otherwise make the compiler reload them from `out`).
 */
#if VC_SLOTS
static void push_long(D *d, const char *p, size_t n);
#endif

/* Pushes the string from s to its closing quote, whose first escape is at q; keep: whether a
 * long one may be kept in the long string cache (not for a string that is skipped). */
static cptr push_escaped(D *d, cptr s, cptr q, int keep) {
  cptr end = d->end;
  Out out;
  char *o, *lim;
  out.buf = d->scratch_cap ? d->scratch : d->small;
  out.o = out.buf;
  out.lim = out.buf + (d->scratch_cap ? d->scratch_cap : SMALL_BUF);
  if ((size_t)(out.lim - out.buf) < (size_t)(q - s) + OUT_SLACK) out_grow(d, &out, s);
  memcpy(out.o, s, (size_t)(q - s));
  o = out.o + (q - s);
  lim = out.lim;
#define GROW(at)             \
  do {                       \
    out.o = o;               \
    out_grow(d, &out, (at)); \
    o = out.o;               \
    lim = out.lim;           \
  } while (0)
  for (;;) {
    unsigned long cp;
    long u;
    unsigned e;
    if (*q == '"') break;
    /* *q == '\\' */
    if (end - q < 2) return fail(d, end, "unexpected end of input");
    if (unlikely(lim - o < 16)) GROW(q);
    e = escape_char[q[1]];
    if (e) {
      *o++ = (char)e;
      q += 2;
    } else if (q[1] == 'u') {
      if (end - q < 6) return fail(d, end, "unexpected end of input");
      u = hex4(q + 2);
      if (u < 0) return fail(d, q, "invalid \\u escape");
      cp = (unsigned long)u;
      if (cp >= 0xD800 && cp <= 0xDFFF) {
        long lo;
        if (cp >= 0xDC00 || end - q < 12 || q[6] != '\\' || q[7] != 'u' ||
            (lo = hex4(q + 8)) < 0xDC00 || lo > 0xDFFF)
          return fail(d, q, "unpaired UTF-16 surrogate");
        cp = 0x10000 + ((cp - 0xD800) << 10) + ((unsigned long)lo - 0xDC00);
        q += 6;
      }
      q += 6;
      o = put_utf8(o, cp);
    } else {
      return fail(d, q, "invalid escape");
    }
    /* the text up to the next '"' or '\\' */
    for (;;) {
      unsigned c;
#if AD_SSE2
      while (end - q >= 16 && lim - o >= 32) { /* a chunk and a sequence beyond it */
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)q);
        unsigned special, high = chunk_masks(v, &special);
        int k;
        _mm_storeu_si128((__m128i *)(void *)o, v);
        if (!(special | high)) {
          q += 16;
          o += 16;
          continue;
        }
        if (!high) {
          k = __builtin_ctz(special);
        } else {
          k = chunk_utf8_fast(v, special, high);
          if (k < 0) {
            k = chunk_utf8(q, end, special, high);
            if (k < 0) return fail(d, q + (-1 - k), "invalid UTF-8");
            if (k > 16) memcpy(o + 16, q + 16, (size_t)k - 16); /* a sequence across the chunk */
          }
        }
        q += k;
        o += k;
        if (special && (unsigned)k == (unsigned)__builtin_ctz(special)) break;
      }
#endif
      if (unlikely(q >= end)) return fail(d, end, "unexpected end of input");
      c = *q;
      if (c == '"' || c == '\\') break;
      if (unlikely(lim - o < 16)) GROW(q);
      if (c < 0x20) return fail(d, q, "control character in string");
      if (c < 0x80) {
        *o++ = (char)c;
        q++;
      } else {
        size_t n = utf8_len(q, end);
        if (n == 0) return fail(d, q, "invalid UTF-8");
        memcpy(o, q, end - q >= 4 ? 4 : n); /* the slack covers the bytes beyond the sequence */
        o += n;
        q += n;
      }
    }
  }
#undef GROW
#if VC_SLOTS
  if (keep && (size_t)(o - out.buf) > VC_MAXLEN) {
    push_long(d, out.buf, (size_t)(o - out.buf));
    return q + 1;
  }
#else
  (void)keep;
#endif
  lua_pushlstring(d->L, out.buf, (size_t)(o - out.buf));
  return q + 1;
}

/* a[0..n) == b[0..n), inline: keys are short and a cache hit compares equal bytes. */
AD_INLINE int same_bytes(const char *a, cptr b, size_t n) {
  uint64_t x, y;
  size_t i;
  if (n < 8) {
    uint32_t u, v;
    if (n < 4) {
      for (i = 0; i < n; i++)
        if ((unsigned char)a[i] != b[i]) return 0;
      return 1;
    }
    memcpy(&u, a, 4); /* the first 4 and the last 4 bytes (overlapping) */
    memcpy(&v, b, 4);
    if (u != v) return 0;
    memcpy(&u, a + n - 4, 4);
    memcpy(&v, b + n - 4, 4);
    return u == v;
  }
  for (i = 0; i + 8 < n; i += 8) {
    memcpy(&x, a + i, 8);
    memcpy(&y, b + i, 8);
    if (x != y) return 0;
  }
  memcpy(&x, a + n - 8, 8); /* the last 8 bytes, overlapping what was already compared */
  memcpy(&y, b + n - 8, 8);
  return x == y;
}

#if VC_SLOTS
/* Pushes the n > VC_MAXLEN bytes at p: the cached copy (see LEnt), else a new string. */
static void push_long(D *d, const char *p, size_t n) {
  uint64_t a, m;
  unsigned h, h2;
  LEnt *e = NULL, *f = NULL;
  if (unlikely(!d->lc_ready)) {
    memset(d->lslot, 0, sizeof d->lslot);
    memset(d->lghost, 0, sizeof d->lghost);
    d->lc_ready = 1;
  }
  memcpy(&m, p + n / 2 - 4, 8); /* the middle 8 bytes beside key_hash's first and last 8 */
  a = key_hash((cptr)p, n) ^ m * UINT64_C(0xC2B2AE3D27D4EB4F);
  h = (unsigned)(a >> (64 - LC_BITS));
  h2 = (unsigned)(a >> (64 - 2 * LC_BITS)) & (LC_SLOTS - 1);
  if (d->lslot[h]) {
    e = &d->lc[d->lslot[h] - 1];
    if (e->len == n && memcmp(e->s, p, n) == 0) {
      e->uses++;
      lua_rawgeti(d->L, d->kc_tab, e->idx);
      return;
    }
  }
  if (d->lslot[h2]) {
    f = &d->lc[d->lslot[h2] - 1];
    if (f->len == n && memcmp(f->s, p, n) == 0) {
      f->uses++;
      lua_rawgeti(d->L, d->kc_tab, f->idx);
      return;
    }
  }
  lua_pushlstring(d->L, p, n);
  if (d->lghost[h] != (uint32_t)a) {
    d->lghost[h] = (uint32_t)a; /* first sighting */
    return;
  }
  if (e == NULL || f == NULL) { /* a free slot takes it, while the pool lasts */
    if (d->lc_n == LC_POOL) return;
    if (e != NULL) h = h2;
    e = &d->lc[d->lc_n];
    d->lslot[h] = (uint16_t)++d->lc_n;
    e->idx = ++d->kc_count;
  } else { /* the slot used less takes it; the other ages */
    if (f->uses < e->uses) {
      LEnt *t = e;
      e = f;
      f = t;
    }
    f->uses /= 2;
  }
  lua_pushvalue(d->L, -1);
  lua_rawseti(d->L, d->kc_tab, e->idx);
  e->s = lua_tostring(d->L, -1); /* stays valid: the string is kept in the key table */
  e->len = n;
  e->uses = 1;
}
#endif

/* Pushes the string whose content starts at p (after the quote). */
static cptr push_string(D *d, cptr p) {
  cptr q = scan_string_short(d, p);
  size_t n;
  if (q == NULL) return NULL;
  if (unlikely(*q != '"')) return push_escaped(d, p, q, 1);
  n = (size_t)(q - p);
#if VC_SLOTS
  if (n > VC_MAXLEN) {
    push_long(d, (const char *)p, n);
    return q + 1;
  }
  {
    /* Lua 5.2+ hashes every byte of a short string to intern it; values repeat in the records
     * of a page (the same user, application, model), so those are cached like keys, from their
     * second sighting (a unique id must not evict them) */
    uint64_t a = key_hash(p, n);
    unsigned h = (unsigned)(a >> (64 - VC_BITS));
    unsigned h2 = (unsigned)(a >> (64 - 2 * VC_BITS)) & (VC_SLOTS - 1);
    unsigned k = d->vslot[h], k2 = d->vslot[h2];
    VEnt *e;
    if (k && d->vc[k - 1].len == n && same_bytes(d->vc[k - 1].s, p, n)) {
      lua_rawgeti(d->L, d->kc_tab, d->vc[k - 1].idx);
      return q + 1;
    }
    if (k2 && d->vc[k2 - 1].len == n && same_bytes(d->vc[k2 - 1].s, p, n)) {
      lua_rawgeti(d->L, d->kc_tab, d->vc[k2 - 1].idx);
      return q + 1;
    }
    lua_pushlstring(d->L, (const char *)p, n);
    if (d->vghost[h] != (uint32_t)a) {
      d->vghost[h] = (uint32_t)a; /* first sighting */
      return q + 1;
    }
    if (k && !k2) { /* the second slot is free */
      h = h2;
      k = 0;
    }
    if (k) {
      e = &d->vc[k - 1];
    } else {
      if (d->vc_n == VC_POOL) return q + 1; /* the pool is spent: not cached */
      e = &d->vc[d->vc_n];
      d->vslot[h] = (uint16_t)++d->vc_n;
      e->idx = ++d->kc_count;
    }
    lua_pushvalue(d->L, -1);
    lua_rawseti(d->L, d->kc_tab, e->idx);
    e->s = lua_tostring(d->L, -1); /* stays valid: the string is kept in the key table */
    e->len = (uint32_t)n;
    return q + 1;
  }
#endif
  lua_pushlstring(d->L, (const char *)p, n);
  return q + 1;
}

/*
 * Pushes the key whose content starts at p; *slot is its cache entry (-1 for escaped keys).
 * pred is the entry expected (the key that came next the last time, -1 for none): when the
 * bytes at p are its key and a quote, that is the key, without a scan or a hash (a cached key
 * has no quote, backslash or control byte, so those bytes are a whole valid string). Else a key
 * may sit in either of two slots (so two keys of a record that share one slot do not evict
 * each other on every record); a new key takes a free one, or else the first.
 */
static cptr push_key(D *d, cptr p, int *slot, int pred) {
  cptr q;
  size_t n;
  uint64_t a;
  unsigned h, h2, k, k2;
  KeyEnt *e;
  if (pred >= 0) {
    e = &d->kc[pred];
    n = e->len;
    if (likely((size_t)(d->end - p) > n && p[n] == '"' && same_bytes(e->s, p, n))) {
      lua_rawgeti(d->L, d->kc_tab, e->idx);
      *slot = pred;
      return p + n + 1;
    }
  }
  q = scan_string_short(d, p);
  if (q == NULL) return NULL;
  if (unlikely(*q != '"')) {
    *slot = -1;
    return push_escaped(d, p, q, 1);
  }
  n = (size_t)(q - p);
  if (unlikely(n >= UINT16_MAX)) { /* not cached */
    lua_pushlstring(d->L, (const char *)p, n);
    *slot = -1;
    return q + 1;
  }
  a = key_hash(p, n);
  h = (unsigned)(a >> (64 - KC_BITS));
  k = d->kslot[h];
  if (likely(k) && likely(d->kc[k - 1].len == n && same_bytes(d->kc[k - 1].s, p, n))) {
    lua_rawgeti(d->L, d->kc_tab, d->kc[k - 1].idx);
    *slot = (int)k - 1;
    return q + 1;
  }
  h2 = (unsigned)(a >> (64 - 2 * KC_BITS)) & (KC_SLOTS - 1);
  k2 = d->kslot[h2];
  if (k2 && d->kc[k2 - 1].len == n && same_bytes(d->kc[k2 - 1].s, p, n)) {
    lua_rawgeti(d->L, d->kc_tab, d->kc[k2 - 1].idx);
    *slot = (int)k2 - 1;
    return q + 1;
  }
  if (k && !k2) { /* the second slot is free */
    h = h2;
    k = 0;
  }
  lua_pushlstring(d->L, (const char *)p, n);
  lua_pushvalue(d->L, -1);
  if (!k && d->kc_n == KC_POOL) { /* the pool is spent: the entries are taken in turn */
    k = d->kc_clock + 1;
    d->kc_clock = k % KC_POOL;
    d->kslot[d->kowner[k - 1]] = 0;
    d->kslot[h] = (uint16_t)k;
    d->kowner[k - 1] = (unsigned char)h;
  }
  if (!k) {
    k = (unsigned)++d->kc_n;
    d->kslot[h] = (uint16_t)k;
    d->kowner[k - 1] = (unsigned char)h;
    e = &d->kc[k - 1];
    e->idx = ++d->kc_count;
  } else {
    e = &d->kc[k - 1];
    if (e->seen) { /* evicted: an open object it is a key of can no longer tell repeats */
      int i;
      for (i = 1; i <= d->depth; i++)
        if (d->frames[i].kind == F_OBJ && d->frames[i].id == e->seen) d->frames[i].dup = 1;
    }
  }
  e->seen = 0;
  lua_rawseti(d->L, d->kc_tab, e->idx);
  e->s = lua_tostring(d->L, -1); /* stays valid: the string is kept in its cache slot */
  e->len = (uint16_t)n;
  e->parent = -1;
  e->next = -1;
  hint_reset(&e->obj);
  e->keep = -1;
  *slot = (int)k - 1;
  return q + 1;
}

/* ------------------------------------------------------------------------------------------- */
/* Numbers */

static int isdigit_(unsigned c) { return c - '0' < 10u; }

/* Exactly representable powers of ten for the fast path. */
static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

#define ZEROS8 UINT64_C(0x3030303030303030) /* "00000000" */

#if AD_SWAR_CTZ
static const uint64_t pow10_u64[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};

/* The value of 8 digits (bytes 0..9, the first digit in the lowest byte) in three multiplies:
 * pairs, then quads, then all eight. */
static uint64_t digits8_value(uint64_t v) {
  v = (v * 10 + (v >> 8)) & UINT64_C(0x00FF00FF00FF00FF);
  v = (v * 100 + (v >> 16)) & UINT64_C(0x0000FFFF0000FFFF);
  return (v * 10000 + (v >> 32)) & UINT64_C(0xFFFFFFFF);
}
#endif

/*
 * Reads the digits at p into *m (m * 10 + digit each; wraps past 19 digits, when the caller no
 * longer uses m) and returns the position after them. 8 bytes at a time where 8 are readable.
 */
static cptr read_digits(cptr p, cptr end, uint64_t *mp) {
  uint64_t m = *mp;
#if AD_SWAR_CTZ
  while (end - p >= 8) {
    uint64_t w, nondigit;
    unsigned n;
    memcpy(&w, p, 8);
    /* per byte: nonzero unless the high nibble is 3 and stays 3 when 6 is added (0x30..0x39);
     * the lowest flagged byte is exact (an add's carry only moves up, out of a flagged byte) */
    nondigit = ((w & UINT64_C(0xF0F0F0F0F0F0F0F0)) ^ ZEROS8) |
               (((w + UINT64_C(0x0606060606060606)) & UINT64_C(0xF0F0F0F0F0F0F0F0)) ^ ZEROS8);
    if (nondigit == 0) {
      m = m * 100000000 + digits8_value(w - ZEROS8);
      p += 8;
      continue;
    }
    n = (unsigned)__builtin_ctzll(nondigit) >> 3; /* digits before the first non-digit */
    if (n) {
      /* the n digits to the top bytes, zeros below: the value of "0..0d1..dn" */
      m = m * pow10_u64[n] + digits8_value((w - ZEROS8) << (64 - 8 * n));
      p += n;
    }
    *mp = m;
    return p;
  }
#endif
  while (p < end && isdigit_(*p)) m = m * 10 + (uint64_t)(*p++ - '0');
  *mp = m;
  return p;
}

/* strtod on a NUL-terminated copy of the token; also handles a non-'.' locale decimal point. */
static lua_Number slow_number(D *d, cptr s, size_t n) {
  char *buf = scratch(d, n + 1), *endp, *dot;
  double v;
  memcpy(buf, s, n);
  buf[n] = '\0';
  v = strtod(buf, &endp);
  if (endp != buf + n && (dot = strchr(buf, '.')) != NULL) {
    *dot = localeconv()->decimal_point[0];
    v = strtod(buf, &endp);
  }
  return (lua_Number)v;
}

/*
 * Parses and pushes the number token at p. The significand's digits (leading zeros of a
 * fraction not counted) are read into m exactly when there are at most 19; e10 is the decimal
 * exponent that goes with m, exact for any length of token (a long run of zeros moves it by
 * its length; an exponent beyond 10^17 saturates, far outside every double).
 */
static cptr push_number(D *d, cptr p) {
  cptr s = p, end = d->end, digits;
  uint64_t m = 0;
  int64_t e10 = 0;
  size_t nd = 0; /* significant digits read into m */
  int neg = 0, isint = 1;
  double v;
  if (*p == '-') {
    neg = 1;
    p++;
  }
  if (p < end && *p == '0') {
    p++;
    if (p < end && isdigit_(*p)) return fail(d, s, "invalid number (leading zero)");
  } else if (p < end && isdigit_(*p)) {
    digits = p;
    p = read_digits(p, end, &m);
    nd = (size_t)(p - digits);
  } else {
    return fail(d, s, "invalid number");
  }
  if (p < end && *p == '.') {
    cptr frac;
    isint = 0;
    p++;
    if (p >= end || !isdigit_(*p)) return fail(d, s, "invalid number");
    frac = p;
    if (nd == 0) { /* 0.000ddd: the zeros are not significant */
      while (end - p >= 8 && memcmp(p, "00000000", 8) == 0) p += 8;
      while (p < end && *p == '0') p++;
    }
    digits = p;
    p = read_digits(p, end, &m);
    nd += (size_t)(p - digits);
    e10 = -(int64_t)(p - frac);
  }
  if (p < end && (*p | 0x20) == 'e') {
    int eneg = 0;
    int64_t ex = 0;
    isint = 0;
    p++;
    if (p < end && (*p == '+' || *p == '-')) eneg = (*p++ == '-');
    if (p >= end || !isdigit_(*p)) return fail(d, s, "invalid number");
    do {
      if (ex < INT64_C(100000000000000000)) ex = ex * 10 + (*p - '0');
      p++;
    } while (p < end && isdigit_(*p));
    e10 += eneg ? -ex : ex;
  }
  if (unlikely(nd > 19)) { /* m is not exact: the exact conversion */
    lua_pushnumber(d->L, slow_number(d, s, (size_t)(p - s)));
    return p;
  }
  if (isint) {
#if ACEDATA_HAS_INTEGERS
    if (m <= (uint64_t)LUA_MAXINTEGER && !(neg && m == 0)) {
      lua_pushinteger(d->L, neg ? -(lua_Integer)m : (lua_Integer)m);
      return p;
    }
    if (neg && m == (uint64_t)LUA_MAXINTEGER + 1) {
      lua_pushinteger(d->L, LUA_MININTEGER);
      return p;
    }
#endif
    /* uint64 -> double is one correctly rounded conversion; -0 stays -0.0 */
    lua_pushnumber(d->L, (lua_Number)(neg ? -(double)m : (double)m));
    return p;
  }
#if FLT_EVAL_METHOD == 0
  /* both operands exact: one correctly rounded IEEE operation (Clinger's fast path) */
  if (m <= (UINT64_C(1) << 53) && e10 >= -22 && e10 <= 22) {
    v = (double)m;
    v = e10 < 0 ? v / pow10_exact[-e10] : v * pow10_exact[e10];
    lua_pushnumber(d->L, (lua_Number)(neg ? -v : v));
    return p;
  }
#endif
  if (likely(ad_decimal_to_double(m, e10, neg, &v))) {
    lua_pushnumber(d->L, (lua_Number)v);
    return p;
  }
  lua_pushnumber(d->L, slow_number(d, s, (size_t)(p - s)));
  return p;
}

/* ------------------------------------------------------------------------------------------- */
/* Structure */

/* Skips whitespace from p (*p <= ' '). Pretty-printed JSON is a newline and a run of indentation
 * spaces, so runs of spaces are skipped 8 bytes at a time. */
static cptr skip_ws(cptr p, cptr end) {
#if AD_SSE2
  while (end - p >= 16) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i ws =
        _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\n')));
    unsigned other;
    ws = _mm_or_si128(ws, _mm_cmpeq_epi8(v, _mm_set1_epi8('\r')));
    ws = _mm_or_si128(ws, _mm_cmpeq_epi8(v, _mm_set1_epi8('\t')));
    other = ~(unsigned)_mm_movemask_epi8(ws) & 0xFFFFu;
    if (other) return p + __builtin_ctz(other);
    p += 16;
  }
#endif
  while (p < end) {
    unsigned c = *p;
    if (c == ' ') {
#if AD_SWAR_CTZ
      if (end - p >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        w ^= ONES * ' ';
        /* the first byte is a space, so w != 0 skips 1..7 bytes */
        p += w ? (unsigned)__builtin_ctzll(w) >> 3 : 8;
        continue;
      }
#endif
      p++;
    } else if (c == '\n' || c == '\r' || c == '\t') {
      p++;
    } else {
      break;
    }
  }
  return p;
}

/* Compact JSON has no whitespace: test one byte before calling out; ": " is one space. */
#define SKIP_WS()                                 \
  do {                                            \
    if (p < end && *p <= ' ') {                   \
      if (*p == ' ' && end - p > 1 && p[1] > ' ') \
        p++;                                      \
      else                                        \
        p = skip_ws(p, end);                      \
    }                                             \
  } while (0)

/* Checks the number token at p as push_number does (same errors), without converting it. */
static cptr skip_number(D *d, cptr p) {
  cptr s = p, end = d->end;
  if (*p == '-') p++;
  if (p < end && *p == '0') {
    p++;
    if (p < end && isdigit_(*p)) return fail(d, s, "invalid number (leading zero)");
  } else if (p < end && isdigit_(*p)) {
    do p++;
    while (p < end && isdigit_(*p));
  } else {
    return fail(d, s, "invalid number");
  }
  if (p < end && *p == '.') {
    p++;
    if (p >= end || !isdigit_(*p)) return fail(d, s, "invalid number");
    do p++;
    while (p < end && isdigit_(*p));
  }
  if (p < end && (*p | 0x20) == 'e') {
    p++;
    if (p < end && (*p == '+' || *p == '-')) p++;
    if (p >= end || !isdigit_(*p)) return fail(d, s, "invalid number");
    do p++;
    while (p < end && isdigit_(*p));
  }
  return p;
}

/* Checks the string whose content starts at p and returns the position after it; NULL on error. */
static cptr skip_string(D *d, cptr p) {
  cptr q = scan_string(d, p);
  if (q == NULL) return NULL;
  if (likely(*q == '"')) return q + 1;
  q = push_escaped(d, p, q, 0); /* rare: escapes are checked by the code that decodes them */
  if (q != NULL) lua_pop(d->L, 1);
  return q;
}

/*
 * Checks the value at p without making it, exactly as parse() would check it (the same errors
 * at the same offsets), and returns the position after it; NULL on error. depth: the containers
 * open around it.
 */
static cptr skip_value(D *d, cptr p, int depth) {
  cptr end = d->end;
  unsigned char isobj[MAX_DEPTH];
  int top = 0;
value:
  SKIP_WS();
  if (unlikely(p >= end)) return fail(d, end, "unexpected end of input");
  switch (*p) {
    case '"':
      p = skip_string(d, p + 1);
      if (unlikely(p == NULL)) return NULL;
      break;
    case '{':
    case '[':
      if (unlikely(depth + top == MAX_DEPTH)) return fail(d, p, "nesting deeper than 1000");
      isobj[top++] = *p == '{';
      p++;
      SKIP_WS();
      if (isobj[top - 1]) {
        if (p < end && *p == '}') {
          p++;
          top--;
          break;
        }
        goto key;
      }
      if (p < end && *p == ']') {
        p++;
        top--;
        break;
      }
      goto value;
    case 't':
      if (end - p < 4 || memcmp(p, "true", 4) != 0) return fail(d, p, "expected value");
      p += 4;
      break;
    case 'f':
      if (end - p < 5 || memcmp(p, "false", 5) != 0) return fail(d, p, "expected value");
      p += 5;
      break;
    case 'n':
      if (end - p < 4 || memcmp(p, "null", 4) != 0) return fail(d, p, "expected value");
      p += 4;
      break;
    default:
      if (*p != '-' && !isdigit_(*p)) return fail(d, p, "expected value");
      p = skip_number(d, p);
      if (unlikely(p == NULL)) return NULL;
      break;
  }
  /* after a value */
  while (top > 0) {
    SKIP_WS();
    if (likely(p < end && *p == ',')) {
      p++;
      if (isobj[top - 1]) {
        SKIP_WS();
        goto key;
      }
      goto value;
    }
    if (likely(p < end && *p == (isobj[top - 1] ? '}' : ']'))) {
      p++;
      top--;
      continue;
    }
    if (p >= end) return fail(d, end, "unexpected end of input");
    return fail(d, p, isobj[top - 1] ? "expected ',' or '}'" : "expected ',' or ']'");
  }
  return p;
key:
  if (unlikely(p >= end)) return fail(d, end, "unexpected end of input");
  if (unlikely(*p != '"')) return fail(d, p, "expected string key");
  p = skip_string(d, p + 1);
  if (unlikely(p == NULL)) return NULL;
  SKIP_WS();
  if (unlikely(p >= end)) return fail(d, end, "unexpected end of input");
  if (unlikely(*p != ':')) return fail(d, p, "expected ':'");
  p++;
  goto value;
}

/* Does a filtered record keep the key at the stack top (cache slot `slot`, -1 for none)? */
static int keep_key(D *d, int slot) {
  int keep;
  if (slot >= 0 && d->kc[slot].keep >= 0) return d->kc[slot].keep;
  lua_pushvalue(d->L, -1);
  lua_rawget(d->L, d->fields_index);
  keep = lua_toboolean(d->L, -1);
  lua_pop(d->L, 1);
  if (slot >= 0) d->kc[slot].keep = (signed char)keep;
  return keep;
}

/*
 * The table of the array whose f->n elements are buffered on the stack from f->base: created
 * `size` long, the elements moved in, in their place on the stack.
 */
static void array_table(lua_State *L, Frame *f, unsigned size) {
  unsigned i;
  lua_createtable(L, (int)size, 0);
  lua_insert(L, f->base);
  for (i = f->n; i >= 1; i--) {
#if LUA_VERSION_NUM >= 503
    lua_rawseti(L, f->base, (lua_Integer)i);
#else
    lua_rawseti(L, f->base, (int)i);
#endif
  }
  f->base = 0;
}

/* The same for an object's f->n pairs (key, value, key, value, ...). */
static void object_table(lua_State *L, Frame *f) {
  unsigned i;
  lua_createtable(L, 0, (int)f->n);
  lua_insert(L, f->base);
  if (!f->dup) {
    for (i = 0; i < f->n; i++) lua_rawset(L, f->base); /* from the last pair: no key repeats */
  } else {
    for (i = 0; i < f->n; i++) { /* in order, so that a repeated key keeps its last value */
      lua_pushvalue(L, f->base + 1 + 2 * (int)i);
      lua_pushvalue(L, f->base + 2 + 2 * (int)i);
      lua_rawset(L, f->base);
    }
    lua_settop(L, f->base);
  }
  f->base = 0;
}

/*
 * Moves the frames of a document nesting as deep as they hold into a userdata twice as big
 * (at most FRAMES_MAX: the memory grows with the depth, not to the depth limit at once). The
 * old frames stay referenced until copied; an object's hint at its parent array's frame is
 * moved with it.
 */
static Frame *frames_grow(D *d, Frame *old) {
  int cap = d->frames_cap * 2 < FRAMES_MAX ? d->frames_cap * 2 : FRAMES_MAX, i;
  Frame *big = (Frame *)lua_newuserdata(d->L, sizeof(Frame) * (size_t)cap);
  memcpy(big, old, sizeof(Frame) * (size_t)d->frames_cap);
  for (i = 1; i < d->frames_cap; i++)
    if (big[i].hint == &old[i - 1].child) big[i].hint = &big[i - 1].child;
  lua_replace(d->L, d->frames_slot);
  d->frames = big;
  d->frames_cap = cap;
  return big;
}

/* The main loop; on success exactly one value has been pushed and 1 is returned. */
static int parse(D *d, const ad_decode_opts *opts, int mt_slot) {
  lua_State *L = d->L;
  cptr p = d->start, end = d->end;
  Frame small[FRAMES_SMALL];
  Frame *frames = small, *f = frames;
  int depth = 0, keyslot = -1, frames_end;
  int null_index = opts ? opts->null_index : 0;

  f->kind = F_TOP;
  f->keyslot = -1;
  f->filter = 0;
  f->base = 0;
  d->frames = frames;
  d->frames_cap = FRAMES_SMALL;
  frames_end = FRAMES_SMALL - 1; /* the depth at which the frames are full */
  d->depth = 0;

value:
  SKIP_WS();
  if (unlikely(p >= end)) goto eof;
  switch (*p) {
    case '"':
      p = push_string(d, p + 1);
      if (unlikely(p == NULL)) return 0;
      break;
    case '{':
    case '[': {
      int isobj = *p == '{', base;
      Hint *hint = NULL;
      if (unlikely(depth == MAX_DEPTH)) {
        fail(d, p, "nesting deeper than 1000");
        return 0;
      }
      if (unlikely(depth == frames_end)) {
        if (unlikely(!lua_checkstack(L, 1))) {
          fail(d, p, "nesting too deep for the Lua stack");
          return 0;
        }
        frames = frames_grow(d, frames);
        frames_end = d->frames_cap - 1;
        f = frames + depth;
      }
      if (isobj) {
        if (f->kind == F_ARR)
          hint = &f->child;
        else if (f->kind == F_OBJ && keyslot >= 0) {
          KeyEnt *e = &d->kc[keyslot];
          if (e->parent != f->keyslot) { /* another kind of parent: start over */
            e->parent = (int16_t)f->keyslot;
            hint_reset(&e->obj);
          }
          hint = &e->obj;
        }
      }
      if (hint && hint->stable && lua_checkstack(L, 4)) {
        lua_createtable(L, 0, (int)hint->last); /* table + key + value + scratch userdata */
        base = 0;
      } else if (likely(lua_gettop(L) - d->stack_top <= STACK_BUDGET &&
                        lua_checkstack(L, 2 * STEP + 4))) {
        base = lua_gettop(L) + 1; /* the values wait on the stack */
      } else {
        /* table + key + value + scratch userdata */
        if (unlikely(!lua_checkstack(L, 4))) {
          fail(d, p, "nesting too deep for the Lua stack");
          return 0;
        }
        lua_createtable(L, 0, 0);
        base = 0;
      }
      f = &frames[++depth];
      d->depth = depth;
      f->base = base;
      f->hint = hint;
      f->n = 0;
      p++;
      SKIP_WS();
      if (isobj) {
        f->kind = F_OBJ;
        f->id = ++d->obj_id;
        f->keyslot = frames[depth - 1].kind == F_OBJ ? keyslot : -1;
        f->dup = 0;
        f->lastkey = -1;
        f->filter =
            d->fields_index && depth == 3 && frames[2].kind == F_ARR && frames[1].kind == F_OBJ;
        if (p < end && *p == '}') {
          p++;
          goto close_obj;
        }
        goto key;
      }
      f->kind = F_ARR;
      f->filter = 0;
      hint_reset(&f->child);
      if (p < end && *p == ']') {
        p++;
        goto close_arr;
      }
      goto value;
    }
    case 't':
      if (end - p < 4 || memcmp(p, "true", 4) != 0) goto bad_value;
      lua_pushboolean(L, 1);
      p += 4;
      break;
    case 'f':
      if (end - p < 5 || memcmp(p, "false", 5) != 0) goto bad_value;
      lua_pushboolean(L, 0);
      p += 5;
      break;
    case 'n':
      if (end - p < 4 || memcmp(p, "null", 4) != 0) goto bad_value;
      if (null_index)
        lua_pushvalue(L, null_index);
      else
        lua_pushlightuserdata(L, NULL);
      p += 4;
      break;
    default:
      if (*p != '-' && !isdigit_(*p)) goto bad_value;
      p = push_number(d, p);
      if (unlikely(p == NULL)) return 0;
      break;
  }

after_value:
  if (f->kind == F_OBJ) {
    f->n++;
    if (f->base) {
      if (unlikely(f->n % STEP == 0) &&
          (f->n >= OBJ_BUF_MAX || lua_gettop(L) - d->stack_top > STACK_BUDGET ||
           !lua_checkstack(L, 2 * STEP + 4)))
        object_table(L, f); /* further pairs grow it as Lua does */
    } else {
      lua_rawset(L, -3);
    }
  obj_next:
    SKIP_WS();
    if (likely(p < end && *p == ',')) {
      p++;
      SKIP_WS();
      goto key;
    }
    if (likely(p < end && *p == '}')) {
      p++;
      goto close_obj;
    }
    if (p >= end) goto eof;
    fail(d, p, "expected ',' or '}'");
    return 0;
  }
  if (f->kind == F_ARR) {
    f->n++;
    if (f->base) {
      /* buffered: room for the next step, or the table now (further elements grow it as Lua
       * does, doubling) */
      if (unlikely(f->n % STEP == 0) &&
          (f->n >= ARR_BUF_MAX || lua_gettop(L) - d->stack_top > STACK_BUDGET ||
           !lua_checkstack(L, 2 * STEP + 4)))
        array_table(L, f, f->n);
    } else {
#if LUA_VERSION_NUM >= 503
      lua_rawseti(L, -2, (lua_Integer)f->n);
#else
      lua_rawseti(L, -2, (int)f->n);
#endif
    }
    SKIP_WS();
    if (likely(p < end && *p == ',')) {
      p++;
      goto value;
    }
    if (likely(p < end && *p == ']')) {
      p++;
      goto close_arr;
    }
    if (p >= end) goto eof;
    fail(d, p, "expected ',' or ']'");
    return 0;
  }
  /* the top-level value is complete */
  SKIP_WS();
  if (p != end) {
    fail(d, p, "expected end of input");
    return 0;
  }
  return 1;

key:
  if (unlikely(p >= end)) goto eof;
  if (unlikely(*p != '"')) {
    fail(d, p, "expected string key");
    return 0;
  }
  {
    /* the key expected: the one after the last key, or the first key of the last object here */
    int last = f->lastkey, pred = -1;
    if (last >= 0)
      pred = d->kc[last].next;
    else if (last == -1 && f->hint)
      pred = f->hint->first;
    p = push_key(d, p + 1, &keyslot, pred);
    if (unlikely(p == NULL)) return 0;
    if (keyslot != pred && keyslot >= 0) {
      if (last >= 0)
        d->kc[last].next = (int16_t)keyslot;
      else if (last == -1 && f->hint)
        f->hint->first = (int16_t)keyslot;
    }
    f->lastkey = (int16_t)(keyslot >= 0 ? keyslot : -2);
  }
  if (f->base) { /* a repeated key decides how the pairs are set */
    if (keyslot < 0) {
      f->dup = 1; /* escaped keys are not cached: assume the worst */
    } else {
      KeyEnt *e = &d->kc[keyslot];
      if (e->seen == f->id) f->dup = 1;
      e->seen = f->id;
    }
  }
  SKIP_WS();
  if (unlikely(p >= end)) goto eof;
  if (unlikely(*p != ':')) {
    fail(d, p, "expected ':'");
    return 0;
  }
  p++;
  if (f->filter && !keep_key(d, keyslot)) {
    lua_pop(L, 1);
    p = skip_value(d, p, depth);
    if (unlikely(p == NULL)) return 0;
    goto obj_next; /* as after a value, with nothing to store */
  }
  goto value;

close_obj:
  if (f->base) object_table(L, f);
  if (f->hint) {
    f->hint->stable = f->hint->last == f->n;
    f->hint->last = f->n;
  }
  f = &frames[--depth];
  d->depth = depth;
  goto after_value;

close_arr:
  if (f->base) array_table(L, f, f->n);
  if (mt_slot) {
    lua_pushvalue(L, mt_slot);
    lua_setmetatable(L, -2);
  }
  f = &frames[--depth];
  d->depth = depth;
  goto after_value;

bad_value:
  fail(d, p, "expected value");
  return 0;
eof:
  fail(d, end, "unexpected end of input");
  return 0;
}

int ad_decode(lua_State *L, const char *s, size_t len, const ad_decode_opts *opts) {
  D d;
  int base = lua_gettop(L), mt_slot = 0, ok;
  char msg[96];

  luaL_checkstack(L, 8, "acedata.decode");
  if (s == NULL) s = ""; /* (NULL, 0) is an empty buffer */
  d.L = L;
  d.start = (cptr)s;
  d.end = d.start + len;
  d.err = NULL;
  d.errpos = NULL;
  d.scratch = NULL;
  d.scratch_cap = 0;
  d.scratch_slot = base + 1;
  d.fields_index = opts ? opts->fields_index : 0;
  d.stack_top = 0;
  lua_pushnil(L); /* scratch slot, later the result slot */
  lua_pushnil(L); /* frames slot */
  d.frames_slot = base + 2;
  d.frames = NULL; /* set by parse() */
  d.frames_cap = 0;
  d.depth = 0;
  d.obj_id = 0;
  if (opts && opts->array_mt) {
    luaL_getmetatable(L, AD_ARRAY_MT);
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      luaL_newmetatable(L, AD_ARRAY_MT);
    }
    mt_slot = lua_gettop(L);
  }
  lua_createtable(L, 32, 0); /* the key table: grows with the distinct keys (at most KC_SLOTS) */
  d.kc_tab = lua_gettop(L);
  d.kc_count = 0;
#if VC_SLOTS
  d.lc_ready = 0;
  d.vc_n = d.lc_n = 0;
  memset(d.vslot, 0, sizeof d.vslot);
  memset(d.vghost, 0, sizeof d.vghost);
#endif
  d.kc_n = 0;
  d.kc_clock = 0;
  memset(d.kslot, 0, sizeof d.kslot);

  d.stack_top = lua_gettop(L);
  ok = parse(&d, opts, mt_slot);
  if (ok) {
    lua_replace(L, base + 1);
    lua_settop(L, base + 1);
    return 1;
  }
  lua_settop(L, base);
  lua_pushnil(L);
  snprintf(msg, sizeof msg, "%s at byte %lu", d.err, (unsigned long)(d.errpos - d.start));
  lua_pushstring(L, msg);
  return 2;
}
