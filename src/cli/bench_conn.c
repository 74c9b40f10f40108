/* bench_conn.c — the connections of a bench worker: paced connects (stream)
 * or sockets (datagram), their callbacks, and how each one ends and is counted.
 * Between bench_worker.c (reached through w->progress) and bench_traffic.c. */
#include "cli/bench.h"

#include <assert.h>
#include <errno.h>
#include <unistd.h>

static const char *const kind_text[BE_COUNT] = {
    "connect refused", "connect timeout", "connect reset",
    "connect failed",  "handshake failed", "reset",   "closed by the server",
    "frame error",     "send failed",     "lost",
    "duplicate",       "reordered",       "corrupt",
};

/* Counts the first error of a connection (it is then "failed"). */
void bc_count_error(bench_conn *c, int kind, int err)
{
    bench_worker *w = c->w;
    if (c->failed)
        return;
    c->failed = 1;
    w->st.errors[kind]++;
    if (kind == BE_CONNECT_OTHER && !w->st.other_errno)
        w->st.other_errno = err;
    if (kind == BE_HANDSHAKE && !w->st.hs_errno)
        w->st.hs_errno = err;
    if (w->cfg->verbose)
        fprintf(stderr, "sockit: %s: connection %u: %s%s%s\n", w->cfg->target, c->id,
                kind_text[kind], err ? ": " : "", err ? sk_strerror(err) : "");
}

void bc_handshake_failed(bench_conn *c, sk_conn *sc, int err)
{
    bench_stats *st = &c->w->st;
    if (!c->failed && !st->hs_errno)
        snprintf(st->hs_why, sizeof st->hs_why, "%s", cli_close_reason(sc, err));
    bc_count_error(c, BE_HANDSHAKE, err);
}

static int connect_kind(int err)
{
    switch (-err) {
    case ECONNREFUSED:
        return BE_CONNECT_REFUSED;
    case ETIMEDOUT:
        return BE_CONNECT_TIMEOUT;
    case ECONNRESET:
        return BE_CONNECT_RESET;
    default:
        return BE_CONNECT_OTHER;
    }
}

/* The connection is over: count it as ok or failed. */
void bc_done(bench_conn *c)
{
    bench_worker *w = c->w;
    if (c->state == BC_DONE)
        return;
    if (c->state == BC_UP || c->state == BC_CLOSING)
        w->open--;
    else if (c->state == BC_HANDSHAKE)
        w->connecting--;
    bt_conn_ended(c);
    c->state = BC_DONE;
    if (c->failed)
        w->st.conns_failed++;
    else
        w->st.conns_ok++;
    w->progress(w);
}

void bc_fail(bench_conn *c, int kind, int err)
{
    if (c->state == BC_DONE)
        return;
    bc_count_error(c, kind, err);
    if (c->conn) {
        c->state = BC_CLOSING;
        sk_conn_abort(c->conn, err); /* on_close follows at the end of the iteration */
    } else if (c->dg) {
        sk_dgram_free(c->dg);
        c->dg = NULL;
        bc_done(c);
    }
}

static void up(bench_conn *c);

/* ---- stream callbacks ---- */

static void on_read(sk_conn *sc, size_t n, void *ud)
{
    bench_conn *c = ud;
    c->w->now_ns = bench_now_ns(); /* one clock read per read(), not per message */
}

static void on_message(sk_conn *sc, const uint8_t *msg, size_t len, void *ud)
{
    bt_on_stream(ud, msg, len);
}

/* The handshake that failed without saying why: WebSocket's, or TLS's. */
static int w_handshake_err(const bench_conn *c) { return c->w->cfg->ws ? SK_EWSHANDSHAKE : SK_ETLS; }

void bc_on_eof(sk_conn *sc, void *ud)
{
    bench_conn *c = ud;
    if (c->state == BC_UP)
        bc_count_error(c, BE_CLOSED, 0);
    else if (c->state == BC_HANDSHAKE) /* the peer ended the stream during the handshake */
        bc_handshake_failed(c, sc, w_handshake_err(c));
    if (c->state != BC_HANDSHAKE) /* (on_close still counts it as connecting) */
        c->state = BC_CLOSING;
    sk_conn_close(sc, 0);
}

static int is_frame_error(int err)
{
    return err == SK_EFRAMEBIG || err == SK_EFRAMENEG || err == SK_ETRUNC || err == SK_EZCODEC ||
           err == SK_EZBOMB || err == SK_EZCORRUPT;
}

/* --compress: what the messages weighed on the wire, each way. */
static void on_zmsg(sk_conn *sc, int out, sk_zcodec codec, size_t wire, size_t len, void *ud)
{
    bench_conn *c = ud;
    c->w->st.zwire[out != 0] += wire;
    c->w->st.zplain[out != 0] += len;
}

void bc_count_close(bench_conn *c, sk_conn *sc, int err)
{
    c->conn = NULL;
    c->w->st.wire_out += sk_conn_bytes_out(sc);
    c->w->st.wire_in += sk_conn_bytes_in(sc);
    if (c->state == BC_HANDSHAKE) /* (a timeout the bench counted is not counted again) */
        bc_handshake_failed(c, sc, err ? err : w_handshake_err(c));
    else if (c->state == BC_UP && (err == 0 || err == SK_EWSNOCLOSE))
        bc_count_error(c, BE_CLOSED, 0); /* ws: the server closed (a close frame, or a FIN) */
    else if (err && err != SK_ETIMEOUT)
        bc_count_error(c, is_frame_error(err) ? BE_FRAME : BE_RESET, err);
}

static void on_close(sk_conn *sc, int err, void *ud)
{
    bc_count_close(ud, sc, err);
    bc_done(ud);
}

/* ws://, tls://: the handshakes are done; the connection counts as connected now. */
static void on_open(sk_conn *sc, void *ud)
{
    bench_conn *c = ud;
    bench_worker *w = c->w;
    if (c->state != BC_HANDSHAKE)
        return;
    w->connecting--;
    if (w->phase != PH_RUN) { /* too late to take part: a clean close */
        c->state = BC_CLOSING;
        w->open++;
        sk_conn_shutdown(sc);
    } else {
        up(c);
    }
    bc_start_connects(w);
}

const sk_conn_cbs bc_cbs = {
    .on_message = on_message,
    .on_eof = bc_on_eof,
    .on_read = on_read,
    .on_close = on_close,
    .on_open = on_open,
    .on_zmsg = on_zmsg,
};

/* ---- connecting ---- */

static void on_datagram(sk_dgram *d, int status, const uint8_t *msg, size_t len,
                        const sk_sockaddr *from, void *ud)
{
    bench_conn *c = ud;
    if (c->state != BC_UP)
        return;
    c->w->now_ns = bench_now_ns();
    if (status < 0)
        bc_fail(c, status == -ECONNREFUSED ? BE_CONNECT_REFUSED : BE_RESET, status);
    else
        bt_on_datagram(c, msg, len);
}

static void up(bench_conn *c)
{
    c->state = BC_UP;
    c->w->open++;
    if (c->w->ramping)
        return; /* --ramp: bw_go starts it */
    c->w->now_ns = bench_now_ns();
    bt_start(c);
}

static void on_connected(int fd, int status, void *ud)
{
    bench_conn *c = ud;
    bench_worker *w = c->w;
    c->pending = NULL;
    w->connecting--;
    if (status < 0) {
        bc_count_error(c, connect_kind(status), status);
        bc_done(c);
    } else if (w->phase != PH_RUN) { /* too late to take part: a clean close */
        close(fd);
        c->state = BC_DONE;
        w->st.conns_ok += !w->cfg->handshakes; /* (there, connections are whole iterations) */
        w->progress(w);
    } else {
        const bench_cfg *cfg = w->cfg;
        sk_conn_opts co = {.in_frame = cfg->in_frame,
                           .out_frame = cfg->out_frame,
                           .max_frame = cfg->max_frame,
                           .keep_reading = 1,
                           .compress = cfg->compress,
                           .ws = cfg->ws ? &cfg->ws_opts : NULL,
                           .tls = cfg->tls};
        c->conn = sk_conn_new(w->loop, fd, w->cbs, &co, c);
        if (c->conn && (cfg->ws || cfg->tls)) {
            c->state = BC_HANDSHAKE; /* on_open or on_close follows */
            w->connecting++;
        } else if (c->conn) {
            up(c);
        } else {
            bc_count_error(c, BE_CONNECT_OTHER, -errno);
            bc_done(c);
        }
    }
    bc_start_connects(w);
}

/* The connect took longer than --timeout: its socket is closed at once (no
 * descriptor or request is left behind for the kernel to finish), and c is
 * over, failed. The caller makes progress. */
void bc_connect_timed_out(bench_conn *c)
{
    assert(c->state == BC_CONNECTING);
    sk_connect_cancel(c->pending);
    c->pending = NULL;
    c->w->connecting--;
    bc_count_error(c, BE_CONNECT_TIMEOUT, -ETIMEDOUT);
    c->state = BC_DONE;
    c->w->st.conns_failed++;
}

void bc_start_one(bench_conn *c)
{
    bench_worker *w = c->w;
    const bench_cfg *cfg = w->cfg;
    int r;
    c->state = BC_CONNECTING;
    if (cfg->dgram) {
        char err[256];
        r = sk_dgram_connect(w->loop, &cfg->url, &cfg->sock, on_datagram, c, &c->dg, err,
                             sizeof err);
        if (r == 0) {
            up(c);
            return;
        }
    } else {
        const sk_sockaddr *src = cfg->nsources ? &cfg->sources[c->id % cfg->nsources] : NULL;
        c->connect_ms = sk_loop_now(w->loop);
        r = sk_connect_start(w->loop, &cfg->addr, src, &cfg->sock, on_connected, c, &c->pending);
        if (r == 0) {
            w->connecting++;
            return;
        }
    }
    bc_count_error(c, connect_kind(r), r); /* failed at once (e.g. no such unix path) */
    bc_done(c);
}

/* Starts connects while fewer than connect_cap are in progress. */
void bc_start_connects(bench_worker *w)
{
    w->busy++;
    while (w->phase == PH_RUN && w->next_connect < w->nconns && w->connecting < w->connect_cap)
        w->connect_one(&w->conns[w->next_connect++]);
    w->busy--;
    w->progress(w);
}
