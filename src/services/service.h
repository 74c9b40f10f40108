/* service.h — the internal interface between the server (listeners, clients,
 * logging, shutdown) and the built-in services, which only see "peers". */
#ifndef SOCKIT_SERVICE_H
#define SOCKIT_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "sockit/addr.h"
#include "sockit/conn.h"
#include "sockit/dgram.h"
#include "sockit/server.h"

/* Someone a service talks to: a stream client (conn set) or the sender of
 * one datagram (dg and from set, valid only during on_message). */
typedef struct sk__peer {
    sk_server *srv;
    sk_conn *conn;
    sk_dgram *dg;
    const sk_sockaddr *from;
    struct sk__peer *prev, *next; /* the server's list of stream clients */
    void *svc;                    /* per-client state owned by the service */
    uint64_t last_active;         /* loop time of the last read (idle timeout) */
    int fd;
    char name[64];                /* peer address for logs */
} sk__peer;

typedef struct sk__service {
    const char *name;
    const char *summary;
    size_t default_max_queue; /* output cap per client when --max-queue is not given (0 = none) */
    void (*on_open)(sk__peer *p);                                    /* stream client joined */
    void (*on_message)(sk__peer *p, const uint8_t *msg, size_t len); /* one message */
    void (*on_close)(sk__peer *p);                                   /* stream client left */
    /* Optional: may refuse a listener (e.g. exec on a non-loopback address).
     * Returns 0, or a negative error with a one-line reason in err. */
    int (*check_listen)(sk_server *s, const sk_url *url, char *err, size_t errlen);
    /* Optional: per-server state, created with the server and freed with it. */
    int (*init)(sk_server *s);
    void (*fini)(sk_server *s);
    /* Optional: the server starts a graceful shutdown (before clients close). */
    void (*on_shutdown)(sk_server *s);
} sk__service;

/* registry.c: the service called name, or NULL. */
const sk__service *sk__service_find(const char *name);

/* server.c: helpers for services. */
int sk__peer_send(sk__peer *p, const void *msg, size_t len); /* reply one message */
void sk__peer_close(sk__peer *p);                            /* graceful close (stream) */
const sk_server_opts *sk__server_opts(const sk_server *s);
uint8_t *sk__server_scratch(sk_server *s, size_t len);       /* reusable buffer, NULL on OOM */
sk_loop *sk__server_loop(const sk_server *s);
void *sk__server_svc(const sk_server *s);                     /* per-server service state */
void sk__server_set_svc(sk_server *s, void *state);
sk__peer *sk__server_peers(const sk_server *s);               /* first stream client (->next) */
int sk__server_shutting_down(const sk_server *s);
void sk__server_log(sk_server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
