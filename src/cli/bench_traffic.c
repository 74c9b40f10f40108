/* bench_traffic.c — the per-message path of `sockit bench`: sending within
 * depth, budget and rate schedule; matching replies to requests; --verify.
 * Below bench_conn.c: it reaches the worker and conn only through w->drain,
 * w->progress and w->fail, none of them per message. */
#include "cli/bench.h"

#include <errno.h>
#include <string.h>

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

/* Writes message seq of c at dst: its id/sequence header, and with --verify
 * the payload that header implies. Unmatched messages keep the ramp letters
 * sendbuf starts with. */
static void fill(const bench_conn *c, uint8_t *dst, uint64_t seq)
{
    const bench_cfg *cfg = c->w->cfg;
    bmsg_header(dst, c->id, seq);
    if (cfg->verify)
        memcpy(dst + BMSG_HDR, bmsg_want(c->w, c->id, seq) + BMSG_HDR, cfg->size - BMSG_HDR);
}

/* Sends messages c->sent .. c->sent+n-1 (n <= cfg->batch) in one write,
 * timed from start_ns. Returns 0, or -1 when nothing more can be sent now
 * (the connection may have been closed). */
static int send_some(bench_conn *c, uint32_t n, uint64_t start_ns)
{
    bench_worker *w = c->w;
    const bench_cfg *cfg = w->cfg;
    uint64_t first = c->sent, end = first + n, mask = w->ring_mask;
    /* per message only when it carries its header, or the ring could overflow */
    for (uint64_t seq = first; seq < end && (cfg->match || end - 1 - c->lo > mask); seq++) {
        if (seq - c->lo > mask) { /* ring full (only after reordering): drop the oldest */
            expire(c, c->lo);
            advance(c);
        }
        if (cfg->match)
            fill(c, w->sendbuf + (size_t)(seq - first) * cfg->size, seq);
    }
    size_t len = (size_t)n * cfg->size; /* raw: n messages are n * size bytes as they are */
    int r = c->conn ? sk_conn_send(c->conn, w->sendbuf, len)
                    : sk_dgram_send(c->dg, w->sendbuf, len, NULL);
    if (r == -EAGAIN || r == -ENOBUFS) { /* a full datagram buffer: retried later */
        w->st.errors[BE_SEND]++;
        return -1;
    }
    if (r < 0) {
        w->fail(c, BE_SEND, r);
        return -1;
    }
    bench_slot *ring = c->ring; /* locals: the stores below could alias the fields */
    for (uint64_t seq = first; seq < end; seq++) {
        ring[seq & mask].t_ns = start_ns;
        ring[seq & mask].tag = seq << 2 | SLOT_OUT;
    }
    c->sent = end;
    c->in_flight += n;
    w->in_flight += n;
    w->st.sent += n;
    w->st.bytes_sent += n * (cfg->size + cfg->over_out);
    if (w->st.sent >= w->budget)
        w->drain(w);
    return 0;
}

/* Rate mode: sends what is due, each timed from its scheduled time (so a
 * stalled server cannot hide latency: coordinated omission is corrected),
 * then sleeps until the next due time. A send due within BS_BATCH_NS goes
 * now, in the same write, timed from now. */
static void top_up_rate(bench_conn *c)
{
    bench_worker *w = c->w;
    while (c->state == BC_UP && c->in_flight < w->cfg->depth && can_send(w) &&
           c->sched_ns <= w->now_ns + BS_BATCH_NS) {
        if (send_some(c, 1, c->sched_ns < w->now_ns ? c->sched_ns : w->now_ns) < 0)
            return;
        c->sched_n++;
        c->sched_ns = c->sched_base + (uint64_t)((double)c->sched_n * w->interval_ns);
    }
    if (c->state == BC_UP && c->in_flight < w->cfg->depth && can_send(w))
        bs_wait(c); /* else a reply (or the datagram expiry scan) resumes */
}

/* Rate mode, on a wake-up of the schedule: sends for every connection due.
 * Each connection's write goes out at once, timed from then: a wake-up may
 * write to hundreds of connections, and the last of them should not count
 * the writes before it as its own latency. */
static void send_due(bench_worker *w)
{
    for (;;) {
        w->now_ns = bench_now_ns();
        bench_conn *c = bs_pop_due(w, w->now_ns + BS_EARLY_NS);
        if (!c)
            return;
        top_up_rate(c); /* queues c again only for a later time */
        if (c->conn)
            sk_conn_flush(c->conn); /* a failed write closes c: on_close counts it */
    }
}

/* Sends what depth, budget and schedule allow. */
static void top_up(bench_conn *c)
{
    bench_worker *w = c->w;
    if (w->cfg->rate > 0) {
        top_up_rate(c);
        return;
    }
    while (c->state == BC_UP && c->in_flight < w->cfg->depth && can_send(w)) {
        uint64_t n = w->cfg->depth - c->in_flight;
        if (n > w->cfg->batch)
            n = w->cfg->batch;
        if (n > w->budget - w->st.sent)
            n = w->budget - w->st.sent;
        if (send_some(c, (uint32_t)n, w->now_ns) < 0)
            return;
    }
}

int bt_init(bench_worker *w) { return w->cfg->rate > 0 ? bs_init(w, send_due) : 0; }

void bt_start(bench_conn *c)
{
    bench_worker *w = c->w;
    if (w->cfg->rate > 0) {
        /* spread the connections' first sends over one interval */
        c->sched_base = w->now_ns + (uint64_t)(w->interval_ns * ((double)c->id / w->cfg->conns));
        c->sched_ns = c->sched_base;
    }
    top_up(c);
}

/* ---- replies ---- */

/* Counts the answer to the request in slot s (state SLOT_OUT or SLOT_EXPIRED,
 * sequence seq) and its latency. */
static void record_reply(bench_conn *c, bench_slot *s, uint64_t seq)
{
    bench_worker *w = c->w;
    if (state_of(s) == SLOT_OUT) {
        c->in_flight--;
        w->in_flight--;
    }
    s->tag = seq << 2 | SLOT_RCVD;
    w->st.received++;
    uint64_t lat = w->now_ns > s->t_ns ? w->now_ns - s->t_ns : 0;
    bench_record(w, lat);
}

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
    record_reply(c, s, seq);
    w->st.t_last_rx_ns = w->now_ns;
    if (!ok)
        w->st.errors[BE_CORRUPT]++;
    if (c->have_rx && seq < c->max_rx)
        w->st.errors[BE_REORDER]++;
    else
        c->max_rx = seq, c->have_rx = 1;
    advance(c);
}

/* Raw stream without --verify: k more replies came back. A stream cannot
 * tell them apart, so they answer the k oldest requests, in order; replies
 * to nothing (a greeting, say) are not counted. On a stream every request
 * from lo on is still out, so the checks of complete() are not needed. */
static void complete_oldest(bench_conn *c, uint64_t k)
{
    for (; k && c->lo < c->sent; k--) {
        uint64_t seq = c->lo;
        bench_slot *s = slot_of(c, seq);
        if (state_of(s) != SLOT_OUT) { /* never on a stream; complete() would tell */
            complete(c, seq, 1);
            continue;
        }
        record_reply(c, s, seq);
        c->lo = seq + 1;
        c->max_rx = seq, c->have_rx = 1;
        c->w->st.t_last_rx_ns = c->w->now_ns;
    }
}

/* After the replies of one read (or one frame, or datagram): send what they
 * made room for, all together, or see whether the drain is over. In rate mode
 * a connection that waits in the schedule sends at its wake-up, with every
 * other one due (a reply does not cost a write of its own then); one its
 * depth held back sends now. */
static void replies_done(bench_conn *c)
{
    bench_worker *w = c->w;
    if (w->phase == PH_RUN && w->cfg->rate > 0 && bs_queued(c))
        return;
    if (w->phase == PH_RUN)
        top_up(c);
    else if (w->in_flight == 0)
        w->progress(w);
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
        ok = memcmp(msg + BMSG_HDR, bmsg_want(c->w, id, seq) + BMSG_HDR, len - BMSG_HDR) == 0;
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
                bmsg_parse(c->rx_hdr, &id, &seq) == 0 ? bmsg_want(c->w, id, seq) : NULL;
            c->rx_bad |= !c->rx_want;
        }
    }
    if (off < end && c->rx_want && memcmp(p, c->rx_want + off, end - off) != 0)
        c->rx_bad = 1;
}

static void raw_complete(bench_conn *c)
{
    c->rx_off = 0;
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
        replies_done(c);
        return;
    }
    w->st.bytes_received += len;
    if (!cfg->verify) { /* only the byte count matters: size bytes make one reply */
        uint64_t have = c->rx_off + len;
        c->rx_off = have % cfg->size;
        complete_oldest(c, have / cfg->size);
        replies_done(c);
        return;
    }
    while (len && c->state != BC_DONE) {
        size_t take = cfg->size - c->rx_off;
        if (take > len)
            take = len;
        raw_check(c, msg, take);
        c->rx_off += take, msg += take, len -= take;
        if (c->rx_off == cfg->size)
            raw_complete(c);
    }
    replies_done(c);
}

void bt_on_datagram(bench_conn *c, const uint8_t *msg, size_t len)
{
    c->w->st.bytes_received += len;
    reply_whole(c, msg, len);
    replies_done(c);
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
        top_up(c);
}

void bt_conn_ended(bench_conn *c)
{
    bench_worker *w = c->w;
    w->in_flight -= c->in_flight; /* never answered: counted as lost */
    c->in_flight = 0;
    if (w->cfg->rate > 0)
        bs_remove(c);
}
