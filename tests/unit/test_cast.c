/* test_cast.c — broadcasts made inside the server from its scratch buffer:
 * two in a row reach every plain and WebSocket member on every thread, both
 * intact and in order (the scratch buffer is reused and grown in between). */
#include "services/service.h"
#include "sockit/loop.h"
#include "sockit/server.h"

#include "check.h"
#include "net_helpers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define NPLAIN 4
#define NWS 4
#define NCLIENTS (NPLAIN + NWS)
#define LEN1 40   /* the first broadcast: the scratch buffer at exactly this size */
#define LEN2 3000 /* the second: the buffer grown, so the first's bytes may move */

/* The text of broadcast n (1 or 2), len bytes of a pattern unique to it. */
static void fill(uint8_t *buf, size_t len, int n)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)('a' + (i * 7 + (size_t)n * 3) % 26);
    buf[0] = (uint8_t)('0' + n);
}

/* ---- the clients: blocking sockets on a thread of their own ---- */

typedef struct clients {
    int plain_port, ws_port;
    int fds[NCLIENTS];
    int ok[NCLIENTS];    /* got both broadcasts intact, in order */
    int connected, done; /* atomic: all connected (handshakes done) / all read */
} clients;

/* A blocking TCP connection to 127.0.0.1:port, or -1. */
static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {.tv_sec = 10}; /* a lost message fails the test, never hangs it */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads len bytes: 0, or -1 at EOF, error or timeout. */
static int read_exactly(int fd, uint8_t *buf, size_t len)
{
    for (size_t n = 0; n < len;) {
        ssize_t r = read(fd, buf + n, len - n);
        if (r <= 0)
            return -1;
        n += (size_t)r;
    }
    return 0;
}

/* Sends the upgrade request and reads the response up to its blank line. */
static int ws_handshake(int fd)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                              "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    if (write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1))
        return -1;
    char resp[1024];
    size_t n = 0;
    while (n < sizeof resp - 1 && !(n >= 4 && memcmp(resp + n - 4, "\r\n\r\n", 4) == 0))
        if (read(fd, resp + n++, 1) != 1)
            return -1;
    resp[n] = 0;
    return strncmp(resp, "HTTP/1.1 101", 12) == 0 ? 0 : -1;
}

/* One server-to-client frame (unmasked, final) holding exactly want[0..len). */
static int ws_expect(int fd, const uint8_t *want, size_t len)
{
    uint8_t h[10];
    if (read_exactly(fd, h, 2) < 0 || h[0] != 0x81 || (h[1] & 0x80))
        return 0;
    size_t n = h[1] & 0x7f;
    if (n == 126) {
        if (read_exactly(fd, h + 2, 2) < 0)
            return 0;
        n = (size_t)h[2] << 8 | h[3];
    }
    uint8_t got[LEN2];
    return n == len && read_exactly(fd, got, n) == 0 && memcmp(got, want, n) == 0;
}

/* A raw-framed message: its bytes, then "\n". */
static int plain_expect(int fd, const uint8_t *want, size_t len)
{
    uint8_t got[LEN2 + 1];
    return read_exactly(fd, got, len + 1) == 0 && memcmp(got, want, len) == 0 && got[len] == '\n';
}

/* Connects every client, then reads what each one gets: both broadcasts. */
static void *run_clients(void *arg)
{
    clients *c = arg;
    uint8_t one[LEN1], two[LEN2];
    fill(one, LEN1, 1);
    fill(two, LEN2, 2);
    int ready = 1;
    for (int i = 0; i < NCLIENTS; i++) {
        c->fds[i] = dial(i < NPLAIN ? c->plain_port : c->ws_port);
        if (c->fds[i] < 0 || (i >= NPLAIN && ws_handshake(c->fds[i]) < 0))
            ready = 0;
    }
    __atomic_store_n(&c->connected, ready ? 1 : -1, __ATOMIC_RELEASE);
    for (int i = 0; ready && i < NCLIENTS; i++) {
        int (*expect)(int, const uint8_t *, size_t) = i < NPLAIN ? plain_expect : ws_expect;
        c->ok[i] = expect(c->fds[i], one, LEN1) && expect(c->fds[i], two, LEN2);
    }
    for (int i = 0; i < NCLIENTS; i++)
        if (c->fds[i] >= 0)
            close(c->fds[i]);
    __atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* ---- the server side: broadcasts from its own (shard 0's) thread ---- */

typedef struct scene {
    sk_loop *loop;
    sk_server *srv;
    clients *cl;
    int sent;
} scene;

/* Both broadcasts from one callback, each text built in the scratch buffer
 * at its exact size, the way a service would compose a message. */
static void broadcast_twice(sk_server *s)
{
    uint8_t *text = sk__server_scratch(s, LEN1);
    fill(text, LEN1, 1);
    sk__server_broadcast(s, 0, text, LEN1, 0);
    text = sk__server_scratch(s, LEN2);
    fill(text, LEN2, 2);
    sk__server_broadcast(s, 0, text, LEN2, 0);
}

/* Broadcasts once every client is a member; stops when the clients are done. */
static void on_tick(sk_timer *t, void *ud)
{
    scene *sc = ud;
    int connected = __atomic_load_n(&sc->cl->connected, __ATOMIC_ACQUIRE);
    if (!sc->sent && connected > 0 && sk__server_members(sc->srv) == NCLIENTS) {
        broadcast_twice(sc->srv);
        sc->sent = 1;
    }
    if (connected < 0 || __atomic_load_n(&sc->cl->done, __ATOMIC_ACQUIRE))
        sk_loop_stop(sc->loop);
}

static void on_guard(sk_timer *t, void *ud) { sk_loop_stop(ud); } /* the test's time limit */

static void quiet(void *ud, const char *line) {} /* the server's log lines are not checked */


/* Adds a listener on 127.0.0.1:port ("tcp" or "ws"). */
static void listen_on(sk_server *s, const char *scheme, int port)
{
    char text[64], err[256];
    snprintf(text, sizeof text, "%s://127.0.0.1:%d%s", scheme, port,
             strcmp(scheme, "ws") == 0 ? "/" : "");
    sk_url u;
    if (sk_url_parse(text, &u, err, sizeof err) != 0 || sk_server_listen(s, &u, err, sizeof err)) {
        fprintf(stderr, "listen on %s: %s\n", text, err);
        exit(1);
    }
}

/* A server of the discard service (members that say nothing: only the
 * broadcasts arrive) on a tcp:// and a ws:// listener. */
static sk_server *new_server(sk_loop *loop, int threads, clients *cl)
{
    sk_server_opts o;
    sk_server_opts_init(&o);
    o.service = "discard";
    o.threads = threads;
    o.log = quiet;
    sk_server *s = NULL;
    char err[256];
    if (sk_server_new(loop, &o, &s, err, sizeof err) != 0) {
        fprintf(stderr, "sk_server_new: %s\n", err);
        exit(1);
    }
    cl->plain_port = free_port(SOCK_STREAM);
    cl->ws_port = free_port(SOCK_STREAM);
    listen_on(s, "tcp", cl->plain_port);
    listen_on(s, "ws", cl->ws_port);
    return s;
}

/* Two broadcasts from one callback, to plain and WebSocket members spread
 * over `threads` loops: every member gets both, intact and in order. */
static void test_two_broadcasts(int threads)
{
    sk_loop *loop = NULL;
    CHECK_EQ_INT(sk_loop_new(&loop), 0);
    clients cl = {0};
    sk_server *s = new_server(loop, threads, &cl);
    scene sc = {.loop = loop, .srv = s, .cl = &cl};
    sk_timer *tick = sk_timer_new(loop, on_tick, &sc);
    sk_timer *guard = sk_timer_new(loop, on_guard, loop);
    CHECK_EQ_INT(sk_timer_start(tick, 2, 2), 0);
    CHECK_EQ_INT(sk_timer_start(guard, 20000, 0), 0);
    pthread_t tid;
    CHECK_EQ_INT(pthread_create(&tid, NULL, run_clients, &cl), 0);
    CHECK_EQ_INT(sk_loop_run(loop), 0);
    pthread_join(tid, NULL);
    CHECK_EQ_INT(sk_server_thread_count(s), threads);
    CHECK(sc.sent);
    for (int i = 0; i < NCLIENTS; i++) {
        if (!cl.ok[i])
            fprintf(stderr, "  threads=%d: %s client %d did not get both broadcasts intact\n",
                    threads, i < NPLAIN ? "plain" : "ws", i);
        CHECK(cl.ok[i]);
    }
    sk_timer_free(tick);
    sk_timer_free(guard);
    sk_server_free(s);
    sk_loop_free(loop);
}

int main(void)
{
    test_two_broadcasts(1); /* delivered right here */
    test_two_broadcasts(3); /* posted to every shard's loop */
    return check_done("test_cast");
}
