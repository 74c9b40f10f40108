/* timer.c — loop timers kept in a binary min-heap ordered by due time, so
 * thousands of idle timeouts cost O(log n) each. */
#include "net/loop_int.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

static void heap_swap(sk_loop *l, size_t a, size_t b)
{
    sk_timer *t = l->heap[a];
    l->heap[a] = l->heap[b];
    l->heap[b] = t;
    l->heap[a]->heap_index = a;
    l->heap[b]->heap_index = b;
}

/* Heap order: due time, then start order (so a timer restarted from a
 * callback sorts after the timers already due). */
static int before(const sk_timer *a, const sk_timer *b)
{
    return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void sift_up(sk_loop *l, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(l->heap[i], l->heap[p]))
            break;
        heap_swap(l, i, p);
        i = p;
    }
}

static void sift_down(sk_loop *l, size_t i)
{
    for (;;) {
        size_t a = 2 * i + 1, b = a + 1, m = i;
        if (a < l->nheap && before(l->heap[a], l->heap[m]))
            m = a;
        if (b < l->nheap && before(l->heap[b], l->heap[m]))
            m = b;
        if (m == i)
            return;
        heap_swap(l, i, m);
        i = m;
    }
}

static void heap_remove(sk_loop *l, sk_timer *t)
{
    size_t i = t->heap_index;
    t->heap_index = SIZE_MAX;
    l->nheap--;
    if (i == l->nheap)
        return;
    l->heap[i] = l->heap[l->nheap];
    l->heap[i]->heap_index = i;
    sift_down(l, i);
    sift_up(l, i);
}

static int heap_push(sk_loop *l, sk_timer *t)
{
    if (l->nheap == l->capheap) {
        size_t cap = l->capheap ? l->capheap * 2 : 16;
        sk_timer **h = realloc(l->heap, cap * sizeof *h);
        if (!h)
            return -ENOMEM;
        l->heap = h;
        l->capheap = cap;
    }
    t->heap_index = l->nheap;
    l->heap[l->nheap++] = t;
    sift_up(l, t->heap_index);
    return 0;
}

sk_timer *sk_timer_new(sk_loop *loop, sk_timer_cb cb, void *ud)
{
    sk_timer *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->loop = loop;
    t->cb = cb;
    t->ud = ud;
    t->heap_index = SIZE_MAX;
    return t;
}

int sk_timer_start(sk_timer *t, uint64_t ms, uint64_t repeat_ms)
{
    sk_timer_stop(t);
    t->due = t->loop->now + ms;
    t->seq = t->loop->timer_seq++;
    t->repeat = repeat_ms;
    return heap_push(t->loop, t); /* on out-of-memory the timer stays stopped */
}

void sk_timer_stop(sk_timer *t)
{
    if (t->heap_index != SIZE_MAX)
        heap_remove(t->loop, t);
}

void sk_timer_free(sk_timer *t)
{
    if (!t)
        return;
    sk_timer_stop(t);
    free(t);
}

int sk__timers_timeout(sk_loop *loop)
{
    if (loop->nheap == 0)
        return -1;
    sk__loop_update_time(loop);
    uint64_t due = loop->heap[0]->due;
    if (due <= loop->now)
        return 0;
    uint64_t d = due - loop->now;
    return d > INT32_MAX ? INT32_MAX : (int)d;
}

/* A callback may stop, restart or free any timer, including its own: each
 * round re-reads the heap top instead of holding pointers across calls.
 * Timers (re)started during this pass wait for the next one, so a callback
 * that re-arms itself with 0 ms cannot starve the poller. */
void sk__timers_run(sk_loop *loop)
{
    uint64_t now = loop->now, limit = loop->timer_seq;
    while (loop->nheap > 0 && loop->heap[0]->due <= now && loop->heap[0]->seq < limit) {
        sk_timer *t = loop->heap[0];
        heap_remove(loop, t);
        if (t->repeat) /* its heap slot was just freed: re-adding it cannot fail */
            sk_timer_start(t, t->repeat, t->repeat);
        t->cb(t, t->ud);
    }
}
