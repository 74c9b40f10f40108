/* conn_int.h — the layout of a connection. The core (conn.c) owns its
 * fields; the layers (layers.h) read only the few marked as theirs. */
#ifndef SOCKIT_CONN_INT_H
#define SOCKIT_CONN_INT_H

#include "net/buf.h"
#include "net/layers.h"
#include "net/loop_int.h"
#include "net/outq.h"
#include "sockit/conn.h"

/* The connection: OPEN -> CLOSING (flushing) -> LINGER (our FIN sent,
 * discarding input until the peer's FIN) -> CLOSED. Closing a socket with
 * unread input makes the kernel send RST, which destroys replies the peer
 * has not read yet; the lingering close (as in nginx) lets them arrive. */
enum { C_OPEN, C_CLOSING, C_LINGER, C_CLOSED };
/* The read side: the peer's bytes flow; its FIN arrived (what it sent
 * before is still being delivered); the end was delivered. */
enum { R_OPEN, R_EOF, R_DONE };
/* The write side: ours flow; FIN is due once the queue is empty; FIN sent. */
enum { W_OPEN, W_SHUT_DUE, W_SHUT };

/* The protocols (sk_conn.pr): framing.c, wsconn.c. */
enum { SK__PR_FRAME, SK__PR_WS };

#define SK_LINGER_MS 2000
#define SK__LEND_MIN 4096 /* smaller replies are copied into the output queue */

struct sk_conn {
    sk_loop *loop;
    sk__io io;          /* transport: the socket (io.fd) and its epoll registration */
    const sk_conn_cbs *cbs;
    void *ud;
    sk__buf in;         /* input that could not be delivered yet */
    sk__outq out;       /* output, in the protocol's encoding */
    uint64_t bytes_in, bytes_out;
    sk_conn *next_pending; /* the loop's queue of connections with work (conn.c) */
    sk_timer *linger;
    sk__sec *sec;       /* the security layer, or NULL: plain */
    union {                    /* the protocol's, by pr: */
        void *proto;           /* SK__PR_WS: wsconn.c's state */
        const sk_zopts *zopts; /* SK__PR_FRAME: compressed framing's options (the caller's), or NULL */
    };
    uint32_t max_frame, high, low, max_queue;
    int close_err;
    uint8_t in_frame, out_frame; /* the framing protocol's modes */
    uint8_t state, rd, wr;       /* C_*, R_*, W_* */
    uint8_t tp, pr;              /* transport and protocol: indexes of their tables */
    uint8_t ops;                 /* io_uring operations not completed yet (sock_uring.c) */
    unsigned keep_reading : 1, user_paused : 1, pressured : 1, write_blocked : 1, drain_due : 1,
        in_pending : 1, need_input : 1,
        recv_on : 1,   /* sock_uring.c: the multishot recv is armed (until its last completion) */
        recv_stop : 1, /* ... and its cancel was asked for */
        zombie : 1,    /* sock_uring.c: on_close ran; freed when ops reaches 0 */
        watching : 3,  /* conn.c: what the transport was last told (read | write << 1) */
        close_due : 1, /* closed while input already read waited for the output
                        * to drain: that input is answered first, then it closes */
        partial : 1,         /* conn.c: the start of a message waits for its end ... */
        partial_since : 17;  /* ... since this loop time, in 64 ms units modulo 2^17 */
};

/* ---- the core's calls that are on every read or write, inline ---- */

/* c is open (not closing or closed). */
static inline int sk__conn_open(const sk_conn *c) { return c->state == C_OPEN; }

/* Messages may be delivered now (open, not paused, not above high water). */
static inline int sk__conn_can_deliver(const sk_conn *c)
{
    return c->state == C_OPEN && !c->user_paused && !c->pressured;
}

/* Transports: c wants bytes (reading, or discarding them until the peer's FIN). */
static inline int sk__conn_wants_input(const sk_conn *c)
{
    return (c->state == C_OPEN && c->rd == R_OPEN && !c->user_paused && !c->pressured &&
            !c->close_due) ||
           c->state == C_LINGER || (c->state == C_CLOSING && c->sec && c->sec->owes);
}

/* The queue a transport sends from (the sealed bytes when c has a security layer). */
static inline sk__outq *sk__conn_wire(sk_conn *c) { return c->sec ? &c->sec->wire : &c->out; }

/* Transports: where the next read goes: *cap bytes at the result, in c's
 * own buffer (*in_tail = 1: a partial frame waits there) or the loop's
 * shared one. NULL on out-of-memory (c then failed). */
static inline uint8_t *sk__conn_read_buf(sk_conn *c, size_t *cap, int *in_tail)
{
    *in_tail = c->in.len && !c->sec && c->state == C_OPEN;
    if (*in_tail)
        return sk__conn_read_tail(c, cap);
    *cap = SK_RDBUF_SIZE;
    return c->loop->rdbuf;
}

/* Protocols: one decoded message for the service. */
static inline void sk__conn_emit(sk_conn *c, const uint8_t *msg, size_t len)
{
    if (c->cbs->on_message)
        c->cbs->on_message(c, msg, len, c->ud);
}

#endif
