/* sock_epoll.c — the epoll transport of a connection: readiness events on
 * the loop's epoll set, read() into the buffer the core names, and writes
 * of the wire queue at once until the kernel says EAGAIN. */
#include "net/conn_int.h"
#include "net/layers.h"
#include "net/loop_int.h"

#include <errno.h>
#include <stddef.h>
#include <sys/socket.h>
#include <unistd.h>

static sk_conn *conn_of(sk__io *io) { return (sk_conn *)((char *)io - offsetof(sk_conn, io)); }

static void do_read(sk_conn *c)
{
    size_t cap;
    int in_tail;
    uint8_t *dst = sk__conn_read_buf(c, &cap, &in_tail);
    if (!dst)
        return;
    ssize_t n = read(c->io.fd, dst, cap);
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR)
            sk__conn_read_error(c, -errno);
        return;
    }
    if (n == 0)
        sk__conn_eof(c);
    else
        sk__conn_input(c, dst, (size_t)n, in_tail);
}

/* A watcher with no events is out of the epoll set, so a hung-up peer we
 * are not reading from (paused, or after EOF) cannot make the loop spin. */
static void on_io(sk__io *io, unsigned ev)
{
    sk_conn *c = conn_of(io);
    if ((ev & SK_WRITABLE) && c->write_blocked && sk__conn_writable(c) < 0)
        return;
    if ((ev & SK_READABLE) && sk__conn_wants_input(c))
        do_read(c);
}

static int start(sk_conn *c) { return sk__io_start(&c->io, c->loop, c->io.fd, SK_READABLE, on_io); }

static void watch(sk_conn *c, int rd, int wr)
{
    sk__io_set(&c->io, c->loop, (rd ? SK_READABLE : 0u) | (wr ? SK_WRITABLE : 0u));
}

/* Writes the wire queue now until it is empty or the kernel is full. */
static int write_now(sk_conn *c)
{
    sk__outq *q = sk__conn_wire(c);
    while (q->bytes) {
        struct iovec iov[64];
        uint8_t flat[SK__OUTQ_FLAT];
        int k = sk__outq_gather(q, iov, 64, flat, sizeof flat);
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)k};
        /* one piece (the usual reply): send() skips sendmsg's msghdr and iovec copies */
        ssize_t n = k == 1 ? send(c->io.fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL)
                           : sendmsg(c->io.fd, &mh, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                break;
            sk__conn_fail(c, -errno);
            return -1;
        }
        c->bytes_out += (uint64_t)n;
        sk__outq_consume(q, (size_t)n);
    }
    c->write_blocked = q->bytes > 0;
    return 0;
}

static void close_sock(sk_conn *c)
{
    sk__io_stop(&c->io, c->loop);
    close(c->io.fd);
    c->io.fd = -1;
}

static int release(sk_conn *c) { return 0; }

const sk__transport sk__sock_epoll = {
    .start = start,
    .watch = watch,
    .write = write_now,
    .flush = write_now,
    .close = close_sock,
    .release = release,
    .lends = 1,
};
