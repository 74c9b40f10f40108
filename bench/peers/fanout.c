/* fanout.c — the fan-out loader: N receivers and one sender on one server,
 * bursts of B messages of S payload bytes, each burst written in one write;
 * the next burst starts when all B x N deliveries (and, for Redis, the B
 * PUBLISH replies) have arrived. One epoll thread, level-triggered.
 *
 *   --chat   sockit serve chat --frame line: N members plus a 101st connection
 *            that sends (chat does not echo to the sender). Only lines
 *            "SENDERNICK: payload\n" count; "* ..." notices (welcome, joins)
 *            are skipped. Before the clock starts, every receiver must have
 *            seen "* SENDERNICK joined".
 *   --redis  redis-server: N RESP subscribers (SUBSCRIBE bench) and one
 *            publisher sending pipelined "PUBLISH bench PAYLOAD"; every
 *            delivered frame's header is checked, and every PUBLISH reply
 *            must say N.
 *
 * Prints one JSON line. --pid reads the server's CPU time (utime + stime, all
 * threads, /proc/PID/stat) at the edges of the measured window; --bursts K
 * runs exactly K bursts (no warm-up) instead of --secs, for profiling; --sync
 * prints "ready" once set up and "done" after the last burst and waits for a
 * line on stdin after each (so a profiler can zero and dump its counters). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
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

#define BUFSZ (64 * 1024)

typedef struct conn {
    int fd;
    int ready; /* chat: saw the sender's join; redis: subscribed */
    size_t have;
    char *buf;
} conn;

static struct {
    int chat, port, members, burst, size, pid, sync;
    double secs, warmup;
    long bursts;
    const char *host;
} o = {.members = 100, .burst = 16, .size = 64, .secs = 5, .warmup = 0.5};

static conn *rc; /* receivers */
static conn snd;  /* the sender / publisher */
static int ep;
static char nick[64], unit_hdr[128], join_line[128];
static size_t nick_len, unit_len, hdr_len, join_len;
static uint64_t got, replies, errors;

static void die(const char *what)
{
    fprintf(stderr, "fanout: %s: %s\n", what, errno ? strerror(errno) : "failed");
    exit(1);
}

static long long self_cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL + ru.ru_utime.tv_usec +
           ru.ru_stime.tv_usec;
}

static int dial(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(o.port)};
    if (inet_pton(AF_INET, o.host, &a.sin_addr) != 1)
        die("bad host (IPv4 address expected)");
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
        die("connect");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0)
        die("fcntl");
    return fd;
}

static void add(conn *c, int fd, uint32_t tag)
{
    c->fd = fd;
    c->buf = malloc(BUFSZ);
    if (!c->buf)
        die("malloc");
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = tag};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
        die("epoll_ctl");
}

/* Consumes what c->buf holds; returns bytes used. */
static size_t parse_chat(conn *c)
{
    char *p = c->buf, *end = c->buf + c->have, *nl;
    while ((nl = memchr(p, '\n', (size_t)(end - p)))) {
        size_t n = (size_t)(nl - p) + 1;
        if (n >= 2 && p[0] == '*' && p[1] == ' ') { /* a notice */
            if (n == join_len && !memcmp(p, join_line, n))
                c->ready = 1;
        } else if (n == unit_len && !memcmp(p, unit_hdr, hdr_len)) {
            got++;
        } else {
            errors++;
            fprintf(stderr, "fanout: unexpected line: %.*s", (int)(n > 200 ? 200 : n), p);
        }
        p = nl + 1;
    }
    return (size_t)(p - c->buf);
}

static const char sub_reply[] = "*3\r\n$9\r\nsubscribe\r\n$5\r\nbench\r\n:1\r\n";

static size_t parse_redis(conn *c)
{
    char *p = c->buf, *end = c->buf + c->have;
    if (!c->ready) {
        size_t n = sizeof sub_reply - 1;
        if ((size_t)(end - p) < n)
            return 0;
        if (memcmp(p, sub_reply, n)) {
            fprintf(stderr, "fanout: unexpected SUBSCRIBE reply: %.*s\n", (int)n, p);
            exit(1);
        }
        c->ready = 1;
        p += n;
    }
    for (; (size_t)(end - p) >= unit_len; p += unit_len) {
        if (memcmp(p, unit_hdr, hdr_len) || p[unit_len - 2] != '\r' || p[unit_len - 1] != '\n') {
            fprintf(stderr, "fanout: unexpected frame: %.*s\n", (int)unit_len, p);
            exit(1);
        }
        got++;
    }
    return (size_t)(p - c->buf);
}

/* The publisher's replies (":N\r\n", N = receivers); chat's sender only
 * gets its welcome, which is dropped. */
static size_t parse_sender(conn *c)
{
    if (o.chat)
        return c->have;
    char *p = c->buf, *end = c->buf + c->have, *nl;
    while ((nl = memchr(p, '\n', (size_t)(end - p)))) {
        if (p[0] != ':' || atoi(p + 1) != o.members) {
            fprintf(stderr, "fanout: PUBLISH reply %.*s (want :%d)\n", (int)(nl - p), p, o.members);
            exit(1);
        }
        replies++;
        p = nl + 1;
    }
    return (size_t)(p - c->buf);
}

static void on_readable(uint32_t tag)
{
    conn *c = tag == (uint32_t)o.members ? &snd : &rc[tag];
    ssize_t r = read(c->fd, c->buf + c->have, BUFSZ - c->have); /* level-triggered: one read */
    if (r < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (r == 0) {
        errno = 0;
        die("server closed a connection");
    }
    if (r < 0)
        die("read");
    c->have += (size_t)r;
    size_t used = c == &snd ? parse_sender(c) : o.chat ? parse_chat(c) : parse_redis(c);
    c->have -= used;
    if (c->have)
        memmove(c->buf, c->buf + used, c->have);
    if (c->have == BUFSZ) {
        errno = 0;
        die("a line longer than the buffer");
    }
}

/* Serves events until cond() holds; dies after `limit` idle seconds. */
static void run_until(int (*cond)(void), double limit)
{
    struct epoll_event ev[128];
    double last = lg_now();
    while (!cond()) {
        int n = epoll_wait(ep, ev, 128, 200);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("epoll_wait");
        if (n == 0 && lg_now() - last > limit) {
            fprintf(stderr, "fanout: stalled (%llu deliveries, %llu replies so far)\n",
                    (unsigned long long)got, (unsigned long long)replies);
            exit(1);
        }
        if (n)
            last = lg_now();
        for (int i = 0; i < n; i++)
            on_readable(ev[i].data.u32);
    }
}

static int all_ready(void)
{
    for (int i = 0; i < o.members; i++)
        if (!rc[i].ready)
            return 0;
    return 1;
}

static uint64_t want_got, want_replies;
static int burst_done(void) { return got >= want_got && replies >= want_replies; }

/* --sync: says `what` on stdout, then waits for a line on stdin. */
static void wait_go(const char *what)
{
    char line[64];
    printf("%s\n", what);
    fflush(stdout);
    if (!fgets(line, sizeof line, stdin))
        exit(1);
}

static void usage(void)
{
    fprintf(stderr, "usage: fanout --chat|--redis HOST PORT [--members N] [--burst B] [--size S]\n"
                    "       [--secs S] [--warmup S] [--bursts K] [--pid SERVER_PID] [--sync]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int pos = 0, mode = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--sync")) {
            o.sync = 1;
            continue;
        }
        if (!strcmp(a, "--chat") || !strcmp(a, "--redis")) {
            o.chat = a[2] == 'c';
            mode = 1;
            continue;
        }
        if (a[0] != '-' || !a[1]) {
            if (pos == 0)
                o.host = a;
            else if (pos == 1)
                o.port = atoi(a);
            else
                usage();
            pos++;
            continue;
        }
        if (!v)
            usage();
        i++;
        if (!strcmp(a, "--members"))
            o.members = atoi(v);
        else if (!strcmp(a, "--burst"))
            o.burst = atoi(v);
        else if (!strcmp(a, "--size"))
            o.size = atoi(v);
        else if (!strcmp(a, "--secs"))
            o.secs = atof(v);
        else if (!strcmp(a, "--warmup"))
            o.warmup = atof(v);
        else if (!strcmp(a, "--bursts"))
            o.bursts = atol(v);
        else if (!strcmp(a, "--pid"))
            o.pid = atoi(v);
        else
            usage();
    }
    if (!mode || pos != 2 || o.members < 1 || o.burst < 1 || o.size < 1 || o.size > 1000)
        usage();

    char payload[1024];
    for (int i = 0; i < o.size; i++)
        payload[i] = (char)('a' + i % 26);

    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die("epoll_create1");
    rc = calloc((size_t)o.members, sizeof *rc);
    if (!rc)
        die("calloc");

    /* receivers first, then the sender, whose join line marks them all ready */
    static const char sub[] = "*2\r\n$9\r\nSUBSCRIBE\r\n$5\r\nbench\r\n";
    for (int i = 0; i < o.members; i++) {
        add(&rc[i], dial(), (uint32_t)i);
        if (!o.chat)
            lg_write_all(rc[i].fd, sub, sizeof sub - 1);
    }
    add(&snd, dial(), (uint32_t)o.members);

    char *burst = malloc((size_t)o.burst * ((size_t)o.size + 64));
    size_t one_len;
    if (o.chat) {
        struct sockaddr_in me;
        socklen_t ml = sizeof me;
        char ip[INET_ADDRSTRLEN];
        if (getsockname(snd.fd, (struct sockaddr *)&me, &ml) < 0)
            die("getsockname");
        inet_ntop(AF_INET, &me.sin_addr, ip, sizeof ip);
        nick_len = (size_t)snprintf(nick, sizeof nick, "%s:%d", ip, ntohs(me.sin_port));
        join_len = (size_t)snprintf(join_line, sizeof join_line, "* %s joined\n", nick);
        hdr_len = (size_t)snprintf(unit_hdr, sizeof unit_hdr, "%s: ", nick);
        unit_len = hdr_len + (size_t)o.size + 1;
        memcpy(burst, payload, (size_t)o.size);
        burst[o.size] = '\n';
        one_len = (size_t)o.size + 1;
    } else {
        hdr_len = (size_t)snprintf(unit_hdr, sizeof unit_hdr,
                                   "*3\r\n$7\r\nmessage\r\n$5\r\nbench\r\n$%d\r\n", o.size);
        unit_len = hdr_len + (size_t)o.size + 2;
        one_len = (size_t)sprintf(burst, "*3\r\n$7\r\nPUBLISH\r\n$5\r\nbench\r\n$%d\r\n", o.size);
        memcpy(burst + one_len, payload, (size_t)o.size);
        memcpy(burst + one_len + o.size, "\r\n", 2);
        one_len += (size_t)o.size + 2;
    }
    for (int i = 1; i < o.burst; i++)
        memcpy(burst + (size_t)i * one_len, burst, one_len);
    size_t burst_len = (size_t)o.burst * one_len;

    run_until(all_ready, 30.0);
    if (o.sync) /* set up: let a profiler zero its counters */
        wait_go("ready");

    uint64_t per_burst = (uint64_t)o.burst * (uint64_t)o.members;
    double t_start = lg_now(), t0 = 0, t1 = 0;
    int measuring = o.bursts > 0 || o.warmup <= 0;
    long long cpu0 = measuring ? lg_proc_cpu_us(o.pid) : -1, self0 = self_cpu_us();
    uint64_t got0 = 0, bursts = 0;
    if (measuring)
        t0 = t_start;
    for (;;) {
        double t = lg_now();
        if (!measuring && t - t_start >= o.warmup) {
            measuring = 1, t0 = t, got0 = got, bursts = 0;
            cpu0 = lg_proc_cpu_us(o.pid), self0 = self_cpu_us();
        }
        if (measuring && (o.bursts > 0 ? (long)bursts >= o.bursts : t - t0 >= o.secs)) {
            t1 = t;
            break;
        }
        want_got = got + per_burst;
        want_replies = o.chat ? 0 : replies + (uint64_t)o.burst;
        lg_write_all(snd.fd, burst, burst_len);
        run_until(burst_done, o.sync ? 60.0 : 5.0);
        if (got != want_got) {
            fprintf(stderr, "fanout: %llu deliveries in a burst, want %llu\n",
                    (unsigned long long)(got - want_got + per_burst), (unsigned long long)per_burst);
            errors++;
        }
        bursts++;
    }
    long long cpu1 = lg_proc_cpu_us(o.pid), self1 = self_cpu_us();
    if (o.sync) /* before closing (and the "left" notices it causes) */
        wait_go("done");
    double secs = t1 - t0;
    uint64_t d = got - got0;
    double cpu = cpu0 >= 0 && cpu1 >= 0 ? (cpu1 - cpu0) / 1e6 : -1;
    printf("{\"mode\":\"%s\",\"members\":%d,\"burst\":%d,\"size\":%d,\"bursts\":%llu,"
           "\"deliveries\":%llu,\"seconds\":%.3f,\"deliveries_per_sec\":%.0f,"
           "\"server_cpu_s\":%.3f,\"deliveries_per_server_cpu_s\":%.0f,\"loader_cpu_s\":%.3f,"
           "\"errors\":%llu}\n",
           o.chat ? "chat" : "redis", o.members, o.burst, o.size, (unsigned long long)bursts,
           (unsigned long long)d, secs, secs > 0 ? d / secs : 0, cpu, cpu > 0 ? d / cpu : 0,
           (self1 - self0) / 1e6, (unsigned long long)errors);
    return errors ? 1 : 0;
}
