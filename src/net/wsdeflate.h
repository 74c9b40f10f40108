/* wsdeflate.h — permessage-deflate (RFC 7692) inside the WebSocket protocol
 * layer: compressing a message to send, inflating one received. zlib state
 * lives per loop (no context takeover) or per connection (context kept). */
#ifndef SOCKIT_NET_WSDEFLATE_H
#define SOCKIT_NET_WSDEFLATE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/ws_deflate.h"
#include "sockit/loop.h"

/* Messages shorter than this go uncompressed (RSV1 clear; bench/RESULTS.md,
 * "permessage-deflate threshold", shows where deflate starts to pay). */
#define SK__WSD_MIN_SIZE 80

struct z_stream_s;

/* A connection's extension: nothing allocated unless a context is kept. */
typedef struct sk__wsd {
    sk__wsd_params p;         /* as agreed */
    uint8_t on;               /* negotiated */
    uint8_t client;           /* we are the client (our direction is client_*) */
    uint8_t ctx_mode;         /* SK__WSD_CONTEXT: smaller per-connection windows */
    struct z_stream_s *def;   /* our compression context, when we keep one */
    struct z_stream_s *inf;   /* the peer's, when it keeps one (made on first use) */
} sk__wsd;

/* Compresses msg[0..len) for d's connection on loop. Returns 1 with *out,
 * *olen set (the loop's buffer: copy it before the next call on this loop),
 * 0 when the message goes uncompressed (short, did not shrink, or our window
 * would be 8 bits), or -ENOMEM. */
int sk__wsd_deflate(sk_loop *loop, sk__wsd *d, const void *msg, size_t len, const uint8_t **out,
                    size_t *olen);

/* Inflates one received message in[0..n) (its frames' payloads joined).
 * Output grows in chunks and never past max bytes. Returns 0 with *out,
 * *olen set (the loop's buffer, writable, valid until the next call on this
 * loop), SK_EWSBIG when it would exceed max (nothing that size is
 * allocated), SK_EWSINFLATE for a corrupt stream, or -ENOMEM. */
int sk__wsd_inflate(sk_loop *loop, sk__wsd *d, const uint8_t *in, size_t n, size_t max,
                    uint8_t **out, size_t *olen);

/* Compresses msg[0..len) with a fresh stream (no context), window 15, as one
 * message for any connection that agreed server_no_context_takeover without
 * a smaller server window (sk__wsd_takes_shared). The result is malloc'd:
 * 1 with *out (free it), 0 when it would not shrink or is short, or -ENOMEM. */
int sk__wsd_deflate_alone(const void *msg, size_t len, uint8_t **out, size_t *olen);

/* 1 when a message compressed by sk__wsd_deflate_alone may be sent to d's peer. */
int sk__wsd_takes_shared(const sk__wsd *d);

/* Frees d's contexts (d itself is the caller's). */
void sk__wsd_free(sk__wsd *d);

/* Frees the calling thread's broadcast compressor (sk__wsd_deflate_alone's);
 * run by the loop when the thread's sk_loop_run returns. */
void sk__wsd_thread_flush(void);

#endif
