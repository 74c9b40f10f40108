/* tls_handshakes.c — the TLS handshake loader for bench/: PARALLEL
 * connections at a time (spread over --threads epoll loops), each one: TCP
 * connect, a full TLS handshake (TLS 1.3, X25519, ECDSA P-256 signatures by
 * default; no session resumption, no certificate verification), one SIZE-byte
 * message written and read back, close_notify, close; then the next
 * connection. Prints one JSON line with handshakes/s and, with --pid, the
 * server's CPU time over the measured window (what the scenario is about:
 * a client handshake costs more CPU than a server's, so the loader rather than
 * the server is usually the limit). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "loadgen.h"

#define MAX_EVENTS 256

enum { CONNECTING, HANDSHAKE, SENDING, RECEIVING };

/* One connection slot: restarted with a new socket and SSL after each round. */
typedef struct slot {
    int fd, state;
    SSL *ssl;
    size_t got;
} slot;

typedef struct worker {
    pthread_t th;
    int epfd, nslots;
    slot *slots;
} worker;

static struct {
    const char *host, *groups, *sigalgs;
    int port, parallel, threads, pid, pid2, tls12;
    size_t size;
    double secs, warmup;
} o = {.groups = "X25519", .sigalgs = "ecdsa_secp256r1_sha256", .size = 64, .threads = 1, .warmup = 0.5};

static SSL_CTX *ctx;
static struct sockaddr_in addr;
static uint64_t n_done, n_errors, n_tickets; /* atomics */
static volatile int running = 1;
static char negotiated[160];
static pthread_mutex_t neg_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t *msg;

static int usage(void)
{
    fprintf(stderr,
            "usage: tls_handshakes HOST PORT PARALLEL SECONDS [--size BYTES] [--threads N]\n"
            "       [--pid SERVER_PID] [--pid2 PID] [--warmup SECS] [--groups LIST]\n"
            "       [--sigalgs LIST] [--tls12]\n"
            "defaults: --size 64 --threads 1 --warmup 0.5 --groups X25519\n"
            "--sigalgs ecdsa_secp256r1_sha256; TLS 1.3 only unless --tls12\n");
    return 2;
}

static int parse(int argc, char **argv)
{
    if (argc < 5)
        return -1;
    o.host = argv[1];
    o.port = atoi(argv[2]);
    o.parallel = atoi(argv[3]);
    o.secs = atof(argv[4]);
    for (int i = 5; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(f, "--tls12")) {
            o.tls12 = 1;
            continue;
        }
        if (!v)
            return -1;
        i++;
        if (!strcmp(f, "--size"))
            o.size = strtoul(v, NULL, 10);
        else if (!strcmp(f, "--threads"))
            o.threads = atoi(v);
        else if (!strcmp(f, "--pid"))
            o.pid = atoi(v);
        else if (!strcmp(f, "--pid2"))
            o.pid2 = atoi(v);
        else if (!strcmp(f, "--warmup"))
            o.warmup = atof(v);
        else if (!strcmp(f, "--groups"))
            o.groups = v;
        else if (!strcmp(f, "--sigalgs"))
            o.sigalgs = v;
        else
            return -1;
    }
    if (o.parallel < 1 || o.threads < 1 || o.threads > o.parallel || o.size < 1 || o.size > 16384 ||
        o.secs <= 0 || inet_pton(AF_INET, o.host, &addr.sin_addr) != 1)
        return -1;
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)o.port);
    return 0;
}

/* Counts the session tickets the server sends; keeps none (no resumption). */
static int on_ticket(SSL *ssl, SSL_SESSION *sess)
{
    (void)ssl;
    (void)sess;
    __atomic_fetch_add(&n_tickets, 1, __ATOMIC_RELAXED);
    return 0;
}

static int make_ctx(void)
{
    ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        return -1;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_min_proto_version(ctx, o.tls12 ? TLS1_2_VERSION : TLS1_3_VERSION);
    if (o.tls12)
        SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, on_ticket);
    if (SSL_CTX_set1_groups_list(ctx, o.groups) != 1 || SSL_CTX_set1_sigalgs_list(ctx, o.sigalgs) != 1) {
        ERR_print_errors_fp(stderr);
        return -1;
    }
    return 0;
}

static void watch(worker *w, int op, slot *s, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = s};
    epoll_ctl(w->epfd, op, s->fd, &ev);
}

/* Starts a slot's next connection (a non-blocking connect). */
static void start(worker *w, slot *s)
{
    int one = 1;
    s->got = 0;
    s->state = CONNECTING;
    while (running) {
        s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (s->fd >= 0) {
            setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            if (connect(s->fd, (struct sockaddr *)&addr, sizeof addr) == 0 || errno == EINPROGRESS) {
                watch(w, EPOLL_CTL_ADD, s, EPOLLOUT);
                return;
            }
            close(s->fd);
            s->fd = -1;
        }
        __atomic_fetch_add(&n_errors, 1, __ATOMIC_RELAXED);
        usleep(1000);
    }
}

/* Ends a slot's connection (close_notify first when it went well), counts
 * it, then starts the next one. */
static void restart(worker *w, slot *s, int ok)
{
    if (ok)
        SSL_shutdown(s->ssl);
    SSL_free(s->ssl);
    s->ssl = NULL;
    ERR_clear_error();
    close(s->fd);
    s->fd = -1;
    __atomic_fetch_add(ok ? &n_done : &n_errors, 1, __ATOMIC_RELAXED);
    start(w, s);
}

static void note_negotiated(SSL *ssl)
{
    if (negotiated[0])
        return;
    pthread_mutex_lock(&neg_lock);
    if (!negotiated[0]) {
        int nid = SSL_get_negotiated_group(ssl);
        const char *g = SSL_group_to_name(ssl, nid);
        snprintf(negotiated, sizeof negotiated, "%s %s %s", SSL_get_version(ssl), SSL_get_cipher_name(ssl),
                 g ? g : "?");
    }
    pthread_mutex_unlock(&neg_lock);
}

/* Advances a slot as far as it goes without waiting; returns the events to
 * wait for next, or 0 once the slot was restarted. */
static uint32_t step(worker *w, slot *s)
{
    for (;;) {
        int r, e;
        switch (s->state) {
        case CONNECTING: {
            int err = 0;
            socklen_t len = sizeof err;
            if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
                restart(w, s, 0);
                return 0;
            }
            if (!(s->ssl = SSL_new(ctx)) || SSL_set_fd(s->ssl, s->fd) != 1) {
                restart(w, s, 0);
                return 0;
            }
            SSL_set_connect_state(s->ssl);
            s->state = HANDSHAKE;
            continue;
        }
        case HANDSHAKE:
            r = SSL_connect(s->ssl);
            if (r == 1) {
                note_negotiated(s->ssl);
                s->state = SENDING;
                continue;
            }
            break;
        case SENDING:
            r = SSL_write(s->ssl, msg, (int)o.size);
            if (r > 0) {
                s->state = RECEIVING;
                continue;
            }
            break;
        default: {
            uint8_t buf[16384];
            r = SSL_read(s->ssl, buf, sizeof buf);
            if (r > 0) {
                s->got += (size_t)r;
                if (s->got > o.size) {
                    restart(w, s, 0);
                    return 0;
                }
                if (s->got < o.size)
                    continue;
                restart(w, s, 1);
                return 0;
            }
            break;
        }
        }
        e = SSL_get_error(s->ssl, r);
        if (e == SSL_ERROR_WANT_READ)
            return EPOLLIN;
        if (e == SSL_ERROR_WANT_WRITE)
            return EPOLLOUT;
        restart(w, s, 0);
        return 0;
    }
}

static void *run(void *arg)
{
    worker *w = arg;
    struct epoll_event evs[MAX_EVENTS];
    for (int i = 0; i < w->nslots; i++)
        start(w, &w->slots[i]);
    while (running) {
        int n = epoll_wait(w->epfd, evs, MAX_EVENTS, 100);
        for (int j = 0; j < n; j++) {
            slot *s = evs[j].data.ptr;
            uint32_t want = step(w, s);
            if (want)
                watch(w, EPOLL_CTL_MOD, s, want);
        }
    }
    for (int i = 0; i < w->nslots; i++) {
        slot *s = &w->slots[i];
        if (s->ssl)
            SSL_free(s->ssl);
        if (s->fd >= 0)
            close(s->fd);
    }
    return NULL;
}


static long long self_cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

static void sleep_until(double t)
{
    for (double left; (left = t - lg_now()) > 0;) {
        struct timespec ts = {(time_t)left, (long)((left - (double)(time_t)left) * 1e9)};
        nanosleep(&ts, NULL);
    }
}

int main(int argc, char **argv)
{
    if (parse(argc, argv) < 0)
        return usage();
    signal(SIGPIPE, SIG_IGN);
    if (make_ctx() < 0 || !(msg = malloc(o.size)))
        return 1;
    for (size_t i = 0; i < o.size; i++)
        msg[i] = (uint8_t)('a' + i % 26);
    worker *ws = calloc((size_t)o.threads, sizeof *ws);
    for (int t = 0; t < o.threads; t++) {
        worker *w = &ws[t];
        w->nslots = o.parallel / o.threads + (t < o.parallel % o.threads);
        w->slots = calloc((size_t)w->nslots, sizeof *w->slots);
        w->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (!w->slots || w->epfd < 0 || pthread_create(&w->th, NULL, run, w) != 0) {
            perror("tls_handshakes");
            return 1;
        }
    }
    sleep_until(lg_now() + o.warmup);
    uint64_t h0 = __atomic_load_n(&n_done, __ATOMIC_RELAXED), e0 = __atomic_load_n(&n_errors, __ATOMIC_RELAXED);
    uint64_t k0 = __atomic_load_n(&n_tickets, __ATOMIC_RELAXED);
    long long s0 = lg_proc_cpu_us(o.pid), b0 = lg_proc_cpu_us(o.pid2), l0 = self_cpu_us();
    double t0 = lg_now();
    sleep_until(t0 + o.secs);
    double t1 = lg_now();
    long long s1 = lg_proc_cpu_us(o.pid), b1 = lg_proc_cpu_us(o.pid2), l1 = self_cpu_us();
    uint64_t h1 = __atomic_load_n(&n_done, __ATOMIC_RELAXED), e1 = __atomic_load_n(&n_errors, __ATOMIC_RELAXED);
    uint64_t k1 = __atomic_load_n(&n_tickets, __ATOMIC_RELAXED);
    running = 0;
    for (int t = 0; t < o.threads; t++)
        pthread_join(ws[t].th, NULL);
    uint64_t hs = h1 - h0;
    double secs = t1 - t0;
    printf("{\"msgs\": %llu, \"handshakes\": %llu, \"secs\": %.6f, \"msgs_per_sec\": %.1f, \"errors\": %llu, "
           "\"parallel\": %d, \"threads\": %d, \"size\": %zu, \"server_cpu_us\": %lld, \"server2_cpu_us\": %lld, "
           "\"loader_cpu_us\": %lld, \"tickets_per_handshake\": %.2f, \"tls\": \"%s\"}\n",
           (unsigned long long)hs, (unsigned long long)hs, secs, secs > 0 ? (double)hs / secs : 0.0,
           (unsigned long long)(e1 - e0), o.parallel, o.threads, o.size,
           s0 < 0 || s1 < 0 ? -1 : s1 - s0, b0 < 0 || b1 < 0 ? -1 : b1 - b0, l1 - l0,
           hs ? (double)(k1 - k0) / (double)hs : 0.0, negotiated);
    return hs && e1 == e0 ? 0 : 1;
}
