/* framing.c — the framing protocol of a stream connection: the codec of
 * proto/codec.c between the bytes and the messages (raw, line, lenN), in
 * both directions. A large reply that lies in the input being delivered (an
 * echo) is framed around a reference instead of copied. */
#include "net/conn_int.h"
#include "net/layers.h"
#include "sockit/codec.h"
#include "sockit/error.h"

#include <errno.h>
#include <string.h>

static int attach(sk_conn *c, const sk_conn_opts *o) { return 0; }

/* Delivers every complete frame in buf while delivery is allowed; returns
 * the bytes consumed. A framing error aborts just this connection. TEXT: an
 * unterminated line that ends the bytes is a message when it is all there
 * is (a client that sends one line per send() without "\n"), but after a
 * line of the same read it waits for its "\n" (a long line cut by a read). */
static size_t input(sk_conn *c, uint8_t *buf, size_t len)
{
    size_t off = 0;
    while (off < len && sk__conn_can_deliver(c)) {
        const uint8_t *msg;
        size_t mlen;
        sk_frame mode = (sk_frame)c->in_frame;
        if (mode == SK_FRAME_TEXT && off > 0)
            mode = SK_FRAME_LINE;
        ssize_t r = sk_frame_decode(mode, c->max_frame, buf + off, len - off, &msg, &mlen);
        if (r == 0)
            break;
        if (r < 0) {
            sk_conn_abort(c, (int)r);
            break;
        }
        off += (size_t)r;
        sk__conn_emit(c, msg, mlen);
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

static int send(sk_conn *c, const void *msg, size_t len)
{
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
