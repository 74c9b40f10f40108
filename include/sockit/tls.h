/* tls.h — TLS (OpenSSL 3) for connections: a configuration shared by many
 * connections (server or client side), and what a connection's handshake
 * agreed. A connection gets TLS by naming a configuration in
 * sk_conn_opts.tls; everything else (framing, WebSocket) works unchanged. */
#ifndef SOCKIT_TLS_H
#define SOCKIT_TLS_H

#include <stddef.h>

#include "sockit/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sk_tls sk_tls;
struct sk_conn;

/* What a configuration is made from. Strings are copied. */
typedef struct sk_tls_opts {
    int server;             /* 1: a server's side; 0: a client's */
    const char *cert, *key; /* PEM files (cert may hold a chain). A server without
                             * them gets a temporary self-signed certificate */
    const char *host;       /* server: the listen host, added to the temporary
                             * certificate's names; client: the host to check
                             * (and send as SNI unless it is an IP literal) */
    const char *ca;         /* client: trust this CA file instead of the system
                             * store; server: require client certificates
                             * signed by it (mutual TLS) */
    const char *alpn;       /* comma-separated protocols to offer / accept */
    const char *servername; /* client: SNI and the name checked (default: host) */
    const char *pin;        /* client: "sha256:HEX": accept exactly that certificate */
    int insecure;           /* client: do not verify the peer at all */
    int min_version;        /* 12 or 13 (TLS 1.2 / 1.3); 0 = 12 */
    int resume;             /* client: reuse the last session (tickets) */
    unsigned handshake_ms;  /* a handshake not done by then closes (default 10000) */
    int ktls_off;           /* server: never hand TLS 1.3 keys to the kernel (kTLS);
                             * by default a connection's records go to the kernel
                             * when it has the tls module (sk_tls_info.ktls) */
} sk_tls_opts;

/* Makes a configuration (one SSL_CTX). Returns 0 and sets *out, or SK_ETLS
 * with one line in err (a file that does not load, a key that does not fit
 * the certificate, a bad option). Free with sk_tls_free once no connection
 * that uses it is left. */
SK_EXTERN int sk_tls_new(sk_tls **out, const sk_tls_opts *o, char *err, size_t errlen);

/* The SHA-256 fingerprint of the server's own certificate, as
 * "sha256:" + 64 hex digits (owned by t; "" for a client without one). */
SK_EXTERN const char *sk_tls_fingerprint(const sk_tls *t);

/* 1 when the server's certificate is a temporary self-signed one. */
SK_EXTERN int sk_tls_is_temporary(const sk_tls *t);

/* Reads the certificate and key files again (SIGHUP): connections made from
 * now on use them, established ones are untouched. Returns 0, or SK_ETLS
 * with the reason in err (the old ones stay in use). Any thread. */
SK_EXTERN int sk_tls_reload(sk_tls *t, char *err, size_t errlen);

/* Frees t (NULL ok). */
SK_EXTERN void sk_tls_free(sk_tls *t);

/* What a TLS connection agreed, once its handshake is done. */
typedef struct sk_tls_info {
    char version[16];       /* "TLSv1.3" */
    char cipher[64];        /* "TLS_AES_256_GCM_SHA384" */
    char alpn[64];          /* "" when none was agreed */
    char subject[256];      /* the peer certificate's subject ("" without one) */
    char issuer[256];
    char sans[512];         /* "DNS:localhost, IP:127.0.0.1" */
    char not_after[32];     /* "2026-12-31 23:59:59 GMT" */
    char fingerprint[72];   /* "sha256:" + 64 hex digits */
    int resumed;            /* the session was resumed */
    char ktls[96];          /* whether the kernel makes the records (kTLS): "on",
                             * "receive only (WHY)" or "off (WHY)" */
} sk_tls_info;

/* Fills *info for c. Returns 0, or SK_ECLOSED when c has no TLS or its
 * handshake is not done. */
SK_EXTERN int sk_conn_tls_info(const struct sk_conn *c, sk_tls_info *info);

/* Why c's TLS failed or ended uncleanly ("certificate verify failed:
 * self-signed certificate", "hostname mismatch", "handshake timed out",
 * "peer closed without close_notify"), or NULL. Owned by c, valid until
 * on_close returns. */
SK_EXTERN const char *sk_conn_tls_error(const struct sk_conn *c);

/* 1 once c's TLS handshake is done (0 before, or without TLS). */
SK_EXTERN int sk_conn_tls_done(const struct sk_conn *c);

#ifdef __cplusplus
}
#endif
#endif
