/* dgram.h — datagram endpoints (UDP, UNIX datagram): one datagram is one
 * message, never split or merged; replies go to the sender's address. */
#ifndef SOCKIT_DGRAM_H
#define SOCKIT_DGRAM_H

#include <stddef.h>
#include <stdint.h>

#include "sockit/addr.h"
#include "sockit/loop.h"
#include "sockit/sockopt.h"

#include "sockit/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sk_dgram sk_dgram;

/* A datagram arrived (status 0: msg/len/from valid only during the call), or
 * the socket reported an error (status < 0, e.g. -ECONNREFUSED after an ICMP
 * port-unreachable on a connected socket; msg NULL, from NULL). */
typedef void (*sk_dgram_cb)(sk_dgram *d, int status, const uint8_t *msg, size_t len,
                            const sk_sockaddr *from, void *ud);

/* Server side: binds url (udp or unixgram; a stale unixgram path is replaced).
 * Returns 0 and sets *out, or a negated errno / SK_EURL / SK_ERESOLVE with a
 * reason in err. Free with sk_dgram_free. */
SK_EXTERN int sk_dgram_bind(sk_loop *loop, const sk_url *url, const sk_sockopts *opts,
                            sk_dgram_cb cb, void *ud, sk_dgram **out, char *err, size_t errlen);

/* Client side: a socket connected to url (unixgram clients are auto-bound to
 * an abstract address so that replies can reach them). Same returns. */
SK_EXTERN int sk_dgram_connect(sk_loop *loop, const sk_url *url, const sk_sockopts *opts,
                               sk_dgram_cb cb, void *ud, sk_dgram **out, char *err, size_t errlen);

/* Sends one datagram to `to` (NULL on a connected socket). Never blocks:
 * returns 0, -EAGAIN when the socket buffer is full (datagram dropped),
 * -EMSGSIZE when too large, or another negated errno. */
SK_EXTERN int sk_dgram_send(sk_dgram *d, const void *msg, size_t len, const sk_sockaddr *to);

/* The socket fd, and a formatted local name (owned by d). */
SK_EXTERN int sk_dgram_fd(const sk_dgram *d);
SK_EXTERN const char *sk_dgram_name(const sk_dgram *d);

/* Closes the socket (unlinking a unixgram path it bound); safe from any
 * callback, including its own. */
SK_EXTERN void sk_dgram_free(sk_dgram *d);

#ifdef __cplusplus
}
#endif
#endif
