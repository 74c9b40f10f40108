/* uring.h — the io_uring backend of the loop (internal). A loop made with
 * SK_IO_URING waits in io_uring_enter; its stream connections receive through
 * one multishot recv each, into a ring of buffers the loop owns, and send
 * through submitted operations, so one system call carries a whole batch.
 * The epoll set (listeners, timers' wakeups, posts, pipes) is polled by the
 * ring. Without liburing every function here is a stub that refuses. */
#ifndef SOCKIT_URING_H
#define SOCKIT_URING_H

#include <stddef.h>
#include <stdint.h>

#include "sockit/conn.h"
#include "sockit/loop.h"

/* Sets up loop->uring. Returns 0, or -errno with *why (if not NULL) set to
 * a static reason; loop->uring stays NULL then. */
int sk__uring_init(sk_loop *loop, const char **why);

/* Waits for the connections' cancelled operations, then frees the ring. */
void sk__uring_exit(sk_loop *loop);

/* On the loop's thread as sk_loop_run returns: lets the operations of closed
 * connections end (the ring takes submissions from that thread only). */
void sk__uring_settle(sk_loop *loop);

/* conn.c: a closed connection starts (+1) or stops (-1) waiting for its
 * operations before it can be freed. */
void sk__uring_zombie(sk_loop *loop, int delta);

/* Submits what was queued, waits up to timeout_ms (-1: no limit) for
 * completions and dispatches them (epoll watchers included). 0 or -errno. */
int sk__uring_wait(sk_loop *loop, int timeout_ms);

/* 1 if fd may use the ring (a stream socket on an io_uring loop). */
int sk__uring_usable(const sk_loop *loop, int fd);

/* Connection operations. Each counts in c->ops until its last completion,
 * which calls back into conn.c (sk__conn_received / sk__conn_sent). */
void sk__uring_recv(sk_conn *c);            /* arms c's multishot recv */
void sk__uring_send(sk_conn *c);            /* sends c's queued output: one op at a time */
void sk__uring_cancel(sk_conn *c, int all); /* cancels the recv (all: every op of c) */

/* conn.c: completions. received: n > 0 bytes at buf (valid only during the
 * call; decoding may unmask it in place), n == 0 end of stream, n < 0 an error; more == 0 when the
 * recv ended. sent: res bytes written or -errno. */
void sk__conn_received(sk_conn *c, uint8_t *buf, int n, int more);
void sk__conn_sent(sk_conn *c, int res);

#endif
