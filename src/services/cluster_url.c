/* cluster_url.c — the chat cluster's settings: "redis://HOST[:PORT]" parsed
 * and resolved once, before the loop runs (the loop never waits on DNS). */
#include "services/cluster_url.h"

#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "proto/cluster_msg.h"
#include "sockit/error.h"

#define URL_PREFIX "redis://"

static int parse_port(const char *p, const char *end, int *port)
{
    long v = 0;
    if (p == end || end - p > 5)
        return -1;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
    }
    *port = (int)v;
    return v >= 1 && v <= 65535 ? 0 : -1;
}

/* HOST is a name, an IPv4 address or a bracketed IPv6 address. */
static int parse(const char *url, char *host, size_t hostlen, int *port)
{
    size_t plen = strlen(URL_PREFIX);
    if (!url || strncmp(url, URL_PREFIX, plen) != 0)
        return -1;
    const char *h = url + plen, *end = h + strlen(h), *hs = h, *he;
    if (end > h && end[-1] == '/')
        end--;
    if (*h == '[') {
        const char *close = memchr(h, ']', (size_t)(end - h));
        if (!close)
            return -1;
        hs = h + 1;
        he = close;
    } else {
        he = memchr(h, ':', (size_t)(end - h));
        he = he ? he : end;
    }
    const char *rest = he < end && *he == ']' ? he + 1 : he;
    *port = 6379;
    if (rest < end && (*rest != ':' || parse_port(rest + 1, end, port) < 0))
        return -1;
    size_t n = (size_t)(he - hs);
    if (n == 0 || n >= hostlen || memchr(hs, '/', n) || memchr(hs, '@', n))
        return -1;
    memcpy(host, hs, n);
    host[n] = 0;
    return 0;
}

int sk__cluster_resolve(const char *url, char *ip, size_t iplen, int *port, char *err,
                        size_t errlen)
{
    char host[256];
    if (parse(url, host, sizeof host, port) < 0) {
        snprintf(err, errlen, "--cluster: expected redis://HOST[:PORT], got '%.200s'",
                 url ? url : "");
        return SK_EURL;
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    int r = getaddrinfo(host, NULL, &hints, &res);
    if (r != 0 || !res) {
        snprintf(err, errlen, "--cluster: cannot resolve '%s': %s", host, gai_strerror(r));
        return SK_ERESOLVE;
    }
    r = getnameinfo(res->ai_addr, res->ai_addrlen, ip, (socklen_t)iplen, NULL, 0, NI_NUMERICHOST);
    freeaddrinfo(res);
    if (r != 0) {
        snprintf(err, errlen, "--cluster: cannot resolve '%s': %s", host, gai_strerror(r));
        return SK_ERESOLVE;
    }
    return 0;
}

static int check_name(const char *what, const char *name, char *err, size_t errlen)
{
    if (!name || sk__cmsg_valid_name(name, strlen(name)))
        return 0;
    snprintf(err, errlen, "%s: '%.100s' must be 1-%d visible characters without '/'", what, name,
             SK__CMSG_NAME_MAX);
    return SK_EURL;
}

int sk_cluster_check(const char *url, const char *room, const char *node, char *err,
                     size_t errlen)
{
    char ip[64];
    int port;
    int r = sk__cluster_resolve(url, ip, sizeof ip, &port, err, errlen);
    if (r == 0)
        r = check_name("--cluster-room", room, err, errlen);
    if (r == 0)
        r = check_name("--node", node, err, errlen);
    return r;
}
