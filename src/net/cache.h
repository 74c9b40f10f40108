/* cache.h — a per-thread stack of spare fixed-size allocations. The buffers
 * of one loop iteration's replies (a blob, an output ring) come from here
 * instead of malloc and go back here; sk_loop_run empties the caches of its
 * thread when it returns. Declare one as `static __thread sk__cache`. */
#ifndef SOCKIT_CACHE_H
#define SOCKIT_CACHE_H

#include <stdlib.h>

/* As many as one iteration may hold at once: sends to another connection
 * (a relay's) wait for the end of the iteration, so a batch of 100 clients
 * holds 100 blobs and rings; with 16 spares most of them were malloc'd and
 * freed each time (a relay's user-space cost per message fell 40 % at 128).
 * At most 128 x (4 KiB + a ring) per thread stay cached. */
#define SK__CACHE_MAX 128

typedef struct sk__cache {
    void *v[SK__CACHE_MAX];
    int n;
} sk__cache;

/* A spare allocation, or NULL when there is none. */
static inline void *sk__cache_take(sk__cache *c) { return c->n ? c->v[--c->n] : NULL; }

/* Keeps p for reuse; frees it when the cache is full. */
static inline void sk__cache_give(sk__cache *c, void *p)
{
    if (c->n < SK__CACHE_MAX)
        c->v[c->n++] = p;
    else
        free(p);
}

/* Frees every spare allocation. */
static inline void sk__cache_flush(sk__cache *c)
{
    while (c->n)
        free(c->v[--c->n]);
}

#endif
