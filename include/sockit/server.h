/* server.h — a ready-made server: one of the built-in services (echo, upper,
 * greet, discard, ...) on any number of stream and datagram listeners. */
#ifndef SOCKIT_SERVER_H
#define SOCKIT_SERVER_H

#include <stddef.h>

#include "sockit/addr.h"
#include "sockit/codec.h"
#include "sockit/loop.h"
#include "sockit/sockopt.h"

#include "sockit/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sk_server sk_server;

/* Receives one log line (no trailing newline). */
typedef void (*sk_log_fn)(void *ud, const char *line);

typedef struct sk_server_opts {
    const char *service;  /* "echo", "upper", "greet", "discard", "chat", "exec", "stdio" */
    const char *text;     /* greet: the greeting (default "Thank you for connecting\r\n") */
    sk_frame in_frame;    /* decoding of client messages on streams (default SK_FRAME_AUTO:
                           * text for the line services chat and stdio, raw otherwise) */
    sk_frame out_frame;   /* encoding of replies (default SK_FRAME_AUTO, the same rule) */
    size_t max_frame;     /* default SK_MAX_FRAME_DEFAULT */
    const struct sk_zopts *compress; /* non-NULL: compressed framing on stream clients (see
                           * sk_conn_opts.compress; broadcasts are compressed once with it);
                           * not copied: it must outlive the server */
    sk_sockopts sock;     /* listener socket options */
    int verbose;          /* 1: log accept/close; 2: also every read size */
    unsigned drain_ms;    /* shutdown: time allowed to flush replies (default 5000) */
    int threads;          /* event-loop threads serving stream clients (default 1; the
                           * caller's loop is one of them; stdio runs on one) */
    sk_io io;             /* backend of the loops the server starts for its other
                           * threads (the caller's loop keeps its own) */
    size_t max_conns;     /* stream clients beyond this are accepted and closed (0 = no limit) */
    unsigned idle_ms;     /* close a stream client silent this long (0 = never) */
    unsigned frame_timeout_ms; /* close a stream client whose message has begun but is not
                                * complete this long after (sk_conn_partial_ms; default
                                * 60000, 0 = never, at most 3600000) */
    unsigned handshake_ms;     /* ws:// clients: close one whose WebSocket handshake is not
                                * done by then (default 10000; TLS has its own, in tls) */
    size_t max_queue;     /* output bytes a client may have pending before it is dropped
                           * (chat laggards; 0 = default 8 MiB for chat, none otherwise) */
    /* ws:// listeners */
    const char *const *ws_protocols; /* subprotocols spoken, NULL-terminated (NULL = none) */
    const char *const *ws_origins;   /* allowed Origin values, NULL-terminated (NULL = any) */
    unsigned ws_ping_ms;             /* keepalive ping interval (0 = off) */
    int ws_deflate;                  /* permessage-deflate: SK_WS_DEFLATE_* (conn.h; 0 = off) */
    const char *ws_page;             /* HTML for a plain GET / (NULL = the built-in page) */
    /* tls:// and wss:// listeners */
    struct sk_tls *tls;              /* their TLS configuration (a server one; not copied:
                                      * it must outlive the server) */
    /* exec service */
    int exec_shell;              /* run each command with /bin/sh -c (default: argv, no shell) */
    const char *const *exec_allow; /* NULL-terminated allow-list of program names, or NULL = any */
    unsigned exec_timeout_ms;    /* kill the command's process group after this (default 10000) */
    size_t exec_max_output;      /* cap of a reply's output bytes (default 1 MiB) */
    int allow_remote;            /* exec: permit non-loopback listeners */
    int exec_allow_redirect;     /* exec --shell with exec_allow: permit output redirections
                                  * ('>'); refused by default */
    /* chat across machines (service "chat" only; see sk_cluster_check) */
    const char *cluster;         /* "redis://HOST[:PORT]" (NULL = one process) */
    const char *cluster_room;    /* the room's name on that Redis (NULL = "chat") */
    const char *cluster_node;    /* this node's name (NULL = "hostname:pid") */
    sk_log_fn log;        /* NULL: timestamped lines on stderr */
    void *log_ud;
} sk_server_opts;

/* Fills o with the defaults above (service "echo"). */
SK_EXTERN void sk_server_opts_init(sk_server_opts *o);

/* Returns 1 if name is a built-in service, else 0. */
SK_EXTERN int sk_service_exists(const char *name);

/* Space-separated names of the built-in services (static string). */
SK_EXTERN const char *sk_service_names(void);

/* Checks chat-cluster settings before a server is made: url is
 * "redis://HOST[:PORT]" (default port 6379) whose host resolves; room and
 * node (either may be NULL) are 1-64 visible characters without '/'.
 * Returns 0, or SK_EURL / SK_ERESOLVE with a one-line reason in err. */
SK_EXTERN int sk_cluster_check(const char *url, const char *room, const char *node, char *err,
                               size_t errlen);

/* Creates a server on loop, starting opts->threads - 1 more loop threads
 * (call sk_loop_on_signal before this so they inherit the signal mask).
 * opts is copied (strings must outlive the server). Returns 0 and sets *out,
 * or SK_ESERVICE / -ENOMEM / -EAGAIN with a reason in err. */
SK_EXTERN int sk_server_new(sk_loop *loop, const sk_server_opts *opts, sk_server **out, char *err,
                            size_t errlen);

/* Adds a listener (tcp, unix, ws, tls, wss: stream; udp, unixgram: datagram;
 * a ws:// or wss:// listener also serves the built-in page at GET /; tls://
 * and wss:// need opts->tls). Returns 0, SK_ETLS without a TLS configuration,
 * or the error of sk_listen / sk_dgram_bind, with a reason in err. */
SK_EXTERN int sk_server_listen(sk_server *s, const sk_url *url, char *err, size_t errlen);

/* Number of listeners, and the bound name of listener i (owned by s). */
SK_EXTERN int sk_server_listener_count(const sk_server *s);
SK_EXTERN const char *sk_server_listener_name(const sk_server *s, int i);

/* Number of connected stream clients (all threads). */
SK_EXTERN size_t sk_server_conn_count(const sk_server *s);

/* Number of event-loop threads serving clients (the caller's included). */
SK_EXTERN int sk_server_thread_count(const sk_server *s);

/* Graceful stop: closes the listeners, lets every client's queued replies
 * flush (up to drain_ms, then drops them), and calls done(s, ud) from the loop
 * once no client is left. Idempotent. */
SK_EXTERN void sk_server_shutdown(sk_server *s, void (*done)(sk_server *s, void *ud), void *ud);

/* Frees the server: closes listeners, aborts clients at once, joins its
 * threads. Call it after sk_loop_run has returned, never from a callback. */
SK_EXTERN void sk_server_free(sk_server *s);

#ifdef __cplusplus
}
#endif
#endif
