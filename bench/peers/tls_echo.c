/* tls_echo.c — the naive TLS ceiling echo server for bench/: one thread,
 * level-triggered epoll, one SSL_CTX (ECDSA P-256 certificate and key from
 * files), each connection an SSL on its socket (SSL_set_fd), non-blocking
 * SSL_accept, then SSL_read of every record the socket has and one SSL_write
 * of what was read. OpenSSL's read-ahead is on (one read() per readiness
 * instead of two per record), so records buffered inside the SSL are drained
 * with SSL_has_pending before going back to epoll_wait. While an SSL_write is
 * incomplete the connection waits for EPOLLOUT only (and reads nothing), like
 * epoll_echo.
 * --no-read-ahead: OpenSSL's default instead, the naive echo the TLS issue
 * measured: SSL_read until WANT_READ, so each record costs a read() of its
 * header, one of its body, and the last one an EAGAIN. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define RDBUF (64 * 1024)
#define MAX_EVENTS 256

/* A connection: its SSL, whether the handshake is done, and the plaintext an
 * SSL_write has not taken yet (while any is held we stop reading). */
typedef struct conn {
    SSL *ssl;
    int ready;
    char *pend;
    size_t plen, poff;
} conn;

static int epfd;
static SSL_CTX *ctx;
static conn *conns;
static size_t nconns;
static char rdbuf[RDBUF];

static int read_ahead = 1; /* 0: --no-read-ahead */

static int usage(void)
{
    fprintf(stderr, "usage: tls_echo HOST PORT CERT KEY [--no-read-ahead]\n");
    return 2;
}

static int listen_on(const char *host, int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || inet_pton(AF_INET, host, &a.sin_addr) != 1)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 1024) < 0)
        return -1;
    return fd;
}

static SSL_CTX *make_ctx(const char *cert, const char *key)
{
    SSL_CTX *c = SSL_CTX_new(TLS_server_method());
    if (!c)
        return NULL;
    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_read_ahead(c, read_ahead);
    if (SSL_CTX_use_certificate_chain_file(c, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(c, key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(c) != 1) {
        ERR_print_errors_fp(stderr);
        SSL_CTX_free(c);
        return NULL;
    }
    return c;
}

static int watch(int op, int fd, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.fd = fd};
    return epoll_ctl(epfd, op, fd, &ev);
}

static conn *conn_of(int fd)
{
    if ((size_t)fd >= nconns) {
        size_t n = (size_t)fd * 2 + 16;
        conn *c = realloc(conns, n * sizeof *c);
        if (!c)
            return NULL;
        memset(c + nconns, 0, (n - nconns) * sizeof *c);
        conns = c;
        nconns = n;
    }
    return &conns[fd];
}

static void drop(int fd)
{
    conn *c = conn_of(fd);
    SSL_free(c->ssl);
    free(c->pend);
    memset(c, 0, sizeof *c);
    ERR_clear_error();
    close(fd); /* also removes it from the epoll set */
}

static void on_accept(int lfd)
{
    int one = 1;
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conn *c = conn_of(fd);
        if (!c || !(c->ssl = SSL_new(ctx)) || SSL_set_fd(c->ssl, fd) != 1 ||
            watch(EPOLL_CTL_ADD, fd, EPOLLIN) < 0) {
            if (c)
                drop(fd);
            else
                close(fd);
            continue;
        }
        SSL_set_accept_state(c->ssl);
    }
}

/* Writes n bytes of plaintext; keeps what SSL_write did not take and swaps
 * reading for EPOLLOUT. Returns 0 when all was written. */
static int send_out(int fd, const char *p, size_t n)
{
    conn *c = conn_of(fd);
    while (n) {
        int w = SSL_write(c->ssl, p, n > 0x7fffffff ? 0x7fffffff : (int)n);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        int e = SSL_get_error(c->ssl, w);
        if (e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ) {
            drop(fd);
            return -1;
        }
        if (!c->pend) {
            if (!(c->pend = malloc(n))) {
                drop(fd);
                return -1;
            }
            memcpy(c->pend, p, n);
            c->plen = n;
            c->poff = 0;
            watch(EPOLL_CTL_MOD, fd, EPOLLOUT);
        } else {
            c->poff = c->plen - n;
        }
        return 1;
    }
    return 0;
}

/* Reads every record OpenSSL can give without another readiness event, then
 * writes the batch back (in 64 KiB pieces). */
static void on_readable(int fd)
{
    conn *c = conn_of(fd);
    size_t have = 0;
    for (;;) {
        int n = SSL_read(c->ssl, rdbuf + have, (int)(RDBUF - have));
        if (n <= 0) {
            int e = SSL_get_error(c->ssl, n);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
                drop(fd);
                return;
            }
            break;
        }
        have += (size_t)n;
        if (have == RDBUF) {
            if (send_out(fd, rdbuf, have))
                return;
            have = 0;
        }
        if (read_ahead && !SSL_has_pending(c->ssl))
            break; /* (without read-ahead: on until WANT_READ) */
    }
    if (have)
        send_out(fd, rdbuf, have);
}

static void on_writable(int fd)
{
    conn *c = conn_of(fd);
    if (send_out(fd, c->pend + c->poff, c->plen - c->poff))
        return;
    free(c->pend);
    c->pend = NULL;
    watch(EPOLL_CTL_MOD, fd, EPOLLIN);
    if (SSL_has_pending(c->ssl)) /* records read while we were writing */
        on_readable(fd);
}

static void on_handshake(int fd)
{
    conn *c = conn_of(fd);
    int r = SSL_accept(c->ssl);
    if (r == 1) {
        c->ready = 1;
        watch(EPOLL_CTL_MOD, fd, EPOLLIN);
        if (SSL_has_pending(c->ssl)) /* data that came with the client's Finished */
            on_readable(fd);
        return;
    }
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ)
        watch(EPOLL_CTL_MOD, fd, EPOLLIN);
    else if (e == SSL_ERROR_WANT_WRITE)
        watch(EPOLL_CTL_MOD, fd, EPOLLOUT);
    else
        drop(fd);
}

static void run(int lfd)
{
    struct epoll_event evs[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(epfd, evs, MAX_EVENTS, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            conn *c = fd == lfd ? NULL : conn_of(fd);
            if (fd == lfd)
                on_accept(lfd);
            else if (!c->ssl)
                continue;
            else if (!c->ready)
                on_handshake(fd);
            else if (c->pend) /* EPOLLOUT, or a hang-up while held */
                on_writable(fd);
            else
                on_readable(fd);
        }
    }
}

int main(int argc, char **argv)
{
    if (argc == 6 && strcmp(argv[5], "--no-read-ahead") == 0)
        read_ahead = 0;
    else if (argc != 5)
        return usage();
    signal(SIGPIPE, SIG_IGN);
    if (!(ctx = make_ctx(argv[3], argv[4]))) {
        fprintf(stderr, "tls_echo: cannot load %s / %s\n", argv[3], argv[4]);
        return 1;
    }
    int lfd = listen_on(argv[1], atoi(argv[2]));
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (lfd < 0 || epfd < 0 || watch(EPOLL_CTL_ADD, lfd, EPOLLIN) < 0) {
        perror("tls_echo: listen");
        return 1;
    }
    run(lfd);
    return 0;
}
