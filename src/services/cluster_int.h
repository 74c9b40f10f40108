/* cluster_int.h — the chat cluster's state, shared by cluster.c (the Redis
 * links, publishing, receiving), cluster_hooks.c (chat's events brought to
 * the main loop), cluster_cmd.c (small commands), cluster_roster.c (who is on
 * the other nodes) and cluster_sweep.c (presence in Redis, dead nodes). */
#ifndef SOCKIT_CLUSTER_INT_H
#define SOCKIT_CLUSTER_INT_H

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <pthread.h>

#include "proto/cluster_msg.h"
#include "services/cluster.h"

#define CL_BEAT_MS 2000        /* heartbeat and presence sweep period */
#define CL_TTL_S 6             /* a node whose heartbeat key expired is dead */
#define CL_STALL_MS 5000       /* a heartbeat unanswered this long: Redis is gone */
#define CL_CONNECT_MS 3000     /* connect + subscribe must finish within this */
#define CL_BACKOFF_MIN_MS 100
#define CL_BACKOFF_MAX_MS 2000
#define CL_MAX_PENDING (4u << 20) /* bytes waiting to be written to Redis */

typedef struct cl_member {
    uint64_t id;
    char nick[SK__CMSG_NAME_MAX + 1];
} cl_member;

typedef struct cl_members {
    cl_member *v;
    size_t n, cap;
} cl_members;

typedef struct cl_node { /* another node, as last heard of */
    char name[SK__CMSG_NAME_MAX + 1];
    uint64_t last_seq;
    cl_members m;
} cl_node;

typedef struct cl_roster {
    pthread_mutex_t lock; /* /who reads it from any thread */
    cl_node *v;
    size_t n, cap;
} cl_roster;

typedef struct sk__cluster {
    sk_server *srv;
    sk_loop *loop; /* the server's main loop: everything below lives on it */
    int reply_cut; /* a link was cut for a reply over REPLY_MAX (redis_loop.c sets it) */
    char ip[64];
    int port;
    char node[SK__CMSG_NAME_MAX + 1];
    size_t node_len;
    char chan[96], members_key[112], alive_key[192];
    redisAsyncContext *pub, *sub; /* NULL when not connected */
    int pub_ok, sub_ok, up, was_up, stopping, connecting;
    int refs;            /* the server's, plus one per event posted to the loop */
    int told_big;        /* logged that long messages stay here (atomic) */
    sk_timer *beat, *retry;
    unsigned backoff_ms;
    uint64_t beat_sent;  /* loop time of the unanswered heartbeat, 0: none */
    uint64_t up_since, down_since;
    uint64_t seq;        /* messages published */
    uint64_t dropped_slow, dropped_down, malformed;
    uint64_t last_drop_log, last_bad_log; /* rate-limited log lines */
    char nonce[48];      /* this process's heartbeat value: another one there is a twin */
    int twin_beats;      /* heartbeats in a row that found another's value */
    cl_members local;    /* members here (main loop only) */
    cl_roster roster;
    struct cl_sweep *sweep; /* presence sweep in progress, or NULL */
} sk__cluster;

/* cluster.c */
/* Drops a reference; the last one frees cl (its links and timers are gone). */
void sk__cluster_unref(sk__cluster *cl);
/* Publishes one message of kind (seq filled in). Returns 0, or -1 when it
 * was dropped (Redis away or too far behind: counted and logged). */
int sk__cluster_send(sk__cluster *cl, int kind, uint64_t id, const char *nick, const void *text,
                     size_t len);
/* cluster_cmd.c */
/* Sends a command with argv (binary-safe) on the command link, if up. */
void sk__cluster_cmd(sk__cluster *cl, int argc, const char **argv, const size_t *lens,
                     redisCallbackFn *fn);
/* HSET (nick set) or HDEL (nick NULL) of local member id's presence field. */
void sk__cluster_presence(sk__cluster *cl, const char *cmd, uint64_t id, const char *nick);
/* Shows "* NICK left" for every nick in m to the local members. */
void sk__cluster_announce_left(sk__cluster *cl, const cl_members *m);

/* cluster_roster.c: members lists and the roster of other nodes. */
cl_member *sk__members_find(cl_members *m, uint64_t id);
/* 1 when nick (len bytes, from another node or Redis) can be shown: 1 to
 * SK__CMSG_NAME_MAX bytes, no spaces or control characters. */
int sk__nick_ok(const char *nick, size_t len);
int sk__members_put(cl_members *m, uint64_t id, const char *nick, size_t nick_len);
void sk__members_del(cl_members *m, uint64_t id);
/* The node called name (len bytes) or, with create, a new one; NULL when
 * absent or on out-of-memory. Under roster.lock. */
cl_node *sk__roster_node(cl_roster *r, const char *name, size_t len, int create);
/* Takes node out of the roster, moving its members into *gone (which the
 * caller frees). Under roster.lock. */
void sk__roster_drop(cl_roster *r, cl_node *node, cl_members *gone);
/* Applies one message from another node (decoded); logs a gap in its
 * numbering. Returns members that left (QUIT) in *gone. */
void sk__roster_apply(sk__cluster *cl, const sk__cmsg *m, cl_members *gone);
void sk__roster_free(cl_roster *r);

/* cluster_scan.c */
#define CL_CURSOR_MAX 20 /* digits of an unsigned 64-bit HSCAN cursor */
/* Checks r is an HSCAN reply (a cursor of 1 to CL_CURSOR_MAX digits, then
 * an array of field, value pairs); copies the cursor (NUL-terminated) and
 * points *pairs at the 2 * *npairs elements (of r: valid while r is).
 * Returns 0, or -1 for anything else (nothing written). */
int sk__scan_page(const redisReply *r, char cursor[CL_CURSOR_MAX + 1], redisReply *const **pairs,
                  size_t *npairs);

/* cluster_sweep.c */
/* Every CL_BEAT_MS while up: the heartbeat, then the presence sweep
 * (re-register our members, refresh the roster, bury dead nodes). */
void sk__sweep_start(sk__cluster *cl);
/* Forgets a sweep in progress (the link went down). */
void sk__sweep_cancel(sk__cluster *cl);

#endif
