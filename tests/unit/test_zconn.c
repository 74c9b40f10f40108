/* test_zconn.c — compressed framing on a real connection (framing.c over a
 * socketpair, epoll and io_uring): a stream of frames of every codec fed in
 * random pieces is echoed compressed; a bomb, a corrupt body and an unknown
 * codec byte each close the connection with their error after the messages
 * before them were delivered. */
#include "sockit/compress.h"
#include "sockit/conn.h"
#include "sockit/error.h"
#include "sockit/loop.h"

#include "check.h"
#include "net_helpers.h"

#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define NMSG 12
#define STREAM_CAP 60000

static sk_io g_io;

typedef struct run {
    sk_loop *loop;
    int peer;                   /* the test's end of the socketpair */
    uint8_t out[STREAM_CAP];    /* the stream written to the connection */
    size_t out_len, out_off;
    uint32_t seed;
    sk_timer *feeder;
    int got, closed, close_err;
    size_t got_len[NMSG];
} run;

static void on_message(sk_conn *c, const uint8_t *msg, size_t len, void *ud)
{
    run *r = ud;
    if (r->got < NMSG)
        r->got_len[r->got] = len;
    r->got++;
    sk_conn_send(c, msg, len); /* echo: compressed with the connection's options */
}

static void on_close(sk_conn *c, int err, void *ud)
{
    run *r = ud;
    r->closed = 1;
    r->close_err = err;
    sk_loop_stop(r->loop);
}

static const sk_conn_cbs cbs = {.on_message = on_message, .on_close = on_close};

/* Writes the next random piece (1..300 bytes) of the stream each tick;
 * at the end, half-closes and lets the connection finish. */
static void feed(sk_timer *t, void *ud)
{
    run *r = ud;
    size_t n = 1 + xorshift32(&r->seed) % 300;
    if (n > r->out_len - r->out_off)
        n = r->out_len - r->out_off;
    if (n && write(r->peer, r->out + r->out_off, n) == (ssize_t)n)
        r->out_off += n;
    if (r->out_off == r->out_len) {
        sk_timer_stop(t);
        shutdown(r->peer, SHUT_WR);
    }
}

static void msg_text(int i, uint8_t *dst, size_t n)
{
    for (size_t k = 0; k < n; k++)
        dst[k] = (uint8_t)("{\"player\":7,\"x\":1.5,\"alive\":true}"[(k + (size_t)i) % 34]);
}

/* Starts a connection (zstd out, max_frame) and feeds it r->out. */
static void start(run *r, sk_frame mode, size_t max_frame, const sk_zopts *zo)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    r->peer = sv[1];
    const char *why = NULL;
    CHECK(sk_loop_new_io(&r->loop, g_io, &why) == 0);
    sk_conn_opts o = {.in_frame = mode, .out_frame = mode, .max_frame = max_frame, .compress = zo};
    CHECK(sk_conn_new(r->loop, sv[0], &cbs, &o, r) != NULL);
    r->feeder = sk_timer_new(r->loop, feed, r);
    sk_timer_start(r->feeder, 1, 1);
    sk_loop_run(r->loop); /* until on_close */
    sk_timer_free(r->feeder);
    sk_loop_free(r->loop);
}

/* Reads back everything the connection wrote and checks each echo. */
static void check_echoes(run *r, sk_frame mode, const size_t *lens)
{
    static uint8_t in[STREAM_CAP * 2];
    size_t len = 0;
    ssize_t n;
    while ((n = read(r->peer, in + len, sizeof in - len)) > 0)
        len += (size_t)n;
    sk_zctx *z = sk_zctx_new();
    size_t off = 0;
    int i = 0, compressed = 0;
    const uint8_t *b, *m;
    size_t blen, mlen;
    ssize_t f;
    while ((f = sk_frame_decode(mode, 1 << 20, in + off, len - off, &b, &blen)) > 0 && i < NMSG) {
        off += (size_t)f;
        int c = sk_zbody_decode(z, 1 << 20, b, blen, &m, &mlen);
        uint8_t want[4000];
        msg_text(i, want, lens[i]);
        CHECK(c >= 0 && mlen == lens[i] && memcmp(m, want, mlen) == 0);
        compressed += c == SK_ZCODEC_ZSTD;
        i++;
    }
    CHECK_EQ_INT(i, NMSG);
    CHECK_EQ_INT(off, len);
    CHECK(compressed >= NMSG / 2); /* the long ones */
    sk_zctx_free(z);
}

static void test_split_stream(sk_frame mode)
{
    static run r;
    memset(&r, 0, sizeof r);
    r.seed = 77 + (uint32_t)mode;
    sk_zctx *z = sk_zctx_new();
    size_t lens[NMSG];
    for (int i = 0; i < NMSG; i++) { /* every codec, short (stored) and long */
        uint8_t msg[4000], body[4001];
        lens[i] = (size_t)(i % 2 ? 300 + i * 250 : i * 7);
        msg_text(i, msg, lens[i]);
        sk_zopts o = {.codec = (sk_zcodec)(i % 3), .min = 1};
        ssize_t bl = sk_zbody_encode(z, &o, msg, lens[i], body, NULL);
        r.out_len += (size_t)sk_frame_encode(mode, body, (size_t)bl, r.out + r.out_len);
    }
    sk_zctx_free(z);
    sk_zopts zo = {.codec = SK_ZCODEC_ZSTD};
    start(&r, mode, 1 << 20, &zo);
    CHECK_EQ_INT(r.got, NMSG);
    CHECK_EQ_INT(r.close_err, 0);
    check_echoes(&r, mode, lens);
    close(r.peer);
}

/* One good message, then a bad body: delivered, then closed with err. */
static void test_bad(const uint8_t *bad, size_t bad_len, size_t max_frame, int err)
{
    static run r;
    memset(&r, 0, sizeof r);
    r.seed = 5;
    uint8_t good[] = {0, 'h', 'i'};
    r.out_len = (size_t)sk_frame_encode(SK_FRAME_LEN32BE, good, sizeof good, r.out);
    r.out_len += (size_t)sk_frame_encode(SK_FRAME_LEN32BE, bad, bad_len, r.out + r.out_len);
    sk_zopts zo = {.codec = SK_ZCODEC_DEFLATE};
    start(&r, SK_FRAME_LEN32BE, max_frame, &zo);
    CHECK_EQ_INT(r.got, 1);
    CHECK_EQ_INT(r.close_err, err);
    close(r.peer);
}

static void run_all(void)
{
    static const sk_frame modes[] = {SK_FRAME_LEN16BE, SK_FRAME_LEN32LE, SK_FRAME_LEN64BE};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        test_split_stream(modes[i]);
    static uint8_t msg[8192], body[8193];
    msg_text(0, msg, sizeof msg);
    sk_zctx *z = sk_zctx_new();
    sk_zopts zs = {.codec = SK_ZCODEC_ZSTD}, df = {.codec = SK_ZCODEC_DEFLATE};
    ssize_t b = sk_zbody_encode(z, &zs, msg, sizeof msg, body, NULL);
    test_bad(body, (size_t)b, 4096, SK_EZBOMB); /* declares 8 KiB, limit 4 KiB */
    b = sk_zbody_encode(z, &df, msg, sizeof msg, body, NULL);
    test_bad(body, (size_t)b, 4096, SK_EZBOMB); /* inflates past 4 KiB */
    test_bad(body, (size_t)b - 3, 1 << 20, SK_EZCORRUPT); /* truncated */
    uint8_t unknown[] = {9, 'x'};
    test_bad(unknown, sizeof unknown, 1 << 20, SK_EZCODEC);
    test_bad(unknown, 0, 1 << 20, SK_EZCODEC); /* an empty body has no codec byte */
    sk_zctx_free(z);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    run_on_each_backend("test_zconn", &g_io, run_all);
    return check_done("test_zconn");
}
