/* bench_hs.c — `sockit bench --handshakes`: each connection connects, does
 * the TLS (and WebSocket) handshake, sends one message, waits for its reply,
 * closes, and starts again. Counts the handshakes (and the resumed ones) and
 * times them (connect start -> on_open) and whole iterations (-> closed).
 * Between bench_worker.c, which calls hs_pump, and bench_conn.c, which does
 * the connecting and reaches this file only through w->connect_one and w->cbs. */
#include "cli/bench.h"

#include <string.h>

/* Starts c's next iteration, or ends c once the run or its budget (-n
 * counts iterations) is over. */
void hs_start(bench_conn *c)
{
    bench_worker *w = c->w;
    if (w->phase != PH_RUN || w->hs_started >= w->budget) {
        c->state = BC_DONE;
        return;
    }
    w->hs_started++;
    c->failed = 0;
    c->have_rx = 0;
    c->rx_off = 0;
    c->rx_bad = 0;
    c->t0_ns = bench_now_ns();
    bc_start_one(c); /* on_connected makes the sk_conn with hs_cbs */
}

void hs_pump(bench_worker *w)
{
    w->busy++; /* a connect failing at once ends its connection: no progress inside */
    while (w->nhs_wait && (w->connecting < w->connect_cap || w->phase != PH_RUN))
        hs_start(&w->conns[w->hs_wait[--w->nhs_wait]]);
    w->busy--;
}

/* The iteration is over: count it, and queue the next (progress pumps it). */
static void iteration_over(bench_conn *c)
{
    bench_worker *w = c->w;
    if (c->state == BC_UP || c->state == BC_CLOSING)
        w->open--;
    else if (c->state == BC_HANDSHAKE)
        w->connecting--;
    if (c->in_flight) { /* never answered: lost */
        c->in_flight = 0;
        w->in_flight--;
    }
    if (c->failed) {
        w->st.conns_failed++;
    } else if (c->have_rx) { /* (one cut short by the end of the run is not counted) */
        w->st.conns_ok++;
        hist_record(&w->st.iter_hist, bench_now_ns() - c->t0_ns);
    }
    c->state = BC_IDLE;
    w->hs_wait[w->nhs_wait++] = (uint32_t)(c - w->conns);
    w->progress(w);
}

/* The message of c's iteration: the id/sequence header (sequence = the
 * iteration), then the letters --verify checks. */
static void send_message(bench_conn *c)
{
    bench_worker *w = c->w;
    const bench_cfg *cfg = w->cfg;
    uint64_t seq = c->sent;
    if (cfg->header) {
        bmsg_header(w->sendbuf, c->id, seq);
        memcpy(w->sendbuf + BMSG_HDR, bmsg_want(w, c->id, seq) + BMSG_HDR,
               cfg->size - BMSG_HDR);
    }
    c->sent_ns = bench_now_ns();
    int r = sk_conn_send(c->conn, w->sendbuf, cfg->size);
    if (r < 0) {
        bc_fail(c, BE_SEND, r);
        return;
    }
    c->sent++;
    c->in_flight = 1;
    w->in_flight++;
    w->st.sent++;
    w->st.bytes_sent += cfg->size + cfg->over_out;
}

/* Whether n reply bytes at p are bytes [off, off + n) of what c sent. */
static int matches(const bench_conn *c, size_t off, const uint8_t *p, size_t n)
{
    const bench_cfg *cfg = c->w->cfg;
    uint64_t seq = c->sent - 1;
    uint8_t hdr[BMSG_HDR];
    if (off + n > cfg->size || !cfg->header)
        return off + n <= cfg->size;
    bmsg_header(hdr, c->id, seq);
    for (; n && off < BMSG_HDR; off++, p++, n--)
        if (*p != hdr[off])
            return 0;
    return memcmp(p, bmsg_want(c->w, c->id, seq) + off, n) == 0;
}

/* The reply is complete: time it, then close (the iteration ends in on_close). */
static void answered(bench_conn *c)
{
    bench_worker *w = c->w;
    uint64_t now = bench_now_ns(), lat = now - c->sent_ns;
    c->in_flight = 0;
    w->in_flight--;
    c->have_rx = 1;
    w->st.received++;
    w->st.t_last_rx_ns = w->now_ns = now;
    bench_record(w, lat);
    if (c->rx_bad)
        w->st.errors[BE_CORRUPT]++;
    c->state = BC_CLOSING;
    sk_conn_close(c->conn, 0);
}

/* ---- the connection's callbacks ---- */

static void on_open(sk_conn *sc, void *ud)
{
    bench_conn *c = ud;
    bench_worker *w = c->w;
    if (c->state != BC_HANDSHAKE)
        return;
    uint64_t now = bench_now_ns();
    w->connecting--;
    w->open++;
    if (w->phase != PH_RUN) { /* too late to take part: a clean close */
        c->state = BC_CLOSING;
        sk_conn_close(sc, 0);
        return;
    }
    w->st.handshakes++;
    hist_record(&w->st.hs_hist, now - c->t0_ns);
    sk_tls_info info;
    if (w->cfg->resume && sk_conn_tls_info(sc, &info) == 0 && info.resumed)
        w->st.resumed++;
    c->state = BC_UP;
    send_message(c);
    w->progress(w); /* a connect slot is free: a waiting connection may start */
}

static void on_message(sk_conn *sc, const uint8_t *msg, size_t len, void *ud)
{
    bench_conn *c = ud;
    const bench_cfg *cfg = c->w->cfg;
    if (c->state != BC_UP || !c->in_flight)
        return;
    c->w->st.bytes_received += len + (cfg->whole ? cfg->over_in : 0);
    if (cfg->verify && ((cfg->whole && len != cfg->size) || !matches(c, c->rx_off, msg, len)))
        c->rx_bad = 1;
    c->rx_off += len;
    if (cfg->whole || c->rx_off >= cfg->size) /* a frame is the reply; raw: size bytes */
        answered(c);
}

static void on_close(sk_conn *sc, int err, void *ud)
{
    bc_count_close(ud, sc, err);
    iteration_over(ud);
}

const sk_conn_cbs hs_cbs = {
    .on_message = on_message,
    .on_eof = bc_on_eof,
    .on_close = on_close,
    .on_open = on_open,
};
