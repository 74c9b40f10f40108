/* bench.c — `sockit bench URL`: shares the connections out to worker
 * threads, runs the clock, signals and the live progress line, then reports. */
#include "cli/bench.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

typedef struct bench_run {
    const bench_cfg *cfg;
    sk_loop *loop;
    bench_worker *workers;
    uint32_t started, done, ramped;
    int signals;
    sk_timer *clock, *ticker;
    uint64_t t0_ns, last_ns, last_rx;
    uint64_t ramp_ns; /* --ramp: t0 to the go */
    int line_shown;
    int failed; /* the run was cut short by an error already reported */
} bench_run;

static void stop_all(bench_run *run, int force)
{
    for (uint32_t i = 0; i < run->started; i++)
        (force ? bw_force : bw_stop)(&run->workers[i]);
}

/* Starts -d's clock. Returns 0, or -1 when it cannot start (nothing would
 * end the run). */
static int start_clock(bench_run *run)
{
    if (run->cfg->duration > 0 &&
        sk_timer_start(run->clock, (uint64_t)(run->cfg->duration * 1000 + 0.5), 0) < 0)
        return -1;
    return 0;
}

/* --ramp: worker w has every connection up or failed (or is over). Once all
 * are, the clock starts: -d, and every worker starts sending. */
static void on_worker_ramped(void *arg)
{
    bench_worker *w = arg;
    bench_run *run = w->owner;
    if (!run->cfg->ramp || w->ramp_seen)
        return;
    w->ramp_seen = 1;
    if (++run->ramped < run->started)
        return;
    run->ramp_ns = bench_now_ns() - run->t0_ns;
    if (run->signals || run->done == run->started)
        return;
    if (start_clock(run) < 0) {
        cli_error("out of memory");
        run->failed = 1;
        stop_all(run, 0);
        return;
    }
    for (uint32_t i = 0; i < run->started; i++)
        bw_go(&run->workers[i]);
}

static void on_worker_done(void *arg)
{
    bench_worker *w = arg;
    bench_run *run = w->owner;
    on_worker_ramped(w);
    if (++run->done == run->started)
        sk_loop_stop(run->loop);
}

static void on_signal(sk_loop *loop, int signo, void *ud)
{
    bench_run *run = ud;
    if (run->signals++ == 0) {
        fprintf(stderr, "\nsockit: %s, finishing (again to stop at once)\n", strsignal(signo));
        stop_all(run, 0);
    } else {
        stop_all(run, 1);
    }
}

static void on_clock(sk_timer *t, void *ud) { stop_all(ud, 0); }

/* Once a second on a terminal: elapsed, connections up, msgs/s, p99. */
static void on_ticker(sk_timer *t, void *ud)
{
    bench_run *run = ud;
    uint64_t now = bench_now_ns(), rx = 0, p99 = 0;
    uint32_t up = 0;
    for (uint32_t i = 0; i < run->started; i++) {
        bench_worker *w = &run->workers[i];
        rx += __atomic_load_n(&w->pub_received, __ATOMIC_RELAXED);
        up += __atomic_load_n(&w->pub_up, __ATOMIC_RELAXED);
        uint64_t p = __atomic_load_n(&w->pub_p99, __ATOMIC_RELAXED);
        p99 = p > p99 ? p : p99; /* the worst thread's p99 */
    }
    double secs = (double)(now - run->last_ns) / 1e9;
    char lat[32];
    fprintf(stderr, "\r[%5.0fs] conns %u/%u  msgs/s %.0f  p99 %s\033[K",
            (double)(now - run->t0_ns) / 1e9, up, run->cfg->conns,
            secs > 0 ? (double)(rx - run->last_rx) / secs : 0,
            p99 ? bench_fmt_ns(p99, lat, sizeof lat) : "-");
    run->last_ns = now;
    run->last_rx = rx;
    run->line_shown = 1;
}

/* Thread i gets connections [C*i/T, C*(i+1)/T) and its share of -n. One
 * worker runs on the main thread's loop: no second thread, so the C
 * library's system-call wrappers keep their single-threaded fast path. */
static int start_workers(bench_run *run)
{
    const bench_cfg *cfg = run->cfg;
    uint32_t t = cfg->threads;
    int shared = t == 1;
    for (uint32_t i = 0; i < t; i++) {
        bench_worker *w = &run->workers[i];
        uint32_t first = (uint32_t)((uint64_t)cfg->conns * i / t);
        uint32_t end = (uint32_t)((uint64_t)cfg->conns * (i + 1) / t);
        uint64_t budget = cfg->messages ? cfg->messages / t + (i < cfg->messages % t) : UINT64_MAX;
        if (bw_init(w, cfg, first, end - first, budget, run->loop, shared, on_worker_done, run) <
            0) {
            cli_error("out of memory for %u connections", end - first);
            bw_free(w);
            return 1;
        }
        w->on_ramped = on_worker_ramped;
        if (shared) {
            bw_begin(w);
        } else if (pthread_create(&w->thread, NULL, bw_main, w) != 0) {
            cli_error("cannot start a thread");
            bw_free(w);
            return 1;
        }
        run->started++;
    }
    return 0;
}

static int start_timers(bench_run *run)
{
    run->clock = sk_timer_new(run->loop, on_clock, run);
    run->ticker = sk_timer_new(run->loop, on_ticker, run);
    if (!run->clock || !run->ticker)
        return -1;
    if (!run->cfg->ramp && start_clock(run) < 0)
        return -1;
    if (run->cfg->progress) /* if it cannot start, only the progress line is missing */
        sk_timer_start(run->ticker, 1000, 1000);
    return 0;
}

/* Joins the threads and merges their counters into one report. */
static int report(bench_run *run)
{
    const bench_cfg *cfg = run->cfg;
    bench_stats *total = calloc(1, sizeof *total);
    if (!total) {
        cli_error("out of memory");
        return 1;
    }
    hist_reset(&total->hist);
    hist_reset(&total->hs_hist);
    hist_reset(&total->iter_hist);
    for (uint32_t i = 0; i < run->started; i++) {
        bench_merge(total, &run->workers[i].st);
        bench_tl_merge(&total->tl, &run->workers[i].st.tl, 0);
    }
    total->ramp_ns = run->ramp_ns;
    bench_finish(cfg, total);
    if (run->line_shown)
        fputs("\r\033[K", stderr);
    bench_print(stdout, cfg, total);
    fflush(stdout);
    int rc = bench_exit_status(cfg, total);
    if (cfg->json && bench_write_json(cfg->json, cfg, total) < 0)
        rc = 1;
    if (cfg->html && bench_write_html(cfg->html, cfg, total) < 0)
        rc = 1;
    bench_tl_free(&total->tl);
    free(total);
    return rc;
}

int cmd_bench(cli_opts *o)
{
    if (o->nargs > 0 && strcmp(o->args[0], "merge") == 0)
        return bench_merge_cmd(o);
    bench_cfg cfg;
    int rc = bench_config(o, &cfg);
    if (rc)
        return rc;
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    cfg.t0_ns = bench_now_ns();
    cfg.t0_unix = (double)wall.tv_sec + (double)wall.tv_nsec / 1e9;
    bench_run run = {.cfg = &cfg, .t0_ns = bench_now_ns()};
    run.last_ns = run.t0_ns;
    run.workers = calloc(cfg.threads, sizeof *run.workers);
    /* the main loop has the workers' backend when it carries the only one */
    if (!run.workers ||
        (cfg.threads == 1 ? cli_loop_new(o, &run.loop) : sk_loop_new(&run.loop)) < 0) {
        cli_error("out of memory");
        free(run.workers);
        bench_config_free(&cfg);
        return 1;
    }
    /* before the threads start, so that they inherit the blocked signals */
    sk_loop_on_signal(run.loop, SIGINT, on_signal, &run);
    sk_loop_on_signal(run.loop, SIGTERM, on_signal, &run);
    rc = start_workers(&run);
    if (start_timers(&run) < 0)
        rc = 1, cli_error("out of memory");
    if (rc)
        stop_all(&run, 1);
    if (run.done < run.started)
        sk_loop_run(run.loop);
    for (uint32_t i = 0; i < run.started; i++)
        if (run.workers[i].loop != run.loop) /* not the one run on this thread */
            pthread_join(run.workers[i].thread, NULL);
    int rrc = run.started ? report(&run) : 1;
    rc = rc ? rc : run.failed ? 1 : rrc;
    for (uint32_t i = 0; i < run.started; i++)
        bw_free(&run.workers[i]);
    sk_timer_free(run.clock);
    sk_timer_free(run.ticker);
    sk_loop_free(run.loop);
    free(run.workers);
    bench_config_free(&cfg);
    return rc;
}
