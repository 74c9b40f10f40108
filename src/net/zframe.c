/* zframe.c — compressed framing glue: one compression context per thread
 * (so per loop), shared by its connections, and compressed broadcast blobs. */
#include "net/zframe.h"

#include "net/blob_int.h"
#include "sockit/conn.h"

static __thread sk_zctx *ctx;

sk_zctx *sk__zctx_thread(void)
{
    if (!ctx)
        ctx = sk_zctx_new();
    return ctx;
}

void sk__zctx_cache_flush(void)
{
    sk_zctx_free(ctx);
    ctx = NULL;
}

sk_blob *sk_blob_zframe(const sk_zopts *o, sk_frame mode, const void *msg, size_t len)
{
    uint8_t hdr[8];
    sk_zctx *z = sk__zctx_thread();
    if (!z || !sk_zframe_mode_ok(mode) || sk_frame_header(mode, sk_zbody_bound(len), hdr) < 0)
        return NULL;
    size_t h = sk_frame_header_size(mode);
    sk_blob *b = sk__blob_alloc(h + sk_zbody_bound(len));
    if (!b)
        return NULL;
    ssize_t n = sk_zbody_encode(z, o, msg, len, b->data + h, NULL);
    sk_frame_header(mode, (size_t)n, b->data);
    b->len = h + (size_t)n;
    return b;
}
