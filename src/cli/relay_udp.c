/* relay_udp.c — datagram relays (udp:// or unixgram:// both sides): a
 * session per source address, each with its own socket connected to TO, so
 * replies find their way back; sessions silent for --idle-timeout (default
 * 60 s) are swept. One datagram is one message both ways. */
#include "cli/relay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NBUCKETS 1024

typedef struct session session;
struct session {
    session *next;      /* in its bucket */
    relay *r;
    sk_sockaddr addr;   /* the client's */
    sk_dgram *to;       /* connected to TO */
    uint64_t last;
    char name[128];
};

typedef struct sessions {
    session *b[NBUCKETS];
    size_t n;
    sk_timer *sweep;
    uint64_t idle_ms;
} sessions;

static unsigned hash_addr(const sk_sockaddr *a)
{
    const uint8_t *p = (const uint8_t *)&a->ss;
    uint32_t h = 2166136261u;
    for (socklen_t i = 0; i < a->len; i++)
        h = (h ^ p[i]) * 16777619u;
    return h % NBUCKETS;
}

static session **find(sessions *ss, const sk_sockaddr *a)
{
    session **pp = &ss->b[hash_addr(a)];
    while (*pp && ((*pp)->addr.len != a->len || memcmp(&(*pp)->addr.ss, &a->ss, a->len) != 0))
        pp = &(*pp)->next;
    return pp;
}

static void end_session(sessions *ss, session **pp, const char *why)
{
    session *s = *pp;
    if (s->r->o->verbose)
        relay_log(s->r, "end udp session %s: %s", s->name, why);
    *pp = s->next;
    sk_dgram_free(s->to);
    free(s);
    ss->n--;
}

static void on_reply(sk_dgram *d, int status, const uint8_t *msg, size_t len,
                     const sk_sockaddr *from, void *ud)
{
    session *s = ud;
    s->last = sk_loop_now(s->r->loop);
    if (status < 0) {
        relay_log(s->r, "udp session %s: %s: %s", s->name, s->r->to_name, sk_strerror(status));
        return;
    }
    int rc = s->r->dg ? sk_dgram_send(s->r->dg, msg, len, &s->addr) : 0;
    if (rc < 0 && s->r->o->verbose)
        relay_log(s->r, "reply to %s dropped: %s", s->name, sk_strerror(rc));
}

#define UDP_SESSIONS_MAX 4096 /* sessions without --max-conns */

/* 1 at most once a second: a failure that every datagram can repeat. */
static int log_due(relay *r)
{
    static uint64_t last;
    uint64_t now = sk_loop_now(r->loop);
    if (last && now - last < 1000)
        return 0;
    last = now;
    return 1;
}

static session *new_session(relay *r, sessions *ss, const sk_sockaddr *from)
{
    char name[128], err[512];
    /* (each session holds a socket: without --max-conns, a flood of source
     * addresses stops at UDP_SESSIONS_MAX instead of at the descriptor limit) */
    size_t cap = r->o->max_conns ? r->o->max_conns : UDP_SESSIONS_MAX;
    if (ss->n >= cap) {
        if (r->o->verbose)
            relay_log(r, "drop a datagram: %zu sessions (--max-conns)", cap);
        return NULL;
    }
    sk_sockaddr_format((const struct sockaddr *)&from->ss, from->len, name, sizeof name);
    session *s = calloc(1, sizeof *s);
    if (!s || sk_dgram_connect(r->loop, &r->to, &r->o->sock, on_reply, s, &s->to, err, sizeof err) < 0) {
        if (r->o->verbose || log_due(r))
            relay_log_unreachable(r, name, s ? err : "out of memory");
        free(s);
        return NULL;
    }
    s->r = r;
    s->addr = *from;
    snprintf(s->name, sizeof s->name, "%s", name);
    session **pp = find(ss, from);
    *pp = s;
    ss->n++;
    if (r->o->verbose) { /* both legs: the client, and the session's own socket toward TO */
        char local[128] = "?";
        relay_local_name(sk_dgram_fd(s->to), local, sizeof local);
        relay_log(r, "udp session %s -> %s (%s)", name, local, r->to_name);
    }
    return s;
}

static void on_datagram(sk_dgram *d, int status, const uint8_t *msg, size_t len,
                        const sk_sockaddr *from, void *ud)
{
    relay *r = ud;
    sessions *ss = r->udp;
    if (status < 0)
        return;
    session *s = *find(ss, from);
    if (!s && !(s = new_session(r, ss, from)))
        return;
    s->last = sk_loop_now(r->loop);
    int rc = sk_dgram_send(s->to, msg, len, NULL);
    if (rc < 0 && r->o->verbose)
        relay_log(r, "datagram from %s to %s dropped: %s", s->name, r->to_name, sk_strerror(rc));
}

static void on_sweep(sk_timer *t, void *ud)
{
    relay *r = ud;
    sessions *ss = r->udp;
    uint64_t now = sk_loop_now(r->loop);
    for (int i = 0; i < NBUCKETS; i++)
        for (session **pp = &ss->b[i]; *pp;)
            if (now - (*pp)->last >= ss->idle_ms)
                end_session(ss, pp, "idle");
            else
                pp = &(*pp)->next;
}

int relay_udp_start(relay *r)
{
    char err[512];
    sessions *ss = calloc(1, sizeof *ss);
    if (!ss || !(ss->sweep = sk_timer_new(r->loop, on_sweep, r))) {
        free(ss);
        cli_error("cannot start: out of memory");
        return 1;
    }
    r->udp = ss;
    ss->idle_ms = r->o->idle_secs > 0 ? (uint64_t)(r->o->idle_secs * 1000) : 60000;
    uint64_t every = ss->idle_ms / 4 ? ss->idle_ms / 4 : 1;
    if (sk_timer_start(ss->sweep, every, every) < 0 ||
        sk_dgram_bind(r->loop, &r->from, &r->o->sock, on_datagram, r, &r->dg, err, sizeof err) < 0) {
        cli_error("%s", r->dg ? "cannot start: out of memory" : err);
        return 1;
    }
    fprintf(stderr, "sockit: relaying %s -> %s (a session per source address, idle after %.1f s)\n",
            sk_dgram_name(r->dg), r->to_name, ss->idle_ms / 1000.0);
    return 0;
}

void relay_udp_stop(relay *r)
{
    sessions *ss = r->udp;
    if (!ss)
        return;
    for (int i = 0; i < NBUCKETS; i++)
        while (ss->b[i])
            end_session(ss, &ss->b[i], "shutting down");
    sk_timer_free(ss->sweep);
    sk_dgram_free(r->dg);
    r->dg = NULL;
    free(ss);
    r->udp = NULL;
}
