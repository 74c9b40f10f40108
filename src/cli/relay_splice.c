/* relay_splice.c — raw stream relays (tcp/unix both sides, raw framing, no
 * TLS or WebSocket): the client's socket and its connection to TO are
 * joined by an sk_splice, so the bytes move through kernel pipes and never
 * enter user space. The client is not read until TO is connected. */
#include "cli/relay.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct splice_pair {
    relay_node node;     /* first: the relay's list */
    relay *r;
    int fd;              /* the client's, until the splice takes it (or -1) */
    sk_splice *sp;
    int connecting;      /* the connect to TO is in flight (holds the pair) */
    sk_timer *idle;
    uint64_t moved;      /* bytes both ways when the idle timer last looked */
    char name[2][128];
} splice_pair;

static void end_splice(relay_node *n, int now);

static void free_pair(splice_pair *p)
{
    relay_unlist(p->r, &p->node);
    sk_timer_free(p->idle);
    if (p->fd >= 0)
        close(p->fd);
    free(p);
}

static uint64_t moved(const splice_pair *p)
{
    return p->sp ? sk_splice_bytes(p->sp, 0) + sk_splice_bytes(p->sp, 1) : 0;
}

static void on_idle(sk_timer *t, void *ud)
{
    splice_pair *p = ud;
    uint64_t now = moved(p);
    if (now != p->moved || !p->sp) { /* traffic since the last look (or still connecting) */
        p->moved = now;
        return;
    }
    if (p->r->o->verbose)
        relay_log(p->r, "idle %s -> %s: silent for --idle-timeout", p->name[0], p->name[1]);
    sk_splice_abort(p->sp, SK_ETIMEOUT);
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
    p->connecting = 0;
    if (status < 0 || p->fd < 0) { /* TO refused, or the relay gave up on this client */
        if (status < 0 && p->fd >= 0)
            relay_log(r, "cannot relay %s to %s: %s", p->name[0], r->to_name, sk_strerror(status));
        if (fd >= 0)
            close(fd);
        free_pair(p);
        return;
    }
    sk_sockaddr a = {.len = sizeof a.ss};
    if (getsockname(fd, (struct sockaddr *)&a.ss, &a.len) == 0)
        sk_sockaddr_format((struct sockaddr *)&a.ss, a.len, p->name[1], sizeof p->name[1]);
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
    if (r->draining)
        sk_splice_shutdown(p->sp);
}

void relay_splice_accept(relay *r, int fd, const char *name)
{
    splice_pair *p = calloc(1, sizeof *p);
    uint64_t idle = (uint64_t)(r->o->idle_secs * 1000);
    if (!p || (idle && (!(p->idle = sk_timer_new(r->loop, on_idle, p)) ||
                        sk_timer_start(p->idle, idle, idle) < 0))) {
        relay_log(r, "refuse %s: out of memory", name);
        if (p)
            sk_timer_free(p->idle);
        free(p);
        close(fd);
        return;
    }
    *p = (splice_pair){.node.end = end_splice, .r = r, .fd = fd, .idle = p->idle};
    snprintf(p->name[0], sizeof p->name[0], "%s", name);
    snprintf(p->name[1], sizeof p->name[1], "?");
    relay_list(r, &p->node);
    int rc = sk_connect(r->loop, &r->to_addr, &r->o->sock, on_connected, p);
    if (rc < 0) {
        relay_log(r, "cannot relay %s to %s: %s", name, r->to_name, sk_strerror(rc));
        free_pair(p);
        return;
    }
    p->connecting = 1;
}

/* The relay's drain (now 0: deliver what is in flight, FIN both ways, then
 * close) or its end (now 1). A pair still connecting is given up: its
 * callback frees it. */
static void end_splice(relay_node *n, int now)
{
    splice_pair *p = (splice_pair *)n;
    if (p->sp && now)
        sk_splice_abort(p->sp, SK_ETIMEOUT);
    else if (p->sp)
        sk_splice_shutdown(p->sp);
    else if (now && p->fd >= 0) {
        close(p->fd);
        p->fd = -1;
        relay_unlist(p->r, &p->node);
    }
}
