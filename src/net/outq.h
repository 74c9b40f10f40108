/* outq.h — a connection's output queue: a FIFO of blobs, where private
 * replies are packed into the tail blob and shared broadcasts are queued by
 * reference (encoded once, sent to many). */
#ifndef SOCKIT_OUTQ_H
#define SOCKIT_OUTQ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "sockit/conn.h"

typedef struct sk__outq {
    struct sk__ring *ring; /* the queued blobs, oldest first: allocated only while
                            * something is queued, so an idle queue is 16 bytes */
    size_t bytes;          /* bytes queued and not yet written */
} sk__outq;

/* Returns n writable bytes at the end of the queue (in a private tail blob),
 * or NULL on out-of-memory. Commit with sk__outq_added. */
uint8_t *sk__outq_reserve(sk__outq *q, size_t n);
void sk__outq_added(sk__outq *q, size_t n);

/* Queues a reference to a shared blob (takes a new reference). 0 or -ENOMEM. */
int sk__outq_push(sk__outq *q, sk_blob *b);

/* Queues len bytes at p by reference, without copying them: the caller
 * keeps them unchanged until they are written or sk__outq_own has copied
 * them. 0 or -ENOMEM (nothing queued). */
int sk__outq_lend(sk__outq *q, const void *p, size_t len);

/* Copies the unwritten part of every lent piece into memory of the queue's
 * own, so the lender may reuse its buffer. 0, or -ENOMEM (the queue still
 * refers to lent memory: the caller must free it before reusing that). */
int sk__outq_own(sk__outq *q);

/* Fills up to max iovecs with the queued bytes, oldest first; returns the count. */
int sk__outq_iov(const sk__outq *q, struct iovec *iov, int max);

/* Like sk__outq_iov, but several pieces that together fit in flat (cap
 * bytes) are copied there and described by iov[0] alone: the kernel copies
 * one run faster than many small iovec segments (a burst of broadcasts),
 * and the copy costs less than the segments would. Returns the count. */
#define SK__OUTQ_FLAT 2048
int sk__outq_gather(const sk__outq *q, struct iovec *iov, int max, uint8_t *flat, size_t cap);

/* The oldest queued blob (not yet written from), or NULL when empty. */
sk_blob *sk__outq_head(const sk__outq *q);

/* Drops n written bytes from the front, releasing finished blobs (and the
 * ring with the last one). */
void sk__outq_consume(sk__outq *q, size_t n);

/* Releases everything (no memory is held while the queue is empty). */
void sk__outq_free(sk__outq *q);

/* Frees this thread's spare rings (sk_loop_run calls it on return). */
void sk__outq_cache_flush(void);

#endif
