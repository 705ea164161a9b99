/*
 * The decoder's tunables and its key hash, in one place for src/decode_json.c and for
 * bench/floor.c, which replays the decoder's Lua C API calls and must make the same cache and
 * buffering decisions (same slots, pools and limits).
 */
#ifndef AD_DECODE_TUNE_H
#define AD_DECODE_TUNE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lua.h"

#define KC_BITS 8
#define KC_SLOTS (1 << KC_BITS)
#define KC_POOL 128       /* keys cached at once: then a new key takes the entry of an older one */
#if LUA_VERSION_NUM < 502 /* measured on LuaJIT: its interning is cheap enough, no cache */
#define VC_SLOTS 0
#else
#define VC_BITS 7
#define VC_SLOTS (1 << VC_BITS) /* the value string cache */
#define VC_POOL 64
#define VC_MAXLEN 40 /* values up to this long are cached (Lua 5.2+ interns to 40) */
#define LC_BITS 7
#define LC_SLOTS (1 << LC_BITS) /* the long string cache: longer values, one copy of each */
#define LC_POOL 64
#endif
#define STEP 8            /* values are buffered on the Lua stack in steps of this many */
#define ARR_BUF_MAX 32    /* an array with more elements gets its table early (Lua grows it) */
#define OBJ_BUF_MAX 32    /* an object with more pairs too */
#define STACK_BUDGET 1024 /* stack slots for the buffered values of all open containers */
#define FRAMES_SMALL 32   /* frames on the C stack; deeper documents move them to a userdata */
#define SMALL_BUF 256     /* escaped strings / number tokens up to this size use the C stack */
#define OUT_SLACK 32      /* room kept beyond the text: 16-byte stores, a 4-byte UTF-8 sequence */

/* 64 hash bits of a key; its two cache slots are the top KC_BITS and the KC_BITS below them. */
static inline uint64_t key_hash(const unsigned char *k, size_t n) {
  uint64_t a, b;
  if (n >= 8) {
    memcpy(&a, k, 8);
    memcpy(&b, k + n - 8, 8);
  } else if (n >= 4) {
    uint32_t x, y;
    memcpy(&x, k, 4);
    memcpy(&y, k + n - 4, 4);
    a = x;
    b = y;
  } else {
    a = n ? (uint64_t)k[0] | (uint64_t)k[n / 2] << 8 | (uint64_t)k[n - 1] << 16 : 0;
    b = 0;
  }
  a ^= (b + n) * UINT64_C(0x9E3779B97F4A7C15);
  a *= UINT64_C(0xFF51AFD7ED558CCD);
  return a;
}

#endif
