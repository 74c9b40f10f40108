/* relay.h — the parts of `sockit relay FROM TO` (relay.c: set-up, signals and
 * drain; relay_pair.c: one stream client and its connection to TO;
 * relay_udp.c: datagram sessions). CLI-internal. */
#ifndef SOCKIT_CLI_RELAY_H
#define SOCKIT_CLI_RELAY_H

#include "cli/options.h"

typedef struct relay_node relay_node;

/* What the relay's list knows of a relayed connection (the first member
 * of relay_pair.c's and relay_splice.c's records): end() closes it, now 0
 * after delivering what is in flight, now 1 at once. */
struct relay_node {
    relay_node *prev, *next;
    int listed;
    void (*end)(relay_node *n, int now);
};

typedef struct relay {
    cli_opts *o;
    sk_loop *loop;
    sk_url from, to;
    sk_sockaddr to_addr;     /* TO, resolved once */
    char to_name[400];       /* TO as typed, for log lines */
    sk_listener *l;          /* stream FROM */
    sk_dgram *dg;            /* datagram FROM */
    sk_tls *from_tls, *to_tls;
    sk_ws_opts from_ws, to_ws;
    const sk_zopts *z[2];    /* compressed framing of FROM [0] and TO [1], or NULL */
    char ws_path[SK_URL_PATH_MAX], to_ws_host[300];
    char *page;              /* --page's HTML, or NULL */
    size_t high;             /* --max-queue */
    uint64_t connect_ms, idle_ms; /* --connect-timeout, --idle-timeout (0: none) */
    relay_node *live;        /* relayed connections of both kinds (for the drain) */
    size_t npairs;           /* how many */
    int splice;              /* raw stream both sides: splice instead of sk_conn */
    void *udp;               /* relay_udp.c's sessions */
    sk_timer *drain;
    int draining, signals;
} relay;

/* relay_base.c: one timestamped line on stderr (printf-style). */
void relay_log(const relay *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* relay_base.c: the list of live relayed connections. relay_unlist also
 * ends the drain (the loop stops) when it removes the last one; relay_end_all
 * calls every one's end(now). */
void relay_list(relay *r, relay_node *n);
void relay_unlist(relay *r, relay_node *n);
void relay_end_all(relay *r, int now);

/* relay_pair.c: a client accepted on FROM (fd owned from now on). */
void relay_pair_accept(relay *r, int fd, const sk_sockaddr *peer);

/* relay_splice.c: a client of a raw relay (fd owned from now on; name: its
 * address). */
void relay_splice_accept(relay *r, int fd, const char *name);

/* relay_base.c: --max-conns: 1 after closing fd with a log line. */
int relay_over_limit(relay *r, int fd, const char *name);

/* relay_base.c: the log lines of a client that cannot be relayed: "cannot
 * relay CLIENT to TO: WHY", and the same for TO not open within
 * --connect-timeout. */
void relay_log_unreachable(const relay *r, const char *client, const char *why);
void relay_log_not_open(const relay *r, const char *client);

/* relay_base.c: the local address of socket fd, formatted into buf (left
 * as it was when it cannot be had). */
void relay_local_name(int fd, char *buf, size_t len);

/* relay_base.c: a relayed connection's zeroed record of size bytes and its
 * timer (*timer: on_timer with the record as ud). NULL when out of memory,
 * after a "refuse NAME" log line and closing the client's fd. Freed by the
 * caller (free, sk_timer_free). */
void *relay_record(relay *r, size_t size, int fd, const char *name, sk_timer_cb on_timer, sk_timer **timer);

/* relay_udp.c: datagram FROM and TO; sessions per source address. 0, or 1
 * after printing why. relay_udp_stop frees every session. */
int relay_udp_start(relay *r);
void relay_udp_stop(relay *r);

#endif
