/* sockopt.c — applies sk_sockopts to a socket, skipping the TCP-only options
 * on unix and datagram sockets. */
#include "sockit/sockopt.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

void sk_sockopts_init(sk_sockopts *o)
{
    *o = (sk_sockopts){.reuseaddr = 1, .backlog = 511};
}

static int set_int(int fd, int level, int name, int v)
{
    return setsockopt(fd, level, name, &v, sizeof v) < 0 ? -errno : 0;
}

static int is_tcp(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int type = 0;
    socklen_t tlen = sizeof type;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0)
        return 0;
    return type == SOCK_STREAM && (ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
}

int sk_sockopts_apply(int fd, const sk_sockopts *o, int listener)
{
    if (!listener && !o->sndbuf && !o->rcvbuf && !o->nodelay && o->keepalive_secs <= 0)
        return 0; /* nothing to set: spare an accepted client two syscalls */
    int r = 0, tcp = is_tcp(fd);
    if (listener && o->reuseaddr && !r)
        r = set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
    if (listener && o->reuseport && !r)
        r = set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1);
    if (o->sndbuf > 0 && !r)
        r = set_int(fd, SOL_SOCKET, SO_SNDBUF, o->sndbuf);
    if (o->rcvbuf > 0 && !r)
        r = set_int(fd, SOL_SOCKET, SO_RCVBUF, o->rcvbuf);
    if (tcp && o->nodelay && !r)
        r = set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1);
    if (tcp && o->keepalive_secs > 0 && !r) {
        r = set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
        if (!r)
            r = set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, o->keepalive_secs);
    }
    return r;
}
