/* blob_int.h — the layout of sk_blob, shared by blob.c and outq.c. Not part
 * of the public API. */
#ifndef SOCKIT_BLOB_INT_H
#define SOCKIT_BLOB_INT_H

#include <stddef.h>
#include <stdint.h>

#define SK_BLOB_SMALL 4096

struct sk_blob {
    uint32_t refs;
    uint32_t priv; /* 1: a connection's private tail, still growing */
    size_t len, cap;
    uint8_t data[];
};

/* A blob with room for cap bytes, len 0, one reference. NULL on OOM. */
struct sk_blob *sk__blob_alloc(size_t cap);

/* Frees this thread's cache of spare blobs (sk_loop_run calls it on return,
 * so a loop thread that exits leaves nothing behind). */
void sk__blob_cache_flush(void);

#endif
