/* relay_splice.c — raw stream relays (tcp/unix both sides, raw framing, no
 * TLS or WebSocket): the client's socket and its connection to TO are
 * joined by an sk_splice, so the bytes move through kernel pipes and never
 * enter user space. The client is not read until TO is connected. */
#include "cli/relay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct splice_pair {
    relay_node node;     /* first: the relay's list */
    relay *r;
    int fd;              /* the client's, until the splice takes it (or -1) */
    sk_splice *sp;
    sk_connector *cx;   /* the connect to TO while in flight */
    sk_timer *timer;     /* --connect-timeout while connecting, then --idle-timeout */
    uint64_t connect_at; /* loop time the connect to TO started */
    uint64_t moved;      /* bytes both ways when the idle timer last looked */
    char name[2][128];
} splice_pair;

static void end_splice(relay_node *n, int now);

static void free_pair(splice_pair *p)
{
    relay_unlist(p->r, &p->node);
    sk_connect_cancel(p->cx);
    sk_timer_free(p->timer);
    if (p->fd >= 0)
        close(p->fd);
    free(p);
}

static uint64_t moved(const splice_pair *p)
{
    return p->sp ? sk_splice_bytes(p->sp, 0) + sk_splice_bytes(p->sp, 1) : 0;
}

/* Connecting: once, at --connect-timeout; then every --idle-timeout, a
 * pair that moved nothing since the last look is closed (so after one to
 * two periods of silence). */
static void arm(splice_pair *p)
{
    relay *r = p->r;
    uint64_t now = sk_loop_now(r->loop), at = p->connect_at + r->connect_ms;
    int rc = 0;
    if (!p->sp)
        rc = sk_timer_start(p->timer, at > now ? at - now : 0, 0);
    else if (r->idle_ms)
        rc = sk_timer_start(p->timer, r->idle_ms, 0);
    else
        sk_timer_stop(p->timer);
    if (rc < 0 && p->sp)
        sk_splice_abort(p->sp, -ENOMEM); /* a deadline that cannot be kept */
}

static void on_timer(sk_timer *t, void *ud)
{
    splice_pair *p = ud;
    relay *r = p->r;
    if (!p->sp) { /* still connecting */
        relay_log_not_open(r, p->name[0]);
        end_splice(&p->node, 1);
        return;
    }
    uint64_t now = moved(p);
    if (now == p->moved) {
        if (r->o->verbose)
            relay_log(r, "idle %s -> %s: silent for --idle-timeout", p->name[0], p->name[1]);
        sk_splice_abort(p->sp, SK_ETIMEOUT);
        return;
    }
    p->moved = now;
    arm(p);
}

static void on_splice_close(sk_splice *sp, int err, void *ud)
{
    splice_pair *p = ud;
    if (p->r->o->verbose || (err && err != SK_ETIMEOUT))
        relay_log(p->r, "end %s -> %s: %s (%llu bytes up, %llu down, %s)", p->name[0], p->name[1],
                  err ? sk_strerror(err) : "closed", (unsigned long long)sk_splice_bytes(sp, 0),
                  (unsigned long long)sk_splice_bytes(sp, 1),
                  sk_splice_zero_copy(sp) ? "bulk through pipes" : "copied");
    p->sp = NULL;
    free_pair(p);
}

static void on_connected(int fd, int status, void *ud)
{
    splice_pair *p = ud;
    relay *r = p->r;
    p->cx = NULL;
    if (status < 0) {
        relay_log_unreachable(r, p->name[0], sk_strerror(status));
        free_pair(p);
        return;
    }
    relay_local_name(fd, p->name[1], sizeof p->name[1]);
    int from = p->fd;
    p->fd = -1;
    int rc = sk_splice_new(r->loop, from, fd, on_splice_close, p, &p->sp);
    if (rc < 0) {
        relay_log(r, "cannot relay %s: %s", p->name[0], sk_strerror(rc));
        free_pair(p);
        return;
    }
    if (r->o->verbose)
        relay_log(r, "relay %s -> %s (%s, splice)", p->name[0], p->name[1], r->to_name);
    arm(p);
    if (r->draining)
        sk_splice_shutdown(p->sp);
}

void relay_splice_accept(relay *r, int fd, const char *name)
{
    sk_timer *timer;
    splice_pair *p = relay_record(r, sizeof *p, fd, name, on_timer, &timer);
    if (!p)
        return;
    *p = (splice_pair){.node.end = end_splice, .r = r, .fd = fd, .timer = timer,
                       .connect_at = sk_loop_now(r->loop)};
    snprintf(p->name[0], sizeof p->name[0], "%s", name);
    snprintf(p->name[1], sizeof p->name[1], "?");
    relay_list(r, &p->node);
    int rc = sk_connect_start(r->loop, &r->to_addr, NULL, &r->o->sock, on_connected, p, &p->cx);
    if (rc < 0) {
        relay_log_unreachable(r, name, sk_strerror(rc));
        free_pair(p);
        return;
    }
    arm(p);
}

/* The relay's drain (now 0: deliver what is in flight, FIN both ways, then
 * close; a pair still connecting is given up) or its end (now 1). */
static void end_splice(relay_node *n, int now)
{
    splice_pair *p = (splice_pair *)n;
    if (p->sp && now)
        sk_splice_abort(p->sp, SK_ETIMEOUT);
    else if (p->sp)
        sk_splice_shutdown(p->sp);
    else
        free_pair(p); /* cancels the connect, closes the client */
}
