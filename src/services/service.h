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
 * one datagram (conn NULL; see sk__peer_dgram, valid only during on_message).
 * A stream client's record lives in its connection's extra bytes (one
 * allocation per client, freed with the connection after on_close). */
typedef struct sk__peer {
    sk_server *srv;
    uint64_t id;                  /* its join's number in the server's one sequence of joins
                                   * and broadcasts: unique, never reused, and a broadcast
                                   * numbered below it was made before it joined (not for it).
                                   * SK__UNOPENED until the service's on_open (after a
                                   * WebSocket handshake); 0 for a datagram sender */
    sk_conn *conn;
    struct sk__peer *prev, *next; /* its shard's list of stream clients */
    void *svc;                    /* per-client state owned by the service */
    uint32_t last_active;         /* loop time (ms) of its last read or reply (sk__peer_send),
                                   * modulo 2^32: idle spans are differences, exact up to
                                   * 49 days */
    int fd;                       /* for log lines, also once the connection closed it */
    char name[];                  /* its address for log lines, kept at its length */
} sk__peer;

#define SK__PEER_NAME_MAX 128 /* longest name kept, with its NUL */

#define SK__UNOPENED UINT64_MAX

typedef struct sk__service {
    const char *name;
    const char *summary;
    size_t default_max_queue; /* output cap per client when --max-queue is not given (0 = none) */
    int single_thread;        /* state shared by all clients without locks: run on one loop */
    int line_service;         /* a message is a line: SK_FRAME_AUTO means text on streams */
    void (*on_open)(sk__peer *p);                                    /* stream client joined */
    void (*on_message)(sk__peer *p, const uint8_t *msg, size_t len); /* one message */
    void (*on_close)(sk__peer *p);                                   /* stream client left */
    /* Optional: the stream client half-closed (sent its last bytes, then EOF)
     * after its last on_message; it must be closed (default: sk_conn_close at
     * once, fine for replies made with sk__peer_send). */
    void (*on_eof)(sk__peer *p);
    /* Optional: may refuse a listener (e.g. exec on a non-loopback address).
     * Returns 0, or a negative error with a one-line reason in err. */
    int (*check_listen)(sk_server *s, const sk_url *url, char *err, size_t errlen);
    /* Optional: per-server state, created with the server and freed with it. */
    int (*init)(sk_server *s);
    void (*fini)(sk_server *s);
    /* Optional: 1 while the client waits for work in progress (an exec command):
     * such a client is not idle, and a shutdown lets the service close it. */
    int (*busy)(const sk__peer *p);
    /* Optional: the server starts a graceful shutdown (before clients close). */
    void (*on_shutdown)(sk_server *s);
} sk__service;

/* registry.c: the service called name, or NULL. */
const sk__service *sk__service_find(const char *name);

/* server.c: helpers for services. */
int sk__peer_send(sk__peer *p, const void *msg, size_t len); /* reply one message */
void sk__peer_close(sk__peer *p);                            /* graceful close (stream) */
/* The socket a datagram sender's datagram came in on and its address, valid
 * during on_message; NULL for a stream client. */
sk_dgram *sk__peer_dgram(const sk__peer *p);
const sk_sockaddr *sk__peer_from(const sk__peer *p);
const sk_server_opts *sk__server_opts(const sk_server *s);
sk_loop *sk__server_loop(const sk_server *s);                /* the calling thread's loop */
void *sk__server_svc(const sk_server *s);                     /* per-server service state */
const sk__service *sk__server_service(const sk_server *s);    /* the service it runs */
void sk__server_set_svc(sk_server *s, void *state);
int sk__server_shutting_down(const sk_server *s);
/* Stream clients the service has opened (WebSocket handshakes done). */
size_t sk__server_members(const sk_server *s);
/* scratch.c: this thread's reusable buffer of at least len bytes, NULL on OOM.
 * Valid until the thread's next sk__server_scratch: never keep it. It may
 * hold the text given to sk__peer_send, sk__server_broadcast or
 * sk__server_tell, which copy what they keep before returning. */
uint8_t *sk__server_scratch(sk_server *s, size_t len);
void sk__server_free_scratch(void);                           /* this thread's scratch buffer */
/* cast.c: sends text as one message to every stream client but the one with id
 * except (0: none), on every thread, and half-closes them too if shutdown is
 * set (text may then be NULL). Each encoding is made once: the output framing
 * (raw adds "\n") for plain clients, a WebSocket frame for ws clients.
 * Callable from any of the server's threads. */
void sk__server_broadcast(sk_server *s, uint64_t except, const void *text, size_t len,
                          int shutdown);
/* Closes a client gracefully once every sk__server_tell made to it so far
 * has been queued (they may be posts to its thread): a member that
 * half-closed still gets the replies to its last messages. */
void sk__server_close_after_tells(sk__peer *p);
/* Sends text to one client, encoded like a broadcast and in order with the
 * broadcasts it gets (posted to its thread when there are several). */
void sk__server_tell(sk__peer *p, const void *text, size_t len);
/* webpage.c: the built-in chat/console page served at GET / on ws:// listeners. */
const char *sk__web_page(void);
/* shard.c: calls fn(p, arg) for every opened stream client of every thread
 * until fn returns non-zero, and returns that (0 if none did). The caller
 * holds sk__server_lock: fn must not take it, nor send or close. */
int sk__server_each(sk_server *s, int (*fn)(const sk__peer *p, void *arg), void *arg);
/* The lock that guards peer lists; hold it to change what sk__server_each reads. */
void sk__server_lock(sk_server *s);
void sk__server_unlock(sk_server *s);
/* log.c: one log line (to opts.log, or timestamped on stderr). */
void sk__server_log(sk_server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
