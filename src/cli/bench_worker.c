/* bench_worker.c — one bench thread: its loop, the phases run -> drain ->
 * close, and housekeeping (connect timeouts, datagram expiry, progress).
 * The top of the bench files: conn and traffic call back through w->progress,
 * w->drain and w->fail, which bw_init sets. */
#include "cli/bench.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define HOUSE_MS 100           /* housekeeping period */
#define CONNECTS_IN_FLIGHT 256 /* over all threads, so the server's backlog never overflows */
#define CLOSE_MS 2000          /* the server gets this long to close after our FIN */
#define DGRAM_LOSS_MS 1000     /* a datagram unanswered this long frees its depth slot */

/* ---- phases ---- */

static void progress(bench_worker *w);

/* A thread that never hears go, stop or done would hang the run: without
 * memory for the post, the run ends at once with an error instead. */
static void post_or_die(sk_loop *loop, sk_post_fn fn, bench_worker *w)
{
    if (sk_loop_post(loop, fn, w) < 0) {
        cli_error("out of memory");
        exit(1);
    }
}

static void finish(bench_worker *w)
{
    w->phase = PH_DONE;
    w->st.t_end_ns = w->st.t_last_rx_ns > w->st.t_stop_ns ? w->st.t_last_rx_ns : w->st.t_stop_ns;
    bench_tl_finish(w);
    sk_timer_stop(w->house);
    post_or_die(w->main_loop, w->on_done, w);
    if (w->loop != w->main_loop) /* a shared loop is stopped by on_done's owner */
        sk_loop_stop(w->loop);
}

/* Stops sending (budget spent, stop asked, nothing left). */
static void enter_drain(bench_worker *w)
{
    if (w->phase != PH_RUN)
        return;
    w->phase = PH_DRAIN;
    w->st.t_stop_ns = bench_now_ns();
    w->deadline_ms = sk_loop_now(w->loop) + w->cfg->timeout_ms;
    w->st.conns_not_started += w->nconns - w->next_connect;
    w->next_connect = w->nconns;
    progress(w);
}

/* Half-closes every stream (the server closes after its last reply) and
 * closes every datagram socket. */
static void enter_close(bench_worker *w)
{
    w->phase = PH_CLOSE;
    uint64_t wait_ms = w->cfg->timeout_ms < CLOSE_MS ? w->cfg->timeout_ms : CLOSE_MS;
    w->deadline_ms = sk_loop_now(w->loop) + wait_ms;
    w->busy++;
    for (uint32_t i = 0; i < w->nconns; i++) {
        bench_conn *c = &w->conns[i];
        if (c->state != BC_UP)
            continue;
        if (c->dg) {
            sk_dgram_free(c->dg);
            c->dg = NULL;
            bc_done(c);
        } else {
            c->state = BC_CLOSING;
            sk_conn_shutdown(c->conn);
        }
    }
    w->busy--;
    progress(w);
}

/* The close deadline passed: abort what is left, stop waiting for connects. */
static void give_up(bench_worker *w)
{
    w->give_up = 1;
    for (uint32_t i = 0; i < w->nconns; i++) {
        bench_conn *c = &w->conns[i];
        if (c->state == BC_CONNECTING && c->pending) {
            bc_connect_timed_out(c);
        } else if (c->state == BC_HANDSHAKE && c->conn) {
            bc_count_error(c, BE_CONNECT_TIMEOUT, -ETIMEDOUT);
            sk_conn_abort(c->conn, SK_ETIMEOUT); /* on_close: bc_done */
        } else if (c->state == BC_CLOSING && c->conn) {
            sk_conn_abort(c->conn, SK_ETIMEOUT);
        }
    }
}

/* --ramp: every connection of this worker is up or failed (or the run was
 * stopped): tell the main thread, which says go once all workers are here. */
static void ramp_done(bench_worker *w)
{
    w->ramping = 2;
    w->st.ramp_up = w->open;
    post_or_die(w->main_loop, w->on_ramped, w);
}

/* Moves on to the next phase when the current one is over. */
static void progress(bench_worker *w)
{
    if (w->busy)
        return;
    if (w->cfg->handshakes) /* the connections between two iterations go on (or end) */
        hs_pump(w);
    if (w->ramping == 1 &&
        (w->phase != PH_RUN || (w->next_connect == w->nconns && w->connecting == 0)))
        ramp_done(w);
    if (w->phase == PH_RUN && w->next_connect == w->nconns && w->connecting == 0 && w->open == 0)
        enter_drain(w); /* every connection is over: nothing left to do */
    else if (w->phase == PH_DRAIN && w->in_flight == 0)
        enter_close(w);
    else if (w->phase == PH_CLOSE && w->open == 0 && w->connecting == 0)
        finish(w);
}

/* ---- housekeeping ---- */

static void connect_timeouts(bench_worker *w, uint64_t now_ms)
{
    for (uint32_t i = w->scan_from; i < w->next_connect; i++) {
        bench_conn *c = &w->conns[i];
        if (c->state == BC_CONNECTING || (c->state == BC_HANDSHAKE && !c->failed)) {
            if (now_ms - c->connect_ms < w->cfg->timeout_ms) {
                if (w->cfg->handshakes)
                    continue; /* connections start again in any order */
                break;        /* later ones started later */
            }
            if (c->state == BC_HANDSHAKE) { /* connect + handshake took too long */
                bc_count_error(c, BE_CONNECT_TIMEOUT, -ETIMEDOUT);
                sk_conn_abort(c->conn, SK_ETIMEOUT); /* on_close: bc_done */
            } else {
                bc_connect_timed_out(c);
            }
        }
        if (i == w->scan_from && !w->cfg->handshakes)
            w->scan_from++;
    }
}

static void publish(bench_worker *w)
{
    __atomic_store_n(&w->pub_received, w->st.received, __ATOMIC_RELAXED);
    __atomic_store_n(&w->pub_up, w->open, __ATOMIC_RELAXED);
    if (!w->window)
        return;
    if (w->window->total) /* p99 of the last 0.1 .. 1 s */
        __atomic_store_n(&w->pub_p99, hist_percentile(w->window, 99), __ATOMIC_RELAXED);
    if (++w->house_ticks % (1000 / HOUSE_MS) == 0)
        hist_reset(w->window);
}

static void on_house(sk_timer *t, void *ud)
{
    bench_worker *w = ud;
    uint64_t now_ms = sk_loop_now(w->loop);
    w->now_ns = bench_now_ns();
    w->busy++;
    connect_timeouts(w, now_ms);
    if (w->cfg->dgram) {
        uint64_t loss_ns =
            (w->cfg->timeout_ms < DGRAM_LOSS_MS ? w->cfg->timeout_ms : DGRAM_LOSS_MS) * 1000000u;
        for (uint32_t i = 0; i < w->nconns; i++)
            if (w->conns[i].state == BC_UP)
                bt_expire(&w->conns[i], loss_ns);
    }
    w->busy--;
    if ((w->phase == PH_DRAIN || w->phase == PH_CLOSE) && now_ms >= w->deadline_ms) {
        if (w->phase == PH_DRAIN)
            enter_close(w);
        else
            give_up(w);
    }
    publish(w);
    bench_tl_roll(w, w->now_ns); /* seconds without replies, and errors, count too */
    bc_start_connects(w); /* also checks progress */
}

/* ---- life cycle ---- */

int bw_init(bench_worker *w, const bench_cfg *cfg, uint32_t first_id, uint32_t n, uint64_t budget,
            sk_loop *main_loop, int shared, void (*on_done)(void *), void *owner)
{
    memset(w, 0, sizeof *w);
    w->cfg = cfg;
    w->main_loop = main_loop;
    w->on_done = on_done;
    w->owner = owner;
    w->nconns = n;
    w->budget = budget;
    w->tfd = -1;
    w->ramping = cfg->ramp;
    w->progress = progress;
    w->drain = enter_drain;
    w->fail = bc_fail;
    w->connect_one = cfg->handshakes ? hs_start : bc_start_one;
    w->cbs = cfg->handshakes ? &hs_cbs : &bc_cbs;
    hist_reset(&w->st.hist);
    hist_reset(&w->st.hs_hist);
    hist_reset(&w->st.iter_hist);
    w->connect_cap = CONNECTS_IN_FLIGHT / cfg->threads;
    if (w->connect_cap < 16)
        w->connect_cap = 16;
    uint64_t ring = 8;
    while (ring < 2u * cfg->depth)
        ring *= 2;
    w->ring_mask = ring - 1;
    if (cfg->rate > 0)
        w->interval_ns = (double)cfg->conns * 1e9 / cfg->rate;
    if (shared)
        w->loop = main_loop;
    else if (cli_loop_new(cfg->cli, &w->loop) < 0)
        return -1;
    w->house = sk_timer_new(w->loop, on_house, w);
    /* Started here, before w's thread runs its loop, so that a housekeeping
     * timer that cannot start (no timeouts: the run might never end) fails
     * the setup like any other shortage of memory. */
    if (!w->house || sk_timer_start(w->house, HOUSE_MS, HOUSE_MS) < 0)
        return -1;
    w->conns = calloc(n, sizeof *w->conns);
    w->rings = calloc((size_t)n * ring, sizeof *w->rings);
    w->sendbuf = malloc(cfg->size * cfg->batch);
    w->ramp_span = cfg->ws_opts.deflate ? BMSG_JSON_SPAN : 26;
    w->ramp = malloc(cfg->size + 32 + w->ramp_span);
    w->window = cfg->progress ? malloc(sizeof *w->window) : NULL;
    w->hs_wait = cfg->handshakes ? malloc((n ? n : 1) * sizeof *w->hs_wait) : NULL;
    if (!w->conns || !w->rings || !w->sendbuf || !w->ramp || (cfg->progress && !w->window) ||
        (cfg->handshakes && !w->hs_wait))
        return -1;
    if (w->window)
        hist_reset(w->window);
    if (bench_tl_init(w) < 0)
        return -1;
    (cfg->ws_opts.deflate ? bmsg_ramp_json : bmsg_ramp)(w->ramp, cfg->size + 32 + w->ramp_span);
    for (uint32_t i = 0; i < cfg->batch; i++) /* without --verify only the header changes */
        memcpy(w->sendbuf + (size_t)i * cfg->size, w->ramp, cfg->size);
    for (uint32_t i = 0; i < n; i++)
        w->conns[i] = (bench_conn){.w = w, .id = first_id + i, .ring = w->rings + (size_t)i * ring};
    return bt_init(w);
}

void bw_begin(bench_worker *w)
{
    if (w->cfg->rate > 0)
        bs_thread_init();
    w->now_ns = w->st.t_start_ns = bench_now_ns();
    bc_start_connects(w);
}

void *bw_main(void *arg)
{
    bench_worker *w = arg;
    bw_begin(w);
    if (w->phase != PH_DONE)
        sk_loop_run(w->loop);
    return NULL;
}

static void post_stop(void *arg) { enter_drain(arg); }

static void post_force(void *arg)
{
    bench_worker *w = arg;
    enter_drain(w);
    if (w->phase == PH_DRAIN)
        enter_close(w);
    if (w->phase == PH_CLOSE)
        give_up(w);
    progress(w);
}

/* --ramp: the clock starts now; connections that are up start sending. */
static void post_go(void *arg)
{
    bench_worker *w = arg;
    if (w->ramping != 2)
        return;
    w->ramping = 0;
    if (w->phase != PH_RUN)
        return;
    w->now_ns = w->st.t_start_ns = bench_now_ns();
    w->busy++;
    for (uint32_t i = 0; i < w->nconns; i++)
        if (w->conns[i].state == BC_UP)
            bt_start(&w->conns[i]);
    w->busy--;
    progress(w);
}

void bw_go(bench_worker *w) { post_or_die(w->loop, post_go, w); }
void bw_stop(bench_worker *w) { post_or_die(w->loop, post_stop, w); }
void bw_force(bench_worker *w) { post_or_die(w->loop, post_force, w); }

void bw_free(bench_worker *w)
{
    sk_timer_free(w->house);
    if (w->cfg && w->cfg->rate > 0)
        bs_free(w);
    if (w->loop && w->loop != w->main_loop)
        sk_loop_free(w->loop); /* runs stops posted after the end: they see PH_DONE */
    free(w->conns);
    free(w->rings);
    free(w->sendbuf);
    free(w->ramp);
    free(w->window);
    free(w->hs_wait);
    free(w->tl_hist);
    bench_tl_free(&w->st.tl);
}
