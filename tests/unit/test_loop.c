/* test_loop.c — unit tests for the event loop: timer order/repeat/re-entrancy,
 * cross-thread post and stop, watcher frees inside a batch, signals, SIGPIPE, ticks. */
#include "sockit/loop.h"

#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <sys/time.h>
#include <unistd.h>

/* ---- helpers ---- */

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

static sk_loop *new_loop(void)
{
    sk_loop *loop = NULL;
    int rc = sk_loop_new(&loop);
    CHECK_EQ_INT(rc, 0);
    if (rc != 0) {
        fprintf(stderr, "sk_loop_new failed: %d\n", rc);
        exit(1);
    }
    return loop;
}

/* A guard timer: stops the loop after ms so a broken test fails instead of hanging. */
typedef struct guard {
    sk_loop *loop;
    sk_timer *t;
    int fired;
} guard;

static void guard_cb(sk_timer *t, void *ud)
{
    guard *g = ud;
    g->fired = 1;
    sk_loop_stop(g->loop);
}

/* Runs the loop until something stops it or ms pass. Returns 1 if the guard fired. */
static int run_bounded(sk_loop *loop, unsigned ms)
{
    guard g = {.loop = loop};
    g.t = sk_timer_new(loop, guard_cb, &g);
    CHECK(g.t != NULL);
    sk_timer_start(g.t, ms, 0);
    int rc = sk_loop_run(loop);
    CHECK_EQ_INT(rc, 0);
    sk_timer_free(g.t);
    return g.fired;
}

static void stop_cb(sk_timer *t, void *ud) { sk_loop_stop(ud); }

/* ---- timers ---- */

typedef struct order_ctx {
    sk_loop *loop;
    uint64_t start;
    int order[8];
    uint64_t when[8];
    int n;
} order_ctx;

typedef struct order_timer {
    order_ctx *ctx;
    int id;
    uint64_t ms;
} order_timer;

static void order_cb(sk_timer *t, void *ud)
{
    order_timer *ot = ud;
    order_ctx *c = ot->ctx;
    if (c->n < 8) {
        c->order[c->n] = ot->id;
        c->when[c->n] = sk_loop_now(c->loop) - c->start;
    }
    c->n++;
    if (c->n == 5)
        sk_loop_stop(c->loop);
}

/* Timers started in scrambled order fire by due time, never early. */
static void test_timer_order(void)
{
    sk_loop *loop = new_loop();
    order_ctx c = {.loop = loop, .start = sk_loop_now(loop)};
    static const uint64_t delays[5] = {40, 10, 30, 0, 20};
    static const int expect[5] = {3, 1, 4, 2, 0}; /* ids sorted by delay */
    order_timer ots[5];
    sk_timer *ts[5];
    for (int i = 0; i < 5; i++) {
        ots[i] = (order_timer){.ctx = &c, .id = i, .ms = delays[i]};
        ts[i] = sk_timer_new(loop, order_cb, &ots[i]);
        CHECK(ts[i] != NULL);
        sk_timer_start(ts[i], delays[i], 0);
    }
    CHECK_EQ_INT(run_bounded(loop, 3000), 0);
    CHECK_EQ_INT(c.n, 5);
    for (int i = 0; i < 5 && i < c.n; i++) {
        CHECK_EQ_INT(c.order[i], expect[i]);
        CHECK(c.when[i] >= delays[expect[i]]); /* never early */
    }
    /* Nothing fires again: all were one-shot. */
    sk_timer *stop = sk_timer_new(loop, stop_cb, loop);
    sk_timer_start(stop, 60, 0);
    CHECK_EQ_INT(run_bounded(loop, 3000), 0);
    CHECK_EQ_INT(c.n, 5);
    sk_timer_free(stop);
    for (int i = 0; i < 5; i++)
        sk_timer_free(ts[i]);
    sk_loop_free(loop);
}

typedef struct rep_ctx {
    sk_loop *loop;
    int count;
    int limit;
    uint64_t last;
    int too_soon;
    int mode; /* 0: stop self at limit; 1: free self at limit; 2: restart self (one-shot) */
    sk_timer *self;
} rep_ctx;

static void rep_cb(sk_timer *t, void *ud)
{
    rep_ctx *r = ud;
    uint64_t now = sk_loop_now(r->loop);
    if (r->count > 0 && now - r->last < 5)
        r->too_soon++;
    r->last = now;
    r->count++;
    CHECK(t == r->self);
    if (r->count < r->limit) {
        if (r->mode == 2)
            sk_timer_start(t, 5, 0); /* restart a one-shot from inside its callback */
        return;
    }
    if (r->mode == 0) {
        sk_timer_stop(t);
    } else if (r->mode == 1) {
        sk_timer_free(t);
        r->self = NULL;
    }
}

/* A repeating timer fires every repeat_ms; stop, free and restart from inside
 * its own callback take effect at once. */
static void test_timer_repeat_and_reentrancy(void)
{
    for (int mode = 0; mode < 3; mode++) {
        sk_loop *loop = new_loop();
        rep_ctx r = {.loop = loop, .limit = 4, .mode = mode};
        r.self = sk_timer_new(loop, rep_cb, &r);
        CHECK(r.self != NULL);
        sk_timer_start(r.self, mode == 2 ? 5 : 0, mode == 2 ? 0 : 5);
        sk_timer *stop = sk_timer_new(loop, stop_cb, loop);
        sk_timer_start(stop, 150, 0); /* well after the 4th firing (~15-20 ms) */
        CHECK_EQ_INT(run_bounded(loop, 3000), 0);
        CHECK_EQ_INT(r.count, 4);
        CHECK_EQ_INT(r.too_soon, 0);
        if (mode == 0) { /* stopped: it can be started again */
            sk_timer_start(r.self, 1, 0);
            r.limit = 0;
            sk_timer_start(stop, 60, 0);
            CHECK_EQ_INT(run_bounded(loop, 3000), 0);
            CHECK_EQ_INT(r.count, 5);
        }
        sk_timer_free(stop);
        sk_timer_free(r.self);
        sk_loop_free(loop);
    }
}

/* A repeating timer that restarts itself with new values from its callback:
 * the restart replaces the automatic re-arm (fires once per period, not twice). */
typedef struct restart_ctx {
    int count;
    sk_timer *self;
} restart_ctx;

static void restart_cb(sk_timer *t, void *ud)
{
    restart_ctx *r = ud;
    r->count++;
    sk_timer_start(t, 30, 30);
}

static void test_timer_restart_repeating(void)
{
    sk_loop *loop = new_loop();
    restart_ctx r = {0};
    r.self = sk_timer_new(loop, restart_cb, &r);
    sk_timer_start(r.self, 0, 1);
    sk_timer *stop = sk_timer_new(loop, stop_cb, loop);
    sk_timer_start(stop, 100, 0);
    CHECK_EQ_INT(run_bounded(loop, 3000), 0);
    /* fires at ~0, 30, 60, 90: 3 or 4 times, never the 1 ms rate */
    CHECK(r.count >= 3 && r.count <= 4);
    sk_timer_free(stop);
    sk_timer_free(r.self);
    sk_loop_free(loop);
}

/* Two timers due in the same iteration: whichever runs first frees (or stops)
 * the other, which then must not fire (and must not be touched after free). */
typedef struct pair_ctx {
    sk_timer *t[2];
    int fired[2];
    int op; /* 0: free the other; 1: stop the other; 2: restart the other later */
} pair_ctx;

static pair_ctx *g_pair;

static void pair_cb(sk_timer *t, void *ud)
{
    pair_ctx *p = g_pair;
    int me = (int)(intptr_t)ud, other = 1 - me;
    p->fired[me]++;
    if (p->fired[me] > 1 || !p->t[other])
        return;
    if (p->op == 0) {
        sk_timer_free(p->t[other]);
        p->t[other] = NULL;
    } else if (p->op == 1) {
        sk_timer_stop(p->t[other]);
    } else {
        sk_timer_start(p->t[other], 40, 0);
    }
}

static void test_timer_cross_free_same_iteration(void)
{
    for (int op = 0; op < 3; op++) {
        sk_loop *loop = new_loop();
        pair_ctx p = {.op = op};
        g_pair = &p;
        for (int i = 0; i < 2; i++) {
            p.t[i] = sk_timer_new(loop, pair_cb, (void *)(intptr_t)i);
            sk_timer_start(p.t[i], 1 + (unsigned)i, 0);
        }
        sleep_ms(20); /* both are overdue when the loop first looks */
        sk_timer *stop = sk_timer_new(loop, stop_cb, loop);
        sk_timer_start(stop, 25, 0); /* relative to the cached, older "now" */
        CHECK_EQ_INT(run_bounded(loop, 3000), 0);
        /* the earlier timer (0) ran first and disarmed timer 1 */
        CHECK_EQ_INT(p.fired[0], 1);
        CHECK_EQ_INT(p.fired[1], 0);
        if (op == 2) { /* restarted: fires later, once */
            sk_timer_start(stop, 100, 0);
            CHECK_EQ_INT(run_bounded(loop, 3000), 0);
            CHECK_EQ_INT(p.fired[1], 1);
        }
        sk_timer_free(stop);
        sk_timer_free(p.t[0]);
        sk_timer_free(p.t[1]);
        sk_loop_free(loop);
    }
}

/* A timer freeing itself from inside its own callback (one-shot and repeating). */
static int self_free_count;
static void self_free_cb(sk_timer *t, void *ud)
{
    self_free_count++;
    sk_timer_free(t);
}

static void test_timer_free_self(void)
{
    sk_loop *loop = new_loop();
    self_free_count = 0;
    sk_timer *a = sk_timer_new(loop, self_free_cb, NULL);
    sk_timer *b = sk_timer_new(loop, self_free_cb, NULL);
    sk_timer_start(a, 1, 0);
    sk_timer_start(b, 2, 2); /* repeating: re-armed before the callback, then freed */
    sk_timer *stop = sk_timer_new(loop, stop_cb, loop);
    sk_timer_start(stop, 50, 0);
    CHECK_EQ_INT(run_bounded(loop, 3000), 0);
    CHECK_EQ_INT(self_free_count, 2);
    sk_timer_free(stop);
    sk_timer_free(NULL); /* no-op */
    sk_loop_free(loop);
}

/* ---- sk_loop_post and sk_loop_stop across threads ---- */

#define NPOSTS 20000

typedef struct post_ctx {
    sk_loop *loop;
    pthread_t loop_thread;
    int seen[NPOSTS];
    int n;
    int wrong_thread;
    int done;
} post_ctx;

static post_ctx *g_post;

static void post_record(void *arg)
{
    post_ctx *p = g_post;
    if (!pthread_equal(pthread_self(), p->loop_thread))
        p->wrong_thread++;
    if (p->n < NPOSTS)
        p->seen[p->n] = (int)(intptr_t)arg;
    p->n++;
}

static void post_stop(void *arg)
{
    post_ctx *p = arg;
    p->done = 1;
    sk_loop_stop(p->loop);
}

static void *poster_thread(void *arg)
{
    post_ctx *p = arg;
    for (int i = 0; i < NPOSTS; i++) {
        int rc = sk_loop_post(p->loop, post_record, (void *)(intptr_t)i);
        if (rc != 0)
            return (void *)1;
        if (i % 1000 == 999)
            sleep_ms(1); /* let the loop run some batches while we post */
    }
    sk_loop_post(p->loop, post_stop, p);
    return NULL;
}

static void test_post_fifo_from_thread(void)
{
    static post_ctx p;
    memset(&p, 0, sizeof p);
    p.loop = new_loop();
    p.loop_thread = pthread_self();
    g_post = &p;
    pthread_t th;
    CHECK_EQ_INT(pthread_create(&th, NULL, poster_thread, &p), 0);
    CHECK_EQ_INT(run_bounded(p.loop, 10000), 0);
    void *ret;
    pthread_join(th, &ret);
    CHECK(ret == NULL);
    CHECK_EQ_INT(p.done, 1);
    CHECK_EQ_INT(p.n, NPOSTS);
    CHECK_EQ_INT(p.wrong_thread, 0);
    int in_order = 1;
    for (int i = 0; i < NPOSTS && i < p.n; i++)
        if (p.seen[i] != i) {
            in_order = 0;
            fprintf(stderr, "post #%d ran as %d\n", i, p.seen[i]);
            break;
        }
    CHECK(in_order);
    /* A post never run by the loop still runs exactly once, inside sk_loop_free. */
    int before = p.n;
    CHECK_EQ_INT(sk_loop_post(p.loop, post_record, (void *)(intptr_t)before), 0);
    CHECK_EQ_INT(p.n, before);
    sk_loop_free(p.loop);
    CHECK_EQ_INT(p.n, before + 1);
}

typedef struct wake_ctx {
    sk_loop *loop;
    pthread_t loop_thread;
    int ran, on_loop_thread;
    uint64_t posted_at, ran_at;
    int use_stop;
} wake_ctx;

static void wake_fn(void *arg)
{
    wake_ctx *w = arg;
    w->ran++;
    w->ran_at = wall_ms();
    w->on_loop_thread = pthread_equal(pthread_self(), w->loop_thread);
    sk_loop_stop(w->loop);
}

static void *waker_thread(void *arg)
{
    wake_ctx *w = arg;
    sleep_ms(150); /* the loop is now asleep in epoll_wait (nothing due for 5 s) */
    w->posted_at = wall_ms();
    if (w->use_stop)
        sk_loop_stop(w->loop);
    else
        sk_loop_post(w->loop, wake_fn, w);
    return NULL;
}

/* A post or a stop from another thread wakes a loop blocked in epoll_wait. */
static void test_wakeup_from_thread(void)
{
    for (int use_stop = 0; use_stop < 2; use_stop++) {
        wake_ctx w = {.loop = new_loop(), .loop_thread = pthread_self(), .use_stop = use_stop};
        pthread_t th;
        uint64_t t0 = wall_ms();
        CHECK_EQ_INT(pthread_create(&th, NULL, waker_thread, &w), 0);
        int timed_out = run_bounded(w.loop, 5000);
        uint64_t t1 = wall_ms();
        pthread_join(th, NULL);
        CHECK_EQ_INT(timed_out, 0);
        CHECK(t1 - t0 < 2000);
        CHECK(t1 >= w.posted_at);
        if (!use_stop) {
            CHECK_EQ_INT(w.ran, 1);
            CHECK(w.on_loop_thread);
            CHECK(w.ran_at - w.posted_at < 1000);
        }
        /* the stop request was consumed: the loop runs again until stopped */
        sk_timer *stop = sk_timer_new(w.loop, stop_cb, w.loop);
        sk_timer_start(stop, 30, 0);
        uint64_t t2 = wall_ms();
        CHECK_EQ_INT(run_bounded(w.loop, 3000), 0);
        CHECK(wall_ms() - t2 >= 20);
        sk_timer_free(stop);
        sk_loop_free(w.loop);
    }
}

/* ---- watchers ---- */

typedef struct wctx {
    sk_loop *loop;
    int fds[2][2]; /* two pipes */
    sk_watch *w[2];
    int calls[2];
    int extra_calls;
    sk_watch *extra;
    int extra_fds[2];
} wctx;

static void self_free_watch_cb(sk_watch *w, int fd, unsigned ev, void *ud)
{
    wctx *c = ud;
    c->calls[0]++;
    CHECK(ev & SK_READABLE);
    sk_watch_free(w); /* the pipe stays readable: must not be reported again */
    sk_watch_free(w); /* idempotent */
}

static void test_watch_free_self(void)
{
    wctx c = {.loop = new_loop()};
    CHECK_EQ_INT(pipe2(c.fds[0], O_NONBLOCK | O_CLOEXEC), 0);
    CHECK_EQ_INT(write(c.fds[0][1], "x", 1), 1);
    c.w[0] = sk_watch_new(c.loop, c.fds[0][0], SK_READABLE, self_free_watch_cb, &c);
    CHECK(c.w[0] != NULL);
    CHECK_EQ_INT(sk_watch_events(c.w[0]), SK_READABLE);
    sk_timer *stop = sk_timer_new(c.loop, stop_cb, c.loop);
    sk_timer_start(stop, 50, 0);
    CHECK_EQ_INT(run_bounded(c.loop, 3000), 0);
    CHECK_EQ_INT(c.calls[0], 1);
    sk_timer_free(stop);
    close(c.fds[0][0]);
    close(c.fds[0][1]);
    sk_loop_free(c.loop);
}

static void extra_cb(sk_watch *w, int fd, unsigned ev, void *ud)
{
    wctx *c = ud;
    c->extra_calls++;
    sk_watch_free(w);
}

/* Whichever of the two fires first frees the other, closes its pipe and opens
 * a new one (probably reusing the fd numbers) with a new watcher. The stale
 * event of the freed watcher, already in this epoll batch, must be dropped. */
static void pair_watch_cb(sk_watch *w, int fd, unsigned ev, void *ud)
{
    wctx *c = ud;
    int me = w == c->w[0] ? 0 : 1, other = 1 - me;
    CHECK(w == c->w[me]);
    c->calls[me]++;
    if (c->calls[me] > 1 || !c->w[other])
        return;
    sk_watch_free(c->w[other]);
    c->w[other] = NULL;
    close(c->fds[other][0]);
    close(c->fds[other][1]);
    CHECK_EQ_INT(pipe2(c->extra_fds, O_NONBLOCK | O_CLOEXEC), 0);
    CHECK_EQ_INT(write(c->extra_fds[1], "y", 1), 1);
    c->extra = sk_watch_new(c->loop, c->extra_fds[0], SK_READABLE, extra_cb, c);
    CHECK(c->extra != NULL);
    sk_watch_free(w);
    c->w[me] = NULL;
}

static void test_watch_free_other_in_batch(void)
{
    wctx c = {.loop = new_loop()};
    for (int i = 0; i < 2; i++) {
        CHECK_EQ_INT(pipe2(c.fds[i], O_NONBLOCK | O_CLOEXEC), 0);
        CHECK_EQ_INT(write(c.fds[i][1], "x", 1), 1);
    }
    for (int i = 0; i < 2; i++)
        c.w[i] = sk_watch_new(c.loop, c.fds[i][0], SK_READABLE, pair_watch_cb, &c);
    sk_timer *stop = sk_timer_new(c.loop, stop_cb, c.loop);
    sk_timer_start(stop, 50, 0);
    CHECK_EQ_INT(run_bounded(c.loop, 3000), 0);
    CHECK_EQ_INT(c.calls[0] + c.calls[1], 1);
    CHECK_EQ_INT(c.extra_calls, 1);
    sk_timer_free(stop);
    int survivor = c.calls[0] ? 0 : 1;
    close(c.fds[survivor][0]);
    close(c.fds[survivor][1]);
    close(c.extra_fds[0]);
    close(c.extra_fds[1]);
    sk_loop_free(c.loop);
}

/* sk_watch_set: changing interest to 0 silences a ready fd; back on, it fires. */
static int set_calls;
static void set_cb(sk_watch *w, int fd, unsigned ev, void *ud)
{
    set_calls++;
    CHECK_EQ_INT(ev & ~(unsigned)(SK_READABLE | SK_WRITABLE | SK_HANGUP), 0);
    CHECK(ev & SK_WRITABLE);
    CHECK(!(ev & SK_READABLE)); /* not asked for */
    CHECK_EQ_INT(sk_watch_set(w, 0), 0);
}

static void test_watch_set(void)
{
    sk_loop *loop = new_loop();
    int p[2];
    CHECK_EQ_INT(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    /* watch the write end of a pipe for writability only */
    sk_watch *w = sk_watch_new(loop, p[1], SK_WRITABLE, set_cb, NULL);
    CHECK(w != NULL);
    sk_timer *stop = sk_timer_new(loop, stop_cb, loop);
    sk_timer_start(stop, 40, 0);
    CHECK_EQ_INT(run_bounded(loop, 3000), 0);
    CHECK_EQ_INT(set_calls, 1);
    CHECK_EQ_INT(sk_watch_events(w), 0);
    CHECK_EQ_INT(sk_watch_set(w, SK_WRITABLE), 0);
    CHECK_EQ_INT(sk_watch_set(w, SK_WRITABLE), 0); /* unchanged: no-op */
    sk_timer_start(stop, 40, 0);
    CHECK_EQ_INT(run_bounded(loop, 3000), 0);
    CHECK_EQ_INT(set_calls, 2);
    sk_watch_free(w);
    sk_timer_free(stop);
    close(p[0]);
    close(p[1]);
    /* a watcher on a bad fd fails with errno set */
    errno = 0;
    CHECK(sk_watch_new(loop, -1, SK_READABLE, set_cb, NULL) == NULL);
    CHECK_EQ_INT(errno, EBADF);
    sk_loop_free(loop);
}

/* ---- signals ---- */

typedef struct sig_ctx {
    sk_loop *loop;
    pthread_t loop_thread;
    int in_run;
    int usr1, usr2, wrong_thread, outside_run;
    int last_signo;
} sig_ctx;

static void sig_cb(sk_loop *loop, int signo, void *ud)
{
    sig_ctx *s = ud;
    CHECK(loop == s->loop);
    if (!pthread_equal(pthread_self(), s->loop_thread))
        s->wrong_thread++;
    if (!s->in_run)
        s->outside_run++;
    s->last_signo = signo;
    if (signo == SIGUSR1)
        s->usr1++;
    else if (signo == SIGUSR2)
        s->usr2++;
    if (s->usr1 >= 2 && s->usr2 >= 1)
        sk_loop_stop(loop);
}

static void raise_cb(sk_timer *t, void *ud) { raise(SIGUSR1); }

static void *kill_thread(void *arg)
{
    sleep_ms(30);
    kill(getpid(), SIGUSR2); /* process-directed, from another thread */
    return NULL;
}

/* raise(SIGUSR1) twice (before the loop runs and from a timer) and SIGUSR2 from
 * another thread: each arrives as a callback on the loop thread, inside sk_loop_run. */
static void test_signals(void)
{
    sig_ctx s = {.loop = new_loop(), .loop_thread = pthread_self()};
    CHECK_EQ_INT(sk_loop_on_signal(s.loop, SIGUSR1, sig_cb, &s), 0);
    CHECK_EQ_INT(sk_loop_on_signal(s.loop, SIGUSR2, sig_cb, &s), 0);
    CHECK_EQ_INT(sk_loop_on_signal(s.loop, 0, sig_cb, &s), -EINVAL);
    CHECK_EQ_INT(sk_loop_on_signal(s.loop, 65, sig_cb, &s), -EINVAL);
    raise(SIGUSR1); /* blocked now: pending until the loop reads it */
    CHECK_EQ_INT(s.usr1, 0);
    sk_timer *t = sk_timer_new(s.loop, raise_cb, NULL);
    sk_timer_start(t, 60, 0);
    pthread_t th;
    CHECK_EQ_INT(pthread_create(&th, NULL, kill_thread, NULL), 0); /* inherits the mask */
    s.in_run = 1;
    CHECK_EQ_INT(run_bounded(s.loop, 3000), 0);
    s.in_run = 0;
    pthread_join(th, NULL);
    CHECK_EQ_INT(s.usr1, 2);
    CHECK_EQ_INT(s.usr2, 1);
    CHECK_EQ_INT(s.wrong_thread, 0);
    CHECK_EQ_INT(s.outside_run, 0);
    sk_timer_free(t);
    sk_loop_free(s.loop);
}

/* SIGPIPE: sk_loop_new sets it to ignored when it was default, so writing to a
 * pipe nobody reads fails with EPIPE; a handler the user installed is kept. */
static void user_sigpipe(int sig) { (void)sig; }

static void test_sigpipe(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigaction(SIGPIPE, &sa, NULL);
    sk_loop *loop = new_loop();
    struct sigaction now;
    sigaction(SIGPIPE, NULL, &now);
    CHECK(now.sa_handler == SIG_IGN);
    /* in a child, so a regression is reported as a failed check, not a dead test */
    pid_t pid = fork();
    if (pid == 0) {
        int p[2];
        if (pipe(p) < 0)
            _exit(2);
        close(p[0]);
        ssize_t r = write(p[1], "x", 1);
        _exit(r < 0 && errno == EPIPE ? 0 : 3);
    }
    CHECK(pid > 0);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK_EQ_INT(WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status), 0);
    sk_loop_free(loop);

    sa.sa_handler = user_sigpipe;
    sigaction(SIGPIPE, &sa, NULL);
    loop = new_loop();
    sigaction(SIGPIPE, NULL, &now);
    CHECK(now.sa_handler == user_sigpipe);
    sk_loop_free(loop);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

/* ---- ticks ---- */

#define NCHAIN 50

typedef struct tick_ctx {
    sk_loop *loop;
    int ticks;
    int chain_n;
    int chain_mismatch;
    int timer_tick;      /* value of ticks when the timer fired, -1 before */
    int timer_tick_seen; /* the tick right after the timer saw it */
    int ticks2;
} tick_ctx;

static void on_tick(sk_loop *loop, void *ud)
{
    tick_ctx *t = ud;
    CHECK(loop == t->loop);
    if (t->timer_tick >= 0 && t->timer_tick == t->ticks)
        t->timer_tick_seen = 1; /* same iteration as the timer: ticks run after timers */
    t->ticks++;
}

static void on_tick2(sk_loop *loop, void *ud)
{
    tick_ctx *t = ud;
    t->ticks2++;
}

/* Each post queues the next one, so each runs in its own iteration: post k
 * must see exactly k ticks before it. */
static void chain_post(void *arg)
{
    tick_ctx *t = arg;
    if (t->ticks != t->chain_n)
        t->chain_mismatch++;
    t->chain_n++;
    if (t->chain_n < NCHAIN)
        sk_loop_post(t->loop, chain_post, t);
}

static void tick_timer_cb(sk_timer *tm, void *ud)
{
    tick_ctx *t = ud;
    t->timer_tick = t->ticks;
}

static void test_on_tick(void)
{
    tick_ctx t = {.loop = new_loop(), .timer_tick = -1};
    CHECK_EQ_INT(sk_loop_on_tick(t.loop, on_tick, &t), 0);
    CHECK_EQ_INT(sk_loop_on_tick(t.loop, on_tick2, &t), 0);
    CHECK_EQ_INT(sk_loop_post(t.loop, chain_post, &t), 0);
    sk_timer *tm = sk_timer_new(t.loop, tick_timer_cb, &t);
    sk_timer_start(tm, 100, 0);
    sk_timer *stop = sk_timer_new(t.loop, stop_cb, t.loop);
    sk_timer_start(stop, 150, 0);
    CHECK_EQ_INT(run_bounded(t.loop, 3000), 0);
    CHECK_EQ_INT(t.chain_n, NCHAIN);
    CHECK_EQ_INT(t.chain_mismatch, 0);
    CHECK(t.ticks >= NCHAIN + 2);
    CHECK_EQ_INT(t.ticks2, t.ticks);
    CHECK(t.timer_tick >= NCHAIN);
    CHECK_EQ_INT(t.timer_tick_seen, 1);
    sk_timer_free(tm);
    sk_timer_free(stop);
    sk_loop_free(t.loop);
}

/* A signal that interrupts the wait (a handler without SA_RESTART, or a
 * tracer attaching) is not an error: the loop goes on, on both backends. */
static int g_alarms;
static void on_alarm(int signo) { g_alarms++; }


static void test_interrupted_wait(void)
{
    struct sigaction sa = {.sa_handler = on_alarm}, old; /* no SA_RESTART */
    sigaction(SIGALRM, &sa, &old);
    for (int io = SK_IO_EPOLL; io <= SK_IO_URING; io++) {
        sk_loop *loop = NULL;
        CHECK_EQ_INT(sk_loop_new_io(&loop, (sk_io)io, NULL), 0);
        sk_timer *t = sk_timer_new(loop, stop_cb, loop);
        sk_timer_start(t, 300, 0);
        g_alarms = 0;
        struct itimerval it = {.it_value = {.tv_usec = 50000}, .it_interval = {.tv_usec = 50000}};
        setitimer(ITIMER_REAL, &it, NULL);
        CHECK_EQ_INT(sk_loop_run(loop), 0);
        it = (struct itimerval){0};
        setitimer(ITIMER_REAL, &it, NULL);
        CHECK(g_alarms >= 2);
        sk_timer_free(t);
        sk_loop_free(loop);
    }
    sigaction(SIGALRM, &old, NULL);
    alarm(120);
}

int main(void)
{
    alarm(120); /* last-resort hang guard */
    test_timer_order();
    test_timer_repeat_and_reentrancy();
    test_timer_restart_repeating();
    test_timer_cross_free_same_iteration();
    test_timer_free_self();
    test_post_fifo_from_thread();
    test_wakeup_from_thread();
    test_watch_free_self();
    test_watch_free_other_in_batch();
    test_watch_set();
    test_sigpipe();
    test_on_tick();
    test_interrupted_wait();
    test_signals(); /* last: it leaves SIGUSR1/SIGUSR2 blocked in this thread */
    return check_done("test_loop");
}
