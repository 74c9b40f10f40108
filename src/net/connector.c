/* connector.c — non-blocking connect(): the result (connected fd or the
 * error, e.g. -ECONNREFUSED) is always reported from the loop, never inline. */
#include "net/loop_int.h"
#include "sockit/listener.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct connect_req {
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

int sk_connect(sk_loop *loop, const sk_sockaddr *addr, const sk_sockopts *opts, sk_connect_cb cb,
               void *ud)
{
    int fd = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (opts)
        sk_sockopts_apply(fd, opts, 0);
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
    return 0;
}
