/* loop_uring.h — the io_uring backend of the loop (internal). A loop made
 * with SK_IO_URING waits in io_uring_enter; a socket's owner (a connection's
 * transport, sock_uring.c) receives through one multishot recv into a ring
 * of buffers the loop owns and sends through submitted operations, so one
 * system call carries a whole batch. The epoll set (listeners, timers'
 * wakeups, posts, pipes) is polled by the ring. Without liburing every
 * function here is a stub that refuses. */
#ifndef SOCKIT_LOOP_URING_H
#define SOCKIT_LOOP_URING_H

#include <stddef.h>
#include <stdint.h>

#include "net/loop_int.h"
#include "net/outq.h"
#include "sockit/loop.h"

/* Sets up loop->uring. Returns 0, or -errno with *why (if not NULL) set to
 * a static reason; loop->uring stays NULL then. */
int sk__uring_init(sk_loop *loop, const char **why);

/* Waits for the connections' cancelled operations, then frees the ring. */
void sk__uring_exit(sk_loop *loop);

/* On the loop's thread as sk_loop_run returns: lets the operations of closed
 * connections end (the ring takes submissions from that thread only). */
void sk__uring_settle(sk_loop *loop);

/* sock_uring.c: a closed connection starts (+1) or stops (-1) waiting for
 * its operations before it can be freed. */
void sk__uring_zombie(sk_loop *loop, int delta);

/* Submits what was queued, waits up to timeout_ms (-1: no limit) for
 * completions and dispatches them (epoll watchers included). 0 or -errno. */
int sk__uring_wait(sk_loop *loop, int timeout_ms);

/* 1 if fd may use the ring (a stream socket on an io_uring loop). */
int sk__uring_usable(const sk_loop *loop, int fd);

/* Operations on io->fd; each completion calls io->done (loop_int.h) with
 * the SK__UOP_* kind, the last one with more == 0. The io must stay valid
 * until then. recv arms a multishot receive into the loop's buffers; send
 * sends what q holds now (q must not change until it completes); cancel
 * cancels the recv (all: every operation on io->fd). */
void sk__uring_recv(sk_loop *loop, sk__io *io);
void sk__uring_send(sk_loop *loop, sk__io *io, const sk__outq *q);
void sk__uring_cancel(sk_loop *loop, sk__io *io, int all);

#endif
