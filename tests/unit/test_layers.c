/* test_layers.c — the connection is a stack of layers: a test-only security
 * layer (a position-keyed XOR, handing its plain bytes up in two pieces)
 * stacked under the framing protocol and under WebSocket, on the epoll and
 * the io_uring transport. Messages must arrive whole and in order, and the
 * bytes on the wire must be the transformed ones. */
#include "net/conn_int.h"
#include "net/layers.h"
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
#include <sys/socket.h>
#include <unistd.h>

/* ---- the XOR layer ---- */

typedef struct xor_sec {
    sk__sec base;
    uint64_t in_off, out_off; /* stream positions: the key depends on them */
    int freed_flag;
} xor_sec;

static int g_xor_freed;

static uint8_t key_at(uint64_t off) { return (uint8_t)(0x5a ^ (off * 7) ^ (off >> 8)); }

static void xor_buf(uint8_t *dst, const uint8_t *src, size_t n, uint64_t off)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = src[i] ^ key_at(off + i);
}

static int xor_input(sk__sec *s, sk_conn *c, uint8_t *buf, size_t n, sk__plain_fn up)
{
    xor_sec *x = (xor_sec *)s;
    xor_buf(buf, buf, n, x->in_off);
    x->in_off += n;
    size_t half = n / 2; /* two runs: frames cut at arbitrary places */
    if (half) {
        up(c, buf, half);
        if (!sk__conn_open(c))
            return 0;
    }
    up(c, buf + half, n - half);
    return 0;
}

static int xor_seal(sk__sec *s, sk__outq *plain)
{
    xor_sec *x = (xor_sec *)s;
    while (plain->bytes) {
        struct iovec iov;
        sk__outq_iov(plain, &iov, 1);
        uint8_t *dst = sk__outq_reserve(&s->wire, iov.iov_len);
        if (!dst)
            return -ENOMEM;
        xor_buf(dst, iov.iov_base, iov.iov_len, x->out_off);
        x->out_off += iov.iov_len;
        sk__outq_added(&s->wire, iov.iov_len);
        sk__outq_consume(plain, iov.iov_len);
    }
    return 0;
}

static void xor_free(sk__sec *s)
{
    g_xor_freed++;
    free(s);
}

static const sk__sec_ops xor_ops = {.input = xor_input, .seal = xor_seal, .free = xor_free};

static void add_xor(sk_conn *c)
{
    xor_sec *x = calloc(1, sizeof *x);
    x->base.ops = &xor_ops;
    CHECK_EQ_INT(sk__conn_set_sec(c, &x->base), 0);
}

/* ---- a loop and a peer ---- */

static sk_io g_io;

typedef struct peer {
    sk_conn *c;
    uint8_t *got; /* every message received, each as a 4-byte length then its bytes */
    size_t got_len, got_cap, msgs;
    int echo, closed, close_err, opened;
} peer;

static void record(peer *p, const uint8_t *msg, size_t len)
{
    if (p->got_len + len + 4 > p->got_cap) {
        p->got_cap = (p->got_len + len + 4) * 2;
        p->got = realloc(p->got, p->got_cap);
    }
    uint32_t l = (uint32_t)len;
    memcpy(p->got + p->got_len, &l, 4);
    memcpy(p->got + p->got_len + 4, msg, len);
    p->got_len += len + 4;
    p->msgs++;
}

static void on_message(sk_conn *c, const uint8_t *msg, size_t len, void *ud)
{
    peer *p = ud;
    if (p->echo)
        CHECK_EQ_INT(sk_conn_send(c, msg, len), 0);
    else
        record(p, msg, len);
}

static void on_open(sk_conn *c, void *ud) { ((peer *)ud)->opened = 1; }

static void on_close(sk_conn *c, int err, void *ud)
{
    peer *p = ud;
    p->closed = 1;
    p->close_err = err;
}

static const sk_conn_cbs cbs = {.on_message = on_message, .on_close = on_close, .on_open = on_open};

static void stop_cb(sk_timer *t, void *ud) { sk_loop_stop(ud); }

typedef int (*cond_fn)(void *);
static cond_fn g_cond;
static void *g_ud;

static void tick(sk_loop *loop, void *ud)
{
    if (g_cond && g_cond(g_ud))
        sk_loop_stop(loop);
}

static int run_until(sk_loop *loop, cond_fn cond, void *ud, unsigned ms)
{
    sk_timer *t = sk_timer_new(loop, stop_cb, loop);
    sk_timer_start(t, ms, 0);
    g_cond = cond;
    g_ud = ud;
    if (!cond(ud))
        sk_loop_run(loop);
    g_cond = NULL;
    sk_timer_free(t);
    return cond(ud);
}

static sk_loop *new_loop(void)
{
    sk_loop *loop;
    if (sk_loop_new_io(&loop, g_io, NULL) != 0 || sk_loop_on_tick(loop, tick, NULL) != 0)
        exit(1);
    return loop;
}

static void pair(int sv[2])
{
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        exit(1);
}

/* Sizes that cross every interesting line: tiny, a header's worth, the
 * lending threshold (4 KiB), a read buffer (128 KiB), and more. */
static const size_t sizes[] = {1, 3, 100, 4095, 4096, 5000, 65536, 131073, 300000, 7};
#define NSIZES (sizeof sizes / sizeof sizes[0])

static uint8_t *pattern(size_t n, unsigned seed)
{
    uint8_t *m = malloc(n);
    for (size_t i = 0; i < n; i++)
        m[i] = (uint8_t)('a' + (i * 31 + seed) % 26); /* text: valid UTF-8 for WebSocket */
    return m;
}

static int all_back(void *ud) { return ((peer *)ud)->msgs == NSIZES; }
static int closed_both(void *ud) { peer *p = ud; return p[0].closed && p[1].closed; }

/* Checks that p received exactly the messages of sizes[] in order. */
static void check_got(const peer *p)
{
    CHECK_EQ_INT(p->msgs, NSIZES);
    size_t at = 0;
    for (size_t i = 0; i < NSIZES && i < p->msgs; i++) {
        uint32_t l;
        memcpy(&l, p->got + at, 4);
        CHECK_EQ_INT(l, sizes[i]);
        uint8_t *want = pattern(sizes[i], (unsigned)i);
        CHECK(l == sizes[i] && memcmp(p->got + at + 4, want, l) == 0);
        free(want);
        at += 4 + l;
    }
}

/* A server and a client, both with the XOR layer, over a socketpair; the
 * client sends every size, the server echoes, then the client closes. */
static void echo_through(const sk_conn_opts *so, const sk_conn_opts *co, const char *what)
{
    sk_loop *loop = new_loop();
    int sv[2];
    pair(sv);
    peer p[2] = {{.echo = 1}, {0}};
    g_xor_freed = 0;
    p[0].c = sk_conn_new(loop, sv[0], &cbs, so, &p[0]);
    p[1].c = sk_conn_new(loop, sv[1], &cbs, co, &p[1]);
    add_xor(p[0].c);
    add_xor(p[1].c);
    for (size_t i = 0; i < NSIZES; i++) {
        uint8_t *m = pattern(sizes[i], (unsigned)i);
        CHECK_EQ_INT(sk_conn_send(p[1].c, m, sizes[i]), 0);
        free(m);
    }
    if (!run_until(loop, all_back, &p[1], 5000))
        fprintf(stderr, "%s: %zu of %zu messages back\n", what, p[1].msgs, NSIZES);
    check_got(&p[1]);
    CHECK(sk_conn_bytes_in(p[0].c) > 0 && sk_conn_bytes_out(p[0].c) == sk_conn_bytes_in(p[1].c));
    sk_conn_close(p[1].c, 0);
    CHECK(run_until(loop, closed_both, p, 5000));
    CHECK_EQ_INT(p[0].close_err, 0);
    CHECK_EQ_INT(p[1].close_err, 0);
    sk_loop_free(loop);
    CHECK_EQ_INT(g_xor_freed, 2); /* the core frees the layer with the connection */
    free(p[0].got);
    free(p[1].got);
}

static void test_framing_over_xor(void)
{
    const sk_frame modes[] = {SK_FRAME_LEN32BE, SK_FRAME_LEN16LE, SK_FRAME_LINE};
    for (size_t i = 0; i < 3; i++) {
        sk_conn_opts o = {.in_frame = modes[i], .out_frame = modes[i]};
        if (modes[i] == SK_FRAME_LEN16LE) /* sizes up to 64 KiB - 1 only: skip the big ones */
            continue;
        echo_through(&o, &o, "framing");
    }
}

static void test_ws_over_xor(void)
{
    sk_ws_opts sw = {.path = "/"}, cw = {.client = 1, .host = "x", .path = "/"};
    sk_conn_opts so = {.ws = &sw}, co = {.ws = &cw};
    echo_through(&so, &co, "websocket");
}

/* The wire carries the transformed bytes: a plain socket peer XORs its
 * frame itself, and un-XORs the echo. */
static void test_wire_is_transformed(void)
{
    sk_loop *loop = new_loop();
    int sv[2];
    pair(sv);
    peer p = {.echo = 1};
    sk_conn_opts o = {.in_frame = SK_FRAME_LEN32BE, .out_frame = SK_FRAME_LEN32BE};
    p.c = sk_conn_new(loop, sv[0], &cbs, &o, &p);
    add_xor(p.c);
    uint8_t frame[9] = {0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o'}, wire[9], back[9];
    xor_buf(wire, frame, 9, 0);
    CHECK_EQ_INT(write(sv[1], wire, 9), 9);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    size_t got = 0;
    for (int i = 0; i < 50 && got < 9; i++) {
        sk_timer *t = sk_timer_new(loop, stop_cb, loop);
        sk_timer_start(t, 10, 0);
        sk_loop_run(loop);
        sk_timer_free(t);
        ssize_t n = read(sv[1], back + got, 9 - got);
        if (n > 0)
            got += (size_t)n;
    }
    CHECK_EQ_INT(got, 9);
    CHECK(memcmp(back, wire, 9) == 0); /* the same stream position: the same key */
    uint8_t plain[9];
    xor_buf(plain, back, 9, 0);
    CHECK(memcmp(plain, frame, 9) == 0);
    /* bytes not in the layer's form decode to garbage: here a length header
     * of 0x9a...... (0xff ^ key_at(9)), not a length at all, closes that conn */
    uint8_t raw[4] = {0xff, 0xff, 0xff, 0xff};
    CHECK_EQ_INT(write(sv[1], raw, 4), 4);
    for (int i = 0; i < 50 && !p.closed; i++) {
        sk_timer *t = sk_timer_new(loop, stop_cb, loop);
        sk_timer_start(t, 10, 0);
        sk_loop_run(loop);
        sk_timer_free(t);
    }
    CHECK(p.closed);
    CHECK_EQ_INT(p.close_err, SK_EFRAMENEG); /* a signed header: 0x9a... is negative */
    close(sv[1]);
    sk_loop_free(loop);
}

/* A layer is set before any byte moves, once. */
static void test_set_sec_rules(void)
{
    sk_loop *loop = new_loop();
    int sv[2];
    pair(sv);
    peer p = {0};
    p.c = sk_conn_new(loop, sv[0], &cbs, NULL, &p);
    add_xor(p.c);
    xor_sec *second = calloc(1, sizeof *second);
    second->base.ops = &xor_ops;
    CHECK_EQ_INT(sk__conn_set_sec(p.c, &second->base), SK_ECLOSED);
    free(second);
    sk_conn_abort(p.c, 0);
    close(sv[1]);
    sk_loop_free(loop);
}

static void run_all(void)
{
    test_framing_over_xor();
    test_ws_over_xor();
    test_wire_is_transformed();
    test_set_sec_rules();
}

int main(void)
{
    alarm(120);
    signal(SIGPIPE, SIG_IGN);
    run_on_each_backend("test_layers", &g_io, run_all);
    return check_done("test_layers");
}
