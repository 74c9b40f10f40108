/* connector.c — non-blocking connect(): the result (connected fd or the
 * error, e.g. -ECONNREFUSED) is always reported from the loop, never inline;
 * a connect in flight can be cancelled. */
#include "net/loop_int.h"
#include "sockit/listener.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct sk_connecting {
    sk_watch *w;
    int fd;
    sk_connect_cb cb;
    void *ud;
} connect_req;

static void on_writable(sk_watch *w, int fd, unsigned ev, void *ud)
{
    connect_req *r = ud;
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
        soerr = errno;
    sk_watch_free(w);
    if (soerr) {
        close(fd);
        r->cb(-1, -soerr, r->ud);
    } else {
        r->cb(fd, 0, r->ud);
    }
    free(r);
}

/* Binds fd to local; IP_BIND_ADDRESS_NO_PORT defers the port choice to
 * connect(), where the kernel can reuse a port for different destinations. */
static int bind_local(int fd, const sk_sockaddr *local)
{
    int fam = local->ss.ss_family;
    if (fam == AF_INET || fam == AF_INET6) {
        int one = 1;
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one); /* best effort */
    }
    return bind(fd, (const struct sockaddr *)&local->ss, local->len) < 0 ? -errno : 0;
}

static int start(sk_loop *loop, const sk_sockaddr *addr, const sk_sockaddr *local,
                 const sk_sockopts *opts, sk_connect_cb cb, void *ud, connect_req **out)
{
    int fd = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (opts)
        sk_sockopts_apply(fd, opts, 0);
    int br = local ? bind_local(fd, local) : 0;
    if (br < 0) {
        close(fd);
        return br;
    }
    int rc = connect(fd, (const struct sockaddr *)&addr->ss, addr->len);
    int e = rc < 0 ? errno : 0;
    connect_req *r = (rc == 0 || e == EINPROGRESS) ? malloc(sizeof *r) : NULL;
    if (!r) { /* immediate failure, e.g. a unix path that does not exist */
        close(fd);
        return e && e != EINPROGRESS ? -e : -ENOMEM;
    }
    *r = (connect_req){.fd = fd, .cb = cb, .ud = ud};
    r->w = sk_watch_new(loop, fd, SK_WRITABLE, on_writable, r);
    if (!r->w) {
        int we = errno;
        close(fd);
        free(r);
        return -we;
    }
    if (out)
        *out = r;
    return 0;
}

int sk_connect_from(sk_loop *loop, const sk_sockaddr *addr, const sk_sockaddr *local,
                    const sk_sockopts *opts, sk_connect_cb cb, void *ud)
{
    return start(loop, addr, local, opts, cb, ud, NULL);
}

int sk_connect_start(sk_loop *loop, const sk_sockaddr *addr, const sk_sockopts *opts,
                     sk_connect_cb cb, void *ud, sk_connecting **out)
{
    *out = NULL;
    return start(loop, addr, NULL, opts, cb, ud, out);
}

void sk_connect_cancel(sk_connecting *r)
{
    if (!r)
        return;
    sk_watch_free(r->w); /* its callback cannot fire any more */
    close(r->fd);
    free(r);
}

int sk_connect(sk_loop *loop, const sk_sockaddr *addr, const sk_sockopts *opts, sk_connect_cb cb,
               void *ud)
{
    return sk_connect_from(loop, addr, NULL, opts, cb, ud);
}
