/* tls_int.h — the layout of a TLS configuration (tls_ctx.c), shared with
 * the TLS layer of a connection (tls.c). Not part of the public API. */
#ifndef SOCKIT_TLS_INT_H
#define SOCKIT_TLS_INT_H

#include <openssl/ssl.h>
#include <pthread.h>
#include <stdint.h>

#include "net/layers.h"
#include "sockit/tls.h"

struct sk_tls {
    sk__sec_factory base;  /* first: the connection core attaches the layer through it */
    pthread_mutex_t lock;  /* ctx and session change under reload / resume, from any thread */
    SSL_CTX *ctx;
    SSL_SESSION *session;  /* client --resume: the newest session ticket */
    char *cert, *key, *ca, *host, *servername;
    uint8_t alpn[256];     /* wire format: length-prefixed names */
    size_t alpn_len;
    uint8_t pin[32];       /* client --pin: the SHA-256 of the one certificate accepted */
    int server, insecure, resume, pinned, temporary, min_version;
    int own_records;       /* server: TLS 1.3 records made by tls_own.c after the handshake */
    int ktls_off;          /* server: own records never go to the kernel (ktls.h) */
    unsigned handshake_ms;
    char fingerprint[72];  /* server: its own certificate's */
};

/* tls.c: the factory of the TLS layer (sk_tls.base.attach). */
int sk__tls_attach(const sk__sec_factory *f, sk_conn *c);

/* tls_ctx.c: a new SSL for a connection of t (a server's accepting, a
 * client's connecting with its SNI, checked name and resumed session), or
 * NULL on out-of-memory. */
SSL *sk__tls_ssl_new(sk_tls *t);

/* tls.c: OpenSSL's key log callback: keeps a server connection's TLS 1.3
 * application traffic secrets for its own records (tls_own.h). */
void sk__tls_keylog(const SSL *ssl, const char *line);

/* tls_ctx.c: "sha256:" + 64 hex digits of x's DER into out (72 bytes); the
 * raw digest into raw when not NULL. */
void sk__tls_fingerprint(X509 *x, char out[72], uint8_t raw[32]);

#endif
