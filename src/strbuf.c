/* Growable malloc'd byte buffer; see strbuf.h. */
#include "strbuf.h"

#include <stdlib.h>
#include <string.h>

#define STRBUF_MIN_CAP 256

void ad_strbuf_init(ad_strbuf *b) {
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}

/* Capacity for at least `need` bytes: doubling, so appends are amortised O(1). */
static int strbuf_reserve(ad_strbuf *b, size_t need) {
  size_t cap = b->cap ? b->cap : STRBUF_MIN_CAP;
  char *p;
  if (need <= b->cap) return 0;
  while (cap < need) {
    if (cap > (size_t)-1 / 2) {
      cap = need;
      break;
    }
    cap *= 2;
  }
  p = (char *)realloc(b->data, cap);
  if (p == NULL) return -1;
  b->data = p;
  b->cap = cap;
  return 0;
}

int ad_strbuf_append(ad_strbuf *b, const char *p, size_t n) {
  if (n == 0) return 0;
  if (n > (size_t)-1 - b->len) return -1;
  if (strbuf_reserve(b, b->len + n) != 0) return -1;
  memcpy(b->data + b->len, p, n);
  b->len += n;
  return 0;
}

void ad_strbuf_clear(ad_strbuf *b) { b->len = 0; }

void ad_strbuf_free(ad_strbuf *b) {
  free(b->data);
  ad_strbuf_init(b);
}
