/* listener.h — stream listeners (TCP, UNIX) and non-blocking connectors that
 * hand connected sockets to the caller, usually for sk_conn_new(). */
#ifndef SOCKIT_LISTENER_H
#define SOCKIT_LISTENER_H

#include "sockit/addr.h"
#include "sockit/loop.h"
#include "sockit/sockopt.h"

#include "sockit/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sk_listener sk_listener;

/* A new connection: fd is connected and non-blocking and now owned by the
 * callee. peer is valid only during the call. */
typedef void (*sk_accept_cb)(sk_listener *l, int fd, const sk_sockaddr *peer, void *ud);

/* Something went wrong while accepting but the listener carries on (e.g.
 * EMFILE: the excess connection was accepted and closed to shed it). err is a
 * negated errno. Optional. */
typedef void (*sk_accept_err_cb)(sk_listener *l, int err, void *ud);

/* Binds and listens on a stream URL (tcp, ws, unix). A stale unix socket file
 * nobody listens on is replaced; a live one is an error (-EADDRINUSE).
 * Returns 0 and sets *out, or a negated errno / SK_EURL / SK_ERESOLVE with a
 * one-line reason in err. The caller frees *out with sk_listener_free. */
SK_EXTERN int sk_listen(sk_loop *loop, const sk_url *url, const sk_sockopts *opts, sk_accept_cb cb,
                        sk_accept_err_cb err_cb, void *ud, sk_listener **out, char *err,
                        size_t errlen);

/* The bound address (useful with port 0) formatted for humans, owned by l. */
SK_EXTERN const char *sk_listener_name(const sk_listener *l);

/* The listening fd (e.g. for getsockname). */
SK_EXTERN int sk_listener_fd(const sk_listener *l);

/* Stops or resumes accepting (new clients then wait in the backlog). */
SK_EXTERN void sk_listener_pause(sk_listener *l);
SK_EXTERN void sk_listener_resume(sk_listener *l);

/* Closes the listening socket (and unlinks a unix socket path it created);
 * safe from any callback. */
SK_EXTERN void sk_listener_free(sk_listener *l);

/* Connected (status 0, fd >= 0 owned by the callee) or failed (status is a
 * negated errno such as -ECONNREFUSED, fd -1). */
typedef void (*sk_connect_cb)(int fd, int status, void *ud);

/* Starts a non-blocking connect to addr (stream socket) with opts applied.
 * Returns 0 (cb then fires later from the loop, exactly once), or a negated
 * errno when the connect failed at once, e.g. -ENOENT or -ECONNREFUSED for a
 * unix path (cb never fires). */
SK_EXTERN int sk_connect(sk_loop *loop, const sk_sockaddr *addr, const sk_sockopts *opts,
                         sk_connect_cb cb, void *ud);

/* Like sk_connect, but first binds the socket to local (e.g. 127.0.0.2 with
 * port 0, to spread many connections over several source addresses). For
 * IPv4/IPv6 it sets IP_BIND_ADDRESS_NO_PORT first, so the kernel picks the
 * ephemeral port at connect time and each source address gets its own port
 * range. local NULL behaves exactly like sk_connect. Returns 0 (cb then fires
 * later from the loop, exactly once), or a negated errno when the socket,
 * the bind (e.g. -EADDRNOTAVAIL) or the connect failed at once (cb never
 * fires). */
SK_EXTERN int sk_connect_from(sk_loop *loop, const sk_sockaddr *addr, const sk_sockaddr *local,
                              const sk_sockopts *opts, sk_connect_cb cb, void *ud);

/* A connect in flight, for sk_connect_cancel. */
typedef struct sk_connecting sk_connecting;

/* Like sk_connect, and sets *out to a handle that sk_connect_cancel can
 * stop while cb has not fired yet (the handle is freed when cb fires or on
 * cancel). Returns 0, or a negated errno when the connect failed at once
 * (cb never fires, *out is NULL). */
SK_EXTERN int sk_connect_start(sk_loop *loop, const sk_sockaddr *addr, const sk_sockopts *opts,
                               sk_connect_cb cb, void *ud, sk_connecting **out);

/* Stops a connect whose callback has not fired: its socket is closed and
 * the callback never fires. Safe from any callback (not from cb itself,
 * after which the handle is gone). NULL is ignored. */
SK_EXTERN void sk_connect_cancel(sk_connecting *c);

#ifdef __cplusplus
}
#endif
#endif
