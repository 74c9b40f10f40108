/* bench_sched.c — rate mode's clock: a min-heap of connections by their next
 * scheduled send, behind one nanosecond timerfd per worker (loop timers tick in ms).
 * The lowest of the bench files: it calls none of them (on_due is a pointer). */
#include "cli/bench.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define NOT_QUEUED UINT32_MAX

static int before(const bench_conn *a, const bench_conn *b) { return a->sched_ns < b->sched_ns; }

static void put(bench_worker *w, uint32_t i, bench_conn *c)
{
    w->heap[i] = c;
    c->heap_idx = i;
}

static void sift_up(bench_worker *w, uint32_t i)
{
    bench_conn *c = w->heap[i];
    while (i > 0 && before(c, w->heap[(i - 1) / 2])) {
        put(w, i, w->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    put(w, i, c);
}

static void sift_down(bench_worker *w, uint32_t i)
{
    bench_conn *c = w->heap[i];
    for (;;) {
        uint32_t k = 2 * i + 1;
        if (k >= w->nheap)
            break;
        if (k + 1 < w->nheap && before(w->heap[k + 1], w->heap[k]))
            k++;
        if (!before(w->heap[k], c))
            break;
        put(w, i, w->heap[k]);
        i = k;
    }
    put(w, i, c);
}

/* Arms the timerfd for the earliest scheduled send (a no-op if it already is). */
static void arm(bench_worker *w)
{
    uint64_t due = w->nheap ? w->heap[0]->sched_ns : 0;
    if (due == w->armed_ns)
        return;
    struct itimerspec its = {
        .it_value = {.tv_sec = (time_t)(due / 1000000000u), .tv_nsec = (long)(due % 1000000000u)}};
    if (due == 0) /* nothing waits: disarm */
        its.it_value.tv_nsec = 0;
    timerfd_settime(w->tfd, TFD_TIMER_ABSTIME, &its, NULL);
    w->armed_ns = due;
}

void bs_remove(bench_conn *c)
{
    bench_worker *w = c->w;
    uint32_t i = c->heap_idx;
    if (i == NOT_QUEUED || !w->heap)
        return;
    c->heap_idx = NOT_QUEUED;
    bench_conn *last = w->heap[--w->nheap];
    if (i == w->nheap)
        return;
    put(w, i, last);
    sift_down(w, i);
    sift_up(w, last->heap_idx);
}

void bs_wait(bench_conn *c)
{
    bench_worker *w = c->w;
    if (c->heap_idx != NOT_QUEUED) { /* the time of a queued one only moves later */
        sift_down(w, c->heap_idx);
    } else {
        put(w, w->nheap++, c);
        sift_up(w, c->heap_idx);
    }
    if (!w->in_tick)
        arm(w);
}

int bs_queued(const bench_conn *c) { return c->heap_idx != NOT_QUEUED; }

bench_conn *bs_pop_due(bench_worker *w, uint64_t by_ns)
{
    if (!w->nheap || w->heap[0]->sched_ns > by_ns)
        return NULL;
    bench_conn *c = w->heap[0];
    bs_remove(c);
    return c;
}

/* Lets on_due send everything that is due (one indirect call per wake-up,
 * not per send), then sleeps until the next due time. */
static void on_tick(sk_watch *wt, int fd, unsigned ev, void *ud)
{
    bench_worker *w = ud;
    uint64_t n;
    if (read(fd, &n, sizeof n) < 0 && errno != EAGAIN)
        return;
    w->armed_ns = 0;
    w->in_tick = 1;
    w->on_due(w);
    w->in_tick = 0;
    arm(w);
}

int bs_init(bench_worker *w, void (*on_due)(bench_worker *w))
{
    w->on_due = on_due;
    for (uint32_t i = 0; i < w->nconns; i++)
        w->conns[i].heap_idx = NOT_QUEUED;
    w->heap = calloc(w->nconns ? w->nconns : 1, sizeof *w->heap);
    w->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (!w->heap || w->tfd < 0)
        return -1;
    w->tick = sk_watch_new(w->loop, w->tfd, SK_READABLE, on_tick, w);
    return w->tick ? 0 : -1;
}

void bs_thread_init(void)
{
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0); /* wake within ~1 us of the schedule */
}

void bs_free(bench_worker *w)
{
    if (w->tick)
        sk_watch_free(w->tick);
    if (w->tfd >= 0)
        close(w->tfd);
    free(w->heap);
}
