/* conn.h — a buffered, non-blocking stream connection (TCP or UNIX) with a
 * framing codec between the socket and the message callback. */
#ifndef SOCKIT_CONN_H
#define SOCKIT_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "sockit/codec.h"
#include "sockit/compress.h"
#include "sockit/loop.h"

#include "sockit/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sk_conn sk_conn;

/* An immutable, reference-counted byte string: encode a broadcast once and
 * queue it on many connections without copying. Thread-safe counts. */
typedef struct sk_blob sk_blob;

/* A blob holding a copy of data[0..len). One reference; NULL on OOM. */
SK_EXTERN sk_blob *sk_blob_new(const void *data, size_t len);

/* A blob holding msg encoded as one frame of mode (header, payload, trailer).
 * One reference; NULL on OOM or when len does not fit the header. */
SK_EXTERN sk_blob *sk_blob_frame(sk_frame mode, const void *msg, size_t len);

/* Takes another reference (returns b) / drops one (frees at zero; NULL ok). */
SK_EXTERN sk_blob *sk_blob_ref(sk_blob *b);
SK_EXTERN void sk_blob_unref(sk_blob *b);

/* The bytes of a blob; valid while a reference is held. */
SK_EXTERN const uint8_t *sk_blob_data(const sk_blob *b);
SK_EXTERN size_t sk_blob_len(const sk_blob *b);

/* Callbacks of a connection; any may be NULL. Every callback may call any
 * sk_conn function on any connection, including closing its own: the
 * connection stays valid until on_close has returned. */
typedef struct sk_conn_cbs {
    /* One decoded message. msg is valid only during the call. */
    void (*on_message)(sk_conn *c, const uint8_t *msg, size_t len, void *ud);
    /* The peer half-closed after all its messages were delivered. When NULL
     * the connection closes itself once its output is flushed. */
    void (*on_eof)(sk_conn *c, void *ud);
    /* The output queue fell to the low-water mark after exceeding high water. */
    void (*on_drain)(sk_conn *c, void *ud);
    /* Each successful read, with its size (for -vv logs). */
    void (*on_read)(sk_conn *c, size_t nread, void *ud);
    /* Last call: the fd is closed. err is 0 for a normal close, else the
     * reason (negated errno or SK_E*). The connection is freed after return. */
    void (*on_close)(sk_conn *c, int err, void *ud);
    /* WebSocket connections only: the handshake is done and messages flow.
     * (Messages sent before it are held and go out right after it.) */
    void (*on_open)(sk_conn *c, void *ud);
    /* Compressed framing (sk_conn_opts.compress) only: each message received
     * (out 0, before on_message) or sent with sk_conn_send (out 1): the codec
     * of its body, the body's size on the wire (codec byte included, length
     * header not) and the message's size decompressed (for -vv logs). */
    void (*on_zmsg)(sk_conn *c, int out, sk_zcodec codec, size_t wire, size_t len, void *ud);
} sk_conn_cbs;

/* WebSocket (RFC 6455) on top of the stream. Strings and arrays are not
 * copied: they must outlive the connection. */
typedef struct sk_ws_opts {
    int client;                   /* 1: send the upgrade request, mask our frames */
    const char *host;             /* client: the Host header ("127.0.0.1:8081") */
    const char *path;             /* client: the request path; server: the WebSocket path
                                   * (other paths get 404); default "/" */
    const char *protocols;        /* client: offered subprotocols, "a, b"; NULL = none */
    const char *const *accept_protocols; /* server: subprotocols it speaks, NULL-terminated */
    const char *const *origins;   /* server: allowed Origin values, NULL-terminated; NULL = any */
    const char *page;             /* server: HTML answered to a plain GET / (NULL: 426/404) */
    int binary;                   /* send binary frames (default: text when valid UTF-8,
                                   * binary otherwise, or what the peer last sent) */
    unsigned ping_ms;             /* send a ping this often (0 = never) */
    const char *origin;           /* client: the Origin header to send (NULL = none) */
    unsigned handshake_ms;        /* the opening handshake not done by then (from the
                                   * connection's start): closed with SK_ETIMEOUT and
                                   * sk_conn_ws_error "handshake timed out" (0: 10000) */
    int deflate;                  /* permessage-deflate (RFC 7692): SK_WS_DEFLATE_OFF (0),
                                   * client: offer it; server: accept an offer, with
                                   * SK_WS_DEFLATE_SHARED (the loop's compressor, nothing
                                   * held by an idle connection) or SK_WS_DEFLATE_CONTEXT
                                   * (a compression context per connection) */
} sk_ws_opts;

enum { SK_WS_DEFLATE_OFF = 0, SK_WS_DEFLATE_SHARED = 1, SK_WS_DEFLATE_CONTEXT = 2 };

/* Tunables; zero fields take the defaults noted. */
typedef struct sk_conn_opts {
    sk_frame in_frame;   /* decoding of what is read (default raw) */
    sk_frame out_frame;  /* encoding of what sk_conn_send writes (default raw) */
    size_t max_frame;    /* default SK_MAX_FRAME_DEFAULT; a frame is buffered whole, so
                          * one over 4 GiB - 1 with its header fails with -ENOMEM */
    size_t high_water;   /* output bytes above which reading pauses (default 1 MiB) */
    size_t low_water;    /* output bytes at which reading resumes (default 256 KiB) */
    size_t max_queue;    /* hard output limit: beyond it the conn closes with SK_EQUEUE (0 = none) */
    int keep_reading;    /* 1: keep reading while output is above high water (clients whose
                          * output is fed by something else, e.g. stdin); 0: pause (servers) */
    const sk_ws_opts *ws; /* non-NULL: speak WebSocket (framing fields are then unused) */
    size_t extra;        /* bytes of caller memory allocated with the connection, for a
                          * per-connection record (see sk_conn_extra; default 0) */
    struct sk_tls *tls;  /* non-NULL: TLS between the socket and the protocol (tls.h);
                          * not copied: it must outlive the connection */
    const sk_zopts *compress; /* non-NULL: compressed framing (compress.h) in each direction
                          * whose framing is len16/32/64: sk_conn_send compresses with it,
                          * and every received body (codec byte, payload) is decoded
                          * whatever its codec, --max-frame bounding the decompressed
                          * message; an unknown codec byte, a corrupt body or a bomb
                          * aborts the connection with SK_EZCODEC/SK_EZCORRUPT/SK_EZBOMB.
                          * sk_conn_send's SK_EFRAMEBIG then applies to len + 1 (the body
                          * stored), and on_zmsg reports each message. The options are
                          * read per message; the compression contexts are the thread's
                          * (no per-connection state). Unused with ws. Not copied: it
                          * must outlive the connection */
} sk_conn_opts;

/* Wraps a connected, non-blocking-able stream socket. Takes ownership of fd
 * (closed on every path, including failure). cbs is not copied: it must
 * outlive the connection (usually a static table); opts may be NULL.
 * Returns the connection or NULL (errno set). */
SK_EXTERN sk_conn *sk_conn_new(sk_loop *loop, int fd, const sk_conn_cbs *cbs,
                               const sk_conn_opts *opts, void *ud);

/* Encodes msg with the output framing (a WebSocket data frame on a WebSocket
 * connection) and queues it. The bytes are written right after the read whose
 * messages led to them (all replies of one read go out in one write), or at
 * the end of the loop iteration when sent from elsewhere (a timer, another
 * connection). The caller's bytes are copied, so msg may be reused at once;
 * a large reply that is part of the message being delivered to c (an echo of
 * on_message's msg) is instead sent straight from the library's read buffer,
 * which stays untouched until then. Returns 0, SK_EFRAMEBIG when the frame
 * header cannot hold len, SK_ECLOSED when the connection is closing, -ENOMEM
 * (a frame whose header was already queued also closes the connection), or
 * SK_EQUEUE when max_queue is exceeded (the connection then closes). */
SK_EXTERN int sk_conn_send(sk_conn *c, const void *msg, size_t len);

/* Queues a reference to b's bytes as they are (already framed, e.g. by
 * sk_blob_frame); the caller keeps its own reference. Same return codes. */
SK_EXTERN int sk_conn_send_blob(sk_conn *c, sk_blob *b);

/* A server-to-client WebSocket frame holding msg (text when it is valid
 * UTF-8, else binary), to broadcast to WebSocket connections with
 * sk_conn_send_blob. One reference; NULL on OOM. */
SK_EXTERN sk_blob *sk_blob_ws(const void *msg, size_t len);

/* Like sk_blob_ws, but the frame is compressed with permessage-deflate (a
 * fresh stream, 15-bit window) when that makes it smaller. Only for
 * connections where sk_conn_ws_deflate is 1 (sk_conn_send_blob refuses it
 * elsewhere with -EINVAL when compressed). One reference; NULL on OOM. */
SK_EXTERN sk_blob *sk_blob_ws_deflate(const void *msg, size_t len);

/* permessage-deflate on c: 0 not agreed (or not WebSocket); 1 agreed and c
 * takes sk_blob_ws_deflate blobs (the server compresses without context); 2
 * agreed, c compresses in its own way (a context, a smaller window): send it
 * sk_blob_ws blobs, which it compresses itself as it sends them. */
SK_EXTERN int sk_conn_ws_deflate(const sk_conn *c);

/* 1 for a WebSocket connection (use sk_blob_ws blobs), else 0. */
SK_EXTERN int sk_conn_is_ws(const sk_conn *c);

/* Client: why the server refused our WebSocket handshake (the connection
 * closed with SK_EWSHANDSHAKE): the HTTP status and reason when it was not
 * 101 ("404 Not Found", "403 Forbidden", "426 Upgrade Required"), else what
 * was wrong with the answer ("malformed HTTP response", "Sec-WebSocket-Accept
 * missing or wrong", ...); on either side "handshake timed out" after
 * sk_ws_opts.handshake_ms. NULL when nothing failed or c is not a WebSocket
 * connection. Owned by c: valid until its on_close returns. */
SK_EXTERN const char *sk_conn_ws_error(const sk_conn *c);

/* The subprotocol agreed in the WebSocket handshake ("" if none). Owned by c. */
SK_EXTERN const char *sk_conn_ws_protocol(const sk_conn *c);

/* Queues raw bytes without framing. Same return codes as sk_conn_send. */
SK_EXTERN int sk_conn_write(sk_conn *c, const void *data, size_t len);

/* Writes everything queued now instead of at the end of the iteration.
 * Returns 0 or a negated errno (the connection is then closing). */
SK_EXTERN int sk_conn_flush(sk_conn *c);

/* Half-closes: sends FIN after the queued output is written; reading goes on. */
SK_EXTERN void sk_conn_shutdown(sk_conn *c);

/* Graceful close: stops delivering input, writes what is queued, sends FIN,
 * then discards input until the peer's FIN (at most 2 s) before closing, so
 * unread input never turns the close into a reset that would destroy replies
 * the peer has not read yet. Then on_close(err). Idempotent; safe from any
 * callback. */
SK_EXTERN void sk_conn_close(sk_conn *c, int err);

/* Immediate close: drops queued output; on_close fires at the end of the
 * current iteration. */
SK_EXTERN void sk_conn_abort(sk_conn *c, int err);

/* Stops / restarts reading (a user-level backpressure switch). */
SK_EXTERN void sk_conn_pause(sk_conn *c);
SK_EXTERN void sk_conn_resume(sk_conn *c);

/* Changes framing at any time (affects bytes not yet decoded). */
SK_EXTERN void sk_conn_set_framing(sk_conn *c, sk_frame in, sk_frame out, size_t max_frame);

/* The opts->extra bytes allocated in one block with c (one malloc per
 * connection instead of two for a per-connection record): zeroed, aligned
 * like malloc'd memory, owned by c and freed with it right after on_close
 * returns. Meaningless when extra was 0. */
SK_EXTERN void *sk_conn_extra(sk_conn *c);

/* Accessors. sk_conn_peer formats the peer address into a per-thread
 * buffer valid until the next call ("?" once the fd is closed). */
SK_EXTERN int sk_conn_fd(const sk_conn *c);
SK_EXTERN size_t sk_conn_queued(const sk_conn *c);
SK_EXTERN uint64_t sk_conn_bytes_in(const sk_conn *c);
/* How long the start of a message has waited for its end (an incomplete
 * length-prefixed frame, line or WebSocket frame or handshake, buffered while
 * c reads): in ms, at most 128 ms short (never more than the truth; 1 at
 * first), 0 when nothing waits; waits longer than 2.3 hours wrap around.
 * Input kept by a pause does not count. A server closes
 * a client that drips a message too slowly by checking it (--frame-timeout). */
SK_EXTERN uint64_t sk_conn_partial_ms(const sk_conn *c);
SK_EXTERN uint64_t sk_conn_bytes_out(const sk_conn *c);
SK_EXTERN const char *sk_conn_peer(const sk_conn *c);
SK_EXTERN void *sk_conn_userdata(const sk_conn *c);
SK_EXTERN void sk_conn_set_userdata(sk_conn *c, void *ud);
SK_EXTERN sk_loop *sk_conn_loop(const sk_conn *c);

#ifdef __cplusplus
}
#endif
#endif
