/* layers.h — the interfaces between the layers of a connection (DESIGN.md,
 * "The connection is a stack of layers"). conn.c is the connection core: the
 * public API, the state machine, lingering close and backpressure. Below it
 * a transport moves bytes (sock_epoll.c, sock_uring.c), between them an
 * optional security layer transforms them (TLS; a test's XOR), and above
 * the core a protocol turns bytes into messages (framing.c, wsconn.c).
 *
 * Each layer is a table of functions chosen once per connection. The core
 * calls down through the tables; the layers call the core only through the
 * narrow sk__conn_* calls declared here, never through its fields. */
#ifndef SOCKIT_LAYERS_H
#define SOCKIT_LAYERS_H

#include <stddef.h>
#include <stdint.h>

#include "net/outq.h"
#include "sockit/conn.h"

/* ---- transport: syscalls and buffers ---- */

typedef struct sk__transport {
    /* Starts receiving on c's socket. 0 or -errno (c is then freed by the core). */
    int (*start)(sk_conn *c);
    /* What the core wants now: read on/off, and whether its output waits for
     * writability. A transport that completes sends itself ignores write. */
    void (*watch)(sk_conn *c, int read, int write);
    /* Sends the wire queue (sk__conn_wire). Returns 0 when the write ran now
     * (what was left waits, c->write_blocked set), 1 when it was handed to the
     * kernel to complete later (the transport calls sk__conn_sent then), or
     * -1 when c failed and was closed. */
    int (*write)(sk_conn *c);
    /* Like write, but starts writing now even if completions are async. */
    int (*flush)(sk_conn *c);
    /* c is closed: stop watching; close the fd now or after the last
     * operation in flight. */
    void (*close)(sk_conn *c);
    /* After on_close: 0 if c may be freed now, 1 if operations still hold
     * it (the transport frees it with sk__conn_free after the last one). */
    int (*release)(sk_conn *c);
    /* 1 if replies may be queued by reference into the buffer being
     * delivered (the write right after the delivery takes them). */
    int lends;
} sk__transport;

extern const sk__transport sk__sock_epoll, sk__sock_uring;

/* ---- security: wire bytes <-> plain bytes ---- */

typedef struct sk__sec sk__sec;

/* Plain bytes for the layer above: valid only during the call. */
typedef void (*sk__plain_fn)(sk_conn *c, uint8_t *buf, size_t n);

typedef struct sk__sec_ops {
    /* n wire bytes at buf (the transport's buffer, valid during the call and
     * writable in place). Hands each run of plain bytes to up, and re-checks
     * sk__conn_open(c) after each (up may close c). Returns 0, 1 when the
     * peer ended its stream in the layer's own way (TLS close_notify: the
     * core then treats it as the peer's end of stream), or a negative error
     * (c then fails with it). */
    int (*input)(sk__sec *s, sk_conn *c, uint8_t *buf, size_t n, sk__plain_fn up);
    /* Moves plain bytes from plain into s->wire (their wire form), as many
     * as it can now (none before a handshake is done). 0 or a negative error. */
    int (*seal)(sk__sec *s, sk__outq *plain);
    /* Our end of output: once everything in plain is sealed, the layer's
     * own end (TLS close_notify) follows it on s->wire. half: only our side
     * ends (sk_conn_shutdown: reading goes on, so a handshake in progress
     * may finish first; s->owes keeps the FIN back until then); else the
     * connection closes (a handshake in progress still finishes, so that
     * plain bytes queued before it go out: the core keeps feeding the layer
     * while s->owes, and drops the plain bytes it yields). */
    void (*close)(sk__sec *s, sk__outq *plain, int half);
    /* The transport's end of stream (the peer's FIN): 0 when the stream may
     * end there (an unclean end is only noted), or a negative error when it
     * may not (in the middle of a handshake): c then fails with it. */
    int (*eof)(sk__sec *s);
    /* Frees s (the core frees s->wire first). */
    void (*free)(sk__sec *s);
    /* A socket call of the transport failed with err (-errno): a read
     * (reading 1) or a write. A layer whose records the kernel makes (kTLS,
     * ktls.h) reads the record that is not application data where the
     * kernel stopped a read (-EIO), and names a record the kernel refused
     * (-EBADMSG, -EMSGSIZE: the kernel then fails the socket's reads and
     * writes alike). Returns 0 to go on reading, 1 for the peer's end in the
     * layer's own way (as input does; both only when reading), or the error
     * c fails with (err itself when it is none of the layer's). May be NULL. */
    int (*sock_error)(sk__sec *s, sk_conn *c, int err, int reading);
} sk__sec_ops;

/* The part every security layer's state starts with. */
struct sk__sec {
    const sk__sec_ops *ops;
    sk__outq wire; /* sealed bytes waiting for the transport */
    int owes;      /* 1 while the layer still has its end to send (counted as queued) */
};

/* What makes a security layer for a new connection: sk_conn_opts.tls points
 * at a struct that starts with one (a TLS configuration). attach makes the
 * layer and puts it on c with sk__conn_set_sec: 0 or a negative error. */
typedef struct sk__sec_factory {
    int (*attach)(const struct sk__sec_factory *f, sk_conn *c);
} sk__sec_factory;

/* Puts s between c's transport and protocol (before any byte is read or
 * written: right after sk_conn_new). c owns s from now on. 0, or SK_ECLOSED. */
int sk__conn_set_sec(sk_conn *c, sk__sec *s);

/* ---- protocol: bytes <-> messages ---- */

typedef struct sk__proto {
    /* Sets the protocol up on a new connection. 0 or a negative error. */
    int (*attach)(sk_conn *c, const sk_conn_opts *o);
    /* Decodes messages from buf[0..len) while sk__conn_can_deliver(c); returns
     * the bytes consumed (the rest is passed again with more). */
    size_t (*input)(sk_conn *c, uint8_t *buf, size_t len);
    /* The peer's end of stream, rest[0..len) undecoded: returns 0 for a
     * normal end (the core then calls on_eof), 1 when the protocol closed c
     * itself, or a negative error (c aborts with it). */
    int (*finish)(sk_conn *c, const uint8_t *rest, size_t len);
    /* sk_conn_send and sk_conn_send_blob for this protocol. */
    int (*send)(sk_conn *c, const void *msg, size_t len);
    int (*send_blob)(sk_conn *c, sk_blob *b);
    /* sk_conn_close / sk_conn_shutdown: 1 when the protocol ends its stream
     * its own way (it then calls sk_conn_close again itself), else 0. */
    int (*close)(sk_conn *c, int err);
    int (*shutdown)(sk_conn *c);
    /* Bytes the protocol holds outside the output queue. */
    size_t (*held)(const sk_conn *c);
    /* Frees the protocol's state. */
    void (*free)(sk_conn *c);
} sk__proto;

extern const sk__proto sk__proto_frame, sk__proto_ws;

/* ---- the core, as the layers see it ---- */

/* Transports: fresh bytes, the peer's end of stream, a failure, a finished
 * asynchronous send (res bytes or -errno). in_tail: buf is the space
 * sk__conn_read_buf returned inside c's own buffer (else a transient one). */
void sk__conn_input(sk_conn *c, uint8_t *buf, size_t n, int in_tail);
void sk__conn_eof(sk_conn *c);
void sk__conn_fail(sk_conn *c, int err);
/* Transports: a read failed with err (-errno); the security layer may
 * recover (sk__sec_ops.sock_error), else c fails with it. (A failed write
 * is sk__conn_fail, which lets the layer name the error.) */
void sk__conn_read_error(sk_conn *c, int err);
/* Security layers: 1 when c's transport reads only when c asks (epoll), so
 * nothing the socket received after this moment was read yet; 0 when a
 * receive may be in flight (io_uring). */
int sk__conn_reads_on_demand(const sk_conn *c);
void sk__conn_sent(sk_conn *c);
/* Transports: the core's current wishes again (after a completion). */
void sk__conn_rewatch(sk_conn *c);
/* Epoll transport: the socket is writable while output waits. -1 if c closed. */
int sk__conn_writable(sk_conn *c);
/* Where the next read goes when something waits in c's own buffer: *cap
 * bytes after it (a partial frame is completed in place). NULL on
 * out-of-memory (c then failed). Otherwise reads go to the loop's shared
 * buffer: see sk__conn_read_buf in conn_int.h. */
uint8_t *sk__conn_read_tail(sk_conn *c, size_t *cap);
/* (Inline in conn_int.h, being on every read or write: sk__conn_wants_input,
 * sk__conn_read_buf, sk__conn_wire, sk__conn_can_deliver, sk__conn_open,
 * sk__conn_emit.) */
/* Frees a closed connection whose on_close has run (transports that held it). */
void sk__conn_free(sk_conn *c);

/* Protocols: messages out, events up, bytes out. */
void sk__conn_opened(sk_conn *c);
/* Security layers: the handshake is done (on_open follows unless a protocol
 * above has a handshake of its own). */
void sk__conn_secured(sk_conn *c);
/* n writable bytes at the end of the output queue (commit with sk__conn_commit,
 * which checks the queue limits and schedules the write: 0 or SK_EQUEUE), or
 * NULL on out-of-memory. */
uint8_t *sk__conn_reserve(sk_conn *c, size_t n);
int sk__conn_commit(sk_conn *c, size_t n);
/* sk_conn_write on an open c, len > 0: the bytes as they are. */
int sk__conn_write(sk_conn *c, const void *data, size_t len);
/* Queues a reference to b (0, -ENOMEM or SK_EQUEUE). */
int sk__conn_push(sk_conn *c, sk_blob *b);
/* Lending (see conn.c): whether len bytes at p lie in the input being
 * delivered to c and may be queued by reference; and queueing them so. */
int sk__conn_lendable(const sk_conn *c, const void *p, size_t len);
int sk__conn_lend(sk_conn *c, const void *p, size_t len);

#endif
