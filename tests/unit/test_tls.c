/* test_tls.c — the TLS layer fed ciphertext in random splits: a server
 * sk_conn with TLS (temporary certificate) on one end of a socketpair, and
 * on the other an OpenSSL client over memory BIOs run by the test, which
 * writes its records to the socket in pieces of 1 byte to several records,
 * each read by the server on its own. Echoes, close_notify, truncation and
 * garbage, on the epoll and the io_uring transport. */
#include "net/tls_int.h" /* the server configuration's SSL_CTX, for the test's own server */
#include "sockit/conn.h"
#include "sockit/error.h"
#include "sockit/loop.h"
#include "sockit/tls.h"

#include "check.h"
#include "net_helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static sk_io g_io;
static sk_tls *g_tls;      /* the server's configuration: a temporary certificate */
static sk_tls *g_cli_tls;  /* a client's that does not verify (-k) */
static SSL_CTX *g_cli_ctx; /* the test's own client */

/* A check of behaviour that was wrong when these tests were written (the
 * reason says what was seen then). */
#define WAS_BUG(cond, what) CHECK(cond)

/* ---- the server: an sk_conn with TLS that echoes len32be frames ---- */

typedef struct server {
    sk_conn *c;
    uint64_t rx_bytes; /* ciphertext read, and in how many reads */
    size_t reads, msgs;
    int opened, eof, closed, close_err;
    char eof_why[160], close_why[160]; /* sk_conn_tls_error then ("" for NULL) */
} server;

static void copy_why(char *dst, const sk_conn *c)
{
    const char *why = sk_conn_tls_error(c);
    snprintf(dst, 160, "%s", why ? why : "");
}

static void srv_read(sk_conn *c, size_t n, void *ud)
{
    server *s = ud;
    s->rx_bytes += n;
    s->reads++;
}

static void srv_message(sk_conn *c, const uint8_t *msg, size_t len, void *ud)
{
    ((server *)ud)->msgs++;
    CHECK_EQ_INT(sk_conn_send(c, msg, len), 0);
}

static void srv_open(sk_conn *c, void *ud) { ((server *)ud)->opened++; }

static void srv_eof(sk_conn *c, void *ud)
{
    server *s = ud;
    s->eof = 1;
    copy_why(s->eof_why, c);
    sk_conn_close(c, 0);
}

static void srv_close(sk_conn *c, int err, void *ud)
{
    server *s = ud;
    s->closed = 1;
    s->close_err = err;
    copy_why(s->close_why, c);
    s->c = NULL;
}

static const sk_conn_cbs srv_cbs = {.on_message = srv_message,
                                    .on_read = srv_read,
                                    .on_open = srv_open,
                                    .on_eof = srv_eof,
                                    .on_close = srv_close};

/* ---- the client: OpenSSL over memory BIOs, the socket written in pieces ---- */

typedef struct client {
    SSL *ssl;
    BIO *rbio, *wbio; /* from the socket into OpenSSL; OpenSSL's records */
    int fd;
    sk_watch *watch;
    server *srv;  /* the other end: each piece waits until it read the last */
    uint8_t *out; /* ciphertext not yet written to the socket */
    size_t out_len, out_off, out_cap;
    uint64_t written, pieces; /* bytes written, in how many pieces */
    int bytewise;             /* every piece is one byte */
    int fin_after;            /* FIN once out is written */
    int fin_sent, eof, done, close_notify, ssl_failed;
    uint8_t *plain; /* what came back */
    size_t plain_len, plain_cap;
    uint64_t rng;
} client;

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* 1 byte .. several records, small ones as likely as big ones. */
static size_t piece_size(client *cl)
{
    static const size_t caps[] = {16, 600, 5000, 40000};
    if (cl->bytewise)
        return 1;
    return 1 + rnd(&cl->rng) % caps[rnd(&cl->rng) % 4];
}

static void grow(uint8_t **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return;
    *cap = need * 2;
    *buf = realloc(*buf, *cap);
    if (!*buf)
        exit(1);
}

static void out_append(client *cl, const void *p, size_t n)
{
    grow(&cl->out, &cl->out_cap, cl->out_len + n);
    memcpy(cl->out + cl->out_len, p, n);
    cl->out_len += n;
}

/* Moves what OpenSSL wrote into the queue for the socket. */
static void pull_records(client *cl)
{
    uint8_t buf[16384];
    int n;
    while ((n = BIO_read(cl->wbio, buf, sizeof buf)) > 0)
        out_append(cl, buf, (size_t)n);
}

/* The handshake, then every plain byte there is. */
static void client_progress(client *cl)
{
    if (!cl->done && !cl->ssl_failed) {
        int r = SSL_do_handshake(cl->ssl);
        if (r == 1)
            cl->done = 1;
        else if (SSL_get_error(cl->ssl, r) != SSL_ERROR_WANT_READ)
            cl->ssl_failed = 1;
    }
    while (cl->done && !cl->close_notify && !cl->ssl_failed) {
        uint8_t buf[16384];
        size_t n = 0;
        if (SSL_read_ex(cl->ssl, buf, sizeof buf, &n)) {
            grow(&cl->plain, &cl->plain_cap, cl->plain_len + n);
            memcpy(cl->plain + cl->plain_len, buf, n);
            cl->plain_len += n;
            continue;
        }
        int e = SSL_get_error(cl->ssl, 0);
        if (e == SSL_ERROR_ZERO_RETURN)
            cl->close_notify = 1;
        else if (e != SSL_ERROR_WANT_READ)
            cl->ssl_failed = 1;
        break;
    }
    ERR_clear_error();
    pull_records(cl);
}

static void client_readable(sk_watch *w, int fd, unsigned ev, void *ud)
{
    client *cl = ud;
    uint8_t buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        BIO_write(cl->rbio, buf, (int)n);
    if (n == 0 || (n < 0 && errno != EAGAIN)) {
        cl->eof = 1;
        sk_watch_set(w, 0);
    }
    client_progress(cl);
}

/* Writes the next piece once the server has read everything before it, so
 * that every piece is a read of its own. */
static void client_write(client *cl)
{
    if (cl->srv->rx_bytes < cl->written && !cl->srv->closed)
        return;
    if (cl->out_off == cl->out_len) {
        if (cl->fin_after && !cl->fin_sent) {
            shutdown(cl->fd, SHUT_WR);
            cl->fin_sent = 1;
        }
        return;
    }
    size_t n = piece_size(cl);
    if (n > cl->out_len - cl->out_off)
        n = cl->out_len - cl->out_off;
    ssize_t w = write(cl->fd, cl->out + cl->out_off, n);
    if (w > 0) {
        cl->out_off += (size_t)w;
        cl->written += (uint64_t)w;
        cl->pieces++;
    }
}

/* The test's end of the socketpair fd: an OpenSSL client (or, with accept,
 * a server of ctx) whose records go out in pieces. */
static void client_open(client *cl, sk_loop *loop, int fd, server *srv, uint64_t seed, SSL_CTX *ctx,
                        int accept)
{
    memset(cl, 0, sizeof *cl);
    cl->fd = fd;
    cl->srv = srv;
    cl->rng = seed * 0x9e3779b97f4a7c15ULL + 1;
    cl->ssl = SSL_new(ctx);
    cl->rbio = BIO_new(BIO_s_mem());
    cl->wbio = BIO_new(BIO_s_mem());
    if (!cl->ssl || !cl->rbio || !cl->wbio)
        exit(1);
    SSL_set_bio(cl->ssl, cl->rbio, cl->wbio);
    if (accept)
        SSL_set_accept_state(cl->ssl);
    else
        SSL_set_connect_state(cl->ssl);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    cl->watch = sk_watch_new(loop, fd, SK_READABLE, client_readable, cl);
    client_progress(cl); /* the ClientHello */
}

/* Ends the pair: the server conn aborted if still open (a loop is freed
 * with no connection left open), the client's socket closed. */
static void client_free(client *cl)
{
    if (cl->srv->c)
        sk_conn_abort(cl->srv->c, 0);
    if (cl->watch)
        sk_watch_free(cl->watch);
    SSL_free(cl->ssl);
    close(cl->fd);
    free(cl->out);
    free(cl->plain);
}

/* Queues msg as one len32be frame, sealed by the client. */
static void client_send(client *cl, const uint8_t *msg, size_t len)
{
    uint8_t *frame = malloc(len + 4);
    frame[0] = (uint8_t)(len >> 24), frame[1] = (uint8_t)(len >> 16);
    frame[2] = (uint8_t)(len >> 8), frame[3] = (uint8_t)len;
    memcpy(frame + 4, msg, len);
    size_t n = 0;
    CHECK(SSL_write_ex(cl->ssl, frame, len + 4, &n) == 1 && n == len + 4);
    free(frame);
    pull_records(cl);
}

/* ---- a loop that runs the clients between its iterations ---- */

#define MAX_CLIENTS 4
static client *g_clients[MAX_CLIENTS];
static int g_nclients;
typedef int (*cond_fn)(void *);
static cond_fn g_cond;
static void *g_ud;

static void tick(sk_loop *loop, void *ud)
{
    for (int i = 0; i < g_nclients; i++)
        client_write(g_clients[i]);
    if (g_cond && g_cond(g_ud))
        sk_loop_stop(loop);
}

static void beat(sk_timer *t, void *ud) {} /* wakes the loop: the tick runs */
static void stop_cb(sk_timer *t, void *ud) { sk_loop_stop(ud); }

static int run_until(sk_loop *loop, cond_fn cond, void *ud, unsigned ms)
{
    sk_timer *limit = sk_timer_new(loop, stop_cb, loop), *hb = sk_timer_new(loop, beat, NULL);
    sk_timer_start(limit, ms, 0);
    sk_timer_start(hb, 1, 1);
    g_cond = cond;
    g_ud = ud;
    if (!cond(ud))
        sk_loop_run(loop);
    g_cond = NULL;
    sk_timer_free(limit);
    sk_timer_free(hb);
    return cond(ud);
}

static sk_loop *new_loop(void)
{
    sk_loop *loop;
    if (sk_loop_new_io(&loop, g_io, NULL) != 0 || sk_loop_on_tick(loop, tick, NULL) != 0)
        exit(1);
    g_nclients = 0;
    return loop;
}

/* An sk_conn with TLS of cfg on one end of a socketpair (a server's, or a
 * client's), and the test's OpenSSL peer of the other role on the other. */
static void stack_pair(sk_loop *loop, server *s, client *cl, uint64_t seed, sk_tls *cfg)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        exit(1);
    memset(s, 0, sizeof *s);
    sk_conn_opts o = {.in_frame = SK_FRAME_LEN32BE, .out_frame = SK_FRAME_LEN32BE, .tls = cfg};
    s->c = sk_conn_new(loop, sv[0], &srv_cbs, &o, s);
    CHECK(s->c != NULL);
    int accept = cfg != g_tls;
    client_open(cl, loop, sv[1], s, seed, accept ? g_tls->ctx : g_cli_ctx, accept);
    g_clients[g_nclients++] = cl;
}

/* The usual pair: the sk_conn is the server. */
static void connect_pair(sk_loop *loop, server *s, client *cl, uint64_t seed)
{
    stack_pair(loop, s, cl, seed, g_tls);
}

static int handshaken(void *ud)
{
    client *cl = ud;
    return (cl->done && cl->srv->opened) || cl->ssl_failed || cl->srv->closed;
}

static int server_closed(void *ud) { return ((server *)ud)->closed; }

/* The server's certificate is the configuration's own. */
static void check_peer(client *cl)
{
    X509 *peer = SSL_get0_peer_certificate(cl->ssl);
    unsigned char md[32];
    unsigned len = 0;
    char hex[72] = "sha256:";
    CHECK(peer && X509_digest(peer, EVP_sha256(), md, &len) && len == 32);
    for (unsigned i = 0; i < len && i < 32; i++)
        sprintf(hex + 7 + 2 * i, "%02x", md[i]);
    CHECK(strcmp(hex, sk_tls_fingerprint(g_tls)) == 0);
    sk_tls_info info;
    CHECK_EQ_INT(sk_conn_tls_info(cl->srv->c, &info), 0);
    CHECK(strcmp(info.version, SSL_get_version(cl->ssl)) == 0);
    CHECK(sk_conn_tls_done(cl->srv->c));
}

/* ---- echo of every size, ciphertext in random pieces, then close_notify ---- */

static const size_t sizes[] = {1, 3, 100, 4095, 16379, 16380, 16385, 65536, 131073, 300000, 7};
#define NSIZES (sizeof sizes / sizeof sizes[0])

static uint8_t *pattern(size_t n, unsigned seed)
{
    uint8_t *m = malloc(n);
    for (size_t i = 0; i < n; i++)
        m[i] = (uint8_t)(i * 131 + seed * 7 + (i >> 9));
    return m;
}

/* How many of the first k messages came back whole: len32be frames in order. */
static size_t echoed(const client *cl, size_t k, int *bad)
{
    size_t at = 0, i = 0;
    for (; i < k && cl->plain_len - at >= 4; i++) {
        const uint8_t *p = cl->plain + at;
        size_t len = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
        if (cl->plain_len - at - 4 < len)
            break;
        uint8_t *want = pattern(sizes[i], (unsigned)i);
        if (len != sizes[i] || memcmp(p + 4, want, len) != 0)
            *bad = 1;
        free(want);
        at += 4 + len;
    }
    return i;
}

static size_t g_expect; /* messages all_echoed waits for */

static int all_echoed(void *ud)
{
    int bad = 0;
    client *cl = ud;
    return echoed(cl, g_expect, &bad) == g_expect || cl->ssl_failed || cl->srv->closed;
}

static int closed_cleanly(void *ud)
{
    client *cl = ud;
    return (cl->srv->closed && cl->close_notify && cl->eof) || cl->ssl_failed;
}

static int client_done(void *ud) { return ((client *)ud)->done || ((client *)ud)->ssl_failed; }

/* eager: the messages follow the client's Finished at once (the server gets
 * both in one piece at times), instead of after the server's on_open. */
static void echo_in_pieces(uint64_t seed, int bytewise, int eager)
{
    sk_loop *loop = new_loop();
    server s;
    client cl;
    connect_pair(loop, &s, &cl, seed);
    cl.bytewise = bytewise;
    CHECK(run_until(loop, eager ? client_done : handshaken, &cl, 10000));
    CHECK(cl.done && !cl.ssl_failed && (eager || s.opened == 1));
    if (seed % 2) /* the server answers a KeyUpdate from inside its read */
        CHECK_EQ_INT(SSL_key_update(cl.ssl, SSL_KEY_UPDATE_REQUESTED), 1);
    size_t n = bytewise ? 4 : NSIZES; /* one byte a read: the small ones */
    for (size_t i = 0; i < n; i++) {
        uint8_t *m = pattern(sizes[i], (unsigned)i);
        client_send(&cl, m, sizes[i]);
        free(m);
    }
    int bad = 0;
    g_expect = n;
    CHECK(run_until(loop, all_echoed, &cl, 20000));
    CHECK_EQ_INT(echoed(&cl, n, &bad), n);
    CHECK(!bad);
    CHECK_EQ_INT(s.msgs, n);
    CHECK_EQ_INT(s.opened, 1);
    if (s.c)
        check_peer(&cl);
    CHECK(s.reads >= cl.pieces); /* each piece was read on its own */
    CHECK(cl.pieces > (bytewise ? 1000u : 20u));
    /* close_notify, then FIN: the server sees a clean end and says goodbye */
    CHECK_EQ_INT(SSL_shutdown(cl.ssl), 0);
    pull_records(&cl);
    cl.fin_after = 1;
    CHECK(run_until(loop, closed_cleanly, &cl, 10000));
    CHECK(s.eof && s.closed && cl.close_notify && cl.eof);
    CHECK_EQ_INT(s.close_err, 0);
    CHECK(s.eof_why[0] == 0 && s.close_why[0] == 0);
    client_free(&cl);
    sk_loop_free(loop);
}

static void test_echo_random_splits(void)
{
    const char *more = getenv("SOCKIT_TLS_SEEDS"); /* a longer run: SOCKIT_TLS_SEEDS=500 */
    uint64_t seeds = more && atoi(more) > 0 ? (uint64_t)atoi(more) : 4;
    for (uint64_t seed = 1; seed <= seeds; seed++)
        echo_in_pieces(seed, 0, seed % 4 >= 2);
}

static void test_echo_bytewise(void) { echo_in_pieces(7, 1, 1); }

/* ---- a truncated record, then FIN ---- */

static void test_truncated_record(void)
{
    sk_loop *loop = new_loop();
    server s;
    client cl;
    connect_pair(loop, &s, &cl, 11);
    CHECK(run_until(loop, handshaken, &cl, 10000));
    uint8_t *m = pattern(1000, 0);
    client_send(&cl, m, 1000);
    size_t whole = cl.out_len - cl.out_off;
    CHECK(whole > 1000);
    cl.out_len = cl.out_off + whole / 2; /* half a record, then the end of the stream */
    cl.fin_after = 1;
    free(m);
    CHECK(run_until(loop, server_closed, &s, 10000));
    CHECK_EQ_INT(s.msgs, 0); /* nothing of a record whose tag was not checked */
    CHECK(s.closed);
    /* not a clean end: the reason says so (on_eof and on_close alike) */
    CHECK(strstr(s.close_why, "close_notify") != NULL);
    CHECK(!s.eof || strstr(s.eof_why, "close_notify") != NULL);
    if (s.close_err != 0)
        CHECK(s.close_err == SK_ETLS || s.close_err == SK_ETRUNC);
    client_free(&cl);
    sk_loop_free(loop);
}

/* ---- garbage after the handshake closes only that connection ---- */

static int victims_closed(void *ud)
{
    server *s = ud;
    return s[1].closed && s[2].closed;
}

static int healthy_echoed(void *ud) { return ((client *)ud)->plain_len >= 4 + 500; }

static void test_garbage_after_handshake(void)
{
    sk_loop *loop = new_loop();
    server s[3];
    client cl[3];
    for (int i = 0; i < 3; i++) {
        connect_pair(loop, &s[i], &cl[i], 20 + (uint64_t)i);
        CHECK(run_until(loop, handshaken, &cl[i], 10000));
        CHECK(cl[i].done && s[i].opened == 1);
    }
    /* 1: a well-formed application_data header, a body that is no record */
    uint8_t rec[5 + 64] = {0x17, 0x03, 0x03, 0x00, 0x40};
    for (size_t i = 5; i < sizeof rec; i++)
        rec[i] = (uint8_t)rnd(&cl[1].rng);
    out_append(&cl[1], rec, sizeof rec);
    /* 2: not even a record header */
    out_append(&cl[2], "GET / HTTP/1.1\r\n\r\n", 18);
    CHECK(run_until(loop, victims_closed, s, 10000));
    for (int i = 1; i <= 2; i++) {
        CHECK_EQ_INT(s[i].close_err, SK_ETLS);
        CHECK(s[i].close_why[0] != 0);
        CHECK_EQ_INT(s[i].msgs, 0);
    }
    CHECK(!s[0].closed); /* the healthy one still echoes */
    uint8_t *m = pattern(500, 0);
    client_send(&cl[0], m, 500);
    CHECK(run_until(loop, healthy_echoed, &cl[0], 10000));
    CHECK(cl[0].plain_len == 504 && memcmp(cl[0].plain + 4, m, 500) == 0);
    free(m);
    for (int i = 0; i < 3; i++)
        client_free(&cl[i]);
    sk_loop_free(loop);
}

/* ---- the peer hangs up during the handshake ---- */

static void test_fin_during_handshake(void)
{
    sk_loop *loop = new_loop();
    server s;
    client cl;
    connect_pair(loop, &s, &cl, 31);
    cl.out_len = cl.out_off + 40; /* part of the ClientHello, then FIN */
    cl.fin_after = 1;
    CHECK(run_until(loop, server_closed, &s, 10000));
    CHECK(s.closed && !s.opened && s.msgs == 0);
    CHECK(strstr(s.close_why, "during the handshake") != NULL);
    /* A handshake that fails closes with SK_ETLS (an alert, garbage); ended
     * by a FIN it is reported as the peer's clean end instead: on_eof, then
     * on_close(0), though on_open never fired. */
    WAS_BUG(s.close_err == SK_ETLS && !s.eof,
              "FIN during the handshake: on_eof, then on_close(0) instead of SK_ETLS");
    client_free(&cl);
    sk_loop_free(loop);
}

/* ---- a client that does not verify (-k) fed garbage by its server ---- */

static void test_client_garbage_reason(void)
{
    sk_loop *loop = new_loop();
    server s; /* here the sk_conn is the client */
    client peer;
    stack_pair(loop, &s, &peer, 41, g_cli_tls);
    CHECK(run_until(loop, handshaken, &peer, 10000));
    CHECK(peer.done && s.opened == 1);
    uint8_t rec[5 + 32] = {0x17, 0x03, 0x03, 0x00, 0x20};
    memset(rec + 5, 0x55, 32);
    out_append(&peer, rec, sizeof rec);
    CHECK(run_until(loop, server_closed, &s, 10000));
    CHECK_EQ_INT(s.close_err, SK_ETLS);
    CHECK_EQ_INT(s.msgs, 0);
    CHECK(s.close_why[0] != 0);
    /* the reason is the record's, not a verification -k turned off */
    WAS_BUG(strstr(s.close_why, "certificate") == NULL,
              "-k client: a bad record after the handshake is reported as "
              "'certificate verify failed: self-signed certificate'");
    client_free(&peer);
    sk_loop_free(loop);
}

/* ---- a client that sends and closes before its handshake is done ---- */

static int peer_got_all(void *ud)
{
    client *peer = ud;
    return (peer->close_notify && peer->srv->closed) || peer->ssl_failed;
}

static void test_client_close_before_handshake(void)
{
    sk_loop *loop = new_loop();
    server s;
    client peer;
    stack_pair(loop, &s, &peer, 51, g_cli_tls);
    CHECK_EQ_INT(sk_conn_send(s.c, "hello", 5), 0); /* held until the handshake is done */
    sk_conn_close(s.c, 0);
    /* the message and close_notify come first; the lingering close then
     * waits (up to 2 s) for a FIN this peer never sends */
    int ok = run_until(loop, peer_got_all, &peer, 10000);
    CHECK(!peer.ssl_failed);
    WAS_BUG(ok && peer.done && peer.plain_len == 9 && memcmp(peer.plain + 4, "hello", 5) == 0 &&
                  s.close_err == 0,
              "sk_conn_close before the handshake is done: input is discarded, so the "
              "handshake never ends and the queued message is never sent (the handshake "
              "deadline aborts it)");
    client_free(&peer);
    sk_loop_free(loop);
}

static int never(void *ud) { return 0; }

/* Heap bytes in use (0 where the allocator is not glibc's, e.g. under ASan). */
static size_t heap_in_use(void) { return mallinfo2().uordblks; }

/* A TLS 1.3 server connection makes its own records (tls_own.c) and keeps
 * no record buffers: once it went quiet (two idle periods, tls.c IDLE_MS)
 * it holds no more heap after echoing 100 KB than before (its cipher
 * contexts go too), and it works on when used again. */
static void test_idle_buffers_released(void)
{
    sk_loop *loop = new_loop();
    server s;
    client cl;
    connect_pair(loop, &s, &cl, 3);
    CHECK(run_until(loop, handshaken, &cl, 10000));
    uint8_t *m = pattern(100000, 1);
    size_t before = 0, busy = 0, idle = 0;
    for (int round = 1; round <= 2; round++) { /* the first fills the thread's caches */
        run_until(loop, never, NULL, 700);
        before = heap_in_use();
        client_send(&cl, m, 100000);
        g_expect = round;
        CHECK(run_until(loop, all_echoed, &cl, 20000));
        busy = heap_in_use();
        run_until(loop, never, NULL, 700);
        idle = heap_in_use();
    }
    free(m);
    if (before == 0) {
        fprintf(stderr, "test_tls: idle buffers: no glibc heap statistics here, not checked\n");
    } else {
        CHECK(idle <= before + 256); /* nothing kept from the traffic */
        CHECK(busy >= idle + 512);   /* the cipher contexts went when it was quiet */
        uint8_t one[1] = {7};
        client_send(&cl, one, 1); /* and come back when needed */
        g_expect = 3;
        CHECK(run_until(loop, all_echoed, &cl, 20000));
    }
    client_free(&cl);
    sk_loop_free(loop);
}

static void run_all(void)
{
    test_echo_random_splits();
    test_echo_bytewise();
    test_truncated_record();
    test_garbage_after_handshake();
    test_fin_during_handshake();
    test_client_garbage_reason();
    test_client_close_before_handshake();
    test_idle_buffers_released();
}

int main(void)
{
    alarm(240);
    signal(SIGPIPE, SIG_IGN);
    char err[256];
    sk_tls_opts so = {.server = 1, .host = "127.0.0.1"};
    if (sk_tls_new(&g_tls, &so, err, sizeof err) != 0) {
        fprintf(stderr, "test_tls: %s\n", err);
        return 1;
    }
    sk_tls_opts co = {.insecure = 1, .host = "127.0.0.1"};
    if (sk_tls_new(&g_cli_tls, &co, err, sizeof err) != 0) {
        fprintf(stderr, "test_tls: %s\n", err);
        return 1;
    }
    g_cli_ctx = SSL_CTX_new(TLS_client_method());
    if (!g_cli_ctx)
        return 1;
    SSL_CTX_set_verify(g_cli_ctx, SSL_VERIFY_NONE, NULL); /* the fingerprint is checked */
    run_on_each_backend("test_tls", &g_io, run_all);
    SSL_CTX_free(g_cli_ctx);
    sk_tls_free(g_cli_tls);
    sk_tls_free(g_tls);
    return check_done("test_tls");
}
