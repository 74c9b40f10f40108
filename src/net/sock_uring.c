/* sock_uring.c — the io_uring transport of a connection: one multishot recv
 * into the loop's buffer ring while the core wants input, one send of the
 * wire queue in flight at a time, and a close that waits for the last
 * completion before the fd (and later the memory) goes, so a number the
 * kernel still refers to is never reused. */
#include "net/conn_int.h"
#include "net/layers.h"
#include "net/loop_uring.h"

#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <unistd.h>

static sk_conn *conn_of(sk__io *io) { return (sk_conn *)((char *)io - offsetof(sk_conn, io)); }

/* Arms the multishot recv, or asks to cancel it. A recv being cancelled is
 * re-armed after its last completion if wanted again. */
static void watch(sk_conn *c, int rd, int wr)
{
    if (rd && !c->recv_on) {
        c->recv_on = 1;
        c->ops++;
        sk__uring_recv(c->loop, &c->io);
    } else if (!rd && c->recv_on && !c->recv_stop) {
        c->recv_stop = 1;
        sk__uring_cancel(c->loop, &c->io, 0);
    }
}

/* An operation of c ended. Once none is left, a closed connection's fd is
 * closed and, after its on_close, its memory freed. Returns 1 if c is gone. */
static int op_done(sk_conn *c)
{
    assert(c->ops > 0);
    if (--c->ops || c->state != C_CLOSED)
        return 0;
    if (c->io.fd >= 0) {
        close(c->io.fd);
        c->io.fd = -1;
    }
    if (!c->zombie)
        return 0;
    sk__uring_zombie(c->loop, -1);
    sk__conn_free(c);
    return 1;
}

/* Bytes from the multishot recv (decoding may unmask them in place; the
 * buffer goes back to the ring after the call). When delivery stops
 * (pressure, pause) the recv is cancelled with the next submission, so what
 * still arrives is one iteration's worth at most (the kernel retries a
 * multishot recv a bounded number of times per run); the core keeps it in
 * c->in like the rest of a read that could not be delivered. */
static void received(sk_conn *c, int res, uint8_t *buf, int more)
{
    if (!more)
        c->recv_on = c->recv_stop = 0;
    if (c->state != C_CLOSED) {
        if (res > 0)
            sk__conn_input(c, buf, (size_t)res, 0);
        else if (res == 0)
            sk__conn_eof(c);
        else if (res != -ENOBUFS && res != -ECANCELED && res != -EINTR && res != -EAGAIN)
            sk__conn_read_error(c, res);
    }
    if (!more && !op_done(c))
        sk__conn_rewatch(c); /* re-arms if still wanted (out of buffers, resumed) */
}

static void sent(sk_conn *c, int res)
{
    c->write_blocked = 0;
    if (c->state != C_CLOSED) {
        if (res >= 0) {
            c->bytes_out += (uint64_t)res;
            sk__outq_consume(sk__conn_wire(c), (size_t)res);
        } else if (res != -EAGAIN && res != -EINTR) {
            sk__conn_fail(c, res);
        }
    }
    if (op_done(c) || c->state == C_CLOSED)
        return;
    sk__conn_sent(c);
}

static void on_done(sk__io *io, int kind, int res, uint8_t *buf, int more)
{
    if (kind == SK__UOP_RECV)
        received(conn_of(io), res, buf, more);
    else
        sent(conn_of(io), res);
}

/* Receiving starts with the core's first watch (sk__conn_rewatch). */
static int start(sk_conn *c)
{
    c->io.done = on_done;
    return 0;
}

/* One send of the queued output; its completion goes on with the rest.
 * Nothing to send (a security layer holding plain bytes until its
 * handshake is done) is a write that wrote nothing now. */
static int submit(sk_conn *c)
{
    if (sk__conn_wire(c)->bytes == 0)
        return 0;
    c->write_blocked = 1;
    c->ops++;
    sk__uring_send(c->loop, &c->io, sk__conn_wire(c));
    return 1;
}

/* Writes now what the socket takes (sk_conn_flush), then hands the rest to
 * the ring. Returns 0, or -1 if c failed. */
static int flush(sk_conn *c)
{
    int r = sk__sock_epoll.flush(c);
    if (r == 0 && c->write_blocked)
        submit(c);
    return r;
}

static void close_sock(sk_conn *c)
{
    if (c->ops) { /* the fd closes after the last completion, so its number */
        sk__uring_cancel(c->loop, &c->io, 1); /* is never reused under a queued op */
        return;
    }
    close(c->io.fd);
    c->io.fd = -1;
}

static int release(sk_conn *c)
{
    if (!c->ops)
        return 0;
    c->zombie = 1;
    sk__uring_zombie(c->loop, 1);
    return 1;
}

const sk__transport sk__sock_uring = {
    .start = start,
    .watch = watch,
    .write = submit,
    .flush = flush,
    .close = close_sock,
    .release = release,
    .lends = 0, /* a send completes later, after the read buffer was reused */
};
