/* signal.c — signals as loop events: each signal is blocked and read from a
 * signalfd, so handlers run as ordinary callbacks, never in signal context. */
#include "net/loop_int.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <unistd.h>

struct sk__signals {
    int fd;
    sigset_t set;
    sk_watch *watch;
    sk_signal_cb cbs[65];
    void *uds[65];
};

static void on_signalfd(sk_watch *w, int fd, unsigned events, void *ud)
{
    sk_loop *loop = ud;
    struct signalfd_siginfo si;
    while (read(fd, &si, sizeof si) == (ssize_t)sizeof si) {
        struct sk__signals *s = loop->signals;
        if (si.ssi_signo < 65 && s->cbs[si.ssi_signo])
            s->cbs[si.ssi_signo](loop, (int)si.ssi_signo, s->uds[si.ssi_signo]);
    }
}

int sk_loop_on_signal(sk_loop *loop, int signo, sk_signal_cb cb, void *ud)
{
    if (signo <= 0 || signo >= 65)
        return -EINVAL;
    struct sk__signals *s = loop->signals;
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s)
            return -ENOMEM;
        s->fd = -1;
        sigemptyset(&s->set);
        loop->signals = s;
    }
    sigaddset(&s->set, signo);
    if (pthread_sigmask(SIG_BLOCK, &s->set, NULL) != 0)
        return -EINVAL;
    int fd = signalfd(s->fd, &s->set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (s->fd < 0) {
        s->fd = fd;
        s->watch = sk_watch_new(loop, fd, SK_READABLE, on_signalfd, loop);
        if (!s->watch)
            return -errno;
    }
    s->cbs[signo] = cb;
    s->uds[signo] = ud;
    return 0;
}

void sk__signals_free(sk_loop *loop)
{
    struct sk__signals *s = loop->signals;
    if (!s)
        return;
    if (s->watch)
        sk_watch_free(s->watch);
    if (s->fd >= 0)
        close(s->fd);
    free(s);
    loop->signals = NULL;
}
