/* outq.c — the output queue of a connection: a ring of blob references with
 * a write offset into the oldest; replies are packed into a private tail
 * (record-sized tails come from a small per-thread cache). */
#include "net/outq.h"
#include "net/blob_int.h"
#include "net/cache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Taken with the first blob queued and given back with the last one written
 * (the smallest from a per-thread cache of spares, so a reply costs no
 * malloc), an idle connection holds none. */
struct sk__ring {
    uint32_t head, n, cap;
    size_t off;     /* bytes of the oldest blob already written */
    sk_blob *v[];
};

#define RING_MIN 4 /* a reply and a few broadcasts: one 64-byte chunk (a power of two) */

static __thread sk__cache spare; /* rings of RING_MIN */

static void ring_free(struct sk__ring *r)
{
    if (r && r->cap == RING_MIN)
        sk__cache_give(&spare, r);
    else
        free(r);
}

/* Record-sized tails (a TLS record of 16 KiB is 16,406 bytes sealed): on
 * io_uring they live until the send completes, so malloc'ing and freeing
 * one per record grew and trimmed the heap top (brk, and page faults on
 * every regrowth). A few are kept per thread instead. */
#define BIG_MIN 16384         /* tails this large ... */
#define BIG_CAP (17 * 1024)   /* ... get this room, and are kept */
#define BIG_KEEP 16           /* at most this many per thread (272 KiB) */

static __thread sk__cache spare_big;

static sk_blob *big_take(void)
{
    sk_blob *b = sk__cache_take(&spare_big);
    if (!b)
        return sk__blob_alloc(BIG_CAP);
    *b = (sk_blob){.refs = 1, .cap = BIG_CAP, .data = (uint8_t *)(b + 1)};
    return b;
}

/* Drops the queue's reference to b; a private record-sized tail nobody
 * else holds is kept for the next record. */
static void drop(sk_blob *b)
{
    if (b->priv == SK__BLOB_TAIL && b->cap == BIG_CAP && b->refs == 1 && spare_big.n < BIG_KEEP)
        sk__cache_give(&spare_big, b);
    else
        sk_blob_unref(b);
}

void sk__outq_cache_flush(void)
{
    sk__cache_flush(&spare);
    sk__cache_flush(&spare_big);
}

/* Slot i after the head (cap is a power of two: RING_MIN, doubled). */
static uint32_t slot(const struct sk__ring *r, uint32_t i) { return (r->head + i) & (r->cap - 1); }

static sk_blob *at(const struct sk__ring *r, uint32_t i) { return r->v[slot(r, i)]; }

/* Makes room for one more blob: a new ring, or one twice as large. */
static int grow(sk__outq *q)
{
    struct sk__ring *old = q->ring;
    uint32_t cap = old ? old->cap * 2 : RING_MIN;
    if (old && cap < old->cap)
        return -ENOMEM;
    struct sk__ring *r = cap == RING_MIN ? sk__cache_take(&spare) : NULL;
    if (!r)
        r = malloc(sizeof *r + cap * sizeof r->v[0]);
    if (!r)
        return -ENOMEM;
    *r = (struct sk__ring){.cap = cap};
    if (old) {
        for (uint32_t i = 0; i < old->n; i++)
            r->v[i] = at(old, i);
        r->n = old->n;
        r->off = old->off;
        ring_free(old);
    }
    q->ring = r;
    return 0;
}

static int push(sk__outq *q, sk_blob *b)
{
    if ((!q->ring || q->ring->n == q->ring->cap) && grow(q) < 0)
        return -ENOMEM;
    struct sk__ring *r = q->ring;
    r->v[slot(r, r->n)] = b;
    r->n++;
    return 0;
}

static sk_blob *tail(const sk__outq *q) { return q->ring ? at(q->ring, q->ring->n - 1) : NULL; }

uint8_t *sk__outq_reserve(sk__outq *q, size_t n)
{
    sk_blob *t = tail(q);
    if (t && t->priv == SK__BLOB_TAIL && t->cap - t->len >= n)
        return t->data + t->len;
    sk_blob *b = n >= BIG_MIN && n <= BIG_CAP ? big_take() : sk__blob_alloc(n);
    if (!b)
        return NULL;
    b->priv = SK__BLOB_TAIL;
    if (push(q, b) < 0) {
        sk_blob_unref(b);
        return NULL;
    }
    return b->data;
}

void sk__outq_added(sk__outq *q, size_t n)
{
    tail(q)->len += n;
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

int sk__outq_lend(sk__outq *q, const void *p, size_t len)
{
    sk_blob *b = sk__blob_lend(p, len);
    if (!b || push(q, b) < 0) {
        sk_blob_unref(b);
        return -ENOMEM;
    }
    q->bytes += len;
    return 0;
}

int sk__outq_own(sk__outq *q)
{
    struct sk__ring *r = q->ring;
    for (uint32_t i = 0; r && i < r->n; i++) {
        sk_blob **sp = &r->v[slot(r, i)];
        if ((*sp)->priv != SK__BLOB_LENT)
            continue;
        size_t off = i == 0 ? r->off : 0, left = (*sp)->len - off;
        sk_blob *own = sk__blob_alloc(left);
        if (!own)
            return -ENOMEM;
        memcpy(own->data, (*sp)->data + off, left);
        own->len = left;
        sk_blob_unref(*sp);
        *sp = own;
        if (i == 0)
            r->off = 0;
    }
    return 0;
}

int sk__outq_iov(const sk__outq *q, struct iovec *iov, int max)
{
    const struct sk__ring *r = q->ring;
    int k = 0;
    for (uint32_t i = 0; r && i < r->n && k < max; i++) {
        sk_blob *b = at(r, i);
        size_t off = i == 0 ? r->off : 0;
        if (b->len > off)
            iov[k++] = (struct iovec){.iov_base = b->data + off, .iov_len = b->len - off};
    }
    return k;
}

int sk__outq_gather(const sk__outq *q, struct iovec *iov, int max, uint8_t *flat, size_t cap)
{
    int n = sk__outq_iov(q, iov, max);
    if (n < 2 || q->bytes > cap)
        return n;
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        memcpy(flat + len, iov[i].iov_base, iov[i].iov_len);
        len += iov[i].iov_len;
    }
    iov[0] = (struct iovec){.iov_base = flat, .iov_len = len};
    return 1;
}

sk_blob *sk__outq_head(const sk__outq *q) { return q->ring ? at(q->ring, 0) : NULL; }

void sk__outq_consume(sk__outq *q, size_t n)
{
    struct sk__ring *r = q->ring;
    q->bytes -= n;
    while (r && r->n) {
        sk_blob *b = at(r, 0);
        size_t left = b->len - r->off;
        if (n < left) {
            r->off += n;
            return;
        }
        n -= left;
        r->off = 0;
        r->head = slot(r, 1);
        r->n--;
        drop(b);
    }
    sk__outq_free(q);
}

void sk__outq_free(sk__outq *q)
{
    struct sk__ring *r = q->ring;
    for (uint32_t i = 0; r && i < r->n; i++)
        drop(at(r, i));
    ring_free(r);
    *q = (sk__outq){0};
}
