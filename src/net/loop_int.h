/* loop_int.h — internals of the event loop shared by loop.c, timer.c and
 * signal.c. Not part of the public API. */
#ifndef SOCKIT_LOOP_INT_H
#define SOCKIT_LOOP_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "sockit/loop.h"

/* What an epoll event points at: the part of a watcher that its owner can
 * embed (a connection does) at 16 bytes, since the owner knows its loop and
 * finds itself from the sk__io's address. */
typedef struct sk__io sk__io;
typedef void (*sk__io_cb)(sk__io *io, unsigned events);
/* io_uring (loop_uring.c): an operation of io's owner completed: kind
 * SK__UOP_RECV (n bytes at buf, or none when buf is NULL; more: the
 * multishot receive goes on) or SK__UOP_SEND; res is bytes or -errno. */
typedef void (*sk__uop_cb)(sk__io *io, int kind, int res, uint8_t *buf, int more);
enum { SK__UOP_RECV, SK__UOP_SEND };

struct sk__io {
    union {
        sk__io_cb cb;    /* epoll events */
        sk__uop_cb done; /* io_uring completions (an owner never uses both) */
    };
    int fd;
    uint8_t events;     /* what epoll is asked for */
    uint8_t registered; /* in the epoll set: one with no events is taken out, so a
                         * hung-up fd cannot keep reporting EPOLLHUP to nobody */
    uint8_t dead;       /* stopped: events still queued in this iteration are skipped */
};

/* A watcher with memory of its own (sk_watch_new), for owners that have no
 * struct to embed an sk__io in. */
struct sk_watch {
    sk__io io; /* first: the loop calls back through it */
    sk_loop *loop;
    sk_watch_cb cb;
    void *ud;
    sk_watch *next_dead; /* freed; released at the end of the iteration */
};

struct sk_timer {
    sk_loop *loop;
    uint64_t due;
    uint64_t seq;      /* start order: ties on due run in start order */
    uint64_t repeat;
    size_t heap_index; /* SIZE_MAX when not in the heap */
    sk_timer_cb cb;
    void *ud;
};

typedef struct sk__post {
    sk_post_fn fn;
    void *arg;
    struct sk__post *next;
    int embedded; /* part of its owner (sk__loop_post_node): not freed after fn */
} sk__post;

typedef struct sk__tick {
    sk_tick_cb cb;
    void *ud;
} sk__tick;

/* Per-loop state of a layer above the loop (the connections' queue of work):
 * tick runs after every iteration, before the user's ticks; busy says that
 * work is queued (the wait then does not block); fini runs once when the
 * loop is freed, before anything else goes. The loop knows no more of it. */
typedef struct sk__part {
    void (*tick)(sk_loop *loop, void *st);
    int (*busy)(const void *st);
    void (*fini)(sk_loop *loop, void *st);
    void *st;
} sk__part;
enum { SK__PART_CONNS, SK__PART_WSDEFLATE, SK__PARTS }; /* freed in this order */

struct sk_loop {
    int epfd;
    int wakefd;              /* eventfd: sk_loop_post / sk_loop_stop wake the loop */
    int stop;                /* written from any thread: accessed atomically */
    uint64_t now;
    sk_watch *wake_watch;
    sk_watch *dead;          /* watchers to free at the end of the iteration */
    sk_timer **heap;         /* min-heap of running timers by due time */
    size_t nheap, capheap;
    uint64_t timer_seq;      /* next timer start number */
    pthread_mutex_t post_lock;
    sk__post *posts;         /* LIFO under post_lock; reversed when run */
    sk__tick *ticks;
    size_t nticks;
    struct sk__signals *signals;
    uint8_t *rdbuf;           /* shared read buffer: idle connections and sockets hold none */
    sk__part parts[SK__PARTS];
    struct sk__uring *uring;  /* the io_uring backend (loop_uring.c), or NULL: epoll */
};

#define SK_MAX_EVENTS 256     /* epoll events taken per wait */
#define SK_RDBUF_SIZE 131072 /* one read takes a 64 KiB burst plus its frame headers */

/* loop.c: queues node (fn, arg and embedded = 1 set by the caller, memory
 * owned by the caller until fn runs; fn may free it) like sk_loop_post, but
 * cannot fail: for releases that must happen even when memory is short. */
void sk__loop_post_node(sk_loop *loop, sk__post *node);

/* loop.c: fn runs (once) on this thread when its sk_loop_run returns, with
 * the thread's own caches: for a layer above that keeps something per thread. */
void sk__loop_thread_flush_add(void (*fn)(void));

/* loop.c: the state of part id (NULL until set). */
static inline void *sk__loop_part(const sk_loop *loop, int id) { return loop->parts[id].st; }
/* loop.c: sets part id (once per loop). */
void sk__loop_set_part(sk_loop *loop, int id, const sk__part *part);
/* loop.c: runs every part's tick now (as at the end of an iteration), e.g.
 * so that connections aborted outside the loop get their on_close. */
void sk__loop_tick_parts(sk_loop *loop);

/* loop.c: an embedded registration. start adds fd to loop's epoll set (0 or
 * -errno); set changes the events (0 or -errno; a no-op when unchanged or
 * stopped); stop takes it out for good. The memory is the owner's and must
 * stay valid until the end of the iteration in which stop was called. */
int sk__io_start(sk__io *io, sk_loop *loop, int fd, unsigned events, sk__io_cb cb);
int sk__io_set(sk__io *io, sk_loop *loop, unsigned events);
void sk__io_stop(sk__io *io, sk_loop *loop);

/* loop.c: waits up to timeout_ms (-1: no limit) for epoll events and runs
 * their callbacks. Returns the number of events, or -errno. */
int sk__loop_poll_epoll(sk_loop *loop, int timeout_ms);

/* timer.c: milliseconds until the next timer is due (-1 when none). */
int sk__timers_timeout(sk_loop *loop);
/* timer.c: runs all timers due at loop->now. */
void sk__timers_run(sk_loop *loop);
/* signal.c: frees the loop's signalfd state. */
void sk__signals_free(sk_loop *loop);
/* loop.c: refreshes loop->now from CLOCK_MONOTONIC. */
void sk__loop_update_time(sk_loop *loop);

#endif
