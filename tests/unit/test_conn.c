/* test_conn.c — unit tests for sk_conn over socketpairs: framing with split and
 * merged input, batched writes, backpressure, close/abort/shutdown/pause
 * semantics; all of it on the epoll backend, then again on io_uring. */
#include "sockit/conn.h"
#include "sockit/error.h"
#include "sockit/loop.h"

#include "check.h"
#include "net_helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- loop helpers: one loop per test, a tick that checks a stop condition ---- */

typedef int (*cond_fn)(void *ud);
static cond_fn g_cond;
static void *g_cond_ud;
static void (*g_tick)(void *ud);
static void *g_tick_ud;

static void tick_cb(sk_loop *loop, void *ud)
{
    if (g_tick)
        g_tick(g_tick_ud);
    if (g_cond && g_cond(g_cond_ud))
        sk_loop_stop(loop);
}

static sk_io g_io; /* every test runs on each backend */

static sk_loop *new_loop(void)
{
    sk_loop *loop = NULL;
    if (sk_loop_new_io(&loop, g_io, NULL) != 0 || sk_loop_io(loop) != g_io || sk_loop_on_tick(loop, tick_cb, NULL) != 0) {
        fprintf(stderr, "cannot create a loop\n");
        exit(1);
    }
    g_tick = NULL;
    g_cond = NULL;
    return loop;
}

typedef struct guard {
    sk_loop *loop;
    int fired;
} guard;

static void guard_cb(sk_timer *t, void *ud)
{
    guard *g = ud;
    g->fired = 1;
    sk_loop_stop(g->loop);
}

/* Runs the loop until cond(ud) holds at the end of an iteration (checked
 * first before running) or ms pass. Returns 1 if cond was met. */
static int run_until_q(sk_loop *loop, cond_fn cond, void *ud, unsigned ms, int quiet)
{
    if (cond && cond(ud))
        return 1;
    guard g = {.loop = loop};
    sk_timer *t = sk_timer_new(loop, guard_cb, &g);
    sk_timer_start(t, ms, 0);
    g_cond = cond;
    g_cond_ud = ud;
    CHECK_EQ_INT(sk_loop_run(loop), 0);
    g_cond = NULL;
    sk_timer_free(t);
    int ok = cond ? cond(ud) : 0;
    if (!ok && cond && !quiet)
        fprintf(stderr, "  run_until: condition not met after %u ms\n", ms);
    return ok;
}

static int run_until(sk_loop *loop, cond_fn cond, void *ud, unsigned ms)
{
    return run_until_q(loop, cond, ud, ms, 0);
}

/* Runs the loop for ms (no condition). */
static void run_for(sk_loop *loop, unsigned ms)
{
    guard g = {.loop = loop};
    sk_timer *t = sk_timer_new(loop, guard_cb, &g);
    sk_timer_start(t, ms, 0);
    CHECK_EQ_INT(sk_loop_run(loop), 0);
    sk_timer_free(t);
}

static void set_nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

static void make_pair(int type, int sv[2])
{
    if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) < 0) {
        perror("socketpair");
        exit(1);
    }
}

/* Writes all of p to a blocking-or-not fd that is known to have room. */
static void write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        CHECK(w > 0);
        if (w <= 0)
            return;
        b += w;
        n -= (size_t)w;
    }
}

static void write_str(int fd, const char *s) { write_all(fd, s, strlen(s)); }

/* ---- a growable byte buffer for the tests ---- */

typedef struct bytes {
    uint8_t *p;
    size_t len, cap;
} bytes;

static void bytes_add(bytes *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p)
            exit(1);
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void bytes_free(bytes *b)
{
    free(b->p);
    *b = (bytes){0};
}

/* ---- a recorder: the state every conn callback writes into ---- */

#define MAXMSG 4096

typedef struct rec rec;
struct rec {
    sk_loop *loop;
    sk_conn *c;
    int peer;   /* the other end of the socketpair */
    bytes data; /* every payload, concatenated */
    size_t off[MAXMSG + 1];
    int nmsg;
    int nreads, reads_not_one;
    int eofs, drains, closes, close_err;
    int in_cb;           /* inside a callback of this conn */
    int reentrant_close; /* on_close fired from inside another callback */
    int msgs_after_eof;
    size_t queued_at_drain;
    int nmsg_at_drain;
    uint64_t bytes_in_at_close, bytes_out_at_close;
    void (*hook)(rec *r, const uint8_t *msg, size_t len); /* after recording */
    void (*eof_hook)(rec *r);
    void (*close_hook)(rec *r);
    void *ud;
};

static void r_message(sk_conn *c, const uint8_t *msg, size_t len, void *ud)
{
    rec *r = ud;
    CHECK(c == r->c);
    if (r->eofs)
        r->msgs_after_eof++;
    if (r->nmsg < MAXMSG) {
        r->off[r->nmsg] = r->data.len;
        bytes_add(&r->data, msg, len);
        r->off[r->nmsg + 1] = r->data.len;
    }
    r->nmsg++;
    r->in_cb++;
    if (r->hook)
        r->hook(r, msg, len);
    r->in_cb--;
}

static void r_eof(sk_conn *c, void *ud)
{
    rec *r = ud;
    CHECK(c == r->c);
    r->eofs++;
    r->in_cb++;
    if (r->eof_hook)
        r->eof_hook(r);
    r->in_cb--;
}

static void r_drain(sk_conn *c, void *ud)
{
    rec *r = ud;
    r->drains++;
    r->queued_at_drain = sk_conn_queued(c);
    r->nmsg_at_drain = r->nmsg;
}

static void r_read(sk_conn *c, size_t n, void *ud)
{
    rec *r = ud;
    r->nreads++;
    if (n != 1)
        r->reads_not_one++;
}

static void r_close(sk_conn *c, int err, void *ud)
{
    rec *r = ud;
    CHECK(c == r->c);
    if (r->in_cb)
        r->reentrant_close++;
    r->closes++;
    r->close_err = err;
    r->bytes_in_at_close = sk_conn_bytes_in(c);
    r->bytes_out_at_close = sk_conn_bytes_out(c);
    if (r->close_hook)
        r->close_hook(r);
    r->c = NULL; /* freed after we return */
}

static const sk_conn_cbs cbs_full = {r_message, r_eof, r_drain, r_read, r_close, NULL, NULL};
static const sk_conn_cbs cbs_no_eof = {r_message, NULL, r_drain, r_read, r_close, NULL, NULL};

static int msg_is(const rec *r, int i, const void *p, size_t n)
{
    if (i >= r->nmsg || i >= MAXMSG)
        return 0;
    return r->off[i + 1] - r->off[i] == n && memcmp(r->data.p + r->off[i], p, n) == 0;
}

static int msg_is_str(const rec *r, int i, const char *s) { return msg_is(r, i, s, strlen(s)); }

/* Creates a conn on one end of a new socketpair; the other end is r->peer. */
static void rec_open(rec *r, sk_loop *loop, int type, const sk_conn_cbs *cbs,
                     const sk_conn_opts *opts)
{
    memset(r, 0, sizeof *r);
    int sv[2];
    make_pair(type, sv);
    r->loop = loop;
    r->peer = sv[1];
    r->c = sk_conn_new(loop, sv[0], cbs, opts, r);
    CHECK(r->c != NULL);
    if (!r->c)
        exit(1);
    CHECK_EQ_INT(sk_conn_fd(r->c), sv[0]);
    CHECK(sk_conn_userdata(r->c) == r);
    CHECK(sk_conn_loop(r->c) == loop);
}

static int cond_closed(void *ud) { return ((rec *)ud)->closes > 0; }

/* Closes the conn if still open, runs until on_close, frees everything. */
static void rec_finish(rec *r)
{
    if (r->c && r->closes == 0)
        sk_conn_abort(r->c, 0);
    CHECK(run_until(r->loop, cond_closed, r, 3000));
    CHECK_EQ_INT(r->closes, 1);
    CHECK_EQ_INT(r->reentrant_close, 0);
    if (r->peer >= 0)
        close(r->peer);
    r->peer = -1;
    bytes_free(&r->data);
}

/* ---- a peer-side reader: drains the peer fd on the loop until EOF ---- */

typedef struct peer_rx {
    int fd;
    sk_watch *w;
    bytes got;
    int eof, err;
    size_t limit; /* stop reading (unwatch) after this many bytes; 0 = no limit */
} peer_rx;

static void peer_rx_cb(sk_watch *w, int fd, unsigned ev, void *ud)
{
    peer_rx *p = ud;
    uint8_t buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0) {
            bytes_add(&p->got, buf, (size_t)n);
            continue;
        }
        if (n == 0) {
            p->eof = 1;
        } else if (errno == EINTR) {
            continue;
        } else if (errno != EAGAIN) {
            p->err = -errno;
        }
        break;
    }
    if (p->eof || p->err) {
        sk_watch_free(w);
        p->w = NULL;
    }
}

static void peer_rx_start(peer_rx *p, sk_loop *loop, int fd)
{
    memset(p, 0, sizeof *p);
    p->fd = fd;
    set_nonblock(fd);
    p->w = sk_watch_new(loop, fd, SK_READABLE, peer_rx_cb, p);
    CHECK(p->w != NULL);
}

static void peer_rx_stop(peer_rx *p)
{
    if (p->w)
        sk_watch_free(p->w);
    p->w = NULL;
    bytes_free(&p->got);
}

static int cond_peer_eof(void *ud)
{
    peer_rx *p = ud;
    return p->eof || p->err;
}

/* ---- framing encoders written independently of the library's codec ---- */

static size_t hdr_size(sk_frame m)
{
    switch (m) {
    case SK_FRAME_LEN8:
        return 1;
    case SK_FRAME_LEN16BE:
    case SK_FRAME_LEN16LE:
        return 2;
    case SK_FRAME_LEN32BE:
    case SK_FRAME_LEN32LE:
        return 4;
    case SK_FRAME_LEN64BE:
    case SK_FRAME_LEN64LE:
        return 8;
    default:
        return 0;
    }
}

static int is_be(sk_frame m)
{
    return m == SK_FRAME_LEN8 || m == SK_FRAME_LEN16BE || m == SK_FRAME_LEN32BE ||
           m == SK_FRAME_LEN64BE;
}

static void put_len(sk_frame m, uint64_t v, uint8_t *out)
{
    size_t h = hdr_size(m);
    for (size_t i = 0; i < h; i++) {
        size_t shift = 8 * (is_be(m) ? h - 1 - i : i);
        out[i] = (uint8_t)(v >> shift);
    }
}

static void encode(bytes *out, sk_frame m, const uint8_t *p, size_t n)
{
    uint8_t hdr[8] = {0};
    put_len(m, n, hdr);
    bytes_add(out, hdr, hdr_size(m));
    bytes_add(out, p, n);
    if (m == SK_FRAME_LINE)
        bytes_add(out, "\n", 1);
}

static void make_payload(sk_frame m, int seed, uint8_t *p, size_t n)
{
    for (size_t j = 0; j < n; j++)
        p[j] = m == SK_FRAME_LINE ? (uint8_t)('a' + (seed * 7 + (int)j) % 26)
                                  : (uint8_t)(seed * 31 + (int)j * 7 + (int)(j >> 8));
}

/* ---- 1. framing: split byte by byte, random splits, merged ---- */

typedef struct feeder {
    rec *r;
    bytes stream;
    size_t off;
    int how; /* 0: one byte per iteration; 1: random chunks; 2: as much as fits */
    uint32_t rng;
    int expect_msgs;
} feeder;

static void feed(void *ud)
{
    feeder *f = ud;
    if (!f->r->c || f->off >= f->stream.len || sk_conn_bytes_in(f->r->c) != f->off)
        return; /* wait until the conn has read everything so far */
    size_t n = f->stream.len - f->off;
    if (f->how == 0) {
        n = 1;
    } else if (f->how == 1) {
        f->rng = f->rng * 1103515245u + 12345u;
        size_t k = 1 + (f->rng >> 8) % 3000;
        n = n < k ? n : k;
    }
    ssize_t w = write(f->r->peer, f->stream.p + f->off, n);
    if (w > 0)
        f->off += (size_t)w;
}

static int cond_feed_done(void *ud)
{
    feeder *f = ud;
    return f->r->nmsg >= f->expect_msgs || f->r->closes;
}

static void test_framing_modes(void)
{
    static const sk_frame modes[] = {SK_FRAME_LINE,    SK_FRAME_LEN8,    SK_FRAME_LEN16BE,
                                     SK_FRAME_LEN16LE, SK_FRAME_LEN32BE, SK_FRAME_LEN32LE,
                                     SK_FRAME_LEN64BE, SK_FRAME_LEN64LE};
    static const size_t small[] = {0, 1, 2, 5, 17, 100, 255, 3, 0, 64};
    static const size_t big[] = {0, 1, 255, 1000, 65535, 70000, 200000, 3, 0, 131072};
    for (size_t mi = 0; mi < sizeof modes / sizeof modes[0]; mi++) {
        sk_frame m = modes[mi];
        uint64_t hmax = m == SK_FRAME_LEN8                                 ? 255
                        : (m == SK_FRAME_LEN16BE || m == SK_FRAME_LEN16LE) ? 65535
                                                                           : UINT64_MAX;
        for (int how = 0; how < 3; how++) {
            const size_t *sizes = how == 0 ? small : big;
            size_t nsizes = 10;
            sk_loop *loop = new_loop();
            sk_conn_opts o = {.in_frame = m, .out_frame = m};
            rec r;
            rec_open(&r, loop, SOCK_STREAM, &cbs_full, &o);
            set_nonblock(r.peer);
            feeder f = {.r = &r, .how = how, .rng = 42u + (uint32_t)mi};
            bytes expect = {0};
            size_t expect_off[32];
            int k = 0;
            for (size_t i = 0; i < nsizes; i++) {
                size_t n = sizes[i] > hmax ? (size_t)hmax : sizes[i];
                uint8_t *p = malloc(n + 1);
                make_payload(m, (int)i, p, n);
                encode(&f.stream, m, p, n);
                expect_off[k] = expect.len;
                bytes_add(&expect, p, n);
                k++;
                free(p);
                if (m == SK_FRAME_LINE && i == 3) { /* "\r\n" ends a line too; "\r" dropped */
                    bytes_add(&f.stream, "crlf\r\n", 6);
                    expect_off[k++] = expect.len;
                    bytes_add(&expect, "crlf", 4);
                }
            }
            expect_off[k] = expect.len;
            f.expect_msgs = k;
            g_tick = feed;
            g_tick_ud = &f;
            feed(&f); /* the first chunk; the rest from the tick */
            int ok = run_until(loop, cond_feed_done, &f, 20000);
            g_tick = NULL;
            if (!ok || r.nmsg != k)
                fprintf(stderr, "  framing %s how=%d: %d of %d messages\n", sk_frame_name(m), how,
                        r.nmsg, k);
            CHECK(ok);
            CHECK_EQ_INT(r.nmsg, k);
            CHECK_EQ_INT(r.closes, 0);
            int same = 1;
            for (int i = 0; i < k && i < r.nmsg; i++)
                if (!msg_is(&r, i, expect.p + expect_off[i], expect_off[i + 1] - expect_off[i])) {
                    fprintf(stderr, "  framing %s how=%d: message %d differs\n", sk_frame_name(m),
                            how, i);
                    same = 0;
                    break;
                }
            CHECK(same);
            CHECK_EQ_INT(sk_conn_bytes_in(r.c), f.stream.len);
            if (how == 0) { /* truly split: every read got exactly one byte */
                CHECK_EQ_INT(r.nreads, f.stream.len);
                CHECK_EQ_INT(r.reads_not_one, 0);
            }
            /* merged: several messages per read (io_uring receives into 16 KiB
             * ring buffers, so these big messages take a few reads each) */
            if (how == 2 && g_io == SK_IO_EPOLL)
                CHECK(r.nreads < r.nmsg);
            /* the peer half-closes: on_eof once, after all messages */
            shutdown(r.peer, SHUT_WR);
            CHECK(run_until_q(loop, cond_closed, &r, 100, 1) == 0); /* on_eof set: stays open */
            CHECK_EQ_INT(r.eofs, 1);
            CHECK_EQ_INT(r.msgs_after_eof, 0);
            rec_finish(&r);
            CHECK_EQ_INT(r.close_err, 0);
            bytes_free(&f.stream);
            bytes_free(&expect);
            sk_loop_free(loop);
        }
    }
}

/* ---- 2. all replies of one read go out in one write ---- */

typedef struct batch_ctx {
    rec *r;
    int want;
    int checked;
    int waited;
    ssize_t first, second;
    int second_errno;
    uint8_t buf[1 << 17];
} batch_ctx;

static void echo_hook(rec *r, const uint8_t *msg, size_t len)
{
    char reply[64];
    int n = snprintf(reply, sizeof reply, "re:%.*s", (int)len, (const char *)msg);
    CHECK_EQ_INT(sk_conn_send(r->c, reply, (size_t)n), 0);
}

/* The tick after the conn's own flush: the peer must find every reply in one
 * recv. (io_uring submits that send at the start of the next iteration.) */
static void batch_tick(void *ud)
{
    batch_ctx *b = ud;
    if (b->checked || b->r->nmsg < b->want)
        return;
    if (g_io == SK_IO_URING && !b->waited++)
        return;
    b->checked = 1;
    b->first = recv(b->r->peer, b->buf, sizeof b->buf, MSG_DONTWAIT);
    b->second = recv(b->r->peer, b->buf + (b->first > 0 ? b->first : 0), 16, MSG_DONTWAIT);
    b->second_errno = errno;
}

static int cond_batch(void *ud) { return ((batch_ctx *)ud)->checked; }

static void test_batched_replies(void)
{
    /* SOCK_SEQPACKET keeps write boundaries, so one recv = exactly one write. */
    int types[2] = {SOCK_SEQPACKET, SOCK_STREAM};
    for (int ti = 0; ti < 2; ti++) {
        sk_loop *loop = new_loop();
        sk_conn_opts o = {.in_frame = SK_FRAME_LINE, .out_frame = SK_FRAME_LINE};
        rec r;
        rec_open(&r, loop, types[ti], &cbs_full, &o);
        r.hook = echo_hook;
        static batch_ctx b;
        memset(&b, 0, sizeof b);
        b.r = &r;
        b.want = 200;
        bytes req = {0}, expect = {0};
        for (int i = 0; i < b.want; i++) {
            char line[64];
            int n = snprintf(line, sizeof line, "m%d\n", i);
            bytes_add(&req, line, (size_t)n);
            n = snprintf(line, sizeof line, "re:m%d\n", i);
            bytes_add(&expect, line, (size_t)n);
        }
        write_all(r.peer, req.p, req.len); /* one write: one read on the conn side */
        g_tick = batch_tick;
        g_tick_ud = &b;
        CHECK(run_until(loop, cond_batch, &b, 3000));
        g_tick = NULL;
        CHECK_EQ_INT(r.nmsg, b.want);
        CHECK_EQ_INT(b.first, expect.len);
        CHECK(b.first > 0 && memcmp(b.buf, expect.p, expect.len) == 0);
        CHECK_EQ_INT(b.second, -1);
        CHECK_EQ_INT(b.second_errno, EAGAIN);
        CHECK_EQ_INT(sk_conn_queued(r.c), 0);
        CHECK_EQ_INT(sk_conn_bytes_out(r.c), expect.len);
        CHECK_EQ_INT(sk_conn_bytes_in(r.c), req.len);
        rec_finish(&r);
        bytes_free(&req);
        bytes_free(&expect);
        sk_loop_free(loop);
    }
}

/* ---- 3. backpressure: 8 MB to a peer that does not read ---- */

#define BIG_CHUNK ((size_t)1 << 20)
#define BIG_N 8

typedef struct bp_ctx {
    rec *r;
    peer_rx rx;
    int draining;
    int phase_pressured;
    int msgs_while_pressured;
    size_t queued_steps_bad;
    size_t queued_after_send;
    uint32_t seq[64];
    bytes expect_out;
    int fionread_after;
    int nmsg_t1, nmsg_t2;
    size_t queued_t1, queued_t2;
    size_t unread_written;
    int expect_msgs;
    int keep_reading;
} bp_ctx;

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void seq_frames(bytes *out, uint32_t from, uint32_t to)
{
    for (uint32_t s = from; s < to; s++) {
        uint8_t p[4] = {(uint8_t)(s >> 24), (uint8_t)(s >> 16), (uint8_t)(s >> 8), (uint8_t)s};
        encode(out, SK_FRAME_LEN32BE, p, 4);
    }
}

static void bp_hook(rec *r, const uint8_t *msg, size_t len)
{
    bp_ctx *b = r->ud;
    CHECK_EQ_INT(len, 4);
    if (r->nmsg <= 64)
        b->seq[r->nmsg - 1] = len == 4 ? get_be32(msg) : 0xffffffffu;
    if (b->phase_pressured)
        b->msgs_while_pressured++;
    if (r->nmsg != 1)
        return;
    /* the first message triggers an 8 MiB answer */
    uint8_t *chunk = malloc(BIG_CHUNK);
    size_t prev = sk_conn_queued(r->c);
    for (int i = 0; i < BIG_N; i++) {
        memset(chunk, 'A' + i, BIG_CHUNK);
        CHECK_EQ_INT(sk_conn_send(r->c, chunk, BIG_CHUNK), 0);
        encode(&b->expect_out, SK_FRAME_LEN32BE, chunk, BIG_CHUNK);
        size_t q = sk_conn_queued(r->c);
        if (q != prev + BIG_CHUNK + 4)
            b->queued_steps_bad++;
        prev = q;
    }
    free(chunk);
    b->queued_after_send = sk_conn_queued(r->c);
    b->phase_pressured = !b->keep_reading; /* until on_drain */
}

static void bp_t1(sk_timer *t, void *ud)
{
    bp_ctx *b = ud;
    b->nmsg_t1 = b->r->nmsg;
    b->queued_t1 = sk_conn_queued(b->r->c);
    bytes more = {0};
    seq_frames(&more, 10, 20); /* written while the conn is over high water */
    write_all(b->r->peer, more.p, more.len);
    b->unread_written = more.len;
    bytes_free(&more);
}

static void bp_t2(sk_timer *t, void *ud)
{
    bp_ctx *b = ud;
    b->nmsg_t2 = b->r->nmsg;
    b->queued_t2 = sk_conn_queued(b->r->c);
    int avail = -1;
    ioctl(sk_conn_fd(b->r->c), FIONREAD, &avail);
    b->fionread_after = avail;
    peer_rx_start(&b->rx, b->r->loop, b->r->peer); /* the peer starts reading */
    b->draining = 1;
}

static void bp_on_drain_wrap(sk_conn *c, void *ud)
{
    rec *r = ud;
    bp_ctx *b = r->ud;
    b->phase_pressured = 0;
    r_drain(c, ud);
}

static int cond_bp_done(void *ud)
{
    bp_ctx *b = ud;
    return b->r->closes ||
           (b->r->nmsg >= b->expect_msgs && b->draining && b->rx.got.len >= b->expect_out.len);
}

static void run_backpressure(int keep_reading)
{
    static const sk_conn_cbs cbs = {r_message, r_eof, bp_on_drain_wrap, r_read, r_close, NULL, NULL};
    sk_loop *loop = new_loop();
    sk_conn_opts o = {
        .in_frame = SK_FRAME_LEN32BE, .out_frame = SK_FRAME_LEN32BE, .keep_reading = keep_reading};
    rec r;
    rec_open(&r, loop, SOCK_STREAM, &cbs, &o);
    static bp_ctx b;
    memset(&b, 0, sizeof b);
    b.r = &r;
    b.expect_msgs = 20;
    r.ud = &b;
    r.hook = bp_hook;
    b.keep_reading = keep_reading;
    bytes first = {0};
    seq_frames(&first, 0, 10); /* one write: one read; #0 triggers the big answer */
    write_all(r.peer, first.p, first.len);
    bytes_free(&first);
    sk_timer *t1 = sk_timer_new(loop, bp_t1, &b);
    sk_timer *t2 = sk_timer_new(loop, bp_t2, &b);
    sk_timer_start(t1, 80, 0);
    sk_timer_start(t2, 200, 0);
    /* pressure starts with the first message unless keep_reading */
    CHECK(run_until(loop, cond_bp_done, &b, 10000));
    CHECK_EQ_INT(b.queued_steps_bad, 0); /* sk_conn_queued grew by each frame */
    CHECK_EQ_INT(b.queued_after_send, BIG_N * (BIG_CHUNK + 4));
    CHECK(b.queued_t1 > ((size_t)1 << 20));   /* still above high water... */
    CHECK(b.queued_t1 < b.queued_after_send); /* ...though part was written */
    CHECK_EQ_INT(b.queued_t2, b.queued_t1);   /* the peer did not read: no progress */
    if (!keep_reading) {
        /* paused: nothing after #0 delivered, the peer's later bytes not read */
        CHECK_EQ_INT(b.nmsg_t1, 1);
        CHECK_EQ_INT(b.nmsg_t2, 1);
        CHECK_EQ_INT(b.fionread_after, b.unread_written);
        CHECK_EQ_INT(r.nmsg_at_drain, 1);
    } else {
        /* keeps reading: everything delivered while the queue is above high water */
        CHECK_EQ_INT(b.nmsg_t1, 10);
        CHECK_EQ_INT(b.nmsg_t2, 20);
        CHECK_EQ_INT(b.fionread_after, 0);
        CHECK_EQ_INT(r.nmsg_at_drain, 20);
    }
    CHECK_EQ_INT(b.msgs_while_pressured, 0); /* on_message never ran while pressured */
    CHECK_EQ_INT(r.drains, 1);
    CHECK(r.queued_at_drain <= ((size_t)256 << 10));
    CHECK_EQ_INT(r.nmsg, 20);
    int in_order = 1;
    for (int i = 0; i < 20 && i < r.nmsg; i++)
        if (b.seq[i] != (uint32_t)i)
            in_order = 0;
    CHECK(in_order);
    CHECK_EQ_INT(b.rx.got.len, b.expect_out.len);
    CHECK(b.rx.got.len == b.expect_out.len &&
          memcmp(b.rx.got.p, b.expect_out.p, b.expect_out.len) == 0);
    CHECK_EQ_INT(sk_conn_queued(r.c), 0);
    CHECK_EQ_INT(sk_conn_bytes_out(r.c), b.expect_out.len);
    CHECK_EQ_INT(sk_conn_bytes_in(r.c), 20 * 8);
    CHECK_EQ_INT(r.closes, 0);
    sk_timer_free(t1);
    sk_timer_free(t2);
    peer_rx_stop(&b.rx);
    rec_finish(&r);
    CHECK_EQ_INT(r.close_err, 0);
    bytes_free(&b.expect_out);
    sk_loop_free(loop);
}

static void test_backpressure(void)
{
    run_backpressure(0);
    run_backpressure(1);
}

/* ---- 4. max_queue ---- */

typedef struct mq_ctx {
    rec *r;
    int rc1, rc2, rc3;
    int closes_inside;
} mq_ctx;

static void mq_timer(sk_timer *t, void *ud)
{
    mq_ctx *m = ud;
    static uint8_t chunk[600 << 10];
    m->rc1 = sk_conn_send(m->r->c, chunk, sizeof chunk);
    m->rc2 = sk_conn_send(m->r->c, chunk, sizeof chunk); /* 1.2 MB > 1 MB */
    m->rc3 = sk_conn_send(m->r->c, "x", 1);
    m->closes_inside = m->r->closes;
}

static void test_max_queue(void)
{
    sk_loop *loop = new_loop();
    sk_conn_opts o = {.max_queue = (size_t)1 << 20, .high_water = (size_t)4 << 20};
    rec r;
    rec_open(&r, loop, SOCK_STREAM, &cbs_full, &o);
    mq_ctx m = {.r = &r};
    sk_timer *t = sk_timer_new(loop, mq_timer, &m);
    sk_timer_start(t, 1, 0);
    CHECK(run_until(loop, cond_closed, &r, 3000));
    CHECK_EQ_INT(m.rc1, 0);
    CHECK_EQ_INT(m.rc2, SK_EQUEUE);
    CHECK_EQ_INT(m.rc3, SK_ECLOSED);
    CHECK_EQ_INT(m.closes_inside, 0); /* on_close not re-entrant */
    CHECK_EQ_INT(r.closes, 1);
    CHECK_EQ_INT(r.close_err, SK_EQUEUE);
    /* the peer sees the connection end */
    peer_rx rx;
    peer_rx_start(&rx, loop, r.peer);
    CHECK(run_until(loop, cond_peer_eof, &rx, 3000));
    peer_rx_stop(&rx);
    sk_timer_free(t);
    rec_finish(&r);
    sk_loop_free(loop);
}

/* ---- 5. framing errors and truncation ---- */

typedef struct ferr_case {
    const char *name;
    sk_frame mode;
    size_t max_frame;
    const uint8_t *bytes;
    size_t len;
    int then; /* 0: keep open; 1: shutdown(SHUT_WR); 2: close() */
    int expect_err;
    int expect_msgs;
} ferr_case;

static void test_frame_errors(void)
{
    /* a good 3-byte frame first, then the bad part */
    static const uint8_t big32[] = {0, 0, 0, 3, 'a', 'b', 'c', 0, 0, 0, 17};
    static const uint8_t neg32[] = {0, 0, 0, 3, 'a', 'b', 'c', 0x80, 0, 0, 0};
    static const uint8_t neg32le[] = {3, 0, 0, 0, 'a', 'b', 'c', 0, 0, 0, 0x80};
    static const uint8_t neg64[] = {0,   0,    0,    0,    0,    0,    0,    3,    'a', 'b',
                                    'c', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t big16[] = {0, 3, 'a', 'b', 'c', 0x01, 0x00};
    static const uint8_t cut_payload[] = {0, 0, 0, 3, 'a', 'b', 'c', 0, 0, 0, 10, 1, 2, 3};
    static const uint8_t cut_header[] = {0, 0, 0, 3, 'a', 'b', 'c', 0, 0};
    static const uint8_t longline[] = "abc\n0123456789abcdefXYZ";
    const ferr_case cases[] = {
        {"len32be > max_frame", SK_FRAME_LEN32BE, 16, big32, sizeof big32, 0, SK_EFRAMEBIG, 1},
        {"len32be negative", SK_FRAME_LEN32BE, 16, neg32, sizeof neg32, 0, SK_EFRAMENEG, 1},
        {"len32le negative", SK_FRAME_LEN32LE, 16, neg32le, sizeof neg32le, 0, SK_EFRAMENEG, 1},
        {"len64be negative", SK_FRAME_LEN64BE, 16, neg64, sizeof neg64, 0, SK_EFRAMENEG, 1},
        {"len16be > max_frame", SK_FRAME_LEN16BE, 255, big16, sizeof big16, 0, SK_EFRAMEBIG, 1},
        {"line > max_frame", SK_FRAME_LINE, 16, longline, sizeof longline - 1, 0, SK_EFRAMEBIG, 1},
        {"cut payload, shutdown", SK_FRAME_LEN32BE, 0, cut_payload, sizeof cut_payload, 1,
         SK_ETRUNC, 1},
        {"cut payload, close", SK_FRAME_LEN32BE, 0, cut_payload, sizeof cut_payload, 2, SK_ETRUNC,
         1},
        {"cut header, shutdown", SK_FRAME_LEN32BE, 0, cut_header, sizeof cut_header, 1, SK_ETRUNC,
         1},
        {"cut header, close", SK_FRAME_LEN32BE, 0, cut_header, sizeof cut_header, 2, SK_ETRUNC, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const ferr_case *fc = &cases[i];
        sk_loop *loop = new_loop();
        sk_conn_opts o = {.in_frame = fc->mode, .out_frame = fc->mode, .max_frame = fc->max_frame};
        rec r;
        rec_open(&r, loop, SOCK_STREAM, &cbs_full, &o);
        write_all(r.peer, fc->bytes, fc->len);
        if (fc->then == 1)
            shutdown(r.peer, SHUT_WR);
        int peer_closed = fc->then == 2;
        if (peer_closed) {
            close(r.peer);
            r.peer = -1;
        }
        int ok = run_until(loop, cond_closed, &r, 3000);
        if (!ok || r.close_err != fc->expect_err)
            fprintf(stderr, "  case '%s': closed=%d err=%d (%s)\n", fc->name, r.closes, r.close_err,
                    sk_strerror(r.close_err));
        CHECK(ok);
        CHECK_EQ_INT(r.closes, 1);
        CHECK_EQ_INT(r.close_err, fc->expect_err);
        CHECK_EQ_INT(r.nmsg, fc->expect_msgs);
        CHECK(msg_is_str(&r, 0, "abc"));
        CHECK_EQ_INT(r.eofs, 0);
        CHECK_EQ_INT(r.bytes_in_at_close, fc->len);
        if (!peer_closed) { /* the peer sees the fd closed (io_uring: after its cancels) */
            peer_rx rx;
            peer_rx_start(&rx, loop, r.peer);
            CHECK(run_until(loop, cond_peer_eof, &rx, 1000));
            CHECK_EQ_INT(rx.got.len, 0);
            CHECK_EQ_INT(rx.err, 0);
            peer_rx_stop(&rx);
        }
        rec_finish(&r);
        sk_loop_free(loop);
    }
}

/* ---- 6. line mode: the final unterminated line is delivered at EOF ---- */

static void bye_on_eof(rec *r)
{
    CHECK_EQ_INT(sk_conn_send(r->c, "bye", 3), 0);
    sk_conn_close(r->c, 0);
}

static void test_line_final_unterminated(void)
{
    static const char *const inputs[2] = {"a\nb\r\n\nlast", "x\r\ntail\r"};
    static const char *const expect[2][4] = {{"a", "b", "", "last"}, {"x", "tail\r", NULL, NULL}};
    static const int nexpect[2] = {4, 2};
    for (int k = 0; k < 2; k++) {
        sk_loop *loop = new_loop();
        sk_conn_opts o = {.in_frame = SK_FRAME_LINE, .out_frame = SK_FRAME_LINE};
        rec r;
        rec_open(&r, loop, SOCK_STREAM, &cbs_full, &o);
        r.eof_hook = bye_on_eof;
        write_str(r.peer, inputs[k]);
        shutdown(r.peer, SHUT_WR);
        peer_rx rx;
        peer_rx_start(&rx, loop, r.peer);
        CHECK(run_until(loop, cond_closed, &r, 3000));
        CHECK(run_until(loop, cond_peer_eof, &rx, 3000));
        CHECK_EQ_INT(r.nmsg, nexpect[k]);
        for (int i = 0; i < nexpect[k]; i++)
            CHECK(msg_is_str(&r, i, expect[k][i]));
        CHECK_EQ_INT(r.eofs, 1);
        CHECK_EQ_INT(r.msgs_after_eof, 0);
        CHECK_EQ_INT(r.close_err, 0);
        CHECK(rx.got.len == 4 && memcmp(rx.got.p, "bye\n", 4) == 0);
        CHECK_EQ_INT(rx.err, 0);
        peer_rx_stop(&rx);
        rec_finish(&r);
        sk_loop_free(loop);
    }
}

/* ---- 7. on_eof NULL: the conn closes itself after flushing its replies ---- */

#define AUTO_REPLY ((size_t)1 << 20)

static void big_reply_hook(rec *r, const uint8_t *msg, size_t len)
{
    uint8_t *p = malloc(AUTO_REPLY);
    memset(p, msg[0], AUTO_REPLY);
    CHECK_EQ_INT(sk_conn_write(r->c, p, AUTO_REPLY), 0);
    free(p);
}

static void test_eof_null_autoclose(void)
{
    sk_loop *loop = new_loop();
    sk_conn_opts o = {.in_frame = SK_FRAME_LINE};
    rec r;
    rec_open(&r, loop, SOCK_STREAM, &cbs_no_eof, &o);
    r.hook = big_reply_hook;
    write_str(r.peer, "a\nb\nc\n");
    shutdown(r.peer, SHUT_WR);
    peer_rx rx;
    peer_rx_start(&rx, loop, r.peer);
    CHECK(run_until(loop, cond_peer_eof, &rx, 5000));
    CHECK(run_until(loop, cond_closed, &r, 3000));
    CHECK_EQ_INT(r.nmsg, 3);
    CHECK_EQ_INT(rx.got.len, 3 * AUTO_REPLY);
    int content_ok = rx.got.len == 3 * AUTO_REPLY;
    for (size_t i = 0; content_ok && i < rx.got.len; i += 4096)
        content_ok = rx.got.p[i] == "abc"[i / AUTO_REPLY];
    CHECK(content_ok);
    CHECK_EQ_INT(rx.eof, 1);
    CHECK_EQ_INT(rx.err, 0);
    CHECK_EQ_INT(r.close_err, 0);
    CHECK_EQ_INT(r.bytes_out_at_close, 3 * AUTO_REPLY);
    CHECK_EQ_INT(r.bytes_in_at_close, 6);
    peer_rx_stop(&rx);
    rec_finish(&r);
    sk_loop_free(loop);
}

/* ---- 8. sk_conn_shutdown: half-close ---- */

typedef struct hc_ctx {
    rec *r;
    size_t big;
} hc_ctx;

static void hc_timer(sk_timer *t, void *ud)
{
    hc_ctx *h = ud;
    if (h->big) {
        uint8_t *p = calloc(1, h->big);
        CHECK_EQ_INT(sk_conn_write(h->r->c, p, h->big), 0);
        free(p);
    }
    CHECK_EQ_INT(sk_conn_send(h->r->c, "bye", 3), 0);
    sk_conn_shutdown(h->r->c);
    sk_conn_shutdown(h->r->c); /* idempotent */
}

static int cond_one_msg(void *ud) { return ((rec *)ud)->nmsg >= 1 || ((rec *)ud)->closes; }

static void test_shutdown_half_close(void)
{
    for (int big = 0; big < 2; big++) {
        sk_loop *loop = new_loop();
        sk_conn_opts o = {.in_frame = SK_FRAME_LINE, .out_frame = SK_FRAME_LINE};
        rec r;
        rec_open(&r, loop, SOCK_STREAM, &cbs_no_eof, &o);
        hc_ctx h = {.r = &r, .big = big ? (size_t)3 << 20 : 0};
        sk_timer *t = sk_timer_new(loop, hc_timer, &h);
        sk_timer_start(t, 1, 0);
        peer_rx rx;
        peer_rx_start(&rx, loop, r.peer);
        CHECK(run_until(loop, cond_peer_eof, &rx, 5000));
        /* everything queued before the shutdown arrived, then EOF */
        CHECK_EQ_INT(rx.got.len, h.big + 4);
        CHECK(rx.got.len == h.big + 4 && memcmp(rx.got.p + h.big, "bye\n", 4) == 0);
        CHECK_EQ_INT(rx.err, 0);
        CHECK_EQ_INT(r.closes, 0);
        /* the other direction still works */
        write_str(r.peer, "still here\n");
        CHECK(run_until(loop, cond_one_msg, &r, 3000));
        CHECK_EQ_INT(r.nmsg, 1);
        CHECK(msg_is_str(&r, 0, "still here"));
        CHECK_EQ_INT(r.closes, 0);
        /* the peer closes its side too: on_eof NULL, so the conn closes cleanly */
        shutdown(r.peer, SHUT_WR);
        CHECK(run_until(loop, cond_closed, &r, 3000));
        CHECK_EQ_INT(r.close_err, 0);
        peer_rx_stop(&rx);
        sk_timer_free(t);
        rec_finish(&r);
        sk_loop_free(loop);
    }
}

/* ---- 9. sk_conn_close from inside on_message ---- */

typedef struct cm_ctx {
    size_t reply; /* bytes to queue before closing (0: nothing) */
    int rc_after, closes_inside;
} cm_ctx;

static void close_in_msg_hook(rec *r, const uint8_t *msg, size_t len)
{
    cm_ctx *cm = r->ud;
    if (r->nmsg != 1)
        return;
    if (cm->reply) {
        uint8_t *p = malloc(cm->reply);
        memset(p, 'r', cm->reply);
        CHECK_EQ_INT(sk_conn_write(r->c, p, cm->reply), 0);
        free(p);
    }
    sk_conn_close(r->c, SK_ETIMEOUT);
    sk_conn_close(r->c, -EIO); /* idempotent: the first err stays */
    cm->rc_after = sk_conn_send(r->c, "late", 4);
    cm->closes_inside = r->closes;
}

static void test_close_inside_on_message(void)
{
    for (int k = 0; k < 2; k++) {
        sk_loop *loop = new_loop();
        sk_conn_opts o = {.in_frame = SK_FRAME_LINE, .out_frame = SK_FRAME_LINE};
        rec r;
        rec_open(&r, loop, SOCK_STREAM, &cbs_full, &o);
        cm_ctx cm = {.reply = k ? (size_t)2 << 20 : 0};
        r.ud = &cm;
        r.hook = close_in_msg_hook;
        write_str(r.peer, "one\ntwo\nthree\n"); /* all three in one read */
        peer_rx rx;
        peer_rx_start(&rx, loop, r.peer);
        CHECK(run_until(loop, cond_closed, &r, 5000));
        CHECK(run_until(loop, cond_peer_eof, &rx, 3000));
        CHECK_EQ_INT(r.nmsg, 1); /* "two" and "three" not delivered */
        CHECK(msg_is_str(&r, 0, "one"));
        CHECK_EQ_INT(cm.rc_after, SK_ECLOSED);
        CHECK_EQ_INT(cm.closes_inside, 0);
        CHECK_EQ_INT(r.closes, 1);
        CHECK_EQ_INT(r.close_err, SK_ETIMEOUT);
        CHECK_EQ_INT(r.eofs, 0);
        CHECK_EQ_INT(rx.got.len, cm.reply); /* queued output still flushed */
        CHECK_EQ_INT(rx.err, 0);
        CHECK_EQ_INT(r.bytes_out_at_close, cm.reply);
        peer_rx_stop(&rx);
        rec_finish(&r);
        sk_loop_free(loop);
    }
}

/* ---- 10. sk_conn_abort of another conn from inside on_message ---- */

static rec *g_ab[2];
static int g_ab_rc_inside[2];

static void abort_other_hook(rec *r, const uint8_t *msg, size_t len)
{
    int me = r == g_ab[0] ? 0 : 1;
    rec *o = g_ab[1 - me];
    if (r->nmsg == 1 && o->c && o->closes == 0) {
        sk_conn_abort(o->c, SK_ETIMEOUT);
        g_ab_rc_inside[me] = o->closes; /* on_close is deferred to the end of the iteration */
        CHECK_EQ_INT(sk_conn_send(o->c, "x", 1), SK_ECLOSED);
        sk_conn_abort(o->c, -EIO); /* no second on_close */
        sk_conn_close(o->c, -EIO);
    }
}

static void abort_close_hook(rec *r)
{
    /* every function is harmless from inside on_close */
    CHECK_EQ_INT(sk_conn_send(r->c, "x", 1), SK_ECLOSED);
    sk_conn_close(r->c, -EIO);
    sk_conn_abort(r->c, -EIO);
    sk_conn_pause(r->c);
    sk_conn_resume(r->c);
    sk_conn_shutdown(r->c);
}

static int cond_both_closed(void *ud)
{
    (void)ud;
    return g_ab[0]->closes && g_ab[1]->closes;
}

static void test_abort_other_conn(void)
{
    sk_loop *loop = new_loop();
    sk_conn_opts o = {.in_frame = SK_FRAME_LINE, .out_frame = SK_FRAME_LINE};
    rec a, b;
    rec_open(&a, loop, SOCK_STREAM, &cbs_full, &o);
    rec_open(&b, loop, SOCK_STREAM, &cbs_full, &o);
    g_ab[0] = &a;
    g_ab[1] = &b;
    g_ab_rc_inside[0] = g_ab_rc_inside[1] = -1;
    a.hook = b.hook = abort_other_hook;
    a.close_hook = b.close_hook = abort_close_hook;
    /* both have queued output and readable input in the same first epoll batch */
    CHECK_EQ_INT(sk_conn_send(a.c, "queued", 6), 0);
    CHECK_EQ_INT(sk_conn_send(b.c, "queued", 6), 0);
    write_str(a.peer, "x\ny\n");
    write_str(b.peer, "x\ny\n");
    peer_rx rxa, rxb;
    peer_rx_start(&rxa, loop, a.peer);
    peer_rx_start(&rxb, loop, b.peer);
    run_for(loop, 100);
    int winner = a.nmsg ? 0 : 1;
    rec *w = winner ? &b : &a, *l = winner ? &a : &b;
    peer_rx *rxw = winner ? &rxb : &rxa, *rxl = winner ? &rxa : &rxb;
    CHECK_EQ_INT(w->nmsg, 2); /* the aborting conn carries on */
    CHECK_EQ_INT(l->nmsg, 0); /* its pending event in the batch was dropped */
    CHECK_EQ_INT(g_ab_rc_inside[winner], 0);
    CHECK_EQ_INT(l->closes, 1);
    CHECK_EQ_INT(l->close_err, SK_ETIMEOUT);
    CHECK_EQ_INT(w->closes, 0);
    CHECK(run_until(loop, cond_peer_eof, rxl, 3000));
    CHECK_EQ_INT(rxl->got.len, 0); /* abort dropped the queued output */
    CHECK(rxw->got.len == 7 && memcmp(rxw->got.p, "queued\n", 7) == 0);
    sk_conn_close(w->c, 0);
    CHECK(run_until(loop, cond_both_closed, NULL, 3000));
    CHECK_EQ_INT(w->closes, 1);
    CHECK_EQ_INT(w->close_err, 0);
    peer_rx_stop(&rxa);
    peer_rx_stop(&rxb);
    rec_finish(&a);
    rec_finish(&b);
    sk_loop_free(loop);
}

/* ---- 11. pause / resume with buffered complete messages ---- */

typedef struct pr_ctx {
    rec *r;
    int pause_at; /* pause inside on_message number pause_at (0: pause before the run) */
    int peer_end; /* after the extra lines: 0 nothing, 1 shutdown(SHUT_WR), 2 close() */
    int nmsg_t1, nmsg_t2;
    int t2_ran, resumed;
} pr_ctx;

static void pause_hook(rec *r, const uint8_t *msg, size_t len)
{
    pr_ctx *p = r->ud;
    if (r->nmsg == p->pause_at)
        sk_conn_pause(r->c);
}

static void pr_t1(sk_timer *t, void *ud)
{
    pr_ctx *p = ud;
    p->nmsg_t1 = p->r->nmsg;
    write_str(p->r->peer, "six\nseven\n");
    if (p->peer_end == 1)
        shutdown(p->r->peer, SHUT_WR);
    if (p->peer_end == 2) {
        close(p->r->peer);
        p->r->peer = -1;
    }
}

static void pr_t2(sk_timer *t, void *ud)
{
    pr_ctx *p = ud;
    p->t2_ran = 1;
    p->nmsg_t2 = p->r->nmsg;
    if (p->r->c && p->r->closes == 0) {
        sk_conn_resume(p->r->c);
        sk_conn_resume(p->r->c); /* idempotent */
        p->resumed = 1;
    }
}

static int cond_pr_done(void *ud)
{
    pr_ctx *p = ud;
    return p->r->closes || (p->r->nmsg >= 7 && (p->peer_end == 0 || p->r->eofs));
}

static void test_pause_resume(void)
{
    static const char *const want[7] = {"one", "two", "three", "four", "five", "six", "seven"};
    for (int variant = 0; variant < 4; variant++) {
        sk_loop *loop = new_loop();
        sk_conn_opts o = {.in_frame = SK_FRAME_LINE, .out_frame = SK_FRAME_LINE};
        rec r;
        rec_open(&r, loop, SOCK_STREAM, &cbs_full, &o);
        pr_ctx p = {
            .r = &r, .pause_at = variant == 3 ? 0 : 2, .peer_end = variant == 3 ? 1 : variant};
        r.ud = &p;
        r.hook = pause_hook;
        if (p.pause_at == 0)
            sk_conn_pause(r.c);
        write_str(r.peer, "one\ntwo\nthree\nfour\nfive\n"); /* one read */
        sk_timer *t1 = sk_timer_new(loop, pr_t1, &p);
        sk_timer *t2 = sk_timer_new(loop, pr_t2, &p);
        sk_timer_start(t1, 50, 0);
        sk_timer_start(t2, 150, 0);
        int ok = run_until(loop, cond_pr_done, &p, 3000);
        if (!ok || r.nmsg != 7 || r.closes)
            fprintf(stderr, "  pause variant %d: %d messages, eof %d, closed %d (err %d)\n",
                    variant, r.nmsg, r.eofs, r.closes, r.close_err);
        CHECK(ok);
        CHECK_EQ_INT(p.nmsg_t1, p.pause_at);
        /* still open at resume time: no close with complete messages undelivered */
        CHECK_EQ_INT(p.resumed, 1);
        if (p.t2_ran)
            CHECK_EQ_INT(p.nmsg_t2, p.pause_at); /* nothing while paused, even new data */
        CHECK_EQ_INT(r.nmsg, 7);
        int same = r.nmsg == 7;
        for (int i = 0; same && i < 7; i++)
            same = msg_is_str(&r, i, want[i]);
        CHECK(same);
        CHECK_EQ_INT(r.eofs, (p.peer_end ? 1 : 0));
        CHECK_EQ_INT(r.msgs_after_eof, 0);
        CHECK_EQ_INT(r.closes, 0);
        if (r.c)
            CHECK_EQ_INT(sk_conn_bytes_in(r.c), 24 + 10);
        sk_timer_free(t1);
        sk_timer_free(t2);
        rec_finish(&r);
        sk_loop_free(loop);
    }
}

/* ---- 12. sk_conn_flush and the counters ---- */

static void test_flush_and_counters(void)
{
    sk_loop *loop = new_loop();
    sk_conn_opts o = {.in_frame = SK_FRAME_LEN16LE, .out_frame = SK_FRAME_LEN16BE};
    rec r;
    rec_open(&r, loop, SOCK_STREAM, &cbs_full, &o);
    CHECK_EQ_INT(sk_conn_queued(r.c), 0);
    CHECK_EQ_INT(sk_conn_bytes_in(r.c), 0);
    CHECK_EQ_INT(sk_conn_bytes_out(r.c), 0);
    CHECK_EQ_INT(sk_conn_send(r.c, "hello", 5), 0);
    CHECK_EQ_INT(sk_conn_queued(r.c), 7);
    CHECK_EQ_INT(sk_conn_write(r.c, "!", 1), 0);
    CHECK_EQ_INT(sk_conn_queued(r.c), 8);
    CHECK_EQ_INT(sk_conn_flush(r.c), 0); /* written now, without running the loop */
    CHECK_EQ_INT(sk_conn_queued(r.c), 0);
    CHECK_EQ_INT(sk_conn_bytes_out(r.c), 8);
    uint8_t buf[16];
    set_nonblock(r.peer);
    CHECK_EQ_INT(read(r.peer, buf, sizeof buf), 8);
    CHECK(memcmp(buf, "\0\5hello!", 8) == 0);
    static uint8_t huge[70000];
    CHECK_EQ_INT(sk_conn_send(r.c, huge, sizeof huge), SK_EFRAMEBIG); /* len16 cannot hold it */
    CHECK_EQ_INT(sk_conn_queued(r.c), 0);
    /* set_framing switches the decoder for bytes not yet decoded */
    write_all(r.peer, "\2\0hi", 4);
    CHECK(run_until(loop, cond_one_msg, &r, 3000));
    CHECK(msg_is_str(&r, 0, "hi"));
    sk_conn_set_framing(r.c, SK_FRAME_LINE, SK_FRAME_RAW, 0);
    write_str(r.peer, "line\n");
    CHECK_EQ_INT(sk_conn_send(r.c, "raw", 3), 0);
    CHECK_EQ_INT(sk_conn_queued(r.c), 3);
    run_for(loop, 30);
    CHECK_EQ_INT(r.nmsg, 2);
    CHECK(msg_is_str(&r, 1, "line"));
    CHECK_EQ_INT(read(r.peer, buf, sizeof buf), 3);
    CHECK_EQ_INT(sk_conn_bytes_in(r.c), 9);
    CHECK_EQ_INT(sk_conn_bytes_out(r.c), 11);
    CHECK(strcmp(sk_conn_peer(r.c), "?") != 0);
    int x;
    sk_conn_set_userdata(r.c, &x);
    CHECK(sk_conn_userdata(r.c) == &x);
    sk_conn_set_userdata(r.c, &r);
    rec_finish(&r);
    sk_loop_free(loop);
}

/* A per-connection record allocated with the connection: zeroed, aligned,
 * and still there during on_close. */
static uint8_t extra_seen_at_close;

static void extra_close_hook(rec *r) { extra_seen_at_close = ((uint8_t *)sk_conn_extra(r->c))[99]; }

static void test_extra_bytes(void)
{
    sk_loop *loop = new_loop();
    sk_conn_opts o = {.extra = 100};
    rec r;
    rec_open(&r, loop, SOCK_STREAM, &cbs_full, &o);
    uint8_t *x = sk_conn_extra(r.c);
    CHECK(x != NULL);
    CHECK_EQ_INT((uintptr_t)x % _Alignof(max_align_t), 0);
    int zero = 1;
    for (int i = 0; i < 100; i++)
        zero &= x[i] == 0;
    CHECK(zero);
    memset(x, 0xab, 100); /* all of it is ours: ASan would catch an overrun */
    r.close_hook = extra_close_hook;
    extra_seen_at_close = 0;
    rec_finish(&r);
    CHECK_EQ_INT(extra_seen_at_close, 0xab);
    o.extra = SIZE_MAX; /* cannot be allocated: NULL, and the fd is closed */
    int sv[2];
    make_pair(SOCK_STREAM, sv);
    errno = 0;
    CHECK(sk_conn_new(loop, sv[0], &cbs_full, &o, NULL) == NULL);
    CHECK_EQ_INT(errno, ENOMEM);
    CHECK(fcntl(sv[0], F_GETFD) < 0);
    close(sv[1]);
    sk_loop_free(loop);
}

/* ---- 14. large echoes queued by reference into the read buffer ---- */

/* Each message is echoed with sk_conn_send from on_message; one of 4 KiB or
 * more is queued pointing into the loop's read buffer (epoll), not copied.
 * The peer reads nothing at first, so most of every echo stays queued while
 * the peer's next messages are read into that same buffer: the echoes that
 * finally arrive must still be byte for byte what was sent, in order. */
static void lent_echo_hook(rec *r, const uint8_t *msg, size_t len)
{
    CHECK_EQ_INT(sk_conn_send(r->c, msg, len), 0);
}

static void run_lent_echo(sk_frame mode, size_t size, int rounds)
{
    static const sk_conn_cbs cbs = {r_message, r_eof, r_drain, r_read, r_close, NULL, NULL};
    sk_loop *loop = new_loop();
    sk_conn_opts o = {.in_frame = mode, .out_frame = mode, .keep_reading = 1,
                      .high_water = (size_t)64 << 20};
    rec r;
    rec_open(&r, loop, SOCK_STREAM, &cbs, &o);
    r.hook = lent_echo_hook;
    bytes sent = {0};
    uint8_t *msg = malloc(size);
    size_t most_queued = 0;
    for (int k = 0; k < rounds; k++) { /* one message per iteration: one read each */
        for (size_t i = 0; i < size; i++)
            msg[i] = (uint8_t)('a' + (i * 7 + (size_t)k * 3) % 26);
        bytes frame = {0};
        encode(&frame, mode, msg, size);
        write_all(r.peer, frame.p, frame.len);
        bytes_add(&sent, frame.p, frame.len);
        bytes_free(&frame);
        run_for(loop, 5);
        if (sk_conn_queued(r.c) > most_queued)
            most_queued = sk_conn_queued(r.c);
    }
    CHECK(most_queued > 3 * size); /* echoes waited in the queue while more was read */
    peer_rx rx;
    peer_rx_start(&rx, loop, r.peer);
    rx.limit = 0;
    while (rx.got.len < sent.len && !rx.err && r.closes == 0)
        run_for(loop, 20);
    CHECK_EQ_INT(rx.got.len, sent.len);
    CHECK(rx.got.len == sent.len && memcmp(rx.got.p, sent.p, sent.len) == 0);
    if (mode != SK_FRAME_RAW) /* raw: a message per read, however the socket splits them */
        CHECK_EQ_INT(r.nmsg, rounds);
    CHECK_EQ_INT(sk_conn_queued(r.c), 0);
    peer_rx_stop(&rx);
    rec_finish(&r);
    CHECK_EQ_INT(r.close_err, 0);
    bytes_free(&sent);
    free(msg);
    sk_loop_free(loop);
}

static void test_lent_echo(void)
{
    run_lent_echo(SK_FRAME_RAW, 60000, 12);
    run_lent_echo(SK_FRAME_LEN32BE, 16384, 24);
    run_lent_echo(SK_FRAME_LINE, 8192, 40);
}

/* sk_conn_partial_ms: nonzero while the start of a frame waits for its end
 * (a header cut, a body cut, TEXT's tail after a line), 0 once it is whole,
 * and 0 for input held back by a pause. No timing is asserted. */
static int cond_nmsg(void *ud) { return ((rec *)ud)->nmsg > 0; }

static void test_partial_ms(void)
{
    sk_loop *loop = new_loop();
    rec r;
    sk_conn_opts o = {.in_frame = SK_FRAME_LEN32BE};
    rec_open(&r, loop, SOCK_STREAM, &cbs_full, &o);
    CHECK_EQ_INT(sk_conn_partial_ms(r.c), 0);
    write_all(r.peer, "\0\0", 2); /* half a header */
    run_for(loop, 30);
    CHECK(sk_conn_partial_ms(r.c) >= 1);
    write_all(r.peer, "\0\3ab", 4); /* the header, part of the body */
    run_for(loop, 30);
    CHECK(sk_conn_partial_ms(r.c) >= 1);
    write_all(r.peer, "c", 1);
    CHECK(run_until(loop, cond_nmsg, &r, 2000));
    CHECK_EQ_INT(sk_conn_partial_ms(r.c), 0);
    /* paused: whole frames left unread are not a partial message */
    sk_conn_pause(r.c);
    write_all(r.peer, "\0\0\0\1x\0\0\0\1y", 10);
    run_for(loop, 30);
    CHECK_EQ_INT(sk_conn_partial_ms(r.c), 0);
    sk_conn_resume(r.c);
    run_for(loop, 30);
    CHECK_EQ_INT(r.nmsg, 3);
    CHECK_EQ_INT(sk_conn_partial_ms(r.c), 0);
    rec_finish(&r);

    /* TEXT: a tail after a line waits for its end (partial); a read without
     * any "\n" is a message at once (not partial) */
    sk_conn_opts t = {.in_frame = SK_FRAME_TEXT};
    rec_open(&r, loop, SOCK_STREAM, &cbs_full, &t);
    write_all(r.peer, "one\ntw", 6);
    CHECK(run_until(loop, cond_nmsg, &r, 2000));
    run_for(loop, 20);
    CHECK(msg_is_str(&r, 0, "one"));
    CHECK_EQ_INT(r.nmsg, 1);
    CHECK(sk_conn_partial_ms(r.c) >= 1);
    write_all(r.peer, "o\n", 2);
    run_for(loop, 30);
    CHECK_EQ_INT(r.nmsg, 2);
    CHECK(msg_is_str(&r, 1, "two"));
    CHECK_EQ_INT(sk_conn_partial_ms(r.c), 0);
    write_all(r.peer, "hello", 5);
    run_for(loop, 30);
    CHECK_EQ_INT(r.nmsg, 3);
    CHECK(msg_is_str(&r, 2, "hello"));
    CHECK_EQ_INT(sk_conn_partial_ms(r.c), 0);
    rec_finish(&r);
    sk_loop_free(loop);
}

static void run_all(void)
{
    test_framing_modes();
    test_batched_replies();
    test_backpressure();
    test_max_queue();
    test_frame_errors();
    test_line_final_unterminated();
    test_eof_null_autoclose();
    test_shutdown_half_close();
    test_close_inside_on_message();
    test_abort_other_conn();
    test_pause_resume();
    test_flush_and_counters();
    test_extra_bytes();
    test_lent_echo();
    test_partial_ms();
}

int main(void)
{
    alarm(240); /* last-resort hang guard */
    signal(SIGPIPE, SIG_IGN);
    run_on_each_backend("test_conn", &g_io, run_all);
    return check_done("test_conn");
}
