/* conn_int.h — the layout of a connection, shared by conn.c (buffers,
 * reading, writing, closing) and wsconn.c (the WebSocket layer on top). */
#ifndef SOCKIT_CONN_INT_H
#define SOCKIT_CONN_INT_H

#include "net/buf.h"
#include "net/loop_int.h"
#include "net/outq.h"
#include "sockit/conn.h"

/* OPEN -> CLOSING (flushing) -> LINGER (our FIN sent, discarding input until
 * the peer's FIN) -> CLOSED. Closing a socket with unread input makes the
 * kernel send RST, which destroys replies the peer has not read yet; the
 * lingering close (as in nginx) lets them arrive. */
enum { C_OPEN, C_CLOSING, C_LINGER, C_CLOSED };

#define SK_LINGER_MS 2000
#define SK__LEND_MIN 4096 /* smaller replies are copied into the output queue */

struct sk_conn {
    struct sk__ws *ws;  /* WebSocket state, or NULL for plain framing */
    sk_loop *loop;
    sk__io io;          /* embedded: one allocation per connection */
    const sk_conn_cbs *cbs;
    void *ud;
    sk__buf in;
    sk__outq out;
    uint64_t bytes_in, bytes_out;
    sk_conn *next_pending, *next_closed;
    sk_timer *linger;
    uint32_t max_frame, high, low, max_queue;
    int fd, close_err;
    uint8_t in_frame, out_frame, state;
    uint8_t ops;        /* io_uring operations not completed yet (uring.c) */
    unsigned keep_reading : 1, user_paused : 1, pressured : 1, eof : 1, eof_done : 1, want_shutdown : 1,
        write_blocked : 1, drain_due : 1, in_pending : 1, need_input : 1,
        uring : 1,      /* reads and writes go through the loop's io_uring */
        recv_on : 1,    /* the multishot recv is armed (until its last completion) */
        recv_stop : 1,  /* ... and its cancel was asked for */
        zombie : 1,     /* on_close ran; freed when ops reaches 0 */
        close_due : 1;  /* closed while input already read waited for the output
                         * to drain: that input is answered first, then it closes */
};

/* Messages may be delivered (reading may already have stopped at EOF). */
int sk__conn_can_deliver(const sk_conn *c);
/* Closes the fd now; on_close runs from the loop's tick. */
void sk__conn_finalize(sk_conn *c, int err);
/* Checks queue limits after an append and schedules the write: 0 or SK_EQUEUE. */
int sk__conn_after_queue(sk_conn *c);

#endif
