/* pingpong.c — the loader ceiling for bench/: one epoll thread, N connections
 * with D messages of S bytes in flight each; prints msgs/s as one JSON line.
 * --ws PATH: each connection does a WebSocket client handshake first, then
 * sends masked binary frames of S bytes and counts the echoed frames.
 * --tls: each connection is an OpenSSL client on its socket (SSL_set_fd,
 * no certificate verification, read-ahead on); all handshakes run
 * non-blocking and in parallel before the clock starts; then the same raw or
 * len32be messages go through SSL_write / SSL_read. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "loadgen.h"

#define RDBUF (64 * 1024)
#define MAX_EVENTS 256

/* One connection: byte counters, messages owed to the wire, frame parsing. */
typedef struct pconn {
    SSL *ssl; /* --tls */
    int tickets; /* --tls: session tickets received */
    int fd, dead, want_out;
    uint64_t sent, rcvd, owed, done;
    uint8_t hdr[10];
    uint32_t hdr_have, hdr_need;
    uint64_t body_left;
} pconn;

typedef struct opts {
    const char *host, *ws;
    int port, conns, depth, framed, pid, pid2, sync, tls;
    size_t size;
    double secs, warmup;
    uint64_t count;
} opts;

/* Counters of the whole run; sending stops when the drain begins. */
typedef struct stats {
    uint64_t msgs, errors;
    int sending;
} stats;

static opts o = {.warmup = 0.5};
static stats st = {.sending = 1};
static pconn *pc;
static uint8_t *txbuf;
static size_t wire, txlen, rx_wire; /* wire: bytes sent per message; rx_wire: echoed */
static int epfd;
static uint8_t rdbuf[RDBUF];
static SSL_CTX *tls_ctx;

static int usage(void)
{
    fprintf(stderr,
            "usage: pingpong HOST PORT CONNS DEPTH SIZE SECONDS [--frame raw|len32be]\n"
            "       [--ws PATH] [--pid SERVER_PID] [--warmup SECS] [--count MESSAGES]\n"
            "       [--sync] [--tls] [--pid2 PID]\n"
            "--ws PATH: WebSocket (handshake on PATH, masked binary frames of SIZE bytes)\n"
            "--tls: TLS client on each connection (no certificate verification)\n"
            "--pid2 PID: also report this process's CPU time (a proxy's backend)\n"
            "--sync: print \"ready\" once connected, then wait for a line on stdin before\n"
            "sending and for end of stdin before closing (lets a tracer attach in between)\n");
    return 2;
}

/* Returns how many arguments the flag at argv[i] took, or -1. */
static int parse_flag(char **argv, int i, int argc)
{
    if (!strcmp(argv[i], "--sync"))
        return o.sync = 1;
    if (!strcmp(argv[i], "--tls"))
        return o.tls = 1;
    if (i + 1 >= argc)
        return -1;
    const char *f = argv[i], *v = argv[i + 1];
    if (!strcmp(f, "--frame") && (!strcmp(v, "raw") || !strcmp(v, "len32be")))
        o.framed = !strcmp(v, "len32be");
    else if (!strcmp(f, "--ws") && v[0] == '/')
        o.ws = v;
    else if (!strcmp(f, "--pid"))
        o.pid = atoi(v);
    else if (!strcmp(f, "--pid2"))
        o.pid2 = atoi(v);
    else if (!strcmp(f, "--warmup"))
        o.warmup = atof(v);
    else if (!strcmp(f, "--count"))
        o.count = strtoull(v, NULL, 10);
    else
        return -1;
    return 2;
}

static int parse(int argc, char **argv)
{
    if (argc < 7)
        return -1;
    o.host = argv[1];
    o.port = atoi(argv[2]);
    o.conns = atoi(argv[3]);
    o.depth = atoi(argv[4]);
    o.size = strtoul(argv[5], NULL, 10);
    o.secs = atof(argv[6]);
    for (int i = 7, n; i < argc; i += n)
        if ((n = parse_flag(argv, i, argc)) < 0)
            return -1;
    if (o.conns < 1 || o.depth < 1 || o.size < 1 || o.size > (1u << 24) || o.secs <= 0)
        return -1;
    if (o.ws && (o.framed || o.tls))
        return -1;
    return 0;
}

/* depth messages back to back: the most that is ever owed to one socket. */
/* WebSocket frame header length for a payload of n bytes (no mask key). */
static size_t ws_hdr_len(size_t n)
{
    return n < 126 ? 2 : n < 65536 ? 4 : 10;
}

/* A client frame: FIN + binary, mask bit, length, fixed mask key, masked payload. */
static void ws_frame(uint8_t *p)
{
    static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
    size_t h = ws_hdr_len(o.size);
    p[0] = 0x82;
    if (h == 2) {
        p[1] = (uint8_t)(0x80 | o.size);
    } else if (h == 4) {
        p[1] = 0x80 | 126;
        p[2] = (uint8_t)(o.size >> 8);
        p[3] = (uint8_t)o.size;
    } else {
        p[1] = 0x80 | 127;
        for (int b = 0; b < 8; b++)
            p[2 + b] = (uint8_t)((uint64_t)o.size >> (56 - 8 * b));
    }
    memcpy(p + h, key, 4);
    for (size_t i = 0; i < o.size; i++)
        p[h + 4 + i] = (uint8_t)('a' + i % 26) ^ key[i % 4];
}

static int build_tx(void)
{
    wire = o.size + (o.framed ? 4 : 0) + (o.ws ? ws_hdr_len(o.size) + 4 : 0);
    rx_wire = o.ws ? o.size + ws_hdr_len(o.size) : wire;
    txlen = wire * (size_t)o.depth;
    txbuf = malloc(txlen);
    if (!txbuf)
        return -1;
    for (size_t i = 0; i < txlen; i++)
        txbuf[i] = (uint8_t)('a' + i % 26);
    for (int m = 0; o.framed && m < o.depth; m++) {
        uint32_t be = htonl((uint32_t)o.size);
        memcpy(txbuf + (size_t)m * wire, &be, 4);
    }
    for (int m = 0; o.ws && m < o.depth; m++)
        ws_frame(txbuf + (size_t)m * wire);
    return 0;
}

/* Blocking client handshake with the RFC 6455 sample key; reads exactly the
 * response head (peeking for its end) so no frame byte is consumed. */
static int ws_handshake(int fd)
{
    char req[1024], resp[4096];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     o.ws, o.host, o.port);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (n <= 0 || (size_t)n >= sizeof req || write(fd, req, (size_t)n) != n)
        return -1;
    for (;;) {
        ssize_t k = recv(fd, resp, sizeof resp - 1, MSG_PEEK);
        if (k <= 0)
            return -1;
        resp[k] = 0;
        char *end = strstr(resp, "\r\n\r\n");
        if (end) {
            size_t head = (size_t)(end + 4 - resp);
            if (recv(fd, resp, head, 0) != (ssize_t)head)
                return -1;
            resp[head] = 0;
            break;
        }
        if (k == sizeof resp - 1)
            return -1;
        usleep(1000);
    }
    if (strncmp(resp, "HTTP/1.1 101", 12) || !strstr(resp, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")) {
        fprintf(stderr, "pingpong: WebSocket handshake refused: %.200s\n", resp);
        return -1;
    }
    return 0;
}

static int dial(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o.port)};
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || inet_pton(AF_INET, o.host, &a.sin_addr) != 1)
        return -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 || (o.ws && ws_handshake(fd) < 0)) {
        close(fd);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

static void set_out(int i, int on)
{
    if (pc[i].want_out == on)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0u), .data.u32 = (uint32_t)i};
    epoll_ctl(epfd, EPOLL_CTL_MOD, pc[i].fd, &ev);
    pc[i].want_out = on;
}

/* Counts a connection's TLS 1.3 session tickets (the server sends them once
 * it has the client's Finished: its handshake is then over); keeps none. */
static int on_ticket(SSL *ssl, SSL_SESSION *sess)
{
    (void)sess;
    pconn *c = SSL_get_app_data(ssl);
    if (c)
        c->tickets++;
    return 0;
}

/* --tls: an OpenSSL client context that verifies nothing; read-ahead lets one
 * read() bring in every record the socket holds (drained with SSL_has_pending). */
static int tls_init(void)
{
    tls_ctx = SSL_CTX_new(TLS_client_method());
    if (!tls_ctx)
        return -1;
    SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_mode(tls_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_read_ahead(tls_ctx, 1);
    SSL_CTX_set_session_cache_mode(tls_ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(tls_ctx, on_ticket);
    return 0;
}

/* An SSL call's failure as errno: EAGAIN when it waits for the socket. */
static ssize_t tls_fail(SSL *ssl, int r)
{
    int e = SSL_get_error(ssl, r);
    ERR_clear_error();
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        errno = EAGAIN;
        return -1;
    }
    if (e == SSL_ERROR_ZERO_RETURN)
        return 0;
    errno = ECONNRESET;
    return -1;
}

static ssize_t c_read(pconn *c, void *p, size_t n)
{
    if (!c->ssl)
        return read(c->fd, p, n);
    int r = SSL_read(c->ssl, p, n > 0x7fffffff ? 0x7fffffff : (int)n);
    return r > 0 ? r : tls_fail(c->ssl, r);
}

static ssize_t c_write(pconn *c, const void *p, size_t n)
{
    if (!c->ssl)
        return write(c->fd, p, n);
    int r = SSL_write(c->ssl, p, n > 0x7fffffff ? 0x7fffffff : (int)n);
    if (r > 0)
        return r;
    r = (int)tls_fail(c->ssl, r);
    if (r == 0)
        errno = EPIPE;
    return -1;
}

/* --tls: every connection's SSL_connect, non-blocking and all at once.
 * hs[i]: 0 call SSL_connect now, 1 waiting for its socket, 2 done. */
static int tls_handshakes(void)
{
    int left = o.conns, *hs = calloc((size_t)o.conns, sizeof *hs);
    struct epoll_event evs[MAX_EVENTS];
    double end = lg_now() + 10.0;
    for (int i = 0; hs && i < o.conns; i++) {
        if (!(pc[i].ssl = SSL_new(tls_ctx)) || SSL_set_fd(pc[i].ssl, pc[i].fd) != 1)
            left = -1;
        else
            SSL_set_connect_state(pc[i].ssl), SSL_set_app_data(pc[i].ssl, &pc[i]);
    }
    while (hs && left > 0 && lg_now() < end) {
        for (int i = 0; i < o.conns; i++) {
            if (hs[i])
                continue;
            int r = SSL_connect(pc[i].ssl), e = r == 1 ? 0 : SSL_get_error(pc[i].ssl, r);
            if (e && e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
                fprintf(stderr, "pingpong: TLS handshake failed:\n");
                ERR_print_errors_fp(stderr);
                left = -1;
                break;
            }
            hs[i] = e ? 1 : 2;
            left -= !e;
            struct epoll_event ev = {.events = e == SSL_ERROR_WANT_WRITE ? EPOLLOUT : EPOLLIN,
                                     .data.u32 = (uint32_t)i};
            epoll_ctl(epfd, EPOLL_CTL_MOD, pc[i].fd, &ev);
        }
        int n = left > 0 ? epoll_wait(epfd, evs, MAX_EVENTS, 100) : 0;
        for (int j = 0; j < n; j++)
            if (hs[evs[j].data.u32] == 1)
                hs[evs[j].data.u32] = 0;
    }
    free(hs);
    return left ? -1 : 0;
}

/* --tls, TLS 1.3: a client's handshake ends before the server's (which still
 * reads the client's Finished and sends its session tickets). Waits (up to
 * 1 s: a server may send none) until every connection has a ticket, so that
 * no server handshake work falls into the measured window. */
static void tls_settle(void)
{
    struct epoll_event evs[MAX_EVENTS];
    uint8_t junk[256];
    double end = lg_now() + 1.0;
    if (SSL_version(pc[0].ssl) != TLS1_3_VERSION)
        return;
    for (;;) {
        int waiting = 0;
        for (int i = 0; i < o.conns; i++)
            waiting += !pc[i].tickets;
        if (!waiting || lg_now() > end)
            return;
        int n = epoll_wait(epfd, evs, MAX_EVENTS, 50);
        for (int j = 0; j < n; j++) {
            pconn *c = &pc[evs[j].data.u32];
            if (SSL_read(c->ssl, junk, sizeof junk) > 0) /* no data is due yet */
                st.errors++;
            ERR_clear_error();
        }
    }
}

static void kill_conn(int i)
{
    if (pc[i].dead)
        return;
    pc[i].dead = 1;
    st.errors++;
    epoll_ctl(epfd, EPOLL_CTL_DEL, pc[i].fd, NULL);
}

/* Writes what is owed from the repeating tx pattern until done or EAGAIN. */
static void flush(int i)
{
    pconn *c = &pc[i];
    while (c->owed && !c->dead) {
        size_t off = (size_t)(c->sent % wire);
        size_t n = txlen - off < c->owed ? txlen - off : (size_t)c->owed;
        ssize_t w = c_write(c, txbuf + off, n);
        if (w < 0 && errno == EAGAIN)
            break;
        if (w <= 0) {
            kill_conn(i);
            return;
        }
        c->sent += (uint64_t)w;
        c->owed -= (uint64_t)w;
    }
    set_out(i, c->owed > 0);
}

/* len32be: walks echoed frames, checking each header; returns frames done. */
static uint64_t frames_in(pconn *c, const uint8_t *p, size_t n)
{
    uint64_t k = 0;
    while (n) {
        if (c->body_left) {
            size_t t = c->body_left < n ? (size_t)c->body_left : n;
            c->body_left -= t;
            p += t;
            n -= t;
            k += c->body_left == 0;
            continue;
        }
        c->hdr[c->hdr_have++] = *p++;
        n--;
        if (c->hdr_have < 4)
            continue;
        uint32_t be;
        memcpy(&be, c->hdr, 4);
        c->hdr_have = 0;
        c->body_left = ntohl(be);
        st.errors += c->body_left != o.size;
    }
    return k;
}

/* WebSocket: walks echoed server frames (unmasked); each must be one final
 * binary frame of exactly SIZE bytes. Returns frames completed. */
static uint64_t ws_in(pconn *c, const uint8_t *p, size_t n)
{
    uint64_t k = 0;
    while (n) {
        if (c->body_left) {
            size_t t = c->body_left < n ? (size_t)c->body_left : n;
            c->body_left -= t;
            p += t;
            n -= t;
            k += c->body_left == 0;
            continue;
        }
        c->hdr[c->hdr_have++] = *p++;
        n--;
        if (c->hdr_have == 2) {
            uint8_t l = c->hdr[1] & 0x7f;
            c->hdr_need = l == 126 ? 4 : l == 127 ? 10 : 2;
            st.errors += c->hdr[0] != 0x82 || (c->hdr[1] & 0x80);
        }
        if (c->hdr_have < 2 || c->hdr_have < c->hdr_need)
            continue;
        uint64_t len = c->hdr[1] & 0x7f;
        for (uint32_t b = 2; b < c->hdr_need; b++)
            len = b == 2 ? c->hdr[2] : (len << 8) | c->hdr[b];
        c->hdr_have = 0;
        c->body_left = len;
        st.errors += len != o.size;
        k += len == 0;
    }
    c->done += k;
    return k;
}

static uint64_t messages_in(pconn *c, const uint8_t *p, size_t n)
{
    if (o.ws)
        return ws_in(c, p, n);
    if (o.framed)
        return frames_in(c, p, n);
    uint64_t k = c->rcvd / wire - c->done;
    c->done += k;
    return k;
}

/* One read (raw, ws); with --tls, every record OpenSSL holds, then one flush. */
static void on_readable(int i)
{
    pconn *c = &pc[i];
    uint64_t k = 0;
    do {
        ssize_t n = c_read(c, rdbuf, sizeof rdbuf);
        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0 || (!o.ws && c->rcvd + (uint64_t)n > c->sent)) { /* closed, or more than we sent */
            kill_conn(i);
            return;
        }
        c->rcvd += (uint64_t)n;
        k += messages_in(c, rdbuf, (size_t)n);
        if (o.ws && c->done > c->sent / wire) { /* more frames than we sent */
            kill_conn(i);
            return;
        }
    } while (c->ssl && SSL_has_pending(c->ssl));
    st.msgs += k;
    if (!st.sending)
        return;
    c->owed += k * wire;
    flush(i);
}

/* --sync: says what (if anything) on stdout, then waits for a line on stdin. */
static int wait_line(const char *what)
{
    char line[64];
    if (what)
        fputs(what, stdout);
    fflush(stdout);
    return fgets(line, sizeof line, stdin) ? 0 : -1;
}

static int open_all(void)
{
    pc = calloc((size_t)o.conns, sizeof *pc);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (!pc || epfd < 0)
        return -1;
    for (int i = 0; i < o.conns; i++) {
        pc[i].fd = dial();
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (pc[i].fd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, pc[i].fd, &ev) < 0)
            return -1;
    }
    if (o.tls && tls_handshakes() < 0)
        return -1;
    if (o.tls)
        tls_settle();
    if (o.sync && wait_line("ready\n") < 0)
        return -1;
    for (int i = 0; i < o.conns; i++) {
        pc[i].owed = txlen;
        flush(i);
    }
    return 0;
}

/* Runs the loop until the deadline (or, with --count, until stop_at msgs). */
static void run_until(double deadline, uint64_t stop_at)
{
    struct epoll_event evs[MAX_EVENTS];
    for (;;) {
        double left = deadline - lg_now();
        if (left <= 0 || (stop_at && st.msgs >= stop_at))
            return;
        int n = epoll_wait(epfd, evs, MAX_EVENTS, (int)(left * 1000) + 1);
        for (int j = 0; j < n; j++) {
            int i = (int)evs[j].data.u32;
            if (evs[j].events & EPOLLOUT)
                flush(i);
            if (!pc[i].dead && (evs[j].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
                on_readable(i);
        }
    }
}

/* Every message sent has come back (all of its bytes). */
static int echoed(const pconn *c)
{
    if (o.ws)
        return c->owed == 0 && c->sent % wire == 0 && c->done == c->sent / wire &&
               !c->body_left && !c->hdr_have;
    return c->rcvd == c->sent;
}

static int all_echoed(void)
{
    for (int i = 0; i < o.conns; i++)
        if (!pc[i].dead && !echoed(&pc[i]))
            return 0;
    return 1;
}

/* Stops sending and waits (up to 2 s) for every byte sent to come back. */
static void drain(void)
{
    st.sending = 0;
    double end = lg_now() + 2.0;
    while (!all_echoed() && lg_now() < end)
        run_until(lg_now() + 0.05, 0);
    for (int i = 0; i < o.conns; i++)
        st.errors += !pc[i].dead && !echoed(&pc[i]);
}


static long long self_cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL + ru.ru_utime.tv_usec +
           ru.ru_stime.tv_usec;
}

static void report(uint64_t msgs, double secs, long long srv_us, long long srv2_us, long long self_us)
{
    uint64_t sent = 0, rcvd = 0, echoes = 0;
    for (int i = 0; i < o.conns; i++) {
        sent += pc[i].sent;
        rcvd += pc[i].rcvd;
        echoes += o.ws ? pc[i].done : pc[i].rcvd / rx_wire;
    }
    printf("{\"msgs\": %llu, \"secs\": %.6f, \"msgs_per_sec\": %.1f, \"errors\": %llu, "
           "\"conns\": %d, \"depth\": %d, \"size\": %zu, \"frame\": \"%s\", "
           "\"bytes_sent\": %llu, \"bytes_rcvd\": %llu, \"echoed\": %llu, \"server_cpu_us\": %lld, "
           "\"loader_cpu_us\": %lld",
           (unsigned long long)msgs, secs, secs > 0 ? (double)msgs / secs : 0.0,
           (unsigned long long)st.errors, o.conns, o.depth, o.size, o.ws ? "ws" : o.framed ? "len32be" : "raw",
           (unsigned long long)sent, (unsigned long long)rcvd, (unsigned long long)echoes, srv_us, self_us);
    if (o.pid2)
        printf(", \"server2_cpu_us\": %lld", srv2_us);
    if (o.tls)
        printf(", \"tls\": \"%s %s\"", SSL_get_version(pc[0].ssl), SSL_get_cipher_name(pc[0].ssl));
    printf("}\n");
}

int main(int argc, char **argv)
{
    if (parse(argc, argv) < 0)
        return usage();
    signal(SIGPIPE, SIG_IGN);
    if ((o.tls && tls_init() < 0) || build_tx() < 0 || open_all() < 0) {
        fprintf(stderr, "pingpong: cannot connect to %s:%d: %s\n", o.host, o.port, strerror(errno));
        return 1;
    }
    run_until(lg_now() + o.warmup, 0);
    uint64_t m0 = st.msgs;
    long long s0 = lg_proc_cpu_us(o.pid), b0 = lg_proc_cpu_us(o.pid2), l0 = self_cpu_us();
    double t0 = lg_now();
    run_until(t0 + o.secs, o.count ? m0 + o.count : 0);
    double t1 = lg_now();
    long long s1 = lg_proc_cpu_us(o.pid), b1 = lg_proc_cpu_us(o.pid2), l1 = self_cpu_us();
    uint64_t msgs = st.msgs - m0;
    drain();
    report(msgs, t1 - t0, s0 < 0 || s1 < 0 ? -1 : s1 - s0, b0 < 0 || b1 < 0 ? -1 : b1 - b0, l1 - l0);
    if (o.sync) /* connections stay open until the tracer has stopped */
        wait_line(NULL);
    return st.errors ? 1 : 0;
}
