/* cluster_load.c — the chat-cluster loader: M members on each of K chat
 * nodes (`serve chat --frame line --cluster ...`) and one sender on node 0.
 *
 *   burst mode (default): bursts of B lines of S bytes in one write; the next
 *     burst starts when every member on every node has all B. Every delivery
 *     is counted per node; --pids gives each node's CPU time (utime + stime,
 *     /proc/PID/stat) over the measured window.
 *   --rate R: R lines per second from the sender (one write per millisecond
 *     tick), each carrying its send time; members on nodes other than 0
 *     record the cross-node latency; p50/p99/max are printed.
 *
 * Before the clock starts, every member must have seen "* SENDER joined"
 * (join notices cross nodes). --on-start CMD / --on-end CMD run a shell
 * command when the measured window opens / closes, with nothing in flight
 * (bench/cluster.py --callgrind zeroes and dumps a node's counters there).
 * Prints one JSON line. One epoll thread. */
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
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "loadgen.h"

#define BUFSZ (256 * 1024)
#define MAX_NODES 8
#define MAX_LAT (4u << 20) /* latency samples kept */

typedef struct conn {
    int fd, node, ready;
    size_t have;
    char *buf;
} conn;

static struct {
    int ports[MAX_NODES], pids[MAX_NODES], nodes, members, burst, size;
    double secs, warmup, rate;
    const char *on_start, *on_end;
} o = {.members = 100, .burst = 16, .size = 64, .secs = 5, .warmup = 0.5};

static conn *rc, snd;
static int ep, nrc;
static char join_line[128], hdr[128];
static size_t join_len, hdr_len;
static uint64_t got[MAX_NODES], total, errors, sent_lines;
static double *lat;
static size_t nlat;

static void die(const char *what)
{
    fprintf(stderr, "cluster_load: %s: %s\n", what, errno ? strerror(errno) : "failed");
    exit(1);
}

static int dial(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
        die("connect");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0)
        die("fcntl");
    return fd;
}

static void add(conn *c, int fd, int node, uint32_t tag)
{
    c->fd = fd;
    c->node = node;
    if (!(c->buf = malloc(BUFSZ)))
        die("malloc");
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = tag};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
        die("epoll_ctl");
}

static void take_line(conn *c, const char *p, size_t n)
{
    if (n >= 2 && p[0] == '*' && p[1] == ' ') {
        if (n > 10 && !memcmp(p, "* welcome ", 10) && c->ready == 0)
            c->ready = 1; /* a member on its node */
        else if (join_len && n == join_len && !memcmp(p, join_line, n))
            c->ready = 2; /* the sender's join reached it */
        return;
    }
    if (n < hdr_len || memcmp(p, hdr, hdr_len) != 0) {
        errors++;
        fprintf(stderr, "cluster_load: unexpected line: %.*s", (int)(n > 200 ? 200 : n), p);
        return;
    }
    got[c->node]++;
    total++;
    if (o.rate > 0 && c->node != 0 && nlat < MAX_LAT && p[hdr_len] == 'T')
        lat[nlat++] = lg_now() - strtod(p + hdr_len + 1, NULL);
}

static void on_readable(uint32_t tag)
{
    conn *c = tag == (uint32_t)nrc ? &snd : &rc[tag];
    ssize_t r = read(c->fd, c->buf + c->have, BUFSZ - c->have);
    if (r < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (r <= 0)
        die(r == 0 ? "server closed a connection" : "read");
    c->have += (size_t)r;
    if (c == &snd) { /* the sender only gets notices */
        c->have = 0;
        return;
    }
    char *p = c->buf, *end = c->buf + c->have, *nl;
    while ((nl = memchr(p, '\n', (size_t)(end - p)))) {
        take_line(c, p, (size_t)(nl - p) + 1);
        p = nl + 1;
    }
    c->have = (size_t)(end - p);
    memmove(c->buf, p, c->have);
}

static void poll_once(int ms)
{
    struct epoll_event ev[256];
    int n = epoll_wait(ep, ev, 256, ms);
    if (n < 0 && errno != EINTR)
        die("epoll_wait");
    for (int i = 0; i < n; i++)
        on_readable(ev[i].data.u32);
}

static int all_ready(int level)
{
    for (int i = 0; i < nrc; i++)
        if (rc[i].ready < level)
            return 0;
    return 1;
}

/* Joins on different nodes are not ordered: the sender connects only once
 * every member is in, or some would miss its join notice. */
static void wait_ready(int level, const char *what)
{
    double t0 = lg_now();
    while (!all_ready(level)) {
        poll_once(100);
        if (lg_now() - t0 > 30)
            die(what);
    }
}

static void setup(void)
{
    nrc = o.nodes * o.members;
    rc = calloc((size_t)nrc, sizeof *rc);
    lat = malloc(MAX_LAT * sizeof *lat);
    if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0 || !rc || !lat)
        die("setup");
    for (int i = 0; i < nrc; i++)
        add(&rc[i], dial(o.ports[i / o.members]), i / o.members, (uint32_t)i);
    wait_ready(1, "members were not all welcomed");
    int fd = dial(o.ports[0]);
    struct sockaddr_in me;
    socklen_t len = sizeof me;
    getsockname(fd, (struct sockaddr *)&me, &len);
    char nick[64];
    snprintf(nick, sizeof nick, "127.0.0.1:%d", ntohs(me.sin_port));
    join_len = (size_t)snprintf(join_line, sizeof join_line, "* %s joined\n", nick);
    hdr_len = (size_t)snprintf(hdr, sizeof hdr, "%s: ", nick);
    add(&snd, fd, 0, (uint32_t)nrc);
    wait_ready(2, "members did not all see the sender join");
}

/* One burst of B lines; returns when every member has them. */
static void burst(char *lines, size_t len)
{
    uint64_t want = total + (uint64_t)o.burst * (uint64_t)nrc;
    lg_write_all(snd.fd, lines, len);
    sent_lines += (uint64_t)o.burst;
    double t0 = lg_now();
    while (total < want) {
        poll_once(200);
        if (lg_now() - t0 > 10) {
            fprintf(stderr, "cluster_load: stalled at %llu of %llu\n", (unsigned long long)total,
                    (unsigned long long)want);
            exit(1);
        }
    }
}

static size_t make_burst(char **out)
{
    size_t line = (size_t)o.size + 1, len = line * (size_t)o.burst;
    char *b = malloc(len);
    if (!b)
        die("malloc");
    memset(b, 'x', len);
    for (int i = 0; i < o.burst; i++)
        b[line * (size_t)i + (size_t)o.size] = '\n';
    *out = b;
    return len;
}

/* Rate mode: every millisecond, the lines that are due, in one write. */
static void paced(double secs)
{
    double t0 = lg_now(), sent = 0;
    char buf[65536];
    while (lg_now() - t0 < secs) {
        double due = (lg_now() - t0) * o.rate;
        size_t n = 0;
        while (sent < due && n + (size_t)o.size + 64 < sizeof buf) {
            int w = snprintf(buf + n, sizeof buf - n, "T%.9f ", lg_now());
            memset(buf + n + w, 'x', (size_t)(o.size > w ? o.size - w : 0));
            n += (size_t)(o.size > w ? o.size : w);
            buf[n++] = '\n';
            sent++;
        }
        if (n)
            lg_write_all(snd.fd, buf, n);
        poll_once(1);
    }
    sent_lines = (uint64_t)sent;
    uint64_t want = (uint64_t)sent * (uint64_t)nrc;
    double t1 = lg_now();
    while (total < want && lg_now() - t1 < 5)
        poll_once(50);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(double secs, long long *cpu0, long long *cpu1)
{
    printf("{\"mode\":\"%s\",\"secs\":%.3f,\"nodes\":%d,\"members\":%d,\"errors\":%llu",
           o.rate > 0 ? "rate" : "burst", secs, o.nodes, o.members, (unsigned long long)errors);
    uint64_t sent = sent_lines;
    printf(",\"sent\":%llu,\"expected\":%llu,\"deliveries\":[", (unsigned long long)sent,
           (unsigned long long)(sent * (uint64_t)nrc));
    for (int i = 0; i < o.nodes; i++)
        printf("%s%llu", i ? "," : "", (unsigned long long)got[i]);
    printf("],\"cpu_us\":[");
    for (int i = 0; i < o.nodes; i++)
        printf("%s%lld", i ? "," : "", cpu1[i] - cpu0[i]);
    printf("]");
    if (nlat) {
        qsort(lat, nlat, sizeof *lat, cmp);
        printf(",\"rate\":%.0f,\"lat_samples\":%zu,\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f",
               o.rate, nlat, lat[nlat / 2] * 1e6, lat[nlat * 99 / 100] * 1e6, lat[nlat - 1] * 1e6);
    }
    printf("}\n");
}

static int parse_list(const char *v, int *out)
{
    int n = 0;
    for (char *end; v && *v && n < MAX_NODES; v = *end ? end + 1 : end)
        out[n++] = (int)strtol(v, &end, 10);
    return n;
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (!strcmp(a, "--ports"))
            o.nodes = parse_list(v, o.ports);
        else if (!strcmp(a, "--pids"))
            parse_list(v, o.pids);
        else if (!strcmp(a, "--members"))
            o.members = atoi(v);
        else if (!strcmp(a, "--burst"))
            o.burst = atoi(v);
        else if (!strcmp(a, "--size"))
            o.size = atoi(v);
        else if (!strcmp(a, "--secs"))
            o.secs = atof(v);
        else if (!strcmp(a, "--warmup"))
            o.warmup = atof(v);
        else if (!strcmp(a, "--rate"))
            o.rate = atof(v);
        else if (!strcmp(a, "--on-start"))
            o.on_start = v;
        else if (!strcmp(a, "--on-end"))
            o.on_end = v;
        else
            break;
    }
    if (o.nodes < 1 || o.members < 1 || o.size < 32) {
        fprintf(stderr, "usage: cluster_load --ports P0,P1,.. [--pids ..] [--members M] "
                        "[--burst B] [--size S>=32] [--secs S] [--warmup S] [--rate R]\n");
        return 2;
    }
    setup();
    char *lines;
    size_t len = make_burst(&lines);
    long long cpu0[MAX_NODES], cpu1[MAX_NODES];
    if (o.rate > 0) {
        paced(o.warmup);
        nlat = 0;
    } else {
        for (double t0 = lg_now(); lg_now() - t0 < o.warmup;)
            burst(lines, len);
    }
    if (o.on_start && system(o.on_start) != 0)
        die(o.on_start);
    memset(got, 0, sizeof got);
    total = sent_lines = 0;
    for (int i = 0; i < o.nodes; i++)
        cpu0[i] = lg_proc_cpu_us(o.pids[i]);
    double t0 = lg_now();
    if (o.rate > 0)
        paced(o.secs);
    else
        while (lg_now() - t0 < o.secs)
            burst(lines, len);
    double secs = lg_now() - t0;
    for (int i = 0; i < o.nodes; i++)
        cpu1[i] = lg_proc_cpu_us(o.pids[i]);
    if (o.on_end && system(o.on_end) != 0)
        die(o.on_end);
    report(secs, cpu0, cpu1);
    return errors ? 1 : 0;
}
