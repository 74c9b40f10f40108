/* event_echo.c — libevent peer echo server for bench/: raw events on the
 * socket, one reused read buffer, write() first, EV_WRITE only when partial. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RDBUF (64 * 1024)

/* A client; while pend holds unsent bytes, rd is off and wr is on. */
typedef struct client {
    evutil_socket_t fd;
    struct event *rd, *wr;
    char *pend;
    size_t plen, poff;
} client;

static char rdbuf[RDBUF];

static void drop(client *c)
{
    event_free(c->rd);
    event_free(c->wr);
    close(c->fd);
    free(c->pend);
    free(c);
}

/* Keeps what write() did not take and swaps the read event for a write one. */
static void hold(client *c, const char *p, size_t n)
{
    c->pend = malloc(n);
    if (!c->pend) {
        drop(c);
        return;
    }
    memcpy(c->pend, p, n);
    c->plen = n;
    c->poff = 0;
    event_del(c->rd);
    event_add(c->wr, NULL);
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    client *c = arg;
    (void)what;
    ssize_t n = read(fd, rdbuf, sizeof rdbuf);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        drop(c);
        return;
    }
    if (n < 0)
        return;
    ssize_t w = write(fd, rdbuf, (size_t)n);
    if (w < 0 && errno != EAGAIN) {
        drop(c);
        return;
    }
    if (w < 0)
        w = 0;
    if (w < n)
        hold(c, rdbuf + w, (size_t)(n - w));
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
    client *c = arg;
    (void)what;
    ssize_t w = write(fd, c->pend + c->poff, c->plen - c->poff);
    if (w < 0 && errno != EAGAIN) {
        drop(c);
        return;
    }
    c->poff += w < 0 ? 0 : (size_t)w;
    if (c->poff < c->plen)
        return;
    free(c->pend);
    c->pend = NULL;
    event_del(c->wr);
    event_add(c->rd, NULL);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
                      void *arg)
{
    struct event_base *base = arg;
    int one = 1;
    (void)l;
    (void)sa;
    (void)len;
    client *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return;
    }
    c->fd = fd;
    evutil_make_socket_nonblocking(fd);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->rd = event_new(base, fd, EV_READ | EV_PERSIST, on_read, c);
    c->wr = event_new(base, fd, EV_WRITE | EV_PERSIST, on_write, c);
    if (!c->rd || !c->wr || event_add(c->rd, NULL) < 0)
        drop(c);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: event_echo HOST PORT\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    struct event_base *base = event_base_new();
    if (!base || inet_pton(AF_INET, argv[1], &a.sin_addr) != 1)
        return 1;
    struct evconnlistener *l = evconnlistener_new_bind(
        base, on_accept, base, LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
        1024, (struct sockaddr *)&a, sizeof a);
    if (!l) {
        perror("event_echo: listen");
        return 1;
    }
    event_base_dispatch(base);
    return 0;
}
