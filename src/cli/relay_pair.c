/* relay_pair.c — one relayed stream connection: the client accepted on FROM
 * and its own connection to TO. Messages cross re-framed by each side's
 * sk_conn; a side whose output is above --max-queue pauses reading from
 * the other (resumed by its on_drain); a half-close crosses over; TO
 * refusing closes the client at once (a WebSocket client with 1011). */
#include "cli/relay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { FROM, TO };
/* Why a side's reading is paused (bits): TO is not open yet; the other
 * side's output is above --max-queue. */
enum { P_WAIT = 1, P_FULL = 2 };

typedef struct relay_pair {
    relay_node node;       /* first: the relay's list */
    relay *r;
    sk_conn *c[2];         /* NULL once closed (or, TO, before it is connected) */
    unsigned paused[2];    /* P_* of each side's reading */
    int eof[2];            /* the side's peer half-closed */
    int connecting;        /* the connect to TO is in flight (holds the pair) */
    int to_open;           /* TO is open (its handshakes done) */
    sk_timer *idle;
    uint64_t last;         /* loop time of the last message either way */
    char name[2][128];     /* the two legs, for log lines */
} relay_pair;

static const sk_conn_cbs from_cbs, to_cbs;

static int side_of(const relay_pair *p, const sk_conn *c) { return p->c[TO] == c ? TO : FROM; }

/* Once both legs are closed p no longer counts; it is freed when no
 * connect is in flight either (that callback frees it otherwise). */
static void maybe_free(relay_pair *p)
{
    if (p->c[FROM] || p->c[TO])
        return;
    relay_unlist(p->r, &p->node);
    if (p->connecting)
        return;
    sk_timer_free(p->idle);
    free(p);
}

/* ---- pausing ---- */

static void set_paused(relay_pair *p, int side, unsigned bit, int on)
{
    unsigned before = p->paused[side];
    p->paused[side] = on ? before | bit : before & ~bit;
    if (!p->c[side] || !before == !p->paused[side])
        return;
    if (p->paused[side])
        sk_conn_pause(p->c[side]);
    else
        sk_conn_resume(p->c[side]);
}

/* ---- closing ---- */

/* Ends both legs: gracefully (what is queued is flushed; a WebSocket leg
 * gets a close frame whose code fits err), or at once. */
static void close_pair(relay_pair *p, int err, int now)
{
    for (int s = FROM; s <= TO; s++) {
        if (!p->c[s])
            continue;
        if (now)
            sk_conn_abort(p->c[s], err);
        else
            sk_conn_close(p->c[s], err);
    }
}

static void on_close(sk_conn *c, int err, void *ud)
{
    relay_pair *p = ud;
    int s = side_of(p, c), o = !s;
    int first = p->c[o] != NULL || p->connecting;
    if (first && (p->r->o->verbose || (err && err != SK_ETIMEOUT && s == TO)))
        relay_log(p->r, "end %s -> %s: %s %s (%llu bytes in, %llu out on that side)",
                  p->name[FROM], p->name[TO], s == FROM ? "client" : "server",
                  err ? cli_close_reason(c, err) : "closed", (unsigned long long)sk_conn_bytes_in(c),
                  (unsigned long long)sk_conn_bytes_out(c));
    p->c[s] = NULL;
    if (p->c[o]) { /* what it still holds for the other side goes out first */
        set_paused(p, o, P_FULL | P_WAIT, 0);
        sk_conn_close(p->c[o], err);
    }
    maybe_free(p);
}

/* ---- messages ---- */

static void on_message(sk_conn *c, const uint8_t *msg, size_t len, void *ud)
{
    relay_pair *p = ud;
    int s = side_of(p, c), o = !s;
    sk_conn *dst = p->c[o];
    p->last = sk_loop_now(p->r->loop);
    if (!dst)
        return; /* closing: the other side is gone */
    int rc = sk_conn_send(dst, msg, len);
    if (rc < 0) {
        relay_log(p->r, "%s -> %s: cannot pass %zu bytes on: %s", p->name[s], p->name[o], len,
                  sk_strerror(rc));
        close_pair(p, rc, 0);
        return;
    }
    if (sk_conn_queued(dst) > p->r->high)
        set_paused(p, s, P_FULL, 1); /* resumed by dst's on_drain */
}

static void on_drain(sk_conn *c, void *ud)
{
    relay_pair *p = ud;
    set_paused(p, !side_of(p, c), P_FULL, 0);
}

/* A half-close crosses over; once both sides ended, both legs close. */
static void on_eof(sk_conn *c, void *ud)
{
    relay_pair *p = ud;
    int s = side_of(p, c), o = !s;
    p->eof[s] = 1;
    if (!p->c[o] || p->eof[o]) {
        close_pair(p, 0, 0);
        return;
    }
    sk_conn_shutdown(p->c[o]);
}

/* --idle-timeout: silent both ways this long (checked at most twice per period). */
static void on_idle(sk_timer *t, void *ud)
{
    relay_pair *p = ud;
    uint64_t idle = (uint64_t)(p->r->o->idle_secs * 1000), quiet = sk_loop_now(p->r->loop) - p->last;
    if (quiet < idle) {
        sk_timer_start(t, idle - quiet, 0);
        return;
    }
    if (p->r->o->verbose)
        relay_log(p->r, "idle %s -> %s: silent for %.1f s", p->name[FROM], p->name[TO], quiet / 1000.0);
    close_pair(p, SK_ETIMEOUT, 0);
}

/* ---- TO ---- */

static void to_opened(relay_pair *p)
{
    p->to_open = 1;
    p->last = sk_loop_now(p->r->loop);
    if (p->r->o->verbose)
        relay_log(p->r, "relay %s -> %s (%s)", p->name[FROM], p->name[TO], p->r->to_name);
    set_paused(p, FROM, P_WAIT, 0);
}

static void on_to_open(sk_conn *c, void *ud) { to_opened(ud); }

/* TO unreachable or refusing: the client is told at once. */
static void to_failed(relay_pair *p, int err)
{
    relay_log(p->r, "cannot relay %s to %s: %s", p->name[FROM], p->r->to_name, sk_strerror(err));
    if (p->c[FROM]) {
        set_paused(p, FROM, P_WAIT, 0);
        sk_conn_close(p->c[FROM], err); /* WebSocket: close 1011 */
    }
}

static void name_local(relay_pair *p, int fd)
{
    sk_sockaddr a = {.len = sizeof a.ss};
    if (getsockname(fd, (struct sockaddr *)&a.ss, &a.len) == 0)
        sk_sockaddr_format((struct sockaddr *)&a.ss, a.len, p->name[TO], sizeof p->name[TO]);
}

static void on_connected(int fd, int status, void *ud)
{
    relay_pair *p = ud;
    relay *r = p->r;
    p->connecting = 0;
    if (status == 0 && !p->c[FROM]) { /* the client left meanwhile */
        close(fd);
        status = SK_ECLOSED;
    } else if (status == 0) {
        name_local(p, fd);
        int ws = sk_url_is_ws(&r->to);
        sk_conn_opts co = {.in_frame = r->o->relay.to_frame, .out_frame = r->o->relay.to_frame,
                           .max_frame = r->o->max_frame, .high_water = r->high, .keep_reading = 1,
                           .ws = ws ? &r->to_ws : NULL, .tls = r->to_tls};
        p->c[TO] = sk_conn_new(r->loop, fd, &to_cbs, &co, p);
        status = p->c[TO] ? 0 : -errno;
        if (p->c[TO] && !ws && !r->to_tls)
            to_opened(p);
    }
    if (status < 0 && status != SK_ECLOSED)
        to_failed(p, status);
    maybe_free(p);
}

static void connect_to(relay_pair *p)
{
    if (p->connecting || p->c[TO])
        return;
    int rc = sk_connect(p->r->loop, &p->r->to_addr, &p->r->o->sock, on_connected, p);
    if (rc < 0)
        to_failed(p, rc);
    else
        p->connecting = 1;
}

/* FROM is open (its handshakes done): reading waits for TO. */
static void on_from_open(sk_conn *c, void *ud)
{
    relay_pair *p = ud;
    set_paused(p, FROM, P_WAIT, 1);
    connect_to(p);
}

/* The relay's drain (now 0: flush what is queued, then close) or its end. */
static void end_pair(relay_node *n, int now)
{
    relay_pair *p = (relay_pair *)n;
    close_pair(p, now ? SK_ETIMEOUT : 0, now);
}

static const sk_conn_cbs from_cbs = {.on_message = on_message, .on_eof = on_eof, .on_drain = on_drain,
                                     .on_close = on_close, .on_open = on_from_open};
static const sk_conn_cbs to_cbs = {.on_message = on_message, .on_eof = on_eof, .on_drain = on_drain,
                                   .on_close = on_close, .on_open = on_to_open};

/* ---- FROM ---- */

void relay_pair_accept(relay *r, int fd, const sk_sockaddr *peer)
{
    char name[128];
    sk_sockaddr_format((const struct sockaddr *)&peer->ss, peer->len, name, sizeof name);
    if (relay_over_limit(r, fd, name))
        return;
    if (r->splice) {
        relay_splice_accept(r, fd, name);
        return;
    }
    relay_pair *p = calloc(1, sizeof *p);
    if (!p || (r->o->idle_secs > 0 && !(p->idle = sk_timer_new(r->loop, on_idle, p)))) {
        relay_log(r, "refuse %s: out of memory", name);
        free(p);
        close(fd);
        return;
    }
    p->r = r;
    snprintf(p->name[FROM], sizeof p->name[FROM], "%s", name);
    snprintf(p->name[TO], sizeof p->name[TO], "?");
    p->last = sk_loop_now(r->loop);
    int plain = !sk_url_is_ws(&r->from) && !r->from_tls;
    sk_conn_opts co = {.in_frame = r->o->relay.from_frame, .out_frame = r->o->relay.from_frame,
                       .max_frame = r->o->max_frame, .high_water = r->high, .keep_reading = 1,
                       .ws = sk_url_is_ws(&r->from) ? &r->from_ws : NULL, .tls = r->from_tls};
    p->c[FROM] = sk_conn_new(r->loop, fd, &from_cbs, &co, p);
    if (!p->c[FROM]) {
        relay_log(r, "refuse %s: %s", name, strerror(errno));
        sk_timer_free(p->idle);
        free(p);
        return;
    }
    p->node.end = end_pair;
    relay_list(r, &p->node);
    if (p->idle)
        sk_timer_start(p->idle, (uint64_t)(r->o->idle_secs * 1000), 0);
    if (plain) /* else once its handshakes are done (on_from_open) */
        on_from_open(p->c[FROM], p);
}
