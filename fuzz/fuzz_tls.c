/* fuzz_tls.c — libFuzzer target for the TLS layer's record input: a real
 * handshake between a server sk_conn (temporary certificate, epoll) and an
 * OpenSSL client over memory BIOs, then the input as what the client sends:
 * aborts if the server crashes, hangs, leaks, or garbles what it echoes.
 *
 * Input: byte 0 = flags (bit 0: the raw bytes flip bits of the sealed stream
 * instead of following it; bit 1: close_notify at the end; bit 2: FIN at the
 * end; bit 3: the server frames len16be instead of raw; bit 4: the client
 * speaks TLS 1.2; bits 5-7: how the stream is cut into reads); bytes 1-2 =
 * L, little-endian: the next L bytes are plaintext the client seals (in
 * records of input-chosen sizes), the rest are raw bytes: ciphertext of the
 * fuzzer's own after it, or (bit 0) pairs (offset, xor) applied to it. With
 * no raw bytes and raw framing, the echo must be the plaintext, byte exact. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sockit/conn.h"
#include "sockit/error.h"
#include "sockit/loop.h"
#include "sockit/tls.h"

#define REQUIRE(c)                                                                                 \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

#define MAX_TICKS 20000 /* loop iterations a run may take: more is a hang */

static sk_tls *g_srv;
static SSL_CTX *g_cli[2]; /* TLS 1.3 and 1.2 clients */

/* ---- the server: an echo sk_conn ---- */

typedef struct server {
    sk_conn *c;
    uint64_t rx; /* ciphertext it read */
    int opened, closed, err;
} server;

static void s_read(sk_conn *c, size_t n, void *ud) { ((server *)ud)->rx += n; }
static void s_open(sk_conn *c, void *ud) { ((server *)ud)->opened = 1; }

static void s_message(sk_conn *c, const uint8_t *msg, size_t len, void *ud)
{
    REQUIRE(((server *)ud)->opened); /* nothing before the handshake is done */
    int r = sk_conn_send(c, msg, len);
    REQUIRE(r == 0 || r == SK_ECLOSED || r == SK_EQUEUE);
}

static void s_close(sk_conn *c, int err, void *ud)
{
    server *s = ud;
    REQUIRE(!s->closed);                                     /* once */
    REQUIRE(err != SK_ETLS || sk_conn_tls_error(c) != NULL); /* a TLS failure says why */
    s->closed = 1;
    s->err = err;
    s->c = NULL;
}

static const sk_conn_cbs s_cbs = {
    .on_message = s_message, .on_read = s_read, .on_open = s_open, .on_close = s_close};

/* ---- the client: OpenSSL over memory BIOs, its records in pieces ---- */

typedef struct client {
    SSL *ssl;
    BIO *rbio, *wbio;
    int fd, done, failed, eof;
    uint8_t *out; /* ciphertext for the socket */
    size_t out_len, out_off, out_cap;
    uint64_t written;
    uint8_t *back; /* plaintext echoed */
    size_t back_len, back_cap;
    uint32_t rng;
    unsigned cut; /* largest piece: 1 << cut bytes */
} client;

static uint32_t rnd(client *cl)
{
    cl->rng = cl->rng * 1103515245u + 12345u;
    return cl->rng >> 8;
}

static void append(uint8_t **buf, size_t *len, size_t *cap, const void *p, size_t n)
{
    if (*len + n > *cap) {
        *cap = (*len + n) * 2;
        *buf = realloc(*buf, *cap);
        REQUIRE(*buf);
    }
    memcpy(*buf + *len, p, n);
    *len += n;
}

static void pull(client *cl)
{
    uint8_t buf[16384];
    int n;
    while ((n = BIO_read(cl->wbio, buf, sizeof buf)) > 0)
        append(&cl->out, &cl->out_len, &cl->out_cap, buf, (size_t)n);
}

static void progress(client *cl)
{
    if (!cl->done && !cl->failed) {
        int r = SSL_do_handshake(cl->ssl);
        if (r == 1)
            cl->done = 1;
        else if (SSL_get_error(cl->ssl, r) != SSL_ERROR_WANT_READ)
            cl->failed = 1;
    }
    for (;;) {
        uint8_t buf[16384];
        size_t n = 0;
        if (!cl->done || cl->failed || !SSL_read_ex(cl->ssl, buf, sizeof buf, &n))
            break;
        append(&cl->back, &cl->back_len, &cl->back_cap, buf, n);
    }
    ERR_clear_error();
    pull(cl);
}

/* Reads what the server sent; writes the next piece once the server has
 * read the last (so every piece is a read of its own). */
static void client_io(client *cl, const server *s)
{
    uint8_t buf[65536];
    while (!cl->eof) {
        ssize_t n = read(cl->fd, buf, sizeof buf);
        if (n <= 0) {
            cl->eof = n == 0 || errno != EAGAIN;
            break;
        }
        BIO_write(cl->rbio, buf, (int)n);
    }
    progress(cl);
    if (s->closed || s->rx < cl->written || cl->out_off == cl->out_len)
        return;
    size_t len = 1 + rnd(cl) % ((size_t)1 << cl->cut);
    if (len > cl->out_len - cl->out_off)
        len = cl->out_len - cl->out_off;
    ssize_t w = write(cl->fd, cl->out + cl->out_off, len);
    if (w > 0) {
        cl->out_off += (size_t)w;
        cl->written += (uint64_t)w;
    }
}

/* ---- a run of the loop until cond, bounded ---- */

typedef struct run {
    sk_loop *loop;
    server s;
    client cl;
    int (*cond)(struct run *);
    unsigned ticks;
} run;

static void tick(sk_loop *loop, void *ud)
{
    run *r = ud;
    client_io(&r->cl, &r->s);
    if (r->cond && (r->cond(r) || ++r->ticks > MAX_TICKS))
        sk_loop_stop(loop);
}

static void beat(sk_timer *t, void *ud) {} /* wakes the loop: the tick runs */

static int drive(run *r, int (*cond)(run *))
{
    sk_timer *hb = sk_timer_new(r->loop, beat, NULL);
    REQUIRE(hb && sk_timer_start(hb, 1, 1) == 0);
    r->cond = cond;
    r->ticks = 0;
    if (!cond(r))
        sk_loop_run(r->loop);
    r->cond = NULL;
    sk_timer_free(hb);
    REQUIRE(cond(r)); /* else the server hangs */
    return 1;
}

static int server_closed(run *r) { return r->s.closed; }

static int handshaken(run *r) { return (r->cl.done && r->s.opened) || r->cl.failed || r->s.closed; }

/* Everything written and read, and (when an echo is due) echoed; or the
 * server closed and the client read all it sent before. */
static size_t g_echo_want;
static int all_in(run *r)
{
    if (r->s.closed)
        return r->cl.eof;
    return r->cl.out_off == r->cl.out_len && r->s.rx == r->cl.written &&
           r->cl.back_len >= g_echo_want;
}

/* ---- one input ---- */

static void init(void)
{
    char err[256];
    sk_tls_opts o = {.server = 1, .host = "127.0.0.1", .handshake_ms = 60000};
    REQUIRE(sk_tls_new(&g_srv, &o, err, sizeof err) == 0);
    for (int i = 0; i < 2; i++) {
        g_cli[i] = SSL_CTX_new(TLS_client_method());
        REQUIRE(g_cli[i]);
        SSL_CTX_set_verify(g_cli[i], SSL_VERIFY_NONE, NULL);
        if (i)
            SSL_CTX_set_max_proto_version(g_cli[i], TLS1_2_VERSION);
    }
}

static void start(run *r, unsigned flags)
{
    int sv[2];
    memset(r, 0, sizeof *r);
    REQUIRE(sk_loop_new(&r->loop) == 0 && sk_loop_on_tick(r->loop, tick, r) == 0);
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    sk_frame f = flags & 8 ? SK_FRAME_LEN16BE : SK_FRAME_RAW;
    sk_conn_opts o = {.in_frame = f, .out_frame = f, .tls = g_srv};
    r->s.c = sk_conn_new(r->loop, sv[0], &s_cbs, &o, &r->s);
    REQUIRE(r->s.c);
    client *cl = &r->cl;
    cl->fd = sv[1];
    fcntl(cl->fd, F_SETFL, O_NONBLOCK);
    cl->cut = 15;
    cl->ssl = SSL_new(g_cli[(flags >> 4) & 1]);
    cl->rbio = BIO_new(BIO_s_mem());
    cl->wbio = BIO_new(BIO_s_mem());
    REQUIRE(cl->ssl && cl->rbio && cl->wbio);
    SSL_set_bio(cl->ssl, cl->rbio, cl->wbio);
    SSL_set_connect_state(cl->ssl);
    progress(cl);
}

static void finish(run *r)
{
    if (r->s.c)
        sk_conn_abort(r->s.c, 0);
    SSL_free(r->cl.ssl);
    close(r->cl.fd);
    sk_loop_free(r->loop); /* on_close of an aborted conn runs here */
    REQUIRE(r->s.closed);
    free(r->cl.out);
    free(r->cl.back);
    ERR_clear_error();
}

/* The client seals plain in records of sizes the input picks. */
static void seal(client *cl, const uint8_t *plain, size_t len)
{
    while (len) {
        size_t n = 1 + rnd(cl) % 20000, put = 0;
        if (n > len)
            n = len;
        REQUIRE(SSL_write_ex(cl->ssl, plain, n, &put) == 1 && put == n);
        plain += n;
        len -= n;
    }
    pull(cl);
}

/* (offset, xor) pairs flip bits of the sealed stream not yet written. */
static int flip(client *cl, const uint8_t *raw, size_t len)
{
    int changed = 0;
    size_t span = cl->out_len - cl->out_off;
    for (size_t i = 0; i + 3 <= len && span; i += 3) {
        size_t at = ((size_t)raw[i] | (size_t)raw[i + 1] << 8) % span;
        cl->out[cl->out_off + at] ^= raw[i + 2];
        changed |= raw[i + 2] != 0;
    }
    return changed;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        init();
        ready = 1;
    }
    if (size < 3)
        return 0;
    unsigned flags = data[0];
    size_t plen = (size_t)data[1] | (size_t)data[2] << 8;
    data += 3, size -= 3;
    if (plen > size)
        plen = size;
    const uint8_t *raw = data + plen;
    size_t rlen = size - plen;

    run r;
    start(&r, flags);
    r.cl.rng = flags * 2654435761u;
    drive(&r, handshaken);
    REQUIRE(r.cl.done && r.s.opened && !r.s.closed); /* a clean handshake always succeeds */
    r.cl.cut = (flags >> 5) * 2 + 1;                 /* pieces of 2 .. 16 KiB at most */
    seal(&r.cl, data, plen);
    int tampered = 0;
    if (flags & 1)
        tampered = flip(&r.cl, raw, rlen);
    else if (rlen)
        append(&r.cl.out, &r.cl.out_len, &r.cl.out_cap, raw, rlen), tampered = 1;
    if (flags & 2) {
        SSL_shutdown(r.cl.ssl);
        pull(&r.cl);
    }
    int echo = !tampered && !(flags & 8);
    g_echo_want = echo ? plen : 0;
    drive(&r, all_in);
    if (echo) { /* valid records, raw framing: every byte back, in order */
        REQUIRE(!r.s.closed || r.s.err == 0);
        REQUIRE(r.cl.back_len == plen && memcmp(r.cl.back, data, plen) == 0);
    }
    if (flags & 4) { /* our FIN: the server closes (on_eof is NULL) */
        shutdown(r.cl.fd, SHUT_WR);
        drive(&r, server_closed);
    }
    finish(&r);
    return 0;
}
