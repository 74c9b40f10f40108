/* sockopt.h — socket options applied to listeners and connectors:
 * reuseaddr, reuseport, buffer sizes, nodelay, keepalive, backlog. */
#ifndef SOCKIT_SOCKOPT_H
#define SOCKIT_SOCKOPT_H

#include "sockit/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sk_sockopts {
    int reuseaddr;      /* SO_REUSEADDR on listeners (default 1) */
    int reuseport;      /* SO_REUSEPORT (default 0) */
    int nodelay;        /* TCP_NODELAY (default 0) */
    int sndbuf;         /* SO_SNDBUF bytes; 0 = kernel default */
    int rcvbuf;         /* SO_RCVBUF bytes; 0 = kernel default */
    int keepalive_secs; /* SO_KEEPALIVE with this idle time; 0 = off */
    int backlog;        /* listen() backlog (default 511) */
} sk_sockopts;

/* Fills o with the defaults listed above. */
SK_EXTERN void sk_sockopts_init(sk_sockopts *o);

/* Applies the options that fit the socket (TCP-only options are skipped for
 * unix and datagram sockets). listener = 1 adds the bind-time options.
 * Returns 0 or the negated errno of the first setsockopt that failed. */
SK_EXTERN int sk_sockopts_apply(int fd, const sk_sockopts *o, int listener);

#ifdef __cplusplus
}
#endif
#endif
