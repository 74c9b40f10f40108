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
/* A message this large goes out at once instead of at the end of the loop
 * iteration: its copy (larger than the library keeps spares of) is freed
 * before the next read, so one heap chunk serves them all. Held until the
 * end of the iteration, a batch of them grew the heap and glibc gave it
 * back each time (at 10 x 16 KiB depth 4: ~6 page faults and a brk per
 * message, half the relay's CPU). Small messages still wait: sent at once
 * they cost more (the other side is woken once per message, not per batch). */
#define SEND_NOW 4096
/* Why a side's reading is paused (bits): TO is not open yet; the other
 * side's output is above --max-queue. */
enum { P_WAIT = 1, P_FULL = 2 };

typedef struct relay_pair {
    relay_node node;       /* first: the relay's list */
    relay *r;
    sk_conn *c[2];         /* NULL once closed (or, TO, before it is connected) */
    unsigned paused[2];    /* P_* of each side's reading */
    int eof[2];            /* the side's peer half-closed */
    sk_connector *cx;     /* the connect to TO while in flight */
    int to_open;           /* TO is open (its handshakes done) */
    sk_timer *timer;       /* --connect-timeout until TO is open, then --idle-timeout */
    uint64_t connect_at;   /* loop time the connect to TO started (0: not yet) */
    uint64_t last;         /* loop time of the last message either way */
    char name[2][128];     /* the two legs, for log lines */
} relay_pair;

static const sk_conn_cbs from_cbs, to_cbs;

static int side_of(const relay_pair *p, const sk_conn *c) { return p->c[TO] == c ? TO : FROM; }

/* Frees p once both legs are closed (a connect still in flight is cancelled). */
static void maybe_free(relay_pair *p)
{
    if (p->c[FROM] || p->c[TO])
        return;
    relay_unlist(p->r, &p->node);
    sk_connect_cancel(p->cx);
    sk_timer_free(p->timer);
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

/* 1 when err says the peer sent what cannot be decoded: a frame over
 * --max-frame, a compressed body that is unknown, corrupt or a bomb, a
 * WebSocket protocol error. Such a close is logged whichever side it is. */
static int bad_input(int err)
{
    switch (err) {
    case SK_EFRAMEBIG: case SK_EFRAMENEG: case SK_EZCODEC: case SK_EZBOMB: case SK_EZCORRUPT:
    case SK_EWSRSV: case SK_EWSOPCODE: case SK_EWSCTLBIG: case SK_EWSCTLFRAG: case SK_EWSLEN:
    case SK_EWSNOMASK: case SK_EWSMASKED: case SK_EWSCONT: case SK_EWSUNFINISHED: case SK_EWSBIG:
    case SK_EWSUTF8: case SK_EWSCLOSELEN: case SK_EWSCLOSECODE: case SK_EWSINFLATE:
        return 1;
    default:
        return 0;
    }
}

static void on_close(sk_conn *c, int err, void *ud)
{
    relay_pair *p = ud;
    int s = side_of(p, c), o = !s;
    int first = p->c[o] != NULL || p->cx;
    if (first && (p->r->o->verbose || (err && err != SK_ETIMEOUT && s == TO) || bad_input(err)))
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
    else if (len >= SEND_NOW)
        sk_conn_flush(dst); /* (a failure closes dst: its on_close follows) */
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

/* The timer's next deadline: TO's (--connect-timeout) while it is not
 * open, then --idle-timeout's (silent both ways); none without either. */
static void arm(relay_pair *p)
{
    relay *r = p->r;
    uint64_t now = sk_loop_now(r->loop), at;
    if (p->connect_at && !p->to_open)
        at = p->connect_at + r->connect_ms;
    else if (r->idle_ms)
        at = p->last + r->idle_ms;
    else {
        sk_timer_stop(p->timer);
        return;
    }
    if (sk_timer_start(p->timer, at > now ? at - now : 0, 0) < 0)
        close_pair(p, -ENOMEM, 1); /* a deadline that cannot be kept */
}

static void on_timer(sk_timer *t, void *ud)
{
    relay_pair *p = ud;
    relay *r = p->r;
    uint64_t now = sk_loop_now(r->loop);
    if (p->connect_at && !p->to_open && now - p->connect_at >= r->connect_ms) {
        relay_log_not_open(r, p->name[FROM]);
        close_pair(p, -ETIMEDOUT, 0); /* a WebSocket client gets 1011 */
        return;
    }
    int waiting = p->connect_at && !p->to_open;
    if (!waiting && r->idle_ms && now - p->last >= r->idle_ms) {
        if (r->o->verbose)
            relay_log(r, "idle %s -> %s: silent for %.1f s", p->name[FROM], p->name[TO],
                      (now - p->last) / 1000.0);
        close_pair(p, SK_ETIMEOUT, 0);
        return;
    }
    arm(p);
}

/* ---- TO ---- */

static void to_opened(relay_pair *p)
{
    p->to_open = 1;
    p->last = sk_loop_now(p->r->loop);
    if (p->r->o->verbose)
        relay_log(p->r, "relay %s -> %s (%s)", p->name[FROM], p->name[TO], p->r->to_name);
    set_paused(p, FROM, P_WAIT, 0);
    arm(p);
}

static void on_to_open(sk_conn *c, void *ud) { to_opened(ud); }

/* TO unreachable or refusing: the client is told at once. */
static void to_failed(relay_pair *p, int err)
{
    relay_log_unreachable(p->r, p->name[FROM], sk_strerror(err));
    if (p->c[FROM]) {
        set_paused(p, FROM, P_WAIT, 0);
        sk_conn_close(p->c[FROM], err); /* WebSocket: close 1011 */
    }
}

static void on_connected(int fd, int status, void *ud)
{
    relay_pair *p = ud;
    relay *r = p->r;
    p->cx = NULL;
    if (status == 0) { /* (the client is still there: its close cancels the connect) */
        relay_local_name(fd, p->name[TO], sizeof p->name[TO]);
        int ws = sk_url_is_ws(&r->to);
        sk_conn_opts co = {.in_frame = r->o->relay.to_frame, .out_frame = r->o->relay.to_frame,
                           .max_frame = r->o->max_frame, .high_water = r->high, .keep_reading = 1,
                           .ws = ws ? &r->to_ws : NULL, .tls = r->to_tls, .compress = r->z[TO]};
        p->c[TO] = sk_conn_new(r->loop, fd, &to_cbs, &co, p);
        status = p->c[TO] ? 0 : -errno;
        if (p->c[TO] && !ws && !r->to_tls)
            to_opened(p);
    }
    if (status < 0)
        to_failed(p, status);
}

static void connect_to(relay_pair *p)
{
    if (p->cx || p->c[TO])
        return;
    int rc = sk_connect_start(p->r->loop, &p->r->to_addr, NULL, &p->r->o->sock, on_connected, p, &p->cx);
    if (rc < 0) {
        to_failed(p, rc);
        return;
    }
    p->connect_at = sk_loop_now(p->r->loop);
    arm(p);
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
    sk_timer *timer;
    relay_pair *p = relay_record(r, sizeof *p, fd, name, on_timer, &timer);
    if (!p)
        return;
    p->timer = timer;
    p->r = r;
    snprintf(p->name[FROM], sizeof p->name[FROM], "%s", name);
    snprintf(p->name[TO], sizeof p->name[TO], "?");
    p->last = sk_loop_now(r->loop);
    int plain = !sk_url_is_ws(&r->from) && !r->from_tls;
    sk_conn_opts co = {.in_frame = r->o->relay.from_frame, .out_frame = r->o->relay.from_frame,
                       .max_frame = r->o->max_frame, .high_water = r->high, .keep_reading = 1,
                       .ws = sk_url_is_ws(&r->from) ? &r->from_ws : NULL, .tls = r->from_tls,
                       .compress = r->z[FROM]};
    p->c[FROM] = sk_conn_new(r->loop, fd, &from_cbs, &co, p);
    if (!p->c[FROM]) {
        relay_log(r, "refuse %s: %s", name, strerror(errno));
        sk_timer_free(p->timer);
        free(p);
        return;
    }
    p->node.end = end_pair;
    relay_list(r, &p->node);
    arm(p); /* --idle-timeout covers a client whose handshakes do not finish */
    if (plain) /* else once its handshakes are done (on_from_open) */
        on_from_open(p->c[FROM], p);
}
