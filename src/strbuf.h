/*
 * A growable byte buffer in malloc'd memory.
 *
 * Used where Lua memory must not be touched: libcurl's write and header callbacks append to
 * buffers owned by a userdata, and the Lua values are built after curl has returned. Appending
 * never raises; it reports an allocation failure by its return value.
 */
#ifndef ACEDATA_STRBUF_H
#define ACEDATA_STRBUF_H

#include <stddef.h>

typedef struct ad_strbuf {
  char *data; /* NULL until the first append; not NUL-terminated */
  size_t len;
  size_t cap;
} ad_strbuf;

/* An empty buffer owning nothing (same as a zero-initialised struct). */
void ad_strbuf_init(ad_strbuf *b);

/* Appends n bytes. Returns 0, or -1 when memory ran out (b is then unchanged). */
int ad_strbuf_append(ad_strbuf *b, const char *p, size_t n);

/* Forgets the contents and keeps the memory for reuse. */
void ad_strbuf_clear(ad_strbuf *b);

/* Frees the memory; b is empty again afterwards (freeing twice is fine). */
void ad_strbuf_free(ad_strbuf *b);

#endif
