/* buf.c — growable byte buffer: amortised appends, O(1) consume, and no
 * memory held while empty (idle connections cost only their struct). */
#include "net/buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SK_BUF_MIN 4096

uint8_t *sk__buf_reserve(sk__buf *b, size_t n)
{
    if (b->cap - b->off - b->len >= n)
        return b->data + b->off + b->len;
    if (b->off > 0 && b->cap - b->len >= n) { /* enough room once compacted */
        memmove(b->data, b->data + b->off, b->len);
        b->off = 0;
        return b->data + b->len;
    }
    if (n > SK__BUF_MAX - b->len)
        return NULL;
    size_t need = b->len + n, cap = b->cap ? b->cap : SK_BUF_MIN;
    while (cap < need)
        cap = cap > SK__BUF_MAX / 2 ? SK__BUF_MAX : cap * 2;
    uint8_t *d = malloc(cap);
    if (!d)
        return NULL;
    if (b->len)
        memcpy(d, b->data + b->off, b->len);
    free(b->data);
    b->data = d;
    b->off = 0;
    b->cap = (uint32_t)cap;
    return d + b->len;
}

int sk__buf_append(sk__buf *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    uint8_t *dst = sk__buf_reserve(b, n);
    if (!dst)
        return -ENOMEM;
    memcpy(dst, p, n);
    sk__buf_added(b, n);
    return 0;
}

void sk__buf_consume(sk__buf *b, size_t n)
{
    if (n >= b->len) {
        sk__buf_free(b);
        return;
    }
    b->off += (uint32_t)n;
    b->len -= (uint32_t)n;
}

void sk__buf_free(sk__buf *b)
{
    free(b->data);
    *b = (sk__buf){0};
}
