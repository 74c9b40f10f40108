/* loop.h — the event loop: fd watchers on epoll, timers, a thread-safe
 * post/wakeup, and signals delivered as ordinary loop events. */
#ifndef SOCKIT_LOOP_H
#define SOCKIT_LOOP_H

#include <stdint.h>

#include "sockit/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sk_loop sk_loop;
typedef struct sk_watch sk_watch;
typedef struct sk_timer sk_timer;

/* Event bits for sk_watch. */
enum { SK_READABLE = 1u, SK_WRITABLE = 2u, SK_HANGUP = 4u };

typedef void (*sk_watch_cb)(sk_watch *w, int fd, unsigned events, void *ud);
typedef void (*sk_timer_cb)(sk_timer *t, void *ud);
typedef void (*sk_post_fn)(void *arg);
typedef void (*sk_signal_cb)(sk_loop *loop, int signo, void *ud);
/* Runs at the end of every loop iteration, after all events were handled. */
typedef void (*sk_tick_cb)(sk_loop *loop, void *ud);

/* Creates a loop. Also sets SIGPIPE to ignored (if it was default) so a
 * peer that goes away can never kill the process. Returns 0 and sets *out,
 * or a negated errno. The caller owns *out and frees it with sk_loop_free. */
SK_EXTERN int sk_loop_new(sk_loop **out);

/* I/O backends. epoll is the default and the fallback; io_uring (Linux 6.1+,
 * built when liburing is found) receives on stream connections through one
 * multishot recv each and submits their sends, so one system call serves a
 * whole batch of connections. Other watchers stay on epoll either way. */
typedef enum sk_io { SK_IO_EPOLL = 0, SK_IO_URING = 1 } sk_io;

/* Like sk_loop_new, with the backend io. When io_uring is asked for but not
 * available (not built in, or refused by the kernel) the loop uses epoll:
 * check sk_loop_io. Returns 0 and sets *out, or a negated errno; *why (if
 * not NULL) is set to a static string saying why io_uring was not used, or
 * NULL when it was (or was not asked for). An io_uring loop belongs to the
 * thread that first runs it (the kernel takes its submissions from that
 * thread only): create handles before that or from its callbacks, as with
 * every loop, and free it after sk_loop_run returned. */
SK_EXTERN int sk_loop_new_io(sk_loop **out, sk_io io, const char **why);

/* The backend the loop really uses. */
SK_EXTERN sk_io sk_loop_io(const sk_loop *loop);

/* Parses "epoll" or "uring" (also "io_uring"). Returns 0, or SK_EIOBACKEND
 * (*out unchanged). */
SK_EXTERN int sk_io_parse(const char *name, sk_io *out);

/* Runs until sk_loop_stop() is called. Returns 0, or a negated errno if
 * waiting (epoll_wait / io_uring_enter) fails. Every callback of the loop's
 * handles fires from inside. */
SK_EXTERN int sk_loop_run(sk_loop *loop);

/* Asks the loop to return from sk_loop_run after the current iteration.
 * Safe to call from any thread and from any callback. */
SK_EXTERN void sk_loop_stop(sk_loop *loop);

/* Frees the loop and its internal handles. Connections already closed or
 * aborted get their on_close here; close your other handles first (their
 * owners' free functions). Posted functions still queued run here too. */
SK_EXTERN void sk_loop_free(sk_loop *loop);

/* Monotonic time in milliseconds, cached at the start of each iteration. */
SK_EXTERN uint64_t sk_loop_now(const sk_loop *loop);

/* Runs fn(arg) on the loop's thread during its next iteration. Safe from any
 * thread. Returns 0, or -ENOMEM. fn runs exactly once: at the latest
 * inside sk_loop_free. */
SK_EXTERN int sk_loop_post(sk_loop *loop, sk_post_fn fn, void *arg);

/* Calls cb(loop, signo, ud) on the loop thread when signo arrives. The signal
 * is blocked in the calling thread (call this before starting other threads
 * so they inherit the mask) and read through a signalfd. Returns 0 or a
 * negated errno. One callback per signal per loop. */
SK_EXTERN int sk_loop_on_signal(sk_loop *loop, int signo, sk_signal_cb cb, void *ud);

/* Adds a callback that runs at the end of every iteration (used by
 * connections to flush all replies of a batch with one write). Returns 0 or
 * -ENOMEM. */
SK_EXTERN int sk_loop_on_tick(sk_loop *loop, sk_tick_cb cb, void *ud);

/* Watches fd for events (SK_READABLE | SK_WRITABLE; may be 0). Returns the
 * watcher, or NULL with errno set. The fd stays owned by the caller. */
SK_EXTERN sk_watch *sk_watch_new(sk_loop *loop, int fd, unsigned events, sk_watch_cb cb, void *ud);

/* Changes the events of interest; a no-op when unchanged. Returns 0 or a
 * negated errno. */
SK_EXTERN int sk_watch_set(sk_watch *w, unsigned events);

/* Returns the events currently watched. */
SK_EXTERN unsigned sk_watch_events(const sk_watch *w);

/* Stops watching and frees w at the end of the current iteration: safe from
 * inside any callback, including w's own. Does not close the fd. */
SK_EXTERN void sk_watch_free(sk_watch *w);

/* Creates a stopped timer. Returns NULL on out-of-memory. */
SK_EXTERN sk_timer *sk_timer_new(sk_loop *loop, sk_timer_cb cb, void *ud);

/* (Re)starts the timer: fires after ms, then every repeat_ms if non-zero.
 * Returns 0, or -ENOMEM when the loop's timer heap cannot grow (the timer
 * is then stopped: a caller that relies on it must handle that). */
SK_EXTERN int sk_timer_start(sk_timer *t, uint64_t ms, uint64_t repeat_ms);

/* Stops the timer; it will not fire until started again. */
SK_EXTERN void sk_timer_stop(sk_timer *t);

/* Stops and frees the timer (safe from inside its own callback). */
SK_EXTERN void sk_timer_free(sk_timer *t);

#ifdef __cplusplus
}
#endif
#endif
