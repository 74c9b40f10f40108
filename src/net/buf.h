/* buf.h — a growable byte buffer with a consumed-prefix offset, used for a
 * connection's pending input and output. Memory is held only while in use. */
#ifndef SOCKIT_BUF_H
#define SOCKIT_BUF_H

#include <stddef.h>
#include <stdint.h>

/* A buffer never holds more than this (4 GiB - 1), so its offsets take 32
 * bits and an idle connection's buffer is 24 bytes. */
#define SK__BUF_MAX UINT32_MAX

typedef struct sk__buf {
    uint8_t *data;
    uint32_t off;  /* first unconsumed byte */
    uint32_t len;  /* bytes in use after off */
    uint32_t cap;
    uint32_t scanned; /* its reader's mark: bytes after off already searched (for a line
                       * end, framing.c), so a partial line is not searched again */
} sk__buf;

/* Returns a pointer to at least n writable bytes after the data (grows or
 * compacts as needed), or NULL on out-of-memory or when len + n would exceed
 * SK__BUF_MAX. Commit with sk__buf_added. */
uint8_t *sk__buf_reserve(sk__buf *b, size_t n);
static inline void sk__buf_added(sk__buf *b, size_t n) { b->len += (uint32_t)n; }
static inline uint8_t *sk__buf_head(const sk__buf *b)
{
    return b->data ? b->data + b->off : NULL; /* (NULL + 0 is undefined in C) */
}

/* Appends n bytes. Returns 0 or -ENOMEM (also beyond SK__BUF_MAX). */
int sk__buf_append(sk__buf *b, const void *p, size_t n);

/* Drops n bytes from the front; frees the memory when it becomes empty. */
void sk__buf_consume(sk__buf *b, size_t n);

/* Frees the memory. */
void sk__buf_free(sk__buf *b);

#endif
