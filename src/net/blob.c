/* blob.c — reference-counted immutable byte blobs: a chat broadcast is
 * encoded once into a blob and queued on every member by reference. */
#include "net/blob_int.h"
#include "net/cache.h"
#include "sockit/conn.h"

#include <stdlib.h>
#include <string.h>

/* Spare small blobs: on the echo hot path a reply blob lives for one loop
 * iteration, so it is reused instead of freed. */
static __thread sk__cache spare;

sk_blob *sk__blob_alloc(size_t cap)
{
    sk_blob *b = cap <= SK_BLOB_SMALL ? sk__cache_take(&spare) : NULL;
    if (!b) {
        size_t c = cap <= SK_BLOB_SMALL ? SK_BLOB_SMALL : cap;
        if (c > SIZE_MAX - sizeof *b)
            return NULL;
        b = malloc(sizeof *b + c);
        if (!b)
            return NULL;
        b->cap = c;
    }
    b->refs = 1;
    b->priv = SK__BLOB_SHARED;
    b->len = 0;
    b->data = (uint8_t *)(b + 1);
    return b;
}

sk_blob *sk__blob_lend(const void *p, size_t len)
{
    sk_blob *b = malloc(sizeof *b); /* the header alone (cap 0: freed, never cached) */
    if (b)
        *b = (sk_blob){.refs = 1, .priv = SK__BLOB_LENT, .len = len, .data = (uint8_t *)p};
    return b;
}

sk_blob *sk_blob_new(const void *data, size_t len)
{
    sk_blob *b = sk__blob_alloc(len);
    if (!b)
        return NULL;
    if (len)
        memcpy(b->data, data, len);
    b->len = len;
    return b;
}

sk_blob *sk_blob_frame(sk_frame mode, const void *msg, size_t len)
{
    ssize_t n = sk_frame_encoded_size(mode, len);
    sk_blob *b = n < 0 ? NULL : sk__blob_alloc((size_t)n);
    if (b)
        b->len = (size_t)sk_frame_encode(mode, msg, len, b->data);
    return b;
}

void sk__blob_cache_flush(void) { sk__cache_flush(&spare); }

const uint8_t *sk_blob_data(const sk_blob *b) { return b->data; }
size_t sk_blob_len(const sk_blob *b) { return b->len; }

sk_blob *sk_blob_ref(sk_blob *b)
{
    __atomic_add_fetch(&b->refs, 1, __ATOMIC_RELAXED);
    return b;
}

void sk_blob_unref(sk_blob *b)
{
    if (!b || __atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    if (b->cap == SK_BLOB_SMALL)
        sk__cache_give(&spare, b);
    else
        free(b);
}
