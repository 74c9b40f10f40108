/* wsconn.h — the WebSocket layer of a connection: opening handshake (server
 * and client), frames in and out, ping/pong, the closing handshake. */
#ifndef SOCKIT_WSCONN_H
#define SOCKIT_WSCONN_H

#include <stddef.h>
#include <stdint.h>

#include "sockit/conn.h"

/* Makes c a WebSocket connection (a client queues its upgrade request).
 * Returns 0 or -ENOMEM (nothing is left behind). */
int sk__ws_attach(sk_conn *c, const sk_ws_opts *o);

/* Consumes handshake bytes and frames from buf[0..len) while messages may be
 * delivered; returns the bytes consumed (the rest must be passed again). */
size_t sk__ws_input(sk_conn *c, uint8_t *buf, size_t len);

/* The peer's FIN arrived: a close handshake that finished is a normal end,
 * anything else an abnormal one (1006). Closes c. */
void sk__ws_eof(sk_conn *c);

/* Queues msg as one data frame (held until the handshake is done). */
int sk__ws_send(sk_conn *c, const void *msg, size_t len);

/* 1 once the handshake is done and until a close frame is sent. */
int sk__ws_is_open(const sk_conn *c);

/* Holds a blob (already a frame) until the handshake is done. */
int sk__ws_hold(sk_conn *c, sk_blob *b);

/* Ends our side: a close frame (1000), then the connection closes. */
void sk__ws_shutdown(sk_conn *c);

/* sk_conn_close on an open WebSocket: a close frame with the code that fits
 * err (1000 for 0, 1001 for a timeout), then the connection closes. */
void sk__ws_close(sk_conn *c, int err);

/* Bytes held until the handshake is done (0 for plain connections). */
size_t sk__ws_held(const sk_conn *c);

/* Frees the WebSocket state of c (NULL-safe). */
void sk__ws_free(sk_conn *c);

#endif
