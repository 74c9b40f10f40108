/* bench_traffic.c — the per-message path of `sockit bench`: sending within
 * depth, budget and rate schedule; matching replies to requests; --verify. */
#include "cli/bench.h"

#include <errno.h>
#include <string.h>
#include <time.h>

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* vDSO: no system call */
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int can_send(const bench_worker *w)
{
    return w->phase == PH_RUN && !w->ramping && w->st.sent < w->budget;
}

static bench_slot *slot_of(const bench_conn *c, uint64_t seq)
{
    return &c->ring[seq & c->w->ring_mask];
}

static unsigned state_of(const bench_slot *s) { return (unsigned)(s->tag & 3); }

/* Moves lo past every answered or expired request. */
static void advance(bench_conn *c)
{
    while (c->lo < c->sent && state_of(slot_of(c, c->lo)) != SLOT_OUT)
        c->lo++;
}

/* Stops waiting for request seq (its reply may still come, late). */
static void expire(bench_conn *c, uint64_t seq)
{
    bench_slot *s = slot_of(c, seq);
    if (state_of(s) != SLOT_OUT)
        return;
    s->tag = seq << 2 | SLOT_EXPIRED;
    c->in_flight--;
    c->w->in_flight--;
}

/* Sends message c->sent, timed from start_ns. Returns 0, or -1 when nothing
 * more can be sent now (the connection may have been closed). */
static int send_one(bench_conn *c, uint64_t start_ns)
{
    bench_worker *w = c->w;
    const bench_cfg *cfg = w->cfg;
    uint64_t seq = c->sent;
    if (seq - c->lo > w->ring_mask) { /* ring full (only after reordering): drop the oldest */
        expire(c, c->lo);
        advance(c);
    }
    if (cfg->header) {
        bmsg_header(w->sendbuf, c->id, seq);
        if (cfg->verify)
            memcpy(w->sendbuf + BMSG_HDR, bmsg_want(w->ramp, c->id, seq) + BMSG_HDR,
                   cfg->size - BMSG_HDR);
    }
    int r = c->conn ? sk_conn_send(c->conn, w->sendbuf, cfg->size)
                    : sk_dgram_send(c->dg, w->sendbuf, cfg->size, NULL);
    if (r == -EAGAIN || r == -ENOBUFS) { /* a full datagram buffer: retried later */
        w->st.errors[BE_SEND]++;
        return -1;
    }
    if (r < 0) {
        bc_fail(c, BE_SEND, r);
        return -1;
    }
    bench_slot *s = slot_of(c, seq);
    s->t_ns = start_ns;
    s->tag = seq << 2 | SLOT_OUT;
    c->sent++;
    c->in_flight++;
    w->in_flight++;
    w->st.sent++;
    w->st.bytes_sent += cfg->size + cfg->over_out;
    if (w->st.sent >= w->budget)
        bw_enter_drain(w);
    return 0;
}

/* Rate mode: sends what is due, each timed from its scheduled time (so a
 * stalled server cannot hide latency: coordinated omission is corrected),
 * then sleeps until the next due time. */
static void top_up_rate(bench_conn *c)
{
    bench_worker *w = c->w;
    while (c->state == BC_UP && c->in_flight < w->cfg->depth && can_send(w) &&
           c->sched_ns <= w->now_ns) {
        if (send_one(c, c->sched_ns) < 0)
            return;
        c->sched_n++;
        c->sched_ns = c->sched_base + (uint64_t)((double)c->sched_n * w->interval_ns);
    }
    if (c->state == BC_UP && c->in_flight < w->cfg->depth && can_send(w))
        bs_wait(c); /* else a reply (or the datagram expiry scan) resumes */
}

void bt_top_up(bench_conn *c)
{
    bench_worker *w = c->w;
    if (w->cfg->rate > 0) {
        top_up_rate(c);
        return;
    }
    while (c->state == BC_UP && c->in_flight < w->cfg->depth && can_send(w))
        if (send_one(c, w->now_ns) < 0)
            return;
}

void bt_start(bench_conn *c)
{
    bench_worker *w = c->w;
    if (w->cfg->rate > 0) {
        /* spread the connections' first sends over one interval */
        c->sched_base = w->now_ns + (uint64_t)(w->interval_ns * ((double)c->id / w->cfg->conns));
        c->sched_ns = c->sched_base;
    }
    bt_top_up(c);
}

/* ---- replies ---- */

/* Request seq was answered (ok = its bytes were right, when checked). */
static void complete(bench_conn *c, uint64_t seq, int ok)
{
    bench_worker *w = c->w;
    bench_slot *s = slot_of(c, seq);
    unsigned st = state_of(s);
    if ((s->tag >> 2) != seq || st == SLOT_EMPTY || st == SLOT_RCVD) {
        w->st.errors[BE_DUP]++; /* answered before (or so long ago the slot is reused) */
        return;
    }
    if (st == SLOT_OUT) {
        c->in_flight--;
        w->in_flight--;
    }
    s->tag = seq << 2 | SLOT_RCVD;
    w->st.received++;
    w->st.t_last_rx_ns = w->now_ns;
    uint64_t lat = w->now_ns > s->t_ns ? w->now_ns - s->t_ns : 0;
    hist_record(&w->st.hist, lat);
    if (w->window)
        hist_record(w->window, lat);
    if (!ok)
        w->st.errors[BE_CORRUPT]++;
    if (c->have_rx && seq < c->max_rx)
        w->st.errors[BE_REORDER]++;
    else
        c->max_rx = seq, c->have_rx = 1;
    advance(c);
    if (w->phase == PH_RUN)
        bt_top_up(c);
    else if (w->in_flight == 0)
        bw_progress(w);
}

/* A reply whose header was parsed (hv) or not. Streams attribute a reply
 * they cannot identify to the oldest request: one reply came back. */
static void reply(bench_conn *c, int hv, uint32_t id, uint64_t seq, int ok)
{
    if (hv && id == c->id && seq < c->sent) {
        complete(c, seq, ok);
        return;
    }
    c->w->st.errors[BE_CORRUPT]++;
    if (c->conn && c->lo < c->sent)
        complete(c, c->lo, 1);
}

/* A whole reply (a frame or a datagram). */
static void reply_whole(bench_conn *c, const uint8_t *msg, size_t len)
{
    const bench_cfg *cfg = c->w->cfg;
    if (!cfg->match) {
        if (c->lo < c->sent)
            complete(c, c->lo, 1);
        return;
    }
    uint32_t id = 0;
    uint64_t seq = 0;
    int hv = len >= BMSG_HDR && bmsg_parse(msg, &id, &seq) == 0;
    int ok = hv && len == cfg->size;
    if (ok && cfg->verify)
        ok = memcmp(msg + BMSG_HDR, bmsg_want(c->w->ramp, id, seq) + BMSG_HDR, len - BMSG_HDR) == 0;
    reply(c, hv, id, seq, ok);
}

/* Raw + verify: checks bytes [rx_off, rx_off + n) of the reply in progress. */
static void raw_check(bench_conn *c, const uint8_t *p, size_t n)
{
    size_t off = c->rx_off, end = off + n;
    if (off < BMSG_HDR) {
        size_t k = end < BMSG_HDR ? end - off : BMSG_HDR - off;
        memcpy(c->rx_hdr + off, p, k);
        off += k, p += k;
        if (off == BMSG_HDR) {
            uint32_t id;
            uint64_t seq;
            c->rx_want =
                bmsg_parse(c->rx_hdr, &id, &seq) == 0 ? bmsg_want(c->w->ramp, id, seq) : NULL;
            c->rx_bad |= !c->rx_want;
        }
    }
    if (off < end && c->rx_want && memcmp(p, c->rx_want + off, end - off) != 0)
        c->rx_bad = 1;
}

static void raw_complete(bench_conn *c)
{
    const bench_cfg *cfg = c->w->cfg;
    c->rx_off = 0;
    if (!cfg->verify) {
        if (c->lo < c->sent)
            complete(c, c->lo, 1);
        return;
    }
    uint32_t id = 0;
    uint64_t seq = 0;
    int hv = bmsg_parse(c->rx_hdr, &id, &seq) == 0;
    int ok = !c->rx_bad;
    c->rx_bad = 0;
    c->rx_want = NULL;
    reply(c, hv, id, seq, ok);
}

/* Stream data: a frame (or WebSocket message) is one reply; raw bytes complete a reply every
 * `size` bytes, however the stream was split or merged. */
void bt_on_stream(bench_conn *c, const uint8_t *msg, size_t len)
{
    bench_worker *w = c->w;
    const bench_cfg *cfg = w->cfg;
    if (cfg->whole) { /* a frame, or a WebSocket message */
        w->st.bytes_received += len + cfg->over_in;
        reply_whole(c, msg, len);
        return;
    }
    w->st.bytes_received += len;
    while (len && c->state != BC_DONE) {
        size_t take = cfg->size - c->rx_off;
        if (take > len)
            take = len;
        if (cfg->verify)
            raw_check(c, msg, take);
        c->rx_off += take, msg += take, len -= take;
        if (c->rx_off == cfg->size)
            raw_complete(c);
    }
}

void bt_on_datagram(bench_conn *c, const uint8_t *msg, size_t len)
{
    c->w->st.bytes_received += len;
    reply_whole(c, msg, len);
}

void bt_expire(bench_conn *c, uint64_t timeout_ns)
{
    bench_worker *w = c->w;
    while (c->lo < c->sent) {
        bench_slot *s = slot_of(c, c->lo);
        if (state_of(s) == SLOT_OUT && w->now_ns < s->t_ns + timeout_ns)
            break;
        expire(c, c->lo);
        c->lo++;
    }
    if (w->phase == PH_RUN)
        bt_top_up(c);
}

void bt_conn_ended(bench_conn *c)
{
    bench_worker *w = c->w;
    w->in_flight -= c->in_flight; /* never answered: counted as lost */
    c->in_flight = 0;
    if (w->cfg->rate > 0)
        bs_remove(c);
}
