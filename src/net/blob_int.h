/* blob_int.h — the layout of sk_blob, shared by blob.c and outq.c. Not part
 * of the public API. */
#ifndef SOCKIT_BLOB_INT_H
#define SOCKIT_BLOB_INT_H

#include <stddef.h>
#include <stdint.h>

#define SK_BLOB_SMALL 4096

/* What a blob's bytes are (its kind). */
enum { SK__BLOB_SHARED, SK__BLOB_TAIL, SK__BLOB_LENT };

struct sk_blob {
    uint32_t refs;
    uint32_t priv; /* SK__BLOB_SHARED; TAIL: a connection's private tail, still
                    * growing; LENT: data is the caller's memory, not its own */
    size_t len, cap;
    uint8_t *data; /* its own bytes, just after it, unless LENT */
};

/* A blob with room for cap bytes, len 0, one reference. NULL on OOM. */
struct sk_blob *sk__blob_alloc(size_t cap);

/* A LENT blob describing len bytes at p (not copied: p must stay valid as
 * long as the blob is queued). One reference; NULL on OOM. */
struct sk_blob *sk__blob_lend(const void *p, size_t len);

/* Frees this thread's cache of spare blobs (sk_loop_run calls it on return,
 * so a loop thread that exits leaves nothing behind). */
void sk__blob_cache_flush(void);

#endif
