/* conn.c — buffered non-blocking stream connections: reads are decoded into
 * messages straight from a shared loop buffer, the replies to one read go
 * out in one write, and a full output queue pauses reading. */
#include "net/conn_int.h"
#include "net/loop_int.h"
#include "net/uring.h"
#include "net/wsconn.h"
#include "sockit/addr.h"
#include "sockit/conn.h"
#include "sockit/error.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static const sk_conn_cbs no_cbs;

static uint32_t clamp32(size_t v) { return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v; }

static int reading(const sk_conn *c)
{
    return c->state == C_OPEN && !c->eof && !c->user_paused && !c->pressured && !c->close_due;
}

/* Messages may be delivered (reading may already have stopped at EOF). */
int sk__conn_can_deliver(const sk_conn *c)
{
    return c->state == C_OPEN && !c->user_paused && !c->pressured;
}

/* io_uring: arms the multishot recv, or asks to cancel it. A recv being
 * cancelled is re-armed after its last completion if wanted again. */
static void set_recv(sk_conn *c, int on)
{
    if (on && !c->recv_on) {
        c->recv_on = 1;
        c->ops++;
        sk__uring_recv(c);
    } else if (!on && c->recv_on && !c->recv_stop) {
        c->recv_stop = 1;
        sk__uring_cancel(c, 0);
    }
}

static void update_watch(sk_conn *c)
{
    if (c->state == C_CLOSED)
        return;
    int want_read = reading(c) || c->state == C_LINGER;
    if (c->uring) {
        set_recv(c, want_read);
        return;
    }
    sk__io_set(&c->io, c->loop, (want_read ? SK_READABLE : 0u) | (c->write_blocked ? SK_WRITABLE : 0u));
}

static void schedule(sk_conn *c)
{
    if (c->in_pending || c->state == C_CLOSED)
        return;
    c->in_pending = 1;
    c->next_pending = c->loop->pending;
    c->loop->pending = c;
}

static void release_fd(sk_conn *c)
{
    close(c->fd);
    c->fd = -1;
}

/* Closes the fd now; on_close runs from the loop's tick, never re-entrantly. */
void sk__conn_finalize(sk_conn *c, int err)
{
    if (c->state == C_CLOSED)
        return;
    c->state = C_CLOSED;
    c->close_err = err;
    sk_timer_free(c->linger);
    c->linger = NULL;
    if (!c->uring)
        sk__io_stop(&c->io, c->loop);
    if (c->ops) /* io_uring: the fd closes after the last completion, so its */
        sk__uring_cancel(c, 1); /* number is never reused under a queued op */
    else
        release_fd(c);
    c->next_closed = c->loop->closed;
    c->loop->closed = c;
}

void sk_conn_abort(sk_conn *c, int err) { sk__conn_finalize(c, err); }

static void on_linger_timeout(sk_timer *t, void *ud)
{
    sk_conn *c = ud;
    sk__conn_finalize(c, c->close_err);
}

/* Everything is written: send FIN, then wait (bounded) for the peer's. */
static void linger_or_finalize(sk_conn *c)
{
    if (c->eof || shutdown(c->fd, SHUT_WR) < 0 ||
        !(c->linger = sk_timer_new(c->loop, on_linger_timeout, c))) {
        sk__conn_finalize(c, c->close_err);
        return;
    }
    c->state = C_LINGER;
    sk_timer_start(c->linger, SK_LINGER_MS, 0);
    update_watch(c);
}

static void drain_linger(sk_conn *c)
{
    for (int i = 0; i < 4; i++) {
        ssize_t n = read(c->fd, c->loop->rdbuf, SK_RDBUF_SIZE);
        if (n > 0)
            continue;
        if (n == 0 || (errno != EAGAIN && errno != EINTR))
            sk__conn_finalize(c, c->close_err);
        return;
    }
}

void sk_conn_close(sk_conn *c, int err)
{
    if (c->state != C_OPEN || c->close_due)
        return;
    if (c->in.len && c->pressured && !c->user_paused) { /* read, not yet answered */
        c->close_due = 1;
        c->close_err = err;
        update_watch(c); /* reads no more */
        return;
    }
    if (c->ws && sk__ws_is_open(c)) { /* a close frame first; it closes us after */
        sk__ws_close(c, err);
        return;
    }
    c->state = C_CLOSING;
    c->close_err = err;
    if (c->out.bytes == 0) {
        linger_or_finalize(c);
        return;
    }
    update_watch(c);
    schedule(c);
}

/* Delivers every complete frame in buf while delivery is allowed; returns
 * the bytes consumed. A framing error aborts just this connection. */
static size_t deliver(sk_conn *c, uint8_t *buf, size_t len)
{
    if (c->ws)
        return sk__ws_input(c, buf, len);
    size_t off = 0;
    while (off < len && sk__conn_can_deliver(c)) {
        const uint8_t *msg;
        size_t mlen;
        ssize_t r = sk_frame_decode((sk_frame)c->in_frame, c->max_frame, buf + off, len - off,
                                    &msg, &mlen);
        if (r == 0)
            break;
        if (r < 0) {
            sk__conn_finalize(c, (int)r);
            break;
        }
        off += (size_t)r;
        if (c->cbs->on_message)
            c->cbs->on_message(c, msg, mlen, c->ud);
    }
    return off;
}

/* After EOF: a final unterminated line is a message, a cut frame an error. */
static void finish_input(sk_conn *c)
{
    const uint8_t *msg;
    size_t mlen;
    c->eof_done = 1;
    if (c->ws) {
        sk__ws_eof(c);
        return;
    }
    int r = sk_frame_finish((sk_frame)c->in_frame, sk__buf_head(&c->in), c->in.len, &msg, &mlen);
    if (r < 0) {
        sk__conn_finalize(c, r);
        return;
    }
    if (r == 1 && c->cbs->on_message)
        c->cbs->on_message(c, msg, mlen, c->ud);
    sk__buf_free(&c->in);
    if (c->state != C_OPEN)
        return;
    if (c->cbs->on_eof)
        c->cbs->on_eof(c, c->ud);
    else
        sk_conn_close(c, 0);
}

/* Decodes what is buffered in c->in (left by a pause or a partial frame). */
static void process_buffered(sk_conn *c)
{
    size_t used = deliver(c, sk__buf_head(&c->in), c->in.len);
    if (c->state == C_CLOSED)
        return;
    sk__buf_consume(&c->in, used);
    if (c->eof && !c->eof_done && sk__conn_can_deliver(c))
        finish_input(c);
}

static void on_peer_eof(sk_conn *c)
{
    c->eof = 1;
    update_watch(c);
    process_buffered(c);
}

static int write_out(sk_conn *c);
static int write_now(sk_conn *c);

/* The replies to one read go out in one write right after it (not at the
 * end of the iteration), so their buffer is released while still hot. */
static void flush_now(sk_conn *c)
{
    if (c->state != C_CLOSED && c->out.bytes && !c->write_blocked)
        write_out(c);
}

/* Lending: while the bytes of one read in the loop's buffer are delivered
 * to c, a large reply that lies inside them (an echo) is queued by reference
 * instead of copied; the write right after the delivery sends it from there,
 * and whatever of it the kernel did not take is copied before the buffer is
 * read into again. (Not on io_uring, whose sends complete later.) */
static void lend_begin(sk_conn *c, const uint8_t *buf, size_t n)
{
    struct sk__lend *l = &c->loop->lend;
    if (c->uring)
        return;
    l->conn = c;
    l->lo = buf;
    l->hi = buf + n;
}

static void lend_end(sk_conn *c)
{
    struct sk__lend *l = &c->loop->lend;
    l->conn = NULL;
    if (!l->used)
        return;
    l->used = 0;
    if (sk__outq_own(&c->out) < 0) {
        sk__outq_free(&c->out); /* nothing may point into the buffer after this */
        sk__conn_finalize(c, -ENOMEM);
    }
}

/* Whether len bytes at p may be queued by c by reference (see lend_begin). */
static int lendable(const sk_conn *c, const void *p, size_t len)
{
    const struct sk__lend *l = &c->loop->lend;
    uintptr_t a = (uintptr_t)p;
    return len >= SK__LEND_MIN && l->conn == c && a >= (uintptr_t)l->lo &&
           a <= (uintptr_t)l->hi && len <= (uintptr_t)l->hi - a;
}

/* n fresh bytes are at buf: the loop's (or ring's) buffer when shared,
 * else the tail of c->in. Decodes them and sends the replies. */
static void take_input(sk_conn *c, uint8_t *buf, size_t n, int shared)
{
    c->bytes_in += (uint64_t)n;
    if (c->cbs->on_read) {
        c->cbs->on_read(c, n, c->ud);
        if (c->state != C_OPEN)
            return;
    }
    if (!shared) {
        sk__buf_added(&c->in, n);
        process_buffered(c);
        flush_now(c);
        return;
    }
    lend_begin(c, buf, n);
    size_t used = deliver(c, buf, n);
    if (c->state == C_OPEN && used < n && sk__buf_append(&c->in, buf + used, n - used) < 0)
        sk__conn_finalize(c, -ENOMEM);
    flush_now(c);
    lend_end(c);
}

static void do_read(sk_conn *c)
{
    int shared = c->in.len == 0;
    uint8_t *dst = c->loop->rdbuf;
    size_t cap = SK_RDBUF_SIZE;
    if (!shared) {
        dst = sk__buf_reserve(&c->in, 65536); /* a partial frame: complete it and more */
        if (!dst) {
            sk__conn_finalize(c, -ENOMEM);
            return;
        }
        cap = c->in.cap - c->in.off - c->in.len;
    }
    ssize_t n = read(c->fd, dst, cap);
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR)
            sk__conn_finalize(c, -errno);
        return;
    }
    if (n == 0)
        on_peer_eof(c);
    else
        take_input(c, dst, (size_t)n, shared);
}

static int after_write(sk_conn *c);

/* io_uring: one send of the queued output; its completion (sk__conn_sent)
 * goes on with the rest. */
static int submit_send(sk_conn *c)
{
    c->write_blocked = 1;
    c->ops++;
    sk__uring_send(c);
    return 0;
}

/* Writes queued output now until done or EAGAIN (what is left then waits
 * for writability, or goes to io_uring). Returns -1 if c was closed. */
static int write_now(sk_conn *c)
{
    while (c->out.bytes) {
        struct iovec iov[64];
        uint8_t flat[SK__OUTQ_FLAT];
        int k = sk__outq_gather(&c->out, iov, 64, flat, sizeof flat);
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)k};
        /* one piece (the usual reply): send() skips sendmsg's msghdr and iovec copies */
        ssize_t n = k == 1 ? send(c->fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL)
                           : sendmsg(c->fd, &mh, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                break;
            sk__conn_finalize(c, -errno);
            return -1;
        }
        c->bytes_out += (uint64_t)n;
        sk__outq_consume(&c->out, (size_t)n);
    }
    c->write_blocked = c->out.bytes > 0;
    if (c->uring && c->write_blocked)
        submit_send(c);
    return after_write(c);
}

/* Sends queued output: with epoll at once, with io_uring in the next batch
 * of submissions (no system call of its own). Returns -1 if c was closed. */
static int write_out(sk_conn *c) { return c->uring ? submit_send(c) : write_now(c); }

/* Output left the queue: close when all is out, resume reading below the
 * low-water mark. Returns -1 if c was closed. */
static int after_write(sk_conn *c)
{
    if (c->out.bytes == 0) {
        if (c->state == C_CLOSING) {
            linger_or_finalize(c);
            return -1;
        }
        if (c->want_shutdown)
            shutdown(c->fd, SHUT_WR);
    }
    if (c->drain_due && c->out.bytes <= c->low) {
        c->pressured = 0;
        c->drain_due = 0;
        if (c->in.len || (c->eof && !c->eof_done)) { /* input left undelivered while pressured */
            c->need_input = 1;
            schedule(c);
        }
        if (c->cbs->on_drain)
            c->cbs->on_drain(c, c->ud);
        if (c->state == C_CLOSED)
            return -1;
    }
    update_watch(c);
    return 0;
}

/* A watcher with no events is out of the epoll set, so a hung-up peer we
 * are not reading from (paused, or after EOF) cannot make the loop spin. */
static void on_io(sk__io *io, unsigned ev)
{
    sk_conn *c = (sk_conn *)((char *)io - offsetof(sk_conn, io));
    if ((ev & SK_WRITABLE) && c->write_blocked && write_out(c) < 0)
        return;
    if ((ev & SK_READABLE) && reading(c))
        do_read(c);
    else if ((ev & SK_READABLE) && c->state == C_LINGER)
        drain_linger(c);
}

static void set_opts(sk_conn *c, const sk_conn_opts *o)
{
    sk_conn_opts d = {0};
    if (!o)
        o = &d;
    c->in_frame = (uint8_t)o->in_frame;
    c->out_frame = (uint8_t)o->out_frame;
    c->max_frame = clamp32(o->max_frame ? o->max_frame : SK_MAX_FRAME_DEFAULT);
    c->high = clamp32(o->high_water ? o->high_water : (size_t)1 << 20);
    c->low = clamp32(o->low_water ? o->low_water : c->high / 4);
    c->max_queue = clamp32(o->max_queue);
    c->keep_reading = o->keep_reading != 0;
}

/* Where the caller's extra bytes start: after the struct, aligned like malloc. */
static size_t extra_offset(void)
{
    size_t a = _Alignof(max_align_t);
    return (sizeof(sk_conn) + a - 1) / a * a;
}

sk_conn *sk_conn_new(sk_loop *loop, int fd, const sk_conn_cbs *cbs, const sk_conn_opts *opts,
                     void *ud)
{
    size_t extra = opts ? opts->extra : 0;
    sk_conn *c = extra <= SIZE_MAX - extra_offset() ? calloc(1, extra_offset() + extra) : NULL;
    if (!c || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
        int e = c ? errno : ENOMEM;
        free(c);
        close(fd);
        errno = e;
        return NULL;
    }
    c->loop = loop;
    c->fd = fd;
    c->cbs = cbs ? cbs : &no_cbs;
    c->ud = ud;
    set_opts(c, opts);
    c->uring = sk__uring_usable(loop, fd) != 0;
    int r = c->uring ? 0 : sk__io_start(&c->io, loop, fd, SK_READABLE, on_io);
    if (r == 0 && opts && opts->ws && (r = sk__ws_attach(c, opts->ws)) < 0 && !c->uring)
        sk__io_stop(&c->io, loop);
    if (r < 0) {
        free(c);
        close(fd);
        errno = -r;
        return NULL;
    }
    if (c->uring)
        set_recv(c, 1);
    return c;
}

/* Checks the queue limits after an append; returns 0 or SK_EQUEUE. */
int sk__conn_after_queue(sk_conn *c)
{
    if (c->max_queue && c->out.bytes > c->max_queue) {
        sk__conn_finalize(c, SK_EQUEUE);
        return SK_EQUEUE;
    }
    if (!c->drain_due && c->out.bytes > c->high) {
        c->pressured = !c->keep_reading;
        c->drain_due = 1;
        update_watch(c);
    }
    schedule(c);
    return 0;
}

/* Queues a large piece of the input being delivered by reference. */
static int lend(sk_conn *c, const void *data, size_t len)
{
    if (sk__outq_lend(&c->out, data, len) < 0)
        return -ENOMEM;
    c->loop->lend.used = 1;
    return 0;
}

int sk_conn_write(sk_conn *c, const void *data, size_t len)
{
    if (c->state != C_OPEN)
        return SK_ECLOSED;
    if (len == 0)
        return 0;
    if (lendable(c, data, len)) {
        int r = lend(c, data, len);
        return r < 0 ? r : sk__conn_after_queue(c);
    }
    uint8_t *dst = sk__outq_reserve(&c->out, len);
    if (!dst)
        return -ENOMEM;
    memcpy(dst, data, len);
    sk__outq_added(&c->out, len);
    return sk__conn_after_queue(c);
}

int sk_conn_send_blob(sk_conn *c, sk_blob *b)
{
    if (c->state != C_OPEN)
        return SK_ECLOSED;
    if (sk_blob_len(b) == 0)
        return 0;
    if (c->ws && !sk__ws_is_open(c))
        return sk__ws_hold(c, b);
    if (sk__outq_push(&c->out, b) < 0)
        return -ENOMEM;
    return sk__conn_after_queue(c);
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
    int queued = 0;
    uint8_t *dst;
    if (h) {
        if (!(dst = sk__outq_reserve(&c->out, (size_t)h)))
            return -ENOMEM;
        memcpy(dst, hdr, (size_t)h);
        sk__outq_added(&c->out, (size_t)h);
        queued = 1;
    }
    if (lend(c, msg, len) < 0)
        goto fail;
    queued = 1;
    if (tlen) {
        if (!(dst = sk__outq_reserve(&c->out, tlen)))
            goto fail;
        memcpy(dst, trailer, tlen);
        sk__outq_added(&c->out, tlen);
    }
    return sk__conn_after_queue(c);
fail:
    if (queued) /* part of the frame is queued: the stream would be cut mid-frame */
        sk__conn_finalize(c, -ENOMEM);
    return -ENOMEM;
}

int sk_conn_send(sk_conn *c, const void *msg, size_t len)
{
    if (c->state != C_OPEN)
        return SK_ECLOSED;
    if (c->ws)
        return sk__ws_send(c, msg, len);
    if (c->out_frame == SK_FRAME_RAW) /* no header, no trailer: the bytes as they are */
        return sk_conn_write(c, msg, len);
    if (lendable(c, msg, len))
        return send_lent(c, msg, len);
    ssize_t n = sk_frame_encoded_size((sk_frame)c->out_frame, len);
    if (n <= 0)
        return (int)n;
    uint8_t *dst = sk__outq_reserve(&c->out, (size_t)n);
    if (!dst)
        return -ENOMEM;
    sk_frame_encode((sk_frame)c->out_frame, msg, len, dst);
    sk__outq_added(&c->out, (size_t)n);
    return sk__conn_after_queue(c);
}

int sk_conn_flush(sk_conn *c)
{
    if (c->state == C_CLOSED)
        return SK_ECLOSED;
    if (c->out.bytes && !c->write_blocked && write_now(c) < 0)
        return c->close_err ? c->close_err : SK_ECLOSED;
    return 0;
}

void sk_conn_shutdown(sk_conn *c)
{
    if (c->state != C_OPEN || c->want_shutdown)
        return;
    if (c->ws) { /* WebSocket has its own end of output: the close handshake */
        sk__ws_shutdown(c);
        return;
    }
    c->want_shutdown = 1;
    if (c->out.bytes == 0)
        shutdown(c->fd, SHUT_WR);
}

void sk_conn_pause(sk_conn *c)
{
    c->user_paused = 1;
    update_watch(c);
}

void sk_conn_resume(sk_conn *c)
{
    if (!c->user_paused)
        return;
    c->user_paused = 0;
    update_watch(c);
    if (c->in.len || (c->eof && !c->eof_done)) {
        c->need_input = 1;
        schedule(c);
    }
}

void sk_conn_set_framing(sk_conn *c, sk_frame in, sk_frame out, size_t max_frame)
{
    c->in_frame = (uint8_t)in;
    c->out_frame = (uint8_t)out;
    if (max_frame)
        c->max_frame = clamp32(max_frame);
}

int sk_conn_fd(const sk_conn *c) { return c->fd; }
size_t sk_conn_queued(const sk_conn *c) { return c->out.bytes + sk__ws_held(c); }
uint64_t sk_conn_bytes_in(const sk_conn *c) { return c->bytes_in; }
uint64_t sk_conn_bytes_out(const sk_conn *c) { return c->bytes_out; }
void *sk_conn_userdata(const sk_conn *c) { return c->ud; }
void sk_conn_set_userdata(sk_conn *c, void *ud) { c->ud = ud; }
sk_loop *sk_conn_loop(const sk_conn *c) { return c->loop; }
void *sk_conn_extra(sk_conn *c) { return (char *)c + extra_offset(); }

const char *sk_conn_peer(const sk_conn *c)
{
    static __thread char buf[128];
    sk_sockaddr a = {.len = sizeof a.ss};
    if (c->fd < 0 || getpeername(c->fd, (struct sockaddr *)&a.ss, &a.len) < 0)
        return "?";
    sk_sockaddr_format((struct sockaddr *)&a.ss, a.len, buf, sizeof buf);
    return buf;
}

static void free_conn(sk_conn *c)
{
    sk__ws_free(c);
    sk__buf_free(&c->in);
    sk__outq_free(&c->out);
    free(c);
}

/* Called by the loop after every iteration: write batched output, resume
 * paused input, then run on_close callbacks (which may queue more work). */
void sk__conns_tick(sk_loop *loop)
{
    while (loop->pending || loop->closed) {
        sk_conn *c;
        while ((c = loop->pending)) {
            loop->pending = c->next_pending;
            c->in_pending = 0;
            if (c->state == C_CLOSED)
                continue;
            if (c->need_input) {
                c->need_input = 0;
                process_buffered(c);
            }
            if (c->close_due && c->state == C_OPEN && !c->pressured) { /* all answered */
                c->close_due = 0;
                sk_conn_close(c, c->close_err);
            }
            if (c->state != C_CLOSED && c->out.bytes && !c->write_blocked)
                write_out(c);
        }
        sk_conn *list = loop->closed;
        loop->closed = NULL;
        while ((c = list)) {
            list = c->next_closed;
            if (c->in_pending) { /* still queued above: free it next round */
                c->next_closed = loop->closed;
                loop->closed = c;
                continue;
            }
            if (c->cbs->on_close)
                c->cbs->on_close(c, c->close_err, c->ud);
            if (c->ops) { /* io_uring operations still hold it */
                c->zombie = 1;
                sk__uring_zombie(loop, 1);
            } else {
                free_conn(c);
            }
        }
    }
}

/* ---- io_uring completions (uring.c calls these) ---- */

/* An operation of c ended. Once none is left, a closed connection's fd is
 * closed and, after its on_close, its memory freed. Returns 1 if c is gone. */
static int op_done(sk_conn *c)
{
    if (--c->ops || c->state != C_CLOSED)
        return 0;
    if (c->fd >= 0)
        release_fd(c);
    if (!c->zombie)
        return 0;
    sk__uring_zombie(c->loop, -1);
    free_conn(c);
    return 1;
}

/* Bytes from the multishot recv: decoded as a read's would be, discarded
 * while closing (as the epoll path leaves them unread, then drains them).
 * When delivery stops (pressure, pause) the recv is cancelled with the next
 * submission, so what still arrives is one iteration's worth at most (the
 * kernel retries a multishot recv a bounded number of times per run); it
 * waits in c->in like the rest of a read that could not be delivered. */
static void recv_bytes(sk_conn *c, uint8_t *buf, size_t n)
{
    if (c->state != C_OPEN)
        return;
    if (c->in.len == 0) {
        take_input(c, buf, n, 1);
        return;
    }
    uint8_t *dst = sk__buf_reserve(&c->in, n);
    if (!dst) {
        sk__conn_finalize(c, -ENOMEM);
        return;
    }
    memcpy(dst, buf, n);
    take_input(c, dst, n, 0);
}

void sk__conn_received(sk_conn *c, uint8_t *buf, int n, int more)
{
    if (!more)
        c->recv_on = c->recv_stop = 0;
    if (c->state != C_CLOSED) {
        if (n > 0)
            recv_bytes(c, buf, (size_t)n);
        else if (n == 0 && c->state == C_LINGER)
            sk__conn_finalize(c, c->close_err);
        else if (n == 0)
            on_peer_eof(c);
        else if (n != -ENOBUFS && n != -ECANCELED && n != -EINTR && n != -EAGAIN)
            sk__conn_finalize(c, n);
    }
    if (!more && !op_done(c))
        update_watch(c); /* re-arms if still wanted (out of buffers, resumed) */
}

void sk__conn_sent(sk_conn *c, int res)
{
    c->write_blocked = 0;
    if (c->state != C_CLOSED) {
        if (res >= 0) {
            c->bytes_out += (uint64_t)res;
            sk__outq_consume(&c->out, (size_t)res);
        } else if (res != -EAGAIN && res != -EINTR) {
            sk__conn_finalize(c, res);
        }
    }
    if (op_done(c) || c->state == C_CLOSED)
        return;
    if (c->out.bytes)
        write_out(c); /* the rest, and what was queued meanwhile */
    after_write(c);
}
