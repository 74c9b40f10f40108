/* conn.c — the connection core: the public sk_conn API, the state machine
 * (read side, write side, lingering close), backpressure, and the loop's
 * queue of connections with work. Bytes come up from a transport (through a
 * security layer, if any) and go to a protocol, each chosen once per
 * connection (layers.h); replies to one read go out in one write. */
#include "net/conn_int.h"
#include "net/layers.h"
#include "net/loop_int.h"
#include "net/loop_uring.h"
#include "sockit/addr.h"
#include "sockit/conn.h"
#include "sockit/error.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { TP_EPOLL, TP_URING };
static const sk__transport *const transports[] = {[TP_EPOLL] = &sk__sock_epoll,
                                                   [TP_URING] = &sk__sock_uring};
static const sk__proto *const protos[] = {[SK__PR_FRAME] = &sk__proto_frame, [SK__PR_WS] = &sk__proto_ws};
#define TP(c) transports[(c)->tp]
#define PR(c) protos[(c)->pr]

static const sk_conn_cbs no_cbs;

/* The connections' state of one loop (its SK__PART_CONNS). */
typedef struct conns {
    sk_conn *pending;       /* connections with output to write, input to process
                             * or on_close due (LIFO; each at most once) */
    struct lend {           /* bytes of one read being delivered to conn, which */
        sk_conn *conn;      /* may queue replies inside them by reference until */
        const uint8_t *lo, *hi; /* its write right after (conn NULL: no delivery) */
        int used;           /* something was lent */
    } lend;
} conns;

static conns *conns_of(const sk_conn *c) { return sk__loop_part(c->loop, SK__PART_CONNS); }

static uint32_t clamp32(size_t v) { return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v; }

/* Bytes waiting to be written: the protocol's output and, with a security
 * layer, its sealed form. */
static size_t queued(const sk_conn *c)
{
    return c->out.bytes + (c->sec ? c->sec->wire.bytes + (size_t)c->sec->owes : 0);
}

/* Tells the transport what the core wants now, when that changed. */
static void update_watch(sk_conn *c)
{
    if (c->state == C_CLOSED)
        return;
    unsigned want = (unsigned)sk__conn_wants_input(c) | (unsigned)c->write_blocked << 1;
    if (want == c->watching)
        return;
    c->watching = want & 3;
    TP(c)->watch(c, want & 1, want >> 1);
}

/* After a completion the transport's own state changed: tell it again. */
void sk__conn_rewatch(sk_conn *c)
{
    c->watching = 4; /* matches no wish */
    update_watch(c);
}

static void schedule(sk_conn *c)
{
    if (c->in_pending)
        return;
    conns *cs = conns_of(c);
    c->in_pending = 1;
    c->next_pending = cs->pending;
    cs->pending = c;
}

/* Closes the socket now; on_close runs from the loop's tick, never re-entrantly. */
static void finalize(sk_conn *c, int err)
{
    if (c->state == C_CLOSED)
        return;
    c->state = C_CLOSED;
    c->close_err = err;
    sk_timer_free(c->linger);
    c->linger = NULL;
    TP(c)->close(c);
    schedule(c);
}

void sk_conn_abort(sk_conn *c, int err) { finalize(c, err); }
void sk__conn_fail(sk_conn *c, int err)
{
    if (c->state == C_OPEN && c->sec && c->sec->ops->sock_error)
        err = c->sec->ops->sock_error(c->sec, c, err, 0);
    finalize(c, err);
}

int sk__conn_reads_on_demand(const sk_conn *c) { return c->tp == TP_EPOLL; }

static void peer_ended(sk_conn *c);
static void flush_now(sk_conn *c);

void sk__conn_read_error(sk_conn *c, int err)
{
    if (c->state == C_OPEN && c->sec && c->sec->ops->sock_error) {
        err = c->sec->ops->sock_error(c->sec, c, err, 1);
        if (err < 0 && c->state != C_CLOSED && c->sec->wire.bytes && !c->write_blocked)
            TP(c)->flush(c); /* best effort: the peer learns why (a TLS alert) */
        if (err >= 0 && c->state != C_CLOSED) {
            if (err == 1 && c->rd == R_OPEN)
                peer_ended(c);
            flush_now(c); /* what the layer has to say (an answer to the record) */
            return;
        }
    }
    finalize(c, err);
}

static void on_linger_timeout(sk_timer *t, void *ud)
{
    sk_conn *c = ud;
    finalize(c, c->close_err);
}

/* No more output: a security layer's own end (TLS close_notify) follows
 * what is queued. */
static void end_output(sk_conn *c, int half)
{
    if (c->sec && c->sec->ops->close)
        c->sec->ops->close(c->sec, &c->out, half);
}

/* Sends our FIN once (the write side ends here). */
static int shut_wr(sk_conn *c)
{
    assert(c->wr != W_SHUT);
    c->wr = W_SHUT;
    return shutdown(c->io.fd, SHUT_WR);
}

/* Everything is written: send FIN, then wait (bounded) for the peer's. */
static void linger_or_finalize(sk_conn *c)
{
    assert(c->state == C_OPEN || c->state == C_CLOSING);
    if (c->rd != R_OPEN || (c->wr != W_SHUT && shut_wr(c) < 0) ||
        !(c->linger = sk_timer_new(c->loop, on_linger_timeout, c)) ||
        sk_timer_start(c->linger, SK_LINGER_MS, 0) < 0) {
        finalize(c, c->close_err);
        return;
    }
    c->state = C_LINGER;
    update_watch(c);
}

void sk_conn_close(sk_conn *c, int err)
{
    if (c->state != C_OPEN || c->close_due)
        return;
    /* read, not yet answered: held by pressure, or just released from it
     * and waiting for the tick (io_uring may have received a lot meanwhile) */
    if (c->in.len && (c->pressured || c->need_input) && !c->user_paused) {
        c->close_due = 1;
        c->close_err = err;
        update_watch(c); /* reads no more */
        return;
    }
    if (PR(c)->close(c, err)) /* e.g. a WebSocket close frame first; it closes c after */
        return;
    c->state = C_CLOSING;
    c->close_err = err;
    end_output(c, 0);
    if (queued(c) == 0) {
        linger_or_finalize(c);
        return;
    }
    update_watch(c);
    schedule(c);
}

/* ---- input ---- */

/* After the peer's FIN: the protocol's last word on what is left, then
 * on_eof (or a close once the output is out). */
static void finish_input(sk_conn *c)
{
    assert(c->rd == R_EOF);
    c->rd = R_DONE;
    int r = PR(c)->finish(c, sk__buf_head(&c->in), c->in.len);
    if (r < 0) {
        finalize(c, r);
        return;
    }
    sk__buf_free(&c->in);
    if (r == 1 || c->state != C_OPEN)
        return;
    if (c->cbs->on_eof)
        c->cbs->on_eof(c, c->ud);
    else
        sk_conn_close(c, 0);
}

/* partial_since counts loop time in units of 64 ms, modulo 2^17 (2.3 hours: more
 * than --frame-timeout's 3600 s maximum plus a sweep, so it never wraps unseen) */
#define PARTIAL_SHIFT 6
#define PARTIAL_WRAP (1u << 17)
static uint32_t partial_now(const sk_conn *c)
{
    return (uint32_t)((sk_loop_now(c->loop) >> PARTIAL_SHIFT) % PARTIAL_WRAP);
}

/* After decoding (used bytes consumed, at message boundaries): bytes left
 * while delivery was allowed are the start of a message waiting for its end
 * (sk_conn_partial_ms), timed from the read that ended the message before
 * it; a pause is not that. */
static void note_partial(sk_conn *c, size_t used)
{
    if (!c->in.len) {
        c->partial = 0;
    } else if ((!c->partial || used) && sk__conn_can_deliver(c)) {
        c->partial = 1;
        c->partial_since = partial_now(c);
    }
}

/* A lower bound: the start may lie anywhere in its 64 ms unit. */
uint64_t sk_conn_partial_ms(const sk_conn *c)
{
    if (!c->partial || !c->in.len)
        return 0;
    uint32_t units = (partial_now(c) - c->partial_since) % PARTIAL_WRAP;
    return units > 1 ? (uint64_t)(units - 1) << PARTIAL_SHIFT : 1;
}

/* Decodes what is buffered in c->in (left by a pause or a partial frame). */
static void process_buffered(sk_conn *c)
{
    size_t used = PR(c)->input(c, sk__buf_head(&c->in), c->in.len);
    if (c->state == C_CLOSED)
        return;
    sk__buf_consume(&c->in, used);
    note_partial(c, used);
    if (c->rd == R_EOF && sk__conn_can_deliver(c))
        finish_input(c);
}

/* The peer's stream ended (its FIN, or a security layer's own end). */
static void peer_ended(sk_conn *c)
{
    assert(c->rd == R_OPEN);
    c->rd = R_EOF;
    update_watch(c);
    process_buffered(c);
}

void sk__conn_eof(sk_conn *c)
{
    int r = c->sec && c->sec->ops->eof ? c->sec->ops->eof(c->sec) : 0;
    if (r < 0) /* e.g. a FIN in the middle of a TLS handshake: no clean end */
        finalize(c, r);
    else if (c->state == C_LINGER) /* the FIN we waited for */
        finalize(c, c->close_err);
    else if (c->rd == R_OPEN) /* (else the security layer already ended the stream) */
        peer_ended(c);
}

static int write_out(sk_conn *c, int now);
static void peer_ended(sk_conn *c);

/* The replies to one read go out in one write right after it (not at the
 * end of the iteration), so their buffer is released while still hot.
 * While a write is pending (an io_uring send in flight) a security layer
 * still seals them now, from where they lie (lent, hot), behind it. */
static void flush_now(sk_conn *c)
{
    if (c->state == C_CLOSED || !queued(c))
        return;
    if (!c->write_blocked) {
        write_out(c, 0);
    } else if (c->sec && c->out.bytes) {
        int s = c->sec->ops->seal(c->sec, &c->out);
        if (s < 0)
            finalize(c, s);
    }
}

/* Lending: while the bytes of one read are delivered to c, a large reply
 * that lies inside them (an echo) is queued by reference instead of
 * copied; the write right after the delivery sends it from there, and
 * whatever of it the kernel did not take is copied before the buffer is
 * read into again. (Not where sends complete later, io_uring, unless a
 * security layer seals the reply into its own queue in that write.) */
static void lend_begin(sk_conn *c, const uint8_t *buf, size_t n)
{
    if (!TP(c)->lends && !c->sec)
        return;
    struct lend *l = &conns_of(c)->lend;
    l->conn = c;
    l->lo = buf;
    l->hi = buf + n;
}

static void lend_end(sk_conn *c)
{
    struct lend *l = &conns_of(c)->lend;
    l->conn = NULL;
    if (!l->used)
        return;
    l->used = 0;
    if (sk__outq_own(&c->out) < 0) {
        sk__outq_free(&c->out); /* nothing may point into the buffer after this */
        finalize(c, -ENOMEM);
    }
}

int sk__conn_lendable(const sk_conn *c, const void *p, size_t len)
{
    if (len < SK__LEND_MIN)
        return 0;
    const struct lend *l = &conns_of(c)->lend;
    uintptr_t a = (uintptr_t)p;
    return l->conn == c && a >= (uintptr_t)l->lo && a <= (uintptr_t)l->hi &&
           len <= (uintptr_t)l->hi - a;
}

/* Plain bytes that arrive while a partial frame waits: after it. */
static void append_input(sk_conn *c, const uint8_t *buf, size_t n)
{
    uint8_t *dst = sk__buf_reserve(&c->in, n);
    if (!dst) {
        finalize(c, -ENOMEM);
        return;
    }
    memcpy(dst, buf, n);
    sk__buf_added(&c->in, n);
    process_buffered(c);
    flush_now(c);
}

/* n plain bytes at buf, valid during the call: decoded where they lie when
 * nothing waits before them, else after what waits in c->in. (Inline into
 * the plain read path; plain_input is the same for a security layer.) */
static inline void plain_bytes(sk_conn *c, uint8_t *buf, size_t n)
{
    if (c->state != C_OPEN)
        return;
    if (c->in.len) {
        append_input(c, buf, n);
        return;
    }
    lend_begin(c, buf, n);
    size_t used = PR(c)->input(c, buf, n);
    if (c->state == C_OPEN && used < n && sk__buf_append(&c->in, buf + used, n - used) < 0)
        finalize(c, -ENOMEM);
    if (c->state == C_OPEN)
        note_partial(c, used);
    flush_now(c);
    lend_end(c);
}

static void plain_input(sk_conn *c, uint8_t *buf, size_t n) { plain_bytes(c, buf, n); }

uint8_t *sk__conn_read_tail(sk_conn *c, size_t *cap)
{
    uint8_t *dst = sk__buf_reserve(&c->in, 65536); /* a partial frame: complete it and more */
    if (!dst) {
        finalize(c, -ENOMEM);
        return NULL;
    }
    *cap = c->in.cap - c->in.off - c->in.len;
    return dst;
}

/* Closing while a security layer still owes its end (a handshake to
 * finish first): its plain bytes are dropped like any input of a closing
 * connection. */
static void drop_input(sk_conn *c, uint8_t *buf, size_t n) {}

void sk__conn_input(sk_conn *c, uint8_t *buf, size_t n, int in_tail)
{
    int finishing = c->state == C_CLOSING && c->sec && c->sec->owes; /* see drop_input */
    if (c->state != C_OPEN && !finishing) /* closing: discarded (lingering, until the peer's FIN) */
        return;
    c->bytes_in += (uint64_t)n;
    if (c->cbs->on_read) {
        c->cbs->on_read(c, n, c->ud);
        if (c->state != (finishing ? C_CLOSING : C_OPEN))
            return;
    }
    if (c->sec) {
        int r = c->sec->ops->input(c->sec, c, buf, n, finishing ? drop_input : plain_input);
        if (r < 0 && c->state != C_CLOSED && c->sec->wire.bytes && !c->write_blocked)
            TP(c)->flush(c); /* best effort: the peer learns why (a TLS alert) */
        if (r < 0)
            finalize(c, r);
        else if (r == 1 && c->rd == R_OPEN && !finishing)
            peer_ended(c);
        flush_now(c); /* what the layer itself has to say (a handshake) goes out now */
        return;
    }
    if (!in_tail) {
        plain_bytes(c, buf, n);
        return;
    }
    sk__buf_added(&c->in, n);
    process_buffered(c);
    flush_now(c);
}

/* ---- output ---- */

/* Output left the queue: close when all is out, resume reading below the
 * low-water mark. Returns -1 if c was closed. */
static int after_write(sk_conn *c)
{
    if (c->sec && c->sec->owes && !c->sec->wire.bytes && !c->out.bytes && !c->write_blocked) {
        /* the layer's end waits for its wire queue to drain (kTLS close_notify) */
        int s = c->sec->ops->seal(c->sec, &c->out);
        if (s < 0) {
            finalize(c, s);
            return -1;
        }
        if (c->sec->wire.bytes)
            return write_out(c, 0); /* what it queued instead goes out too */
    }
    if (queued(c) == 0) {
        if (c->state == C_CLOSING) {
            linger_or_finalize(c);
            return -1;
        }
        if (c->wr == W_SHUT_DUE)
            shut_wr(c);
    }
    if (c->drain_due && queued(c) <= c->low) {
        c->pressured = 0;
        c->drain_due = 0;
        if (c->in.len || c->rd == R_EOF) { /* input left undelivered while pressured */
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

/* Seals the protocol's output (security layer) and hands the wire bytes to
 * the transport: written at once (now, or with epoll), or submitted to
 * complete later (io_uring; sk__conn_sent goes on). -1 if c was closed. */
static int write_out(sk_conn *c, int now)
{
    if (c->sec) {
        int s = c->sec->ops->seal(c->sec, &c->out);
        if (s < 0) {
            finalize(c, s);
            return -1;
        }
    }
    int r = now ? TP(c)->flush(c) : TP(c)->write(c);
    return r == 0 ? after_write(c) : r < 0 ? -1 : 0;
}

int sk__conn_writable(sk_conn *c) { return write_out(c, 0); }

void sk__conn_sent(sk_conn *c)
{
    if (queued(c) && write_out(c, 0) < 0) /* the rest, and what was queued meanwhile */
        return;
    after_write(c);
}

/* Checks the queue limits after an append and schedules the write:
 * 0 or SK_EQUEUE (c then closed). */
static int after_queue(sk_conn *c)
{
    size_t q = queued(c);
    if (c->max_queue && q > c->max_queue) {
        finalize(c, SK_EQUEUE);
        return SK_EQUEUE;
    }
    if (!c->drain_due && q > c->high) {
        c->pressured = !c->keep_reading;
        c->drain_due = 1;
        update_watch(c);
    }
    schedule(c);
    return 0;
}

uint8_t *sk__conn_reserve(sk_conn *c, size_t n) { return sk__outq_reserve(&c->out, n); }

int sk__conn_commit(sk_conn *c, size_t n)
{
    sk__outq_added(&c->out, n);
    return after_queue(c);
}

int sk__conn_push(sk_conn *c, sk_blob *b)
{
    if (sk__outq_push(&c->out, b) < 0)
        return -ENOMEM;
    return after_queue(c);
}

int sk__conn_lend(sk_conn *c, const void *p, size_t len)
{
    if (sk__outq_lend(&c->out, p, len) < 0)
        return -ENOMEM;
    conns_of(c)->lend.used = 1;
    return after_queue(c);
}

void sk__conn_opened(sk_conn *c)
{
    if (c->cbs->on_open)
        c->cbs->on_open(c, c->ud);
}

void sk__conn_secured(sk_conn *c)
{
    if (c->pr != SK__PR_WS && c->state == C_OPEN) /* WebSocket opens after its own handshake; */
        sk__conn_opened(c);                   /* one closed meanwhile does not open */
}

int sk_conn_write(sk_conn *c, const void *data, size_t len)
{
    if (c->state != C_OPEN)
        return SK_ECLOSED;
    return len ? sk__conn_write(c, data, len) : 0;
}

int sk__conn_write(sk_conn *c, const void *data, size_t len)
{
    if (sk__conn_lendable(c, data, len))
        return sk__conn_lend(c, data, len);
    uint8_t *dst = sk__outq_reserve(&c->out, len);
    if (!dst)
        return -ENOMEM;
    memcpy(dst, data, len);
    return sk__conn_commit(c, len);
}

int sk_conn_send_blob(sk_conn *c, sk_blob *b)
{
    if (c->state != C_OPEN)
        return SK_ECLOSED;
    if (sk_blob_len(b) == 0)
        return 0;
    return PR(c)->send_blob(c, b);
}

int sk_conn_send(sk_conn *c, const void *msg, size_t len)
{
    if (c->state != C_OPEN)
        return SK_ECLOSED;
    return PR(c)->send(c, msg, len);
}

int sk_conn_flush(sk_conn *c)
{
    if (c->state == C_CLOSED)
        return SK_ECLOSED;
    if (queued(c) && !c->write_blocked && write_out(c, 1) < 0)
        return c->close_err ? c->close_err : SK_ECLOSED;
    return 0;
}

void sk_conn_shutdown(sk_conn *c)
{
    if (c->state != C_OPEN || c->wr != W_OPEN)
        return;
    if (PR(c)->shutdown(c)) /* e.g. WebSocket's own end of output: the close handshake */
        return;
    c->wr = W_SHUT_DUE;
    end_output(c, 1);
    if (queued(c) == 0)
        shut_wr(c);
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
    if (c->in.len || c->rd == R_EOF) {
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

int sk__conn_set_sec(sk_conn *c, sk__sec *s)
{
    if (c->sec || c->state != C_OPEN || c->bytes_in || c->bytes_out)
        return SK_ECLOSED;
    c->sec = s;
    if (queued(c)) /* a client's first words: sealed and sent from the tick */
        schedule(c);
    return 0;
}

int sk_conn_fd(const sk_conn *c) { return c->io.fd; }
size_t sk_conn_queued(const sk_conn *c) { return queued(c) + PR(c)->held(c); }
uint64_t sk_conn_bytes_in(const sk_conn *c) { return c->bytes_in; }
uint64_t sk_conn_bytes_out(const sk_conn *c) { return c->bytes_out; }
void *sk_conn_userdata(const sk_conn *c) { return c->ud; }
void sk_conn_set_userdata(sk_conn *c, void *ud) { c->ud = ud; }
sk_loop *sk_conn_loop(const sk_conn *c) { return c->loop; }

/* Where the caller's extra bytes start: after the struct, aligned like malloc. */
static size_t extra_offset(void)
{
    size_t a = _Alignof(max_align_t);
    return (sizeof(sk_conn) + a - 1) / a * a;
}

void *sk_conn_extra(sk_conn *c) { return (char *)c + extra_offset(); }

const char *sk_conn_peer(const sk_conn *c)
{
    static __thread char buf[128];
    sk_sockaddr a = {.len = sizeof a.ss};
    if (c->io.fd < 0 || getpeername(c->io.fd, (struct sockaddr *)&a.ss, &a.len) < 0)
        return "?";
    sk_sockaddr_format((struct sockaddr *)&a.ss, a.len, buf, sizeof buf);
    return buf;
}

/* ---- life cycle ---- */

static void free_conn(sk_conn *c)
{
    PR(c)->free(c);
    if (c->sec) {
        sk__outq_free(&c->sec->wire);
        c->sec->ops->free(c->sec);
    }
    sk__buf_free(&c->in);
    sk__outq_free(&c->out);
    free(c);
}

void sk__conn_free(sk_conn *c) { free_conn(c); }

/* A closed connection's last call. It stays marked pending, so nothing
 * queues it again; a transport whose operations still hold it frees it. */
static void closed(sk_conn *c)
{
    if (c->cbs->on_close)
        c->cbs->on_close(c, c->close_err, c->ud);
    if (!TP(c)->release(c))
        free_conn(c);
}

/* After every loop iteration: delivers input left by a pause or pressure,
 * closes what waited for that, writes batched output, and runs on_close of
 * the connections closed (each may queue more work: the queue is drained). */
static void conns_tick(sk_loop *loop, void *st)
{
    conns *cs = st;
    sk_conn *c;
    while ((c = cs->pending)) {
        cs->pending = c->next_pending;
        if (c->state == C_CLOSED) {
            closed(c);
            continue;
        }
        c->in_pending = 0;
        if (c->need_input) {
            c->need_input = 0;
            process_buffered(c);
        }
        if (c->close_due && c->state == C_OPEN && !c->pressured) { /* all answered */
            c->close_due = 0;
            sk_conn_close(c, c->close_err);
        }
        flush_now(c);
    }
}

static int conns_busy(const void *st) { return ((const conns *)st)->pending != NULL; }

/* The loop is being freed: connections aborted last get their on_close. */
static void conns_fini(sk_loop *loop, void *st)
{
    conns_tick(loop, st);
    free(st);
}

/* The loop's connection state, made with its first connection. */
static conns *conns_for(sk_loop *loop)
{
    conns *cs = sk__loop_part(loop, SK__PART_CONNS);
    if (cs || !(cs = calloc(1, sizeof *cs)))
        return cs;
    sk__loop_set_part(loop, SK__PART_CONNS,
                      &(sk__part){.tick = conns_tick, .busy = conns_busy, .fini = conns_fini, .st = cs});
    return cs;
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
    c->pr = o->ws ? SK__PR_WS : SK__PR_FRAME;
}

/* Stacks the layers: the transport starts watching, the protocol is set up
 * (a client may queue its first bytes), the security layer goes under it
 * (a TLS client queues its hello), then receiving starts. */
static int stack_up(sk_conn *c, const sk_conn_opts *opts)
{
    c->tp = sk__uring_usable(c->loop, c->io.fd) ? TP_URING : TP_EPOLL;
    const sk__sec_factory *sec = opts && opts->tls ? (const sk__sec_factory *)opts->tls : NULL;
    int r = TP(c)->start(c);
    if (r < 0 || (r = PR(c)->attach(c, opts)) < 0 || (sec && (r = sec->attach(sec, c)) < 0))
        return r;
    update_watch(c);
    return 0;
}

/* A connection that never started: no callback fires; it is freed now, or
 * by the tick if a layer already queued it there. */
static void discard(sk_conn *c)
{
    c->cbs = &no_cbs;
    c->state = C_CLOSED;
    TP(c)->close(c); /* nothing is in flight yet: the fd closes now */
    if (!c->in_pending)
        free_conn(c);
}

sk_conn *sk_conn_new(sk_loop *loop, int fd, const sk_conn_cbs *cbs, const sk_conn_opts *opts,
                     void *ud)
{
    size_t extra = opts ? opts->extra : 0;
    sk_conn *c = extra <= SIZE_MAX - extra_offset() && conns_for(loop)
                     ? calloc(1, extra_offset() + extra)
                     : NULL;
    int r = c ? 0 : -ENOMEM;
    if (c && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
        r = -errno;
    if (r < 0) {
        free(c);
        close(fd);
        errno = -r;
        return NULL;
    }
    c->loop = loop;
    c->io.fd = fd;
    c->cbs = cbs ? cbs : &no_cbs;
    c->ud = ud;
    set_opts(c, opts);
    if ((r = stack_up(c, opts)) < 0) {
        discard(c);
        errno = -r;
        return NULL;
    }
    return c;
}
