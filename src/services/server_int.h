/* server_int.h — the server's internals shared by server.c (listeners,
 * lifecycle), shard.c (one event-loop thread and its clients), cast.c
 * (broadcasts across the shards) and log.c. Calls point one way: server.c ->
 * shard.c; cast.c -> shard.c and server.c (sk__peer_send); shard.c -> log.c
 * and scratch.c only. What a shard reports up goes through the function the
 * server hands to sk__shards_start. */
#ifndef SOCKIT_SERVER_INT_H
#define SOCKIT_SERVER_INT_H

#include "net/loop_int.h" /* sk__post */

#include <pthread.h>
#include <stdint.h>

#include "services/service.h"
#include "sockit/listener.h"

#define SK_MAX_LISTENERS 64
#define SK_MAX_THREADS 64

typedef struct endpoint {
    sk_listener *l; /* stream */
    sk_dgram *d;    /* datagram */
    char name[300]; /* stays valid until the server is freed */
    int is_ws;      /* ws:// or wss:// listener: clients speak WebSocket with `ws` */
    int is_tls;     /* tls:// or wss:// listener: clients speak TLS (the server's opts.tls) */
    sk_ws_opts ws;
    char ws_path[SK_URL_PATH_MAX];
} endpoint;

/* One event loop and the clients it serves. Shard 0 runs on the caller's
 * loop; the others on threads of their own. Only the shard's own thread
 * touches its clients; other threads reach them through sk_loop_post. */
typedef struct sk__shard {
    sk_server *srv;
    sk_loop *loop;
    pthread_t tid;
    int index;
    int has_thread;
    sk__peer *peers;
    size_t npeers;
    sk_timer *idle;       /* sweeps for clients silent longer than idle_ms */
    int draining, drained;
    void (*on_drained)(void *srv); /* the server's: no clients left after a shutdown;
                                    * called on, or posted to, the server's loop */
    sk__post drained_post, teardown_post; /* those posts: they cannot fail */
} sk__shard;

struct sk_server {
    sk_loop *loop; /* the caller's loop: listeners, datagrams, shard 0 */
    sk_server_opts o;
    const sk__service *svc;
    endpoint eps[SK_MAX_LISTENERS];
    int neps;
    sk__shard shards[SK_MAX_THREADS];
    int nshards;
    unsigned next_shard;
    size_t npeers;            /* all shards; atomic */
    size_t nopen;             /* of which opened (WebSocket handshake done); atomic */
    pthread_mutex_t lock;     /* peer lists, for readers on other threads (/who) */
    pthread_mutex_t cast_lock;/* one broadcast is posted to all shards at a time */
    uint64_t cast_seq;        /* the next number for a join or a broadcast, from 1
                               * (under cast_lock) */
    void *svc_state;
    struct sk__cluster *cluster; /* chat across machines (cluster.c), or NULL */
    sk_dgram *dgram;          /* the datagram being served (main thread, during its */
    const sk_sockaddr *dgram_from; /* on_message) and its sender: sk__peer_dgram */
    int shutting, freeing;
    int shards_left;          /* shutdown: shards still draining (main thread) */
    sk_timer *drain;
    void (*done)(sk_server *, void *);
    void *done_ud;
};

/* shard.c */
/* Starts the shards' threads and idle sweeps; on_drained(s) runs on s->loop
 * once per shard that has no clients left once a shutdown began (see below).
 * Returns 0 or a negative error (then sk__shards_stop cleans up). */
int sk__shards_start(sk_server *s, void (*on_drained)(void *srv));
void sk__shards_stop(sk_server *s);                     /* abort clients, join threads */
sk__shard *sk__shard_current(const sk_server *s);       /* the caller thread's shard or NULL */
void sk__shard_run(sk__shard *sh, void (*fn)(void *));  /* fn(sh) on the shard's thread */
void sk__shard_adopt(sk__shard *sh, int fd, const sk_sockaddr *addr, const endpoint *ep);
/* Shutdown, on the shard's thread (via sk__shard_run): begin_drain closes
 * every client gracefully (a busy one is left to its service); abort_all
 * drops them all at once. Both end with the shard's on_drained once it has
 * no clients left. */
void sk__shard_begin_drain(void *sh);
void sk__shard_abort_all(void *sh);
sk__shard *sk__shard_of(const sk__peer *p);             /* the shard running p's connection */

#endif
