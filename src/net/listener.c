/* listener.c — stream listeners: bind/listen from a URL, accept in batches,
 * and survive running out of descriptors (EMFILE) by shedding connections. */
#include "net/loop_int.h"
#include "net/urlsock.h"
#include "sockit/listener.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SK_ACCEPT_BATCH 64
#define SK_EMFILE_RETRY_MS 100

struct sk_listener {
    sk_loop *loop;
    int fd;
    int spare_fd;         /* reserved descriptor released to shed on EMFILE */
    sk_watch *w;
    sk_timer *retry;      /* re-arms accepting after a descriptor shortage */
    sk_accept_cb cb;
    sk_accept_err_cb err_cb;
    void *ud;
    int paused;
    int closed;           /* freed from a callback: released on the next iteration */
    sk__post release;     /* that release (cannot fail for want of memory) */
    char name[300];
    char unlink_path[SK_URL_PATH_MAX];
};

static int open_spare(void) { return open("/dev/null", O_RDONLY | O_CLOEXEC); }

/* Out of descriptors: free the spare, accept and close one pending client
 * so it is not left hanging, then take the spare back. */
static int shed_one(sk_listener *l)
{
    if (l->spare_fd < 0)
        return -1;
    close(l->spare_fd);
    int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0)
        close(fd);
    l->spare_fd = open_spare();
    return fd >= 0 ? 0 : -1;
}

static void on_retry(sk_timer *t, void *ud)
{
    sk_listener *l = ud;
    if (l->spare_fd < 0)
        l->spare_fd = open_spare();
    if (!l->paused)
        sk_watch_set(l->w, SK_READABLE);
}

static void on_accept_error(sk_listener *l, int e)
{
    if (l->err_cb)
        l->err_cb(l, -e, l->ud);
    if (l->closed)
        return;
    /* Cannot even shed: stop polling for a moment. Unless the timer that
     * resumes it cannot start: better to keep polling than to never accept again. */
    if (shed_one(l) < 0 && sk_timer_start(l->retry, SK_EMFILE_RETRY_MS, 0) == 0)
        sk_watch_set(l->w, 0);
}

static void on_readable(sk_watch *w, int lfd, unsigned ev, void *ud)
{
    sk_listener *l = ud;
    for (int i = 0; i < SK_ACCEPT_BATCH && !l->paused && !l->closed; i++) {
        sk_sockaddr peer = {.len = sizeof peer.ss};
        int fd = accept4(lfd, (struct sockaddr *)&peer.ss, &peer.len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            l->cb(l, fd, &peer, l->ud);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
            continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
            on_accept_error(l, errno);
        return; /* EAGAIN: drained */
    }
}

static int bind_listen(int fd, const sk_sockaddr *a, const sk_url *url, int backlog)
{
    int r = sk__bind(fd, a, url, SOCK_STREAM);
    if (r < 0)
        return r;
    return listen(fd, backlog > 0 ? backlog : 511) < 0 ? -errno : 0;
}

static int open_listener(const sk_url *url, const sk_sockopts *o, const sk_sockaddr *a)
{
    int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (a->ss.ss_family == AF_INET6) {
        int off = 0; /* "*" on IPv6 also accepts IPv4 clients */
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
    }
    int r = a->ss.ss_family == AF_UNIX ? 0 : sk_sockopts_apply(fd, o, 1);
    if (a->ss.ss_family == AF_UNIX && (o->sndbuf || o->rcvbuf)) {
        sk_sockopts uo = *o;
        uo.reuseaddr = uo.reuseport = 0;
        r = sk_sockopts_apply(fd, &uo, 1);
    }
    if (r == 0)
        r = bind_listen(fd, a, url, o->backlog);
    if (r < 0) {
        close(fd);
        return r;
    }
    return fd;
}

static sk_listener *new_listener(sk_loop *loop, int fd, const sk_url *url)
{
    sk_listener *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->loop = loop;
    l->fd = fd;
    l->spare_fd = open_spare();
    sk_sockaddr a = {.len = sizeof a.ss};
    getsockname(fd, (struct sockaddr *)&a.ss, &a.len);
    if (url->scheme == SK_SCHEME_UNIX) {
        snprintf(l->name, sizeof l->name, "unix://%s", url->path);
        if (url->path[0] == '/')
            snprintf(l->unlink_path, sizeof l->unlink_path, "%s", url->path);
    } else {
        char addr[136];
        sk_sockaddr_format((struct sockaddr *)&a.ss, a.len, addr, sizeof addr);
        static const char *const names[] = {[SK_SCHEME_TCP] = "tcp", [SK_SCHEME_WS] = "ws",
                                            [SK_SCHEME_TLS] = "tls", [SK_SCHEME_WSS] = "wss"};
        snprintf(l->name, sizeof l->name, "%s://%s%s", names[url->scheme] ? names[url->scheme] : "tcp",
                 addr, sk_url_is_ws(url) ? url->path : "");
    }
    return l;
}

int sk_listen(sk_loop *loop, const sk_url *url, const sk_sockopts *opts, sk_accept_cb cb,
              sk_accept_err_cb err_cb, void *ud, sk_listener **out, char *err, size_t errlen)
{
    sk_sockopts defaults;
    if (!opts) {
        sk_sockopts_init(&defaults);
        opts = &defaults;
    }
    if (sk_url_is_dgram(url))
        return sk__url_error(err, errlen, "listen on", url, -EPROTOTYPE);
    sk_sockaddr addrs[8];
    int n = sk_url_resolve(url, 1, addrs, 8, err, errlen);
    if (n < 0)
        return n;
    int fd = -EADDRNOTAVAIL;
    for (int i = 0; i < n && fd < 0; i++)
        fd = open_listener(url, opts, &addrs[i]);
    if (fd < 0)
        return sk__url_error(err, errlen, "listen on", url, fd);
    sk_listener *l = new_listener(loop, fd, url);
    if (l) {
        l->cb = cb;
        l->err_cb = err_cb;
        l->ud = ud;
        l->retry = sk_timer_new(loop, on_retry, l);
        l->w = sk_watch_new(loop, fd, SK_READABLE, on_readable, l);
    }
    if (!l || !l->retry || !l->w) {
        int e = -ENOMEM;
        if (l)
            sk_listener_free(l);
        else
            close(fd);
        return sk__url_error(err, errlen, "listen on", url, e);
    }
    *out = l;
    return 0;
}

const char *sk_listener_name(const sk_listener *l) { return l->name; }
int sk_listener_fd(const sk_listener *l) { return l->fd; }

void sk_listener_pause(sk_listener *l)
{
    l->paused = 1;
    sk_watch_set(l->w, 0);
}

void sk_listener_resume(sk_listener *l)
{
    l->paused = 0;
    sk_watch_set(l->w, SK_READABLE);
}

void sk_listener_free(sk_listener *l)
{
    if (!l || l->closed)
        return;
    l->closed = 1;
    sk_watch_free(l->w);
    sk_timer_free(l->retry);
    close(l->fd);
    if (l->spare_fd >= 0)
        close(l->spare_fd);
    if (l->unlink_path[0])
        unlink(l->unlink_path);
    /* on_readable may be on the stack: release the memory next iteration. */
    l->release = (sk__post){.fn = free, .arg = l, .embedded = 1};
    sk__loop_post_node(l->loop, &l->release);
}
