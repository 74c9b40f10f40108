/* splice.h — moves bytes both ways between two connected stream sockets
 * (TCP, UNIX). Bulk goes without copying through user space: splice()
 * through a pipe per direction, as HAProxy does; small messages (and
 * sockets the kernel cannot splice) go through read() and write() and a
 * 16 KiB buffer, which is cheaper for a few bytes. */
#ifndef SOCKIT_SPLICE_H
#define SOCKIT_SPLICE_H

#include <stdint.h>

#include "sockit/loop.h"

#include "sockit/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sk_splice sk_splice;

/* The last call of a splice: both directions ended (each side's FIN was
 * passed on to the other and everything before it delivered: err 0), or one
 * failed (err a negated errno, e.g. -ECONNRESET), or sk_splice_abort was
 * called (its err). Both fds are closed by then; sp is freed after return. */
typedef void (*sk_splice_close_cb)(sk_splice *sp, int err, void *ud);

/* Starts moving bytes between fd a and fd b (connected, stream; made
 * non-blocking here). Takes ownership of both fds (closed on every path,
 * including failure). At most 64 KiB per direction are in flight:
 * a side that does not read stops the reading of the other. A FIN from one
 * side is passed on as a half-close (shutdown SHUT_WR) once what preceded
 * it is delivered. Returns 0 and sets *out, or a negated errno (-ENOMEM,
 * -EMFILE for the pipes). on_close never fires from inside this call. */
SK_EXTERN int sk_splice_new(sk_loop *loop, int a, int b, sk_splice_close_cb on_close, void *ud,
                            sk_splice **out);

/* Graceful end: stops reading both sides, delivers what is in flight, sends
 * FIN both ways, then closes (on_close(0) from the loop). Idempotent. */
SK_EXTERN void sk_splice_shutdown(sk_splice *sp);

/* Immediate end: closes both fds now; on_close(err) fires from the loop
 * (not from inside this call). Idempotent; safe from any callback. */
SK_EXTERN void sk_splice_abort(sk_splice *sp, int err);

/* Bytes moved from a to b (which 0) or from b to a (which 1). */
SK_EXTERN uint64_t sk_splice_bytes(const sk_splice *sp, int which);

/* 1 once bulk made a direction use a pipe (splice), else 0 (every read so
 * far was small, or the kernel refused splice for these sockets). */
SK_EXTERN int sk_splice_zero_copy(const sk_splice *sp);

#ifdef __cplusplus
}
#endif
#endif
