/* framing.c — the framing protocol of a stream connection: the codec of
 * proto/codec.c between the bytes and the messages (raw, line, lenN), in
 * both directions, with compressed bodies (proto/compress.c) when asked. A
 * large reply that lies in the input being delivered (an echo) is framed
 * around a reference instead of copied. */
#include "net/conn_int.h"
#include "net/layers.h"
#include "net/zframe.h"
#include "sockit/codec.h"
#include "sockit/error.h"

#include <errno.h>
#include <string.h>

/* Compressed framing keeps only a pointer to the caller's options: an idle
 * connection holds no compression state, the contexts being the thread's
 * (net/zframe.c). */
static int attach(sk_conn *c, const sk_conn_opts *o)
{
    c->zopts = o ? o->compress : NULL;
    return 0;
}

/* The compression options of c's direction (in or out), or NULL. */
static const sk_zopts *zopts(const sk_conn *c, int out)
{
    if (!c->zopts || !sk_zframe_mode_ok((sk_frame)(out ? c->out_frame : c->in_frame)))
        return NULL;
    return c->zopts;
}

/* A compressed-framing body: its message decoded (bounded by max_frame) and
 * delivered, or 0 on an error that aborted c (unknown codec, corrupt, bomb). */
static int emit_body(sk_conn *c, const uint8_t *body, size_t len)
{
    const uint8_t *msg;
    size_t mlen;
    sk_zctx *z = sk__zctx_thread();
    int r = z ? sk_zbody_decode(z, c->max_frame, body, len, &msg, &mlen) : -ENOMEM;
    if (r < 0) {
        sk_conn_abort(c, r);
        return 0;
    }
    if (c->cbs->on_zmsg)
        c->cbs->on_zmsg(c, 0, (sk_zcodec)r, len, mlen, c->ud);
    sk__conn_emit(c, msg, mlen);
    return 1;
}

/* LINE: 1 when the partial line that waits (buf starts with it) is still
 * incomplete, searching only the bytes that came after it was last searched
 * (a line dripped a byte a read would otherwise cost O(n^2)). 0: decode. */
static int line_still_partial(sk_conn *c, const uint8_t *buf, size_t len)
{
    size_t seen = c->in.scanned;
    if (c->in_frame != SK_FRAME_LINE || seen == 0 || seen >= len || len > c->max_frame)
        return 0; /* (past the limit: the codec says so) */
    if (memchr(buf + seen, '\n', len - seen))
        return 0;
    c->in.scanned = (uint32_t)len;
    return 1;
}

/* Delivers every complete frame in buf while delivery is allowed; returns
 * the bytes consumed. A framing error aborts just this connection. TEXT: an
 * unterminated line that ends the bytes is a message when it is all there
 * is (a client that sends one line per send() without "\n"), but after a
 * line of the same read it waits for its "\n" (a long line cut by a read). */
static size_t input(sk_conn *c, uint8_t *buf, size_t len)
{
    size_t off = 0;
    if (line_still_partial(c, buf, len))
        return 0;
    c->in.scanned = 0;
    while (off < len && sk__conn_can_deliver(c)) {
        const uint8_t *msg;
        size_t mlen;
        sk_frame mode = (sk_frame)c->in_frame;
        if (mode == SK_FRAME_TEXT && off > 0)
            mode = SK_FRAME_LINE;
        /* (a compressed-framing body holds its codec byte besides the message,
         * which sk_zbody_decode bounds by max_frame itself) */
        size_t limit = (size_t)c->max_frame + (zopts(c, 0) ? 1 : 0);
        ssize_t r = sk_frame_decode(mode, limit, buf + off, len - off, &msg, &mlen);
        if (r == 0) { /* what is left is one partial frame, searched whole */
            c->in.scanned = (uint32_t)(len - off);
            break;
        }
        if (r < 0) {
            sk_conn_abort(c, (int)r);
            break;
        }
        off += (size_t)r;
        if (!zopts(c, 0))
            sk__conn_emit(c, msg, mlen);
        else if (!emit_body(c, msg, mlen))
            break;
    }
    return off;
}

/* After EOF: a final unterminated line is a message, a cut frame an error. */
static int finish(sk_conn *c, const uint8_t *rest, size_t len)
{
    const uint8_t *msg;
    size_t mlen;
    int r = sk_frame_finish((sk_frame)c->in_frame, rest, len, &msg, &mlen);
    if (r == 1)
        sk__conn_emit(c, msg, mlen);
    return r < 0 ? r : 0;
}

/* Copies n bytes to the end of the output queue (not yet committed). */
static int put(sk_conn *c, const void *p, size_t n)
{
    uint8_t *dst = sk__conn_reserve(c, n);
    if (!dst)
        return -ENOMEM;
    memcpy(dst, p, n);
    return sk__conn_commit(c, n);
}

/* A frame whose payload is lent: its header (and line trailer) copied
 * around it. A failure after the header is queued closes c: its stream
 * would be cut mid-frame. */
static int send_lent(sk_conn *c, const void *msg, size_t len)
{
    sk_frame mode = (sk_frame)c->out_frame;
    uint8_t hdr[8];
    int h = sk_frame_header(mode, len, hdr);
    if (h < 0)
        return h;
    const char *trailer = sk_frame_trailer(mode);
    size_t tlen = strlen(trailer);
    int r = h ? put(c, hdr, (size_t)h) : 0;
    if (r < 0)
        return r; /* nothing of the frame is queued */
    int queued = h != 0;
    if ((r = sk__conn_lend(c, msg, len)) == 0) {
        queued = 1;
        r = tlen ? put(c, trailer, tlen) : 0;
    }
    if (r == -ENOMEM && queued) /* part of the frame is queued: the stream would be cut */
        sk_conn_abort(c, -ENOMEM);
    return r;
}

/* A compressed-framing frame: header, codec byte and (compressed) payload
 * written straight into the output queue; the header is filled in once the
 * body's size is known (its width does not depend on it). */
static int send_z(sk_conn *c, const sk_zopts *zo, const void *msg, size_t len)
{
    sk_frame mode = (sk_frame)c->out_frame;
    uint8_t hdr[8];
    size_t bound = sk_zbody_bound(len);
    int h = sk_frame_header(mode, bound, hdr);
    if (h < 0)
        return h;
    sk_zctx *z = sk__zctx_thread();
    uint8_t *dst = z ? sk__conn_reserve(c, (size_t)h + bound) : NULL;
    if (!dst)
        return -ENOMEM;
    sk_zcodec codec;
    ssize_t n = sk_zbody_encode(z, zo, msg, len, dst + h, &codec);
    sk_frame_header(mode, (size_t)n, dst);
    if (c->cbs->on_zmsg)
        c->cbs->on_zmsg(c, 1, codec, (size_t)n, len, c->ud);
    return sk__conn_commit(c, (size_t)h + (size_t)n);
}

static int send(sk_conn *c, const void *msg, size_t len)
{
    const sk_zopts *zo = zopts(c, 1);
    if (zo)
        return send_z(c, zo, msg, len);
    if (c->out_frame == SK_FRAME_RAW) /* no header, no trailer: the bytes as they are */
        return len ? sk__conn_write(c, msg, len) : 0;
    if (sk__conn_lendable(c, msg, len))
        return send_lent(c, msg, len);
    ssize_t n = sk_frame_encoded_size((sk_frame)c->out_frame, len);
    if (n <= 0)
        return (int)n;
    uint8_t *dst = sk__conn_reserve(c, (size_t)n);
    if (!dst)
        return -ENOMEM;
    sk_frame_encode((sk_frame)c->out_frame, msg, len, dst);
    return sk__conn_commit(c, (size_t)n);
}

static int close_proto(sk_conn *c, int err) { return 0; }
static int shutdown_proto(sk_conn *c) { return 0; }
static size_t held(const sk_conn *c) { return 0; }
static void free_proto(sk_conn *c) {}

const sk__proto sk__proto_frame = {
    .attach = attach,
    .input = input,
    .finish = finish,
    .send = send,
    .send_blob = sk__conn_push,
    .close = close_proto,
    .shutdown = shutdown_proto,
    .held = held,
    .free = free_proto,
};
