/* urlsock.c — what listener.c and dgram.c share when they open a socket from
 * a URL: binding (replacing a stale UNIX socket file), and the error line. */
#include "net/urlsock.h"
#include "sockit/error.h"

#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* A socket file nobody is bound to refuses a connect: ECONNREFUSED. */
static int is_stale(const sk_sockaddr *a, const char *path, int type)
{
    struct stat st;
    if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
        return 0;
    int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    int r = connect(fd, (const struct sockaddr *)&a->ss, a->len);
    int e = errno;
    close(fd);
    return r < 0 && e == ECONNREFUSED;
}

int sk__bind(int fd, const sk_sockaddr *a, const sk_url *url, int type)
{
    if (bind(fd, (const struct sockaddr *)&a->ss, a->len) == 0)
        return 0;
    int e = errno;
    if (e != EADDRINUSE || a->ss.ss_family != AF_UNIX || url->path[0] != '/' ||
        !is_stale(a, url->path, type))
        return -e;
    unlink(url->path);
    return bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0 ? -errno : 0;
}

int sk__url_error(char *err, size_t errlen, const char *what, const sk_url *url, int r)
{
    if (err && errlen) {
        char u[SK_URL_HOST_MAX + SK_URL_PATH_MAX + 32];
        sk_url_format(url, u, sizeof u);
        snprintf(err, errlen, "cannot %s %s: %s", what, u, sk_strerror(r));
    }
    return r;
}
