/* epoll_echo.c — the raw-syscall ceiling echo server for bench/: one thread,
 * level-triggered epoll, one read into a reused 64 KiB buffer, write back. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define RDBUF (64 * 1024)
#define MAX_EVENTS 256

/* Bytes a client has not yet taken; while any are held we stop reading it. */
typedef struct conn {
    char *pend;
    size_t plen, poff;
} conn;

static int epfd;
static conn *conns;
static size_t nconns;
static char rdbuf[RDBUF];

static int usage(void)
{
    fprintf(stderr, "usage: epoll_echo HOST PORT\n");
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
    free(c->pend);
    memset(c, 0, sizeof *c);
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
        if (!conn_of(fd) || watch(EPOLL_CTL_ADD, fd, EPOLLIN) < 0)
            close(fd);
    }
}

/* Keeps what write() did not take and swaps reading for EPOLLOUT. */
static void hold(int fd, const char *p, size_t n)
{
    conn *c = conn_of(fd);
    c->pend = malloc(n);
    if (!c->pend) {
        drop(fd);
        return;
    }
    memcpy(c->pend, p, n);
    c->plen = n;
    c->poff = 0;
    watch(EPOLL_CTL_MOD, fd, EPOLLOUT);
}

static void on_readable(int fd)
{
    ssize_t n = read(fd, rdbuf, sizeof rdbuf);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        drop(fd);
        return;
    }
    if (n < 0)
        return;
    ssize_t w = write(fd, rdbuf, (size_t)n);
    if (w < 0 && errno != EAGAIN) {
        drop(fd);
        return;
    }
    if (w < n)
        hold(fd, rdbuf + (w < 0 ? 0 : w), (size_t)(n - (w < 0 ? 0 : w)));
}

static void on_writable(int fd)
{
    conn *c = conn_of(fd);
    ssize_t w = write(fd, c->pend + c->poff, c->plen - c->poff);
    if (w < 0 && errno != EAGAIN) {
        drop(fd);
        return;
    }
    c->poff += w < 0 ? 0 : (size_t)w;
    if (c->poff < c->plen)
        return;
    free(c->pend);
    c->pend = NULL;
    watch(EPOLL_CTL_MOD, fd, EPOLLIN);
}

static void run(int lfd)
{
    struct epoll_event evs[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(epfd, evs, MAX_EVENTS, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd)
                on_accept(lfd);
            else if (conn_of(fd)->pend) /* EPOLLOUT, or a hang-up while held */
                on_writable(fd);
            else
                on_readable(fd);
        }
    }
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return usage();
    signal(SIGPIPE, SIG_IGN);
    int lfd = listen_on(argv[1], atoi(argv[2]));
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (lfd < 0 || epfd < 0 || watch(EPOLL_CTL_ADD, lfd, EPOLLIN) < 0) {
        perror("epoll_echo: listen");
        return 1;
    }
    run(lfd);
    return 0;
}
