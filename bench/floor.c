/*
 * floor: the Lua C API calls acedata.core.decode makes to build a page, recorded once and
 * replayed, for bench/e2e's "floor" child: the cost of building the tables, without parsing.
 *
 *   local floor = package.loadlib(path, "luaopen_floor")()
 *   local tape = floor.tape(json)     -- records the calls core.decode makes for json
 *   local page = floor.replay(tape)   -- makes them again: the same table, no parsing at all
 *   floor.stats(tape) -> API calls, tape bytes (ops + string bytes)
 *
 * floor.tape decodes json with acedata.core.decode (its values: strings as decoded, integers
 * and floats as the decoder typed them) and scans the text for the document order, replaying
 * the decisions of src/decode_json.c's parse() step by step: the same two-way key cache (the
 * same hash, so the same slots and evictions) whose strings live in a key table and are pushed
 * by lua_rawgeti (slots into a pool of 128 entries, taken in turn once spent); on Lua 5.2+ the
 * value cache of strings up to 40 bytes and the long string cache of longer ones (escaped ones
 * too, as decoded), each from a string's second sighting, with the same ghosts and pools;
 * values buffered on the stack and their table made at its final size when the container
 * closes (lua_createtable, lua_insert, lua_rawset/lua_rawseti from the last), containers of more
 * than 32 made early and grown by Lua, objects in a place whose last two had the same size made
 * at that size at once and filled directly; the same lua_checkstack calls. What the decoder does
 * besides (reading bytes, validating UTF-8, converting numbers) is not on the tape.
 *
 * Not mirrored, refused with an error: escaped keys, escaped strings long enough to need the
 * decoder's scratch memory (over 224 bytes), nesting deeper than 31 (the decoder moves its
 * frames to a userdata then), and the decode options (the tape is of core.decode(json)).
 *
 * The tape is C memory (malloc), owned by its userdata (__gc), so a page's tape does not count
 * in the Lua heap and does not change the collector's pace while tapes are replayed.
 *
 * Bench-only (not part of the module).
 */
#include <lauxlib.h>
#include <lua.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define TAPE_MT "acedata.bench_floor_tape"

#include "../src/decode_tune.h" /* the decoder's constants and key hash */

/* The ops: the low OP_BITS of a word, the argument above them; operands in the next words. */
enum {
  OP_OPEN_DIRECT, /* lua_checkstack 4, lua_createtable(0, a) */
  OP_OPEN_BUF,    /* lua_gettop twice, lua_checkstack 2 * STEP + 4 (values wait on the stack) */
  OP_OPEN_EMPTY,  /* lua_checkstack 4, lua_createtable(0, 0) */
  OP_CHECK,       /* lua_checkstack a */
  OP_GETKC,       /* lua_rawgeti(key table, a) */
  OP_STR,         /* lua_pushlstring(bytes [off], len a) | off */
  OP_STR_CACHE, /* lua_pushlstring, lua_pushvalue, lua_rawseti(key table, a), lua_tostring | len off
                 */
  OP_INT,       /* lua_pushinteger | 2 words */
  OP_NUM,       /* lua_pushnumber | 2 words */
  OP_TRUE,
  OP_FALSE,
  OP_NULL,        /* lua_pushlightuserdata(NULL): core.null */
  OP_RAWSET_TOP,  /* lua_rawset(-3) */
  OP_RAWSETI_TOP, /* lua_rawseti(-2, a) */
  OP_OBJ_FILL,    /* object_table: base a | n, dup */
  OP_ARR_FILL,    /* array_table: base a | n */
  OP_END
};
#define OP_BITS 5
#define ARG_MAX ((uint32_t)1 << (32 - OP_BITS))

typedef struct {
  uint32_t *ops;
  size_t n, cap;
  char *str; /* the bytes of the strings pushed by lua_pushlstring */
  size_t slen, scap;
  size_t calls; /* Lua C API calls a replay makes */
} Tape;

static int tape_gc(lua_State *L) {
  Tape *t = (Tape *)luaL_checkudata(L, 1, TAPE_MT);
  free(t->ops);
  free(t->str);
  t->ops = NULL;
  t->str = NULL;
  t->n = t->cap = t->slen = t->scap = 0;
  return 0;
}

/* ---- recording ---------------------------------------------------------------------------- */

typedef const unsigned char *cptr;

enum { F_TOP, F_OBJ, F_ARR };

typedef struct {
  unsigned last, stable;
} Hint;

typedef struct {
  cptr s; /* its bytes, in the json being taped */
  uint32_t len;
  int idx;
  unsigned seen;
  Hint obj;
  int parent;
} KeyEnt;

#if VC_SLOTS
typedef struct {
  cptr s;
  uint32_t len;
  int idx;
} VEnt;

typedef struct {
  const char *s; /* in the json, or the decoded string (escaped ones) */
  size_t len;
  int idx;
  unsigned uses;
} LEnt;
#endif

typedef struct {
  Hint *hint;
  Hint child;
  unsigned n, id;
  int keyslot, base, kind, dup;
} Frame;

typedef struct {
  lua_State *L;
  Tape *t;
  cptr start, end;
  int top;       /* the decoder's stack height, relative to its base */
  int stack_top; /* where its values start (after 3 slots and the key table) */
  int kc_count, depth;
  unsigned obj_id;
  Frame frames[FRAMES_SMALL];
  /* the caches as src/decode_json.c keeps them: slots of 1 + an index into a pool of entries */
  int kc_n;
  unsigned kc_clock;
  uint16_t kslot[KC_SLOTS];
  unsigned char kowner[KC_POOL];
  KeyEnt kc[KC_POOL];
#if VC_SLOTS
  int vc_n, lc_n;
  uint16_t vslot[VC_SLOTS];
  uint32_t vghost[VC_SLOTS];
  VEnt vc[VC_POOL];
  uint16_t lslot[LC_SLOTS];
  uint32_t lghost[LC_SLOTS];
  LEnt lc[LC_POOL];
#endif
} Rec;

static void emit(Rec *r, uint32_t op, size_t arg, size_t calls) {
  Tape *t = r->t;
  if (arg >= ARG_MAX) luaL_error(r->L, "floor.tape: a value too large to tape (%d)", (int)arg);
  if (t->n == t->cap) {
    size_t cap = t->cap ? 2 * t->cap : 4096;
    uint32_t *p = (uint32_t *)realloc(t->ops, cap * sizeof *p);
    if (p == NULL) luaL_error(r->L, "floor.tape: out of memory");
    t->ops = p;
    t->cap = cap;
  }
  t->ops[t->n++] = op | (uint32_t)arg << OP_BITS;
  t->calls += calls;
}

static void emit_word(Rec *r, uint32_t w) {
  emit(r, 0, 0, 0);
  r->t->ops[r->t->n - 1] = w;
}

/* The bytes of a string for OP_STR / OP_STR_CACHE: appended to the tape, offset and length. */
static void emit_bytes(Rec *r, const char *s, size_t len) {
  Tape *t = r->t;
  if (len >= ARG_MAX || t->slen >= ARG_MAX) luaL_error(r->L, "floor.tape: too many string bytes");
  if (t->slen + len > t->scap) {
    size_t cap = t->scap ? 2 * t->scap : 65536;
    char *p;
    while (cap < t->slen + len) cap *= 2;
    p = (char *)realloc(t->str, cap);
    if (p == NULL) luaL_error(r->L, "floor.tape: out of memory");
    t->str = p;
    t->scap = cap;
  }
  memcpy(t->str + t->slen, s, len);
  emit_word(r, (uint32_t)len);
  emit_word(r, (uint32_t)t->slen);
  t->slen += len;
}

static void emit_str(Rec *r, const char *s, size_t len) {
  emit(r, OP_STR, 0, 1);
  emit_bytes(r, s, len);
  r->top++;
}

static cptr skip_ws(cptr p, cptr end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
  return p;
}

/* The end of the string whose content starts at p (its closing quote); *esc: it has escapes. */
static cptr string_end(Rec *r, cptr p, int *esc) {
  *esc = 0;
  while (p < r->end && *p != '"') {
    if (*p == '\\') {
      *esc = 1;
      p++;
    }
    p++;
  }
  if (p >= r->end) luaL_error(r->L, "floor.tape: unterminated string");
  return p;
}

/* The key at p (after its quote), as push_key caches it; returns the position after it. */
static cptr tape_key(Rec *r, cptr p, int *slot, cptr *key, size_t *keylen) {
  int esc;
  cptr q = string_end(r, p, &esc);
  size_t n = (size_t)(q - p);
  uint64_t a;
  unsigned h, h2, k, k2;
  KeyEnt *e;
  if (esc) luaL_error(r->L, "floor.tape: escaped keys are not mirrored");
  *key = p;
  *keylen = n;
  r->top++;
  a = key_hash(p, n);
  h = (unsigned)(a >> (64 - KC_BITS));
  k = r->kslot[h];
  if (k && r->kc[k - 1].len == n && memcmp(r->kc[k - 1].s, p, n) == 0) {
    emit(r, OP_GETKC, (size_t)r->kc[k - 1].idx, 1);
    *slot = (int)k - 1;
    return q + 1;
  }
  h2 = (unsigned)(a >> (64 - 2 * KC_BITS)) & (KC_SLOTS - 1);
  k2 = r->kslot[h2];
  if (k2 && r->kc[k2 - 1].len == n && memcmp(r->kc[k2 - 1].s, p, n) == 0) {
    emit(r, OP_GETKC, (size_t)r->kc[k2 - 1].idx, 1);
    *slot = (int)k2 - 1;
    return q + 1;
  }
  if (k && !k2) { /* the second slot is free */
    h = h2;
    k = 0;
  }
  if (!k && r->kc_n == KC_POOL) { /* the pool is spent: the entries are taken in turn */
    k = r->kc_clock + 1;
    r->kc_clock = k % KC_POOL;
    r->kslot[r->kowner[k - 1]] = 0;
    r->kslot[h] = (uint16_t)k;
    r->kowner[k - 1] = (unsigned char)h;
  }
  if (!k) {
    k = (unsigned)++r->kc_n;
    r->kslot[h] = (uint16_t)k;
    r->kowner[k - 1] = (unsigned char)h;
    e = &r->kc[k - 1];
    e->idx = ++r->kc_count;
  } else {
    e = &r->kc[k - 1];
    if (e->seen) { /* evicted: the open object it is a key of may repeat keys */
      int i;
      for (i = 1; i <= r->depth; i++)
        if (r->frames[i].kind == F_OBJ && r->frames[i].id == e->seen) r->frames[i].dup = 1;
    }
  }
  emit(r, OP_STR_CACHE, (size_t)e->idx, 4);
  emit_bytes(r, (const char *)p, n);
  e->seen = 0;
  e->s = p;
  e->len = (uint32_t)n;
  e->parent = -1;
  e->obj.last = UINT32_MAX;
  e->obj.stable = 0;
  *slot = (int)k - 1;
  return q + 1;
}

#if VC_SLOTS
/* push_long: the n > VC_MAXLEN bytes at p, from the long string cache or a new string. */
static void tape_long(Rec *r, const char *p, size_t n) {
  uint64_t a, m;
  unsigned h, h2;
  LEnt *e = NULL, *f = NULL;
  memcpy(&m, p + n / 2 - 4, 8);
  a = key_hash((cptr)p, n) ^ m * UINT64_C(0xC2B2AE3D27D4EB4F);
  h = (unsigned)(a >> (64 - LC_BITS));
  h2 = (unsigned)(a >> (64 - 2 * LC_BITS)) & (LC_SLOTS - 1);
  r->top++;
  if (r->lslot[h]) {
    e = &r->lc[r->lslot[h] - 1];
    if (e->len == n && memcmp(e->s, p, n) == 0) {
      e->uses++;
      emit(r, OP_GETKC, (size_t)e->idx, 1);
      return;
    }
  }
  if (r->lslot[h2]) {
    f = &r->lc[r->lslot[h2] - 1];
    if (f->len == n && memcmp(f->s, p, n) == 0) {
      f->uses++;
      emit(r, OP_GETKC, (size_t)f->idx, 1);
      return;
    }
  }
  if (r->lghost[h] != (uint32_t)a) {
    r->lghost[h] = (uint32_t)a; /* first sighting */
    r->top--;
    emit_str(r, p, n);
    return;
  }
  if (e == NULL || f == NULL) { /* a free slot takes it, while the pool lasts */
    if (r->lc_n == LC_POOL) {
      r->top--;
      emit_str(r, p, n);
      return;
    }
    if (e != NULL) h = h2;
    e = &r->lc[r->lc_n];
    r->lslot[h] = (uint16_t)++r->lc_n;
    e->idx = ++r->kc_count;
  } else { /* the slot used less takes it; the other ages */
    if (f->uses < e->uses) {
      LEnt *t = e;
      e = f;
      f = t;
    }
    f->uses /= 2;
  }
  emit(r, OP_STR_CACHE, (size_t)e->idx, 4);
  emit_bytes(r, p, n);
  e->s = p;
  e->len = n;
  e->uses = 1;
}
#endif

/* The string value at p (after its quote), as push_string pushes it; the decoded value is at
 * the stack top (used for escaped strings). Returns the position after it. */
static cptr tape_string(Rec *r, cptr p) {
  int esc;
  cptr q = string_end(r, p, &esc);
  size_t n = (size_t)(q - p);
  if (esc) { /* push_escaped: decoded into scratch memory, then pushed */
    size_t len;
    const char *s;
    if (lua_type(r->L, -1) != LUA_TSTRING)
      luaL_error(r->L, "floor.tape: the text and its decoded value differ");
    s = lua_tolstring(r->L, -1, &len); /* kept alive by the decoded document */
    if (n + OUT_SLACK > SMALL_BUF)
      luaL_error(r->L, "floor.tape: escaped strings over %d bytes are not mirrored",
                 SMALL_BUF - OUT_SLACK);
#if VC_SLOTS
    if (len > VC_MAXLEN) {
      tape_long(r, s, len);
      return q + 1;
    }
#endif
    emit_str(r, s, len);
    return q + 1;
  }
#if VC_SLOTS
  if (n > VC_MAXLEN) {
    tape_long(r, (const char *)p, n);
    return q + 1;
  }
  {
    uint64_t a = key_hash(p, n);
    unsigned h = (unsigned)(a >> (64 - VC_BITS));
    unsigned h2 = (unsigned)(a >> (64 - 2 * VC_BITS)) & (VC_SLOTS - 1);
    unsigned k = r->vslot[h], k2 = r->vslot[h2];
    VEnt *e;
    if (k && r->vc[k - 1].len == n && memcmp(r->vc[k - 1].s, p, n) == 0) {
      emit(r, OP_GETKC, (size_t)r->vc[k - 1].idx, 1);
      r->top++;
      return q + 1;
    }
    if (k2 && r->vc[k2 - 1].len == n && memcmp(r->vc[k2 - 1].s, p, n) == 0) {
      emit(r, OP_GETKC, (size_t)r->vc[k2 - 1].idx, 1);
      r->top++;
      return q + 1;
    }
    if (r->vghost[h] != (uint32_t)a) {
      r->vghost[h] = (uint32_t)a; /* first sighting */
      emit_str(r, (const char *)p, n);
      return q + 1;
    }
    if (k && !k2) { /* the second slot is free */
      h = h2;
      k = 0;
    }
    if (k) {
      e = &r->vc[k - 1];
    } else {
      if (r->vc_n == VC_POOL) { /* the pool is spent: not cached */
        emit_str(r, (const char *)p, n);
        return q + 1;
      }
      e = &r->vc[r->vc_n];
      r->vslot[h] = (uint16_t)++r->vc_n;
      e->idx = ++r->kc_count;
    }
    emit(r, OP_STR_CACHE, (size_t)e->idx, 4);
    emit_bytes(r, (const char *)p, n);
    r->top++;
    e->s = p;
    e->len = (uint32_t)n;
    return q + 1;
  }
#else
  emit_str(r, (const char *)p, n);
  return q + 1;
#endif
}

/* The number at the stack top, as the decoder typed it; p: its token. */
static cptr tape_number(Rec *r, cptr p) {
  lua_State *L = r->L;
  uint32_t w[2];
  if (lua_type(L, -1) != LUA_TNUMBER)
    luaL_error(L, "floor.tape: the text and its decoded value differ");
#if LUA_VERSION_NUM >= 503
  if (lua_isinteger(L, -1)) {
    lua_Integer v = lua_tointeger(L, -1);
    emit(r, OP_INT, 0, 1);
    memcpy(w, &v, sizeof w);
  } else
#endif
  {
    lua_Number v = lua_tonumber(L, -1);
    emit(r, OP_NUM, 0, 1);
    memcpy(w, &v, sizeof w);
  }
  emit_word(r, w[0]);
  emit_word(r, w[1]);
  r->top++;
  while (p < r->end && (*p == '-' || *p == '+' || *p == '.' || *p == 'e' || *p == 'E' ||
                        (*p >= '0' && *p <= '9')))
    p++;
  return p;
}

/* object_table / array_table of the frame f (its values buffered from f->base). */
static void fill(Rec *r, Frame *f) {
  if (f->kind == F_OBJ) {
    emit(r, OP_OBJ_FILL, (size_t)f->base, f->dup ? 2 + 3 * (size_t)f->n + 1 : 2 + (size_t)f->n);
    emit_word(r, (uint32_t)f->n | (f->dup ? UINT32_C(0x80000000) : 0));
  } else {
    emit(r, OP_ARR_FILL, (size_t)f->base, 2 + (size_t)f->n);
    emit_word(r, (uint32_t)f->n);
  }
  r->top = f->base;
  f->base = 0;
}

/*
 * parse() of src/decode_json.c without the parsing: the same decisions, made from the text
 * (which core.decode has accepted) and its decoded values, each Lua C API call written to the
 * tape. The decoded container of the value being read is at the Lua stack top (its value is
 * pushed above it while it is read).
 */
static void record(Rec *r) {
  lua_State *L = r->L;
  cptr p = r->start, end = r->end, key = NULL;
  size_t keylen = 0;
  Frame *frames = r->frames, *f = frames;
  int keyslot = -1;
  f->kind = F_TOP;
  f->keyslot = -1;
  f->base = 0;
  r->depth = 0;
  lua_pushvalue(L, 2); /* the decoded document: the "container" of the top-level value */

value:
  p = skip_ws(p, end);
  if (p >= end) luaL_error(L, "floor.tape: unexpected end of input");
  /* the decoded value being read, from its container */
  if (f->kind == F_OBJ) {
    lua_pushlstring(L, (const char *)key, keylen);
    lua_rawget(L, -2);
  } else if (f->kind == F_ARR) {
    lua_rawgeti(L, -1, (int)f->n + 1);
  } else {
    lua_pushvalue(L, -1);
  }
  switch (*p) {
    case '"':
      p = tape_string(r, p + 1);
      break;
    case '{':
    case '[': {
      int isobj = *p == '{', base;
      Hint *hint = NULL;
      if (!lua_istable(L, -1)) luaL_error(L, "floor.tape: the text and its decoded value differ");
      if (r->depth == FRAMES_SMALL - 1) luaL_error(L, "floor.tape: nesting over 31 not mirrored");
      luaL_checkstack(L, 4, "floor.tape");
      if (isobj) {
        if (f->kind == F_ARR)
          hint = &f->child;
        else if (f->kind == F_OBJ && keyslot >= 0) {
          KeyEnt *e = &r->kc[keyslot];
          if (e->parent != f->keyslot) {
            e->parent = f->keyslot;
            e->obj.last = UINT32_MAX;
            e->obj.stable = 0;
          }
          hint = &e->obj;
        }
      }
      if (hint && hint->stable) {
        emit(r, OP_OPEN_DIRECT, hint->last, 2);
        r->top++;
        base = 0;
      } else if (r->top - r->stack_top <= STACK_BUDGET) {
        emit(r, OP_OPEN_BUF, 0, 3);
        base = r->top + 1;
      } else {
        emit(r, OP_OPEN_EMPTY, 0, 3); /* lua_gettop, lua_checkstack, lua_createtable */
        r->top++;
        base = 0;
      }
      f = &frames[++r->depth];
      f->base = base;
      f->hint = hint;
      f->n = 0;
      p = skip_ws(p + 1, end);
      if (isobj) {
        f->kind = F_OBJ;
        f->id = ++r->obj_id;
        f->keyslot = frames[r->depth - 1].kind == F_OBJ ? keyslot : -1;
        f->dup = 0;
        if (p < end && *p == '}') {
          p++;
          goto close_obj;
        }
        goto key;
      }
      f->kind = F_ARR;
      f->child.last = UINT32_MAX;
      f->child.stable = 0;
      if (p < end && *p == ']') {
        p++;
        goto close_arr;
      }
      goto value;
    }
    case 't':
      emit(r, OP_TRUE, 0, 1);
      r->top++;
      p += 4;
      break;
    case 'f':
      emit(r, OP_FALSE, 0, 1);
      r->top++;
      p += 5;
      break;
    case 'n':
      emit(r, OP_NULL, 0, 1);
      r->top++;
      p += 4;
      break;
    default:
      p = tape_number(r, p);
      break;
  }
  lua_pop(L, 1); /* the decoded value */

after_value:
  if (f->kind == F_OBJ) {
    f->n++;
    if (f->base) {
      if (f->n % STEP == 0) {
        if (f->n >= OBJ_BUF_MAX || r->top - r->stack_top > STACK_BUDGET)
          fill(r, f);
        else
          emit(r, OP_CHECK, 2 * STEP + 4, 2); /* lua_gettop, lua_checkstack */
      }
    } else {
      emit(r, OP_RAWSET_TOP, 0, 1);
      r->top -= 2;
    }
    p = skip_ws(p, end);
    if (p < end && *p == ',') {
      p = skip_ws(p + 1, end);
      goto key;
    }
    if (p < end && *p == '}') {
      p++;
      goto close_obj;
    }
    luaL_error(L, "floor.tape: expected ',' or '}'");
  }
  if (f->kind == F_ARR) {
    f->n++;
    if (f->base) {
      if (f->n % STEP == 0) {
        if (f->n >= ARR_BUF_MAX || r->top - r->stack_top > STACK_BUDGET)
          fill(r, f);
        else
          emit(r, OP_CHECK, 2 * STEP + 4, 2); /* lua_gettop, lua_checkstack */
      }
    } else {
      emit(r, OP_RAWSETI_TOP, f->n, 1);
      r->top -= 1;
    }
    p = skip_ws(p, end);
    if (p < end && *p == ',') {
      p++;
      goto value;
    }
    if (p < end && *p == ']') {
      p++;
      goto close_arr;
    }
    luaL_error(L, "floor.tape: expected ',' or ']'");
  }
  /* the top-level value is complete */
  lua_pop(L, 1);
  emit(r, OP_END, 0, 2);
  return;

key:
  if (p >= end || *p != '"') luaL_error(L, "floor.tape: expected string key");
  p = tape_key(r, p + 1, &keyslot, &key, &keylen);
  if (f->base) {
    KeyEnt *e = &r->kc[keyslot];
    if (e->seen == f->id) f->dup = 1;
    e->seen = f->id;
  }
  p = skip_ws(p, end);
  if (p >= end || *p != ':') luaL_error(L, "floor.tape: expected ':'");
  p++;
  goto value;

close_obj:
  if (f->base) fill(r, f);
  if (f->hint) {
    f->hint->stable = f->hint->last == f->n;
    f->hint->last = f->n;
  }
  f = &frames[--r->depth];
  lua_pop(L, 1); /* the decoded object */
  goto after_value;

close_arr:
  if (f->base) fill(r, f);
  f = &frames[--r->depth];
  lua_pop(L, 1); /* the decoded array */
  goto after_value;
}

/* floor.tape(json) -> tape: core.decode(json), and the calls it made to build the value. */
static int l_tape(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  Tape *t;
  Rec *r;
  lua_settop(L, 1);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "acedata.core");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "decode");
  lua_pushvalue(L, 1);
  lua_call(L, 1, 2);
  if (lua_isnil(L, -2))
    return luaL_error(L, "floor.tape: core.decode failed: %s", lua_tostring(L, -1));
  lua_pop(L, 1);
  lua_replace(L, 2); /* 2: the decoded value */
  lua_settop(L, 2);
  t = (Tape *)lua_newuserdata(L, sizeof *t); /* 3 */
  memset(t, 0, sizeof *t);
  luaL_getmetatable(L, TAPE_MT);
  lua_setmetatable(L, -2);
  r = (Rec *)lua_newuserdata(L, sizeof *r); /* 4: scratch, collected with the call */
  memset(r, 0, sizeof *r);
  r->L = L;
  r->t = t;
  r->start = (cptr)s;
  r->end = r->start + len;
  r->top = r->stack_top = 3; /* 2 reserved slots and the key table */
  /* ad_decode's own: 3 gettop, checkstack, 2 nils, key table */
  t->calls = 7;
  if (lua_type(L, 2) != LUA_TTABLE) return luaL_error(L, "floor.tape: a table expected");
  record(r);
  if (r->top != 4) return luaL_error(L, "floor.tape: stack %d at the end, not 4", r->top);
  lua_settop(L, 3);
  return 1;
}

/* ---- replaying ---------------------------------------------------------------------------- */

/* floor.replay(tape) -> the table core.decode made, by the same calls */
static int l_replay(lua_State *L) {
  const Tape *t = (const Tape *)luaL_checkudata(L, 1, TAPE_MT);
  const uint32_t *op = t->ops;
  const char *str = t->str;
  int base, kc;
  if (op == NULL) return luaL_error(L, "floor.replay: an empty tape");
  base = lua_gettop(L);
  luaL_checkstack(L, 8, "floor.replay");
  lua_pushnil(L); /* ad_decode's scratch slot */
  lua_pushnil(L); /* and frames slot */
  lua_createtable(L, 32, 0);
  kc = lua_gettop(L); /* base + 3; ad_decode reads the top here, and again for stack_top */
  (void)lua_gettop(L);
  for (;;) {
    uint32_t w = *op++, a = w >> OP_BITS;
    switch (w & ((1u << OP_BITS) - 1)) {
      case OP_OPEN_DIRECT:
        lua_checkstack(L, 4);
        lua_createtable(L, 0, (int)a);
        break;
      case OP_OPEN_BUF: /* lua_gettop twice: the budget, the base */
        (void)lua_gettop(L);
        (void)lua_gettop(L);
        lua_checkstack(L, 2 * STEP + 4);
        break;
      case OP_OPEN_EMPTY:
        (void)lua_gettop(L);
        lua_checkstack(L, 4);
        lua_createtable(L, 0, 0);
        break;
      case OP_CHECK:
        (void)lua_gettop(L);
        lua_checkstack(L, (int)a);
        break;
      case OP_GETKC:
        lua_rawgeti(L, kc, (int)a);
        break;
      case OP_STR:
        lua_pushlstring(L, str + op[1], op[0]);
        op += 2;
        break;
      case OP_STR_CACHE:
        lua_pushlstring(L, str + op[1], op[0]);
        op += 2;
        lua_pushvalue(L, -1);
        lua_rawseti(L, kc, (int)a);
        (void)lua_tostring(L, -1);
        break;
#if LUA_VERSION_NUM >= 503
      case OP_INT: {
        lua_Integer v;
        memcpy(&v, op, sizeof v);
        op += 2;
        lua_pushinteger(L, v);
        break;
      }
#endif
      case OP_NUM: {
        lua_Number v;
        memcpy(&v, op, sizeof v);
        op += 2;
        lua_pushnumber(L, v);
        break;
      }
      case OP_TRUE:
        lua_pushboolean(L, 1);
        break;
      case OP_FALSE:
        lua_pushboolean(L, 0);
        break;
      case OP_NULL:
        lua_pushlightuserdata(L, NULL);
        break;
      case OP_RAWSET_TOP:
        lua_rawset(L, -3);
        break;
      case OP_RAWSETI_TOP:
        lua_rawseti(L, -2, (int)a);
        break;
      case OP_OBJ_FILL: {
        int at = base + (int)a, n = (int)(*op & 0x7FFFFFFF), dup = (int)(*op >> 31), i;
        op++;
        lua_createtable(L, 0, n);
        lua_insert(L, at);
        if (!dup) {
          for (i = 0; i < n; i++) lua_rawset(L, at);
        } else {
          for (i = 0; i < n; i++) {
            lua_pushvalue(L, at + 1 + 2 * i);
            lua_pushvalue(L, at + 2 + 2 * i);
            lua_rawset(L, at);
          }
          lua_settop(L, at);
        }
        break;
      }
      case OP_ARR_FILL: {
        int at = base + (int)a, i;
        int n = (int)*op++;
        lua_createtable(L, n, 0);
        lua_insert(L, at);
        for (i = n; i >= 1; i--) lua_rawseti(L, at, i);
        break;
      }
      case OP_END:
        if (lua_gettop(L) != base + 4) return luaL_error(L, "floor.replay: a broken tape");
        lua_replace(L, base + 1);
        lua_settop(L, base + 1);
        return 1;
      default:
        return luaL_error(L, "floor.replay: a broken tape");
    }
  }
}

/* floor.stats(tape) -> Lua C API calls of a replay, tape bytes */
static int l_stats(lua_State *L) {
  const Tape *t = (const Tape *)luaL_checkudata(L, 1, TAPE_MT);
  lua_pushnumber(L, (lua_Number)t->calls);
  lua_pushnumber(L, (lua_Number)(t->n * sizeof *t->ops + t->slen));
  return 2;
}

int luaopen_floor(lua_State *L);
int luaopen_floor(lua_State *L) {
  if (luaL_newmetatable(L, TAPE_MT)) {
    lua_pushcfunction(L, tape_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  lua_newtable(L);
  lua_pushcfunction(L, l_tape);
  lua_setfield(L, -2, "tape");
  lua_pushcfunction(L, l_replay);
  lua_setfield(L, -2, "replay");
  lua_pushcfunction(L, l_stats);
  lua_setfield(L, -2, "stats");
  return 1;
}
