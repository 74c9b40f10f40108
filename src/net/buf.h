/* buf.h — a growable byte buffer with a consumed-prefix offset, used for a
 * connection's pending input and output. Memory is held only while in use. */
#ifndef SOCKIT_BUF_H
#define SOCKIT_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct sk__buf {
    uint8_t *data;
    size_t off;  /* first unconsumed byte */
    size_t len;  /* bytes in use after off */
    size_t cap;
} sk__buf;

/* Returns a pointer to at least n writable bytes after the data (grows or
 * compacts as needed), or NULL on out-of-memory. Commit with sk__buf_added. */
uint8_t *sk__buf_reserve(sk__buf *b, size_t n);
static inline void sk__buf_added(sk__buf *b, size_t n) { b->len += n; }
static inline uint8_t *sk__buf_head(const sk__buf *b) { return b->data + b->off; }

/* Appends n bytes. Returns 0 or -ENOMEM. */
int sk__buf_append(sk__buf *b, const void *p, size_t n);

/* Drops n bytes from the front; frees the memory when it becomes empty. */
void sk__buf_consume(sk__buf *b, size_t n);

/* Frees the memory. */
void sk__buf_free(sk__buf *b);

#endif
