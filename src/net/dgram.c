/* dgram.c — UDP and UNIX datagram sockets on the loop: a bounded batch of
 * recvfrom per readiness event, sendto straight through (never queued). */
#include "net/loop_int.h"
#include "net/urlsock.h"
#include "sockit/dgram.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SK_DGRAM_BATCH 64

struct sk_dgram {
    sk_loop *loop;
    int fd;
    sk_watch *w;
    sk_dgram_cb cb;
    void *ud;
    int closing;
    char name[300];
    char unlink_path[SK_URL_PATH_MAX];
};

static void on_readable(sk_watch *w, int fd, unsigned ev, void *ud)
{
    sk_dgram *d = ud;
    for (int i = 0; i < SK_DGRAM_BATCH && !d->closing; i++) {
        sk_sockaddr from = {.len = sizeof from.ss};
        ssize_t n = recvfrom(fd, d->loop->rdbuf, SK_RDBUF_SIZE, MSG_DONTWAIT,
                             (struct sockaddr *)&from.ss, &from.len);
        if (n >= 0) {
            d->cb(d, 0, d->loop->rdbuf, (size_t)n, &from, d->ud);
            continue;
        }
        if (errno == EAGAIN || errno == EINTR)
            return;
        d->cb(d, -errno, NULL, 0, NULL, d->ud); /* e.g. ICMP unreachable */
    }
}

static int make(sk_loop *loop, const sk_url *url, const sk_sockopts *opts, int server,
                sk_dgram_cb cb, void *ud, sk_dgram **out, char *err, size_t errlen)
{
    if (!sk_url_is_dgram(url))
        return sk__url_error(err, errlen, "open datagram socket on", url, -EPROTOTYPE);
    sk_sockaddr a[8];
    int n = sk_url_resolve(url, server, a, 8, err, errlen);
    if (n < 0)
        return n;
    int fd = socket(a[0].ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return sk__url_error(err, errlen, "open", url, -errno);
    int r = 0;
    if (opts) {
        sk_sockopts o = *opts;
        o.reuseaddr = server && o.reuseaddr && a[0].ss.ss_family != AF_UNIX;
        o.reuseport = server && o.reuseport;
        r = sk_sockopts_apply(fd, &o, server);
    }
    if (!r && a[0].ss.ss_family == AF_INET6 && server) {
        int off = 0;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
    }
    if (!r && server)
        r = sk__bind(fd, &a[0], url, SOCK_DGRAM);
    if (!r && !server && a[0].ss.ss_family == AF_UNIX) {
        sa_family_t fam = AF_UNIX; /* autobind: an abstract name the server can reply to */
        r = bind(fd, (struct sockaddr *)&fam, sizeof fam) < 0 ? -errno : 0;
    }
    if (!r && !server)
        r = connect(fd, (struct sockaddr *)&a[0].ss, a[0].len) < 0 ? -errno : 0;
    sk_dgram *d = r ? NULL : calloc(1, sizeof *d);
    if (d) {
        *d = (sk_dgram){.loop = loop, .fd = fd, .cb = cb, .ud = ud};
        sk_url_format(url, d->name, sizeof d->name);
        if (server && url->scheme == SK_SCHEME_UNIXGRAM && url->path[0] == '/')
            snprintf(d->unlink_path, sizeof d->unlink_path, "%s", url->path);
        d->w = sk_watch_new(loop, fd, SK_READABLE, on_readable, d);
        if (!d->w) {
            free(d);
            d = NULL;
            r = -ENOMEM;
        }
    }
    if (!d) {
        close(fd);
        return sk__url_error(err, errlen, server ? "bind" : "connect to", url, r ? r : -ENOMEM);
    }
    *out = d;
    return 0;
}

int sk_dgram_bind(sk_loop *loop, const sk_url *url, const sk_sockopts *opts, sk_dgram_cb cb,
                  void *ud, sk_dgram **out, char *err, size_t errlen)
{
    return make(loop, url, opts, 1, cb, ud, out, err, errlen);
}

int sk_dgram_connect(sk_loop *loop, const sk_url *url, const sk_sockopts *opts, sk_dgram_cb cb,
                     void *ud, sk_dgram **out, char *err, size_t errlen)
{
    return make(loop, url, opts, 0, cb, ud, out, err, errlen);
}

int sk_dgram_send(sk_dgram *d, const void *msg, size_t len, const sk_sockaddr *to)
{
    ssize_t n = to ? sendto(d->fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL,
                            (const struct sockaddr *)&to->ss, to->len)
                   : send(d->fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    return n < 0 ? -errno : 0;
}

int sk_dgram_fd(const sk_dgram *d) { return d->fd; }
const char *sk_dgram_name(const sk_dgram *d) { return d->name; }

void sk_dgram_free(sk_dgram *d)
{
    if (!d)
        return;
    d->closing = 1;
    sk_watch_free(d->w);
    close(d->fd);
    if (d->unlink_path[0])
        unlink(d->unlink_path);
    /* on_readable may still be on the stack: free on the next iteration. */
    if (sk_loop_post(d->loop, free, d) < 0)
        free(d);
}
