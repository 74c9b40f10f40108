/* outq.c — the output queue of a connection: a ring of blob references with
 * a write offset into the oldest; replies are packed into a private tail. */
#include "net/outq.h"
#include "net/blob_int.h"

#include <errno.h>
#include <stdlib.h>

static sk_blob *at(const sk__outq *q, uint32_t i) { return q->v[(q->head + i) % q->cap]; }

static int grow(sk__outq *q)
{
    if (q->cap == 0) { /* the first blobs live inline */
        q->v = q->inl;
        q->cap = SK__OUTQ_INLINE;
        q->head = 0;
        return 0;
    }
    uint32_t cap = q->cap * 2;
    sk_blob **v = malloc(cap * sizeof *v);
    if (!v)
        return -ENOMEM;
    for (uint32_t i = 0; i < q->n; i++)
        v[i] = at(q, i);
    if (q->v != q->inl)
        free(q->v);
    q->v = v;
    q->cap = cap;
    q->head = 0;
    return 0;
}

static int push(sk__outq *q, sk_blob *b)
{
    if (q->n == q->cap && grow(q) < 0)
        return -ENOMEM;
    q->v[(q->head + q->n) % q->cap] = b;
    q->n++;
    return 0;
}

uint8_t *sk__outq_reserve(sk__outq *q, size_t n)
{
    sk_blob *tail = q->n ? at(q, q->n - 1) : NULL;
    if (tail && tail->priv && tail->cap - tail->len >= n)
        return tail->data + tail->len;
    sk_blob *b = sk__blob_alloc(n);
    if (!b)
        return NULL;
    b->priv = 1;
    if (push(q, b) < 0) {
        sk_blob_unref(b);
        return NULL;
    }
    return b->data;
}

void sk__outq_added(sk__outq *q, size_t n)
{
    at(q, q->n - 1)->len += n;
    q->bytes += n;
}

int sk__outq_push(sk__outq *q, sk_blob *b)
{
    if (push(q, b) < 0)
        return -ENOMEM;
    sk_blob_ref(b);
    q->bytes += b->len;
    return 0;
}

int sk__outq_iov(const sk__outq *q, struct iovec *iov, int max)
{
    int k = 0;
    for (uint32_t i = 0; i < q->n && k < max; i++) {
        sk_blob *b = at(q, i);
        size_t off = i == 0 ? q->off : 0;
        if (b->len > off)
            iov[k++] = (struct iovec){.iov_base = b->data + off, .iov_len = b->len - off};
    }
    return k;
}

void sk__outq_consume(sk__outq *q, size_t n)
{
    q->bytes -= n;
    while (q->n) {
        sk_blob *b = at(q, 0);
        size_t left = b->len - q->off;
        if (n < left) {
            q->off += n;
            return;
        }
        n -= left;
        q->off = 0;
        q->head = (q->head + 1) % q->cap;
        q->n--;
        sk_blob_unref(b);
    }
    if (q->n == 0)
        sk__outq_free(q);
}

void sk__outq_free(sk__outq *q)
{
    for (uint32_t i = 0; i < q->n; i++)
        sk_blob_unref(at(q, i));
    if (q->v != q->inl)
        free(q->v);
    *q = (sk__outq){0};
}
