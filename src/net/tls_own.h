/* tls_own.h — the TLS layer's records after a TLS 1.3 handshake, made by
 * sockit itself (tls_rec.c) instead of OpenSSL's record layer: ciphertext
 * is opened in place in the transport's buffer and handed up in one run,
 * replies are sealed straight from where they lie into the wire queue,
 * several queued messages share a record, and the connection keeps no SSL
 * object, only its keys (a record begun in one read and finished in a later
 * one is the only thing buffered). Alerts and KeyUpdate (RFC 8446 §4.6.3)
 * are handled here; any other post-handshake message ends the connection
 * (a client's NewSessionTicket is skipped). Not part of the public API. */
#ifndef SOCKIT_TLS_OWN_H
#define SOCKIT_TLS_OWN_H

#include "net/layers.h"
#include "net/tls_rec.h"

typedef struct sk__tls_own {
    sk__tls13_dir rx, tx;
    uint8_t *part;      /* a record begun in an earlier read (its first part_len bytes) */
    size_t part_len;    /* bytes of it held */
    size_t part_total;  /* its whole size once its header is known, else 0 */
    size_t part_cap;    /* part's size (kept while busy, freed when idle) */
    uint8_t hdr[SK__TLS13_HDR]; /* the header while fewer than 5 bytes came */
    int client;         /* this side is the client (NewSessionTicket is skipped) */
    int peer_closed;    /* the peer's close_notify arrived */
    const char *why;    /* why the stream failed (a static string) */
    uint8_t alert;      /* the fatal alert sent when it failed (0: none) */
} sk__tls_own;

/* Sets o up from the two application traffic secrets of the handshake
 * (rx: the peer's, tx: ours; secret_len bytes each) and the number of
 * records already sealed with tx (a server's session tickets). 0, or -1 for
 * an unsupported suite. */
int sk__tls_own_init(sk__tls_own *o, uint16_t suite, const uint8_t *rx_secret,
                     const uint8_t *tx_secret, size_t secret_len, uint64_t tx_seq, int client);

/* n ciphertext bytes at buf (writable in place; see sk__sec_ops.input):
 * opens every whole record, hands the plain bytes to up (one call per run,
 * re-checking sk__conn_open(c) after each), answers a KeyUpdate on wire.
 * Returns 0, 1 on the peer's close_notify, or SK_ETLS (o->why says why; a
 * fatal alert for the peer is on wire) or -ENOMEM. */
int sk__tls_own_input(sk__tls_own *o, sk_conn *c, sk__outq *wire, uint8_t *buf, size_t n,
                      sk__plain_fn up);

/* One record that is not application data, already opened (type, its
 * plain bytes p[0..len)): an alert (close_notify: 1) or post-handshake
 * messages (a KeyUpdate re-keys o->rx, and o->tx after queueing our own
 * KeyUpdate on wire when the peer asked). 0, 1, or SK_ETLS / -ENOMEM (o->why
 * says why, o->alert is the fatal alert queued on wire). Used by
 * sk__tls_own_input, and for the records the kernel opened (ktls.h). */
int sk__tls_own_control(sk__tls_own *o, uint8_t type, const uint8_t *p, size_t len,
                        sk__outq *wire);

/* Seals all of plain into wire (up to 2^14 plain bytes per record, queued
 * messages sharing records). 0, or -ENOMEM / SK_ETLS (nothing lost from
 * plain that was not sealed). */
int sk__tls_own_seal(sk__tls_own *o, sk__outq *wire, sk__outq *plain);

/* Queues an alert record on wire (level 1 warning, 2 fatal). 0 or -ENOMEM. */
int sk__tls_own_alert(sk__tls_own *o, sk__outq *wire, int level, int desc);

/* An idle connection: frees the cipher contexts and the partial-record
 * buffer unless a record is in progress. */
void sk__tls_own_idle(sk__tls_own *o);

/* Frees everything o holds and wipes its keys (o itself is the caller's). */
void sk__tls_own_clear(sk__tls_own *o);

#endif
