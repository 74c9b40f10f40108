/* tls.c — the TLS security layer of a connection (OpenSSL 3). OpenSSL
 * reads ciphertext from, and writes it to, a BIO of our own: its reads take
 * the bytes the transport already received (one read() per event, however
 * many records), its writes append to the layer's wire queue. So the same
 * layer works over epoll and io_uring, and no socket call is made here.
 * WANT_READ is retried with the next bytes; a write never waits (the BIO
 * always takes everything), so a read never needs a write and the reverse.
 * After a TLS 1.3 server handshake the records are sockit's own (tls_own.c)
 * and the SSL is freed; until then, and for TLS 1.2 and clients, OpenSSL
 * makes them. Own records go on in the kernel when it has kTLS (ktls.h):
 * the peer's keys at once, ours once the session tickets are out; the
 * layer then passes plain bytes and only handles control records. */
#include "net/conn_int.h"
#include "net/ktls.h"
#include "net/tls_int.h"
#include "net/tls_own.h"
#include "sockit/error.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLAIN_MAX 65536 /* plain bytes handed up at once (four full records) */

/* A server's TLS 1.3 traffic secrets, from OpenSSL's key log during the
 * handshake, for its own records (tls_own.h). */
struct secrets {
    uint8_t rx[48], tx[48];
    size_t rx_len, tx_len;
};

/* What a connection agreed, kept when its SSL is freed (own records). */
struct agreed {
    const char *cipher; /* OpenSSL's static name */
    X509 *peer;         /* the client's certificate (mutual TLS), or NULL */
    int resumed;
    unsigned alpn_len;
    uint8_t alpn[];
};

/* Kernel TLS for own records (ktls.h). */
struct kernel {
    uint8_t rx, tx;         /* the kernel opens / seals this direction's records */
    uint8_t rx_due, tx_due; /* its keys go once no record of ours is half done */
    uint8_t alert_due;      /* (tx) close_notify waits for the wire queue to drain */
    const char *why;        /* why not (or not both ways): static text */
};

typedef struct tls_conn {
    sk__sec base; /* first: the core sees an sk__sec */
    SSL *ssl;     /* NULL once own records took over */
    sk__tls_own *own;       /* (done, TLS 1.3 server) records made by tls_own.c */
    struct agreed *agreed;  /* (own) what the handshake agreed */
    struct secrets *secrets; /* (handshake, server) the key log's traffic secrets */
    uint32_t wrecords;      /* (handshake, server) records written so far */
    uint16_t wleft;         /* bytes of the record being written still to come */
    uint8_t whdr[5], whdr_len;
    sk_tls *cfg;
    sk_conn *c;
    const uint8_t *in; /* ciphertext being fed to OpenSSL (the BIO reads it) */
    size_t in_len;
    sk_timer *timer;    /* the handshake's deadline, then the idle check of the buffers */
    int done;           /* the handshake is done */
    int armed;          /* (done) the idle check is due: OpenSSL may hold record buffers */
    int used;           /* (done) records went in or out since the idle check was armed */
    int closing;        /* close_notify goes out once all plain bytes are sealed */
    int peer_closed;    /* the peer's close_notify arrived */
    struct kernel k;    /* (own) kTLS */
    char error[160];
} tls_conn;

/* ---- the BIO between OpenSSL and the connection ---- */

static int bio_read(BIO *b, char *out, int len)
{
    tls_conn *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (t->in_len == 0) {
        BIO_set_retry_read(b);
        return -1;
    }
    size_t n = t->in_len < (size_t)len ? t->in_len : (size_t)len;
    memcpy(out, t->in, n);
    t->in += n;
    t->in_len -= n;
    return (int)n;
}

/* Counts the records a server writes during its handshake (the ones of
 * its last step, the session tickets, are sealed with the application
 * keys: own records go on after them). */
static void count_records(tls_conn *t, const uint8_t *p, size_t n)
{
    while (n) {
        if (t->wleft) {
            size_t k = t->wleft < n ? t->wleft : n;
            t->wleft = (uint16_t)(t->wleft - k);
            p += k;
            n -= k;
            continue;
        }
        t->whdr[t->whdr_len++] = *p++;
        n--;
        if (t->whdr_len == 5) {
            t->wleft = (uint16_t)(t->whdr[3] << 8 | t->whdr[4]);
            t->whdr_len = 0;
            t->wrecords++;
        }
    }
}

static int bio_write(BIO *b, const char *p, int len)
{
    tls_conn *t = BIO_get_data(b);
    if (t->cfg->own_records && !t->done)
        count_records(t, (const uint8_t *)p, (size_t)len);
    /* (the retry flags are the reads': one BIO serves both directions, and a
     * write never has to be retried, so it leaves them as they are) */
    uint8_t *dst = sk__outq_reserve(&t->base.wire, (size_t)len);
    if (!dst)
        return -1;
    memcpy(dst, p, (size_t)len);
    sk__outq_added(&t->base.wire, (size_t)len);
    return len;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static BIO_METHOD *g_method;
static pthread_once_t g_method_once = PTHREAD_ONCE_INIT;

static void make_method(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "sockit");
    if (m && BIO_meth_set_read(m, bio_read) && BIO_meth_set_write(m, bio_write) &&
        BIO_meth_set_ctrl(m, bio_ctrl))
        g_method = m;
    else
        BIO_meth_free(m);
}

/* ---- errors ---- */

/* Says why the handshake or the stream failed, once (the first reason wins). */
static void set_error(tls_conn *t, const char *fmt, const char *what)
{
    if (!t->error[0])
        snprintf(t->error, sizeof t->error, fmt, what);
}

/* The reason of a failed SSL call: the peer certificate's verify result,
 * else OpenSSL's own error, else the SSL error kind. */
static int failed(tls_conn *t, int ssl_err)
{
    /* (the verify result counts only where verification is on: -k and
     * --pin make OpenSSL record it without failing on it) */
    long v = SSL_get_verify_mode(t->ssl) == SSL_VERIFY_NONE ? X509_V_OK : SSL_get_verify_result(t->ssl);
    unsigned long e = ERR_peek_last_error();
    if (v != X509_V_OK && v == X509_V_ERR_HOSTNAME_MISMATCH)
        set_error(t, "%s", "hostname mismatch");
    else if (v != X509_V_OK)
        set_error(t, "certificate verify failed: %s", X509_verify_cert_error_string(v));
    else if (e)
        set_error(t, "%s", ERR_reason_error_string(e));
    else if (ssl_err == SSL_ERROR_SYSCALL)
        set_error(t, "%s", "peer closed during the handshake");
    else
        set_error(t, "%s", "TLS error");
    ERR_clear_error();
    return SK_ETLS;
}

/* ---- the handshake ---- */

/* OpenSSL keeps its ~17 KB read and write record buffers while a connection
 * is busy (allocating them per record, as SSL_MODE_RELEASE_BUFFERS does,
 * costs a malloc and a free of each per message); once nothing went in or
 * out for a whole IDLE_MS, they are released. */
#define IDLE_MS 250

static void note_use(tls_conn *t)
{
    t->used = 1;
    if (!t->armed && sk_timer_start(t->timer, IDLE_MS, 0) == 0)
        t->armed = 1; /* (if the timer cannot start, the buffers stay: bounded) */
}

static void on_timer(sk_timer *tm, void *ud)
{
    tls_conn *t = ud;
    if (!t->done) {
        set_error(t, "%s", "handshake timed out");
        sk_conn_abort(t->c, SK_ETIMEOUT);
        return;
    }
    t->armed = 0;
    if (t->used) { /* busy in the last period: look again after the next */
        t->used = 0;
        t->armed = sk_timer_start(t->timer, IDLE_MS, 0) == 0;
    } else if (t->own) {
        sk__tls_own_idle(t->own); /* cipher contexts, the partial-record buffer */
    } else {
        SSL_free_buffers(t->ssl); /* (keeps them if a partial record is inside) */
    }
}

/* The peer's certificate must be exactly the pinned one. */
static int pin_ok(tls_conn *t)
{
    X509 *peer = SSL_get0_peer_certificate(t->ssl);
    uint8_t raw[32];
    char hex[72];
    if (!peer) {
        set_error(t, "%s", "peer did not return a certificate");
        return 0;
    }
    sk__tls_fingerprint(peer, hex, raw);
    if (memcmp(raw, t->cfg->pin, 32) != 0) {
        set_error(t, "certificate does not match --pin (it is %s)", hex);
        return 0;
    }
    return 1;
}

/* ---- own records (a TLS 1.3 server) ---- */

static int nibble(char h)
{
    return h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
                                           : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
}

void sk__tls_keylog(const SSL *ssl, const char *line)
{
    tls_conn *t = SSL_get_app_data((SSL *)ssl);
    int rx = strncmp(line, "CLIENT_TRAFFIC_SECRET_0 ", 24) == 0;
    int tx = strncmp(line, "SERVER_TRAFFIC_SECRET_0 ", 24) == 0;
    const char *hex = (rx || tx) ? strchr(line + 24, ' ') : NULL;
    if (!t || !hex || (!t->secrets && !(t->secrets = calloc(1, sizeof *t->secrets))))
        return;
    size_t n = strlen(++hex) / 2;
    uint8_t *out = rx ? t->secrets->rx : t->secrets->tx;
    if (n > 48)
        return;
    for (size_t i = 0; i < n; i++) {
        int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *(rx ? &t->secrets->rx_len : &t->secrets->tx_len) = n;
}

/* What the handshake agreed, for sk_conn_tls_info once the SSL is gone. */
static struct agreed *keep_agreed(SSL *ssl)
{
    const unsigned char *alpn;
    unsigned alen = 0;
    SSL_get0_alpn_selected(ssl, &alpn, &alen);
    struct agreed *a = malloc(sizeof *a + alen);
    if (!a)
        return NULL;
    a->cipher = SSL_get_cipher_name(ssl);
    a->peer = SSL_get1_peer_certificate(ssl);
    a->resumed = SSL_session_reused(ssl);
    a->alpn_len = alen;
    if (alen)
        memcpy(a->alpn, alpn, alen);
    return a;
}

/* A finished TLS 1.3 server handshake hands its records over to tls_own.c
 * and frees the SSL (tickets: the records its last step sealed with the
 * application keys). Otherwise OpenSSL goes on, reading ahead. */
static void take_over(tls_conn *t, uint32_t tickets)
{
    struct secrets *s = t->secrets;
    const SSL_CIPHER *ci = SSL_get_current_cipher(t->ssl);
    uint16_t suite = ci ? SSL_CIPHER_get_protocol_id(ci) : 0;
    t->secrets = NULL;
    if (s && s->rx_len && s->rx_len == s->tx_len && SSL_version(t->ssl) == TLS1_3_VERSION &&
        !SSL_has_pending(t->ssl) && sk__tls13_suite_ok(suite) &&
        (t->own = malloc(sizeof *t->own)) &&
        sk__tls_own_init(t->own, suite, s->rx, s->tx, s->rx_len, tickets, 0) == 0 &&
        (t->agreed = keep_agreed(t->ssl))) {
        /* (an orderly end as far as OpenSSL's session cache is concerned) */
        SSL_set_shutdown(t->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
        SSL_free(t->ssl);
        t->ssl = NULL;
    } else {
        if (t->own)
            sk__tls_own_clear(t->own);
        free(t->own);
        t->own = NULL;
        SSL_set_read_ahead(t->ssl, 1);
    }
    if (s)
        OPENSSL_cleanse(s, sizeof *s);
    free(s);
}

/* ---- kernel TLS (own records; ktls.h) ---- */

static int fd_of(const tls_conn *t) { return sk_conn_fd(t->c); }

/* The peer's keys go to the kernel at its next record's start (nothing of
 * it read yet: tls_own.c holds no part); ours follow once the wire queue is
 * out (kernel_tx). */
static void kernel_rx(tls_conn *t)
{
    t->k.rx_due = 0;
    if (t->own->part_len) {
        t->k.why = "a record was half read when the handshake ended";
        return;
    }
    if (sk__ktls_keys(fd_of(t), &t->own->rx, 0) < 0) {
        t->k.why = "the kernel did not take this cipher's keys";
        return;
    }
    t->k.rx = 1;
    t->k.tx_due = 1;
}

static void kernel_tx(tls_conn *t)
{
    t->k.tx_due = 0;
    if (sk__ktls_keys(fd_of(t), &t->own->tx, 1) < 0)
        t->k.why = "the kernel took the peer's keys but not ours";
    else
        t->k.tx = 1;
}

/* Own records just took over: the socket takes the tls upper layer, and
 * the peer's keys follow now if this read ended with the handshake (else
 * after its records, in tls_input). Only where reads happen on demand
 * (epoll): an io_uring receive may already hold ciphertext. */
static void kernel_begin(tls_conn *t)
{
    if (t->cfg->ktls_off) {
        t->k.why = "--ktls off";
        return;
    }
    if (!sk__conn_reads_on_demand(t->c)) {
        t->k.why = "io_uring reads stay in user space";
        return;
    }
    int r = sk__ktls_attach(fd_of(t));
    if (r < 0) {
        t->k.why = r == -ENOENT ? "the kernel's tls module is not loaded" : "the socket cannot take it";
        return;
    }
    t->k.rx_due = 1;
    if (t->in_len == 0)
        kernel_rx(t);
}

/* A fatal alert (through the kernel when it seals) and why. */
static int kernel_fail(tls_conn *t, int alert, const char *why)
{
    uint8_t a[2] = {2, (uint8_t)alert};
    if (t->k.tx)
        sk__ktls_send_control(fd_of(t), SK__TLS_CT_ALERT, a, 2);
    else
        sk__tls_own_alert(t->own, &t->base.wire, 2, alert);
    set_error(t, "%s", why);
    return SK_ETLS;
}

/* close_notify through the kernel once everything before it is written
 * (best effort: a full socket drops it, and the peer sees an unclean end). */
static void kernel_close_notify(tls_conn *t)
{
    if (t->base.wire.bytes)
        return;
    uint8_t a[2] = {1, SK__TLS_ALERT_CLOSE_NOTIFY};
    sk__ktls_send_control(fd_of(t), SK__TLS_CT_ALERT, a, 2);
    t->k.alert_due = 0;
    t->base.owes = 0;
}

/* A record the kernel opened that is not application data: alerts and
 * KeyUpdate as tls_own.c handles them; new keys must reach the kernel too,
 * and one that cannot take them (before Linux 6.14) ends the connection. */
static int kernel_control(tls_conn *t, uint8_t type, const uint8_t *p, size_t len)
{
    int update = type == SK__TLS_CT_HANDSHAKE && len == 5 && p[0] == 24;
    if (update && p[4] == 1 && t->k.tx) /* ours would have to change as well */
        return kernel_fail(t, SK__TLS_ALERT_INTERNAL, "kTLS: the kernel cannot change our keys "
                                                      "(KeyUpdate); use --ktls off");
    sk__outq none = {0}; /* (with the kernel sealing, tls_own.c's alerts go through kernel_fail) */
    int r = sk__tls_own_control(t->own, type, p, len, t->k.tx ? &none : &t->base.wire);
    sk__outq_free(&none);
    if (r < 0)
        return t->k.tx && t->own->alert ? kernel_fail(t, t->own->alert, t->own->why)
                                        : (set_error(t, "%s", t->own->why ? t->own->why : "TLS error"), r);
    if (r == 1)
        t->peer_closed = 1;
    else if (update && sk__ktls_keys(fd_of(t), &t->own->rx, 0) < 0)
        return kernel_fail(t, SK__TLS_ALERT_INTERNAL, "kTLS: the kernel cannot change the peer's "
                                                      "keys (KeyUpdate); use --ktls off");
    return r;
}

/* (A record the kernel refused fails the socket for writes too: the error
 * may reach us through the next reply's write.) */
static int tls_sock_error(sk__sec *s, sk_conn *c, int err, int reading)
{
    tls_conn *t = (tls_conn *)s;
    if (!t->k.rx || t->peer_closed)
        return err;
    if (err == -EBADMSG)
        return kernel_fail(t, SK__TLS_ALERT_BAD_MAC, "bad record MAC");
    if (err == -EMSGSIZE)
        return kernel_fail(t, SK__TLS_ALERT_OVERFLOW, "record too long");
    if (err != -EIO || !reading)
        return err;
    uint8_t rec[512], type;
    long n = sk__ktls_recv_control(fd_of(t), &type, rec, sizeof rec);
    if (n == -EAGAIN)
        return 0;
    if (n < 0)
        return (int)n;
    if (type == SK__TLS_CT_DATA) /* (cannot be: the kernel said a control record waits) */
        return kernel_fail(t, SK__TLS_ALERT_INTERNAL, "kTLS: data where a control record was");
    return kernel_control(t, type, rec, (size_t)n);
}

/* With the kernel sealing, plain bytes go to the socket as they are. */
static int plain_out(tls_conn *t, sk__outq *pl)
{
    while (pl->bytes) {
        struct iovec iov;
        sk__outq_iov(pl, &iov, 1);
        uint8_t *dst = sk__outq_reserve(&t->base.wire, iov.iov_len);
        if (!dst)
            return -ENOMEM;
        memcpy(dst, iov.iov_base, iov.iov_len);
        sk__outq_added(&t->base.wire, iov.iov_len);
        sk__outq_consume(pl, iov.iov_len);
    }
    return 0;
}

static int handshake(tls_conn *t)
{
    uint32_t before = t->wrecords;
    int r = SSL_do_handshake(t->ssl);
    if (r != 1) {
        int e = SSL_get_error(t->ssl, r);
        return e == SSL_ERROR_WANT_READ ? 0 : failed(t, e);
    }
    if (t->cfg->pinned && !t->cfg->server && !pin_ok(t))
        return SK_ETLS;
    if (t->cfg->own_records)
        take_over(t, t->wrecords - before);
    if (t->own)
        kernel_begin(t);
    t->done = 1;
    sk_timer_stop(t->timer);
    note_use(t); /* the handshake's buffers go once it is idle */
    sk__conn_secured(t->c);
    return 0;
}

/* ---- the layer ---- */

/* Plain bytes handed up; the per-thread buffer is free again once up
 * returns (nothing below re-enters another connection's input). */
static __thread uint8_t plain[PLAIN_MAX];

static int read_records(tls_conn *t, sk_conn *c, sk__plain_fn up)
{
    for (;;) {
        size_t got = 0, n = 0;
        int r = 1;
        /* Stop when nothing is left to read: another SSL_read would only say
         * WANT_READ, after making (and, releasing buffers, freeing) a record buffer. */
        while (got < PLAIN_MAX && (t->in_len || SSL_has_pending(t->ssl)) &&
               (r = SSL_read_ex(t->ssl, plain + got, PLAIN_MAX - got, &n)))
            got += n;
        int e = r ? SSL_ERROR_NONE : SSL_get_error(t->ssl, 0); /* before up: a reply's */
        if (got) {                                              /* SSL_write resets it */
            up(c, plain, got);
            if (!sk__conn_open(c))
                return 0;
        }
        if (r && got == PLAIN_MAX)
            continue; /* the buffer was full: more may wait */
        if (r || e == SSL_ERROR_WANT_READ)
            return 0;
        if (e == SSL_ERROR_ZERO_RETURN) { /* close_notify: the peer's orderly end */
            t->peer_closed = 1;
            return 1;
        }
        return failed(t, e);
    }
}

static int tls_input(sk__sec *s, sk_conn *c, uint8_t *buf, size_t n, sk__plain_fn up)
{
    tls_conn *t = (tls_conn *)s;
    if (t->peer_closed)
        return 0; /* nothing may follow close_notify */
    t->in = buf;
    t->in_len = n;
    int r = t->done ? 0 : handshake(t);
    if (r == 0 && t->done && t->own) {
        note_use(t);
        /* (what OpenSSL left of this read: after the client's Finished) */
        uint8_t *rest = buf + n - t->in_len;
        if (t->k.rx && t->in_len)
            up(c, rest, t->in_len); /* the kernel opened them */
        else if (t->in_len)
            r = sk__tls_own_input(t->own, c, &t->base.wire, rest, t->in_len, up);
        if (r == 1)
            t->peer_closed = 1;
        else if (r < 0 && t->own->why)
            set_error(t, "%s", t->own->why);
        else if (r == 0 && t->k.rx_due && sk__conn_open(c))
            kernel_rx(t);
    } else if (r == 0 && t->done) {
        note_use(t);
        r = read_records(t, c, up);
    }
    t->in_len = 0; /* OpenSSL (or tls_own.c) keeps a partial record in its own buffer */
    return r;
}

/* Queues close_notify after the last sealed bytes. */
static void shutdown_now(tls_conn *t)
{
    t->closing = 0;
    t->base.owes = 0;
    if (t->k.tx) {
        t->k.alert_due = 1;
        t->base.owes = 1;
        kernel_close_notify(t);
        return;
    }
    if (t->own) {
        sk__tls_own_alert(t->own, &t->base.wire, 1, SK__TLS_ALERT_CLOSE_NOTIFY);
        return;
    }
    SSL_shutdown(t->ssl);
    ERR_clear_error();
}

/* OpenSSL's records: SSL_write of each queued piece (the BIO appends the
 * records to the wire queue). */
static int ssl_seal(tls_conn *t, sk__outq *pl)
{
    while (pl->bytes) {
        struct iovec iov;
        size_t n = 0;
        sk__outq_iov(pl, &iov, 1);
        if (SSL_write_ex(t->ssl, iov.iov_base, iov.iov_len, &n) != 1 || n == 0)
            return failed(t, SSL_get_error(t->ssl, 0));
        sk__outq_consume(pl, n);
    }
    return 0;
}

static int tls_seal(sk__sec *s, sk__outq *pl)
{
    tls_conn *t = (tls_conn *)s;
    if (!t->done)
        return 0; /* held until the handshake is done */
    if (pl->bytes)
        note_use(t);
    if (t->k.tx_due && t->base.wire.bytes == 0)
        kernel_tx(t);
    if (t->k.alert_due) {
        kernel_close_notify(t);
        return 0;
    }
    int r = t->k.tx ? plain_out(t, pl)
          : t->own  ? sk__tls_own_seal(t->own, &t->base.wire, pl)
                    : ssl_seal(t, pl);
    if (r < 0)
        return r;
    if (t->closing)
        shutdown_now(t);
    return 0;
}

static void tls_close(sk__sec *s, sk__outq *pl, int half)
{
    tls_conn *t = (tls_conn *)s;
    if (!t->done && !half && pl->bytes == 0)
        return; /* nothing to say: no need to finish the handshake, just the FIN */
    t->closing = 1;
    t->base.owes = 1;
    if (t->done && pl->bytes == 0)
        shutdown_now(t);
}

static int tls_eof(sk__sec *s)
{
    tls_conn *t = (tls_conn *)s;
    if (!t->done) {
        set_error(t, "%s", "peer closed during the handshake");
        return SK_ETLS;
    }
    if (!t->peer_closed)
        set_error(t, "%s", "peer closed without close_notify");
    return 0;
}

static void tls_free(sk__sec *s)
{
    tls_conn *t = (tls_conn *)s;
    SSL_free(t->ssl);
    if (t->own)
        sk__tls_own_clear(t->own);
    free(t->own);
    if (t->agreed)
        X509_free(t->agreed->peer);
    free(t->agreed);
    if (t->secrets)
        OPENSSL_cleanse(t->secrets, sizeof *t->secrets);
    free(t->secrets);
    sk_timer_free(t->timer);
    free(t);
}

static const sk__sec_ops tls_ops = {.input = tls_input,
                                    .seal = tls_seal,
                                    .close = tls_close,
                                    .eof = tls_eof,
                                    .free = tls_free,
                                    .sock_error = tls_sock_error};

/* A new connection of cfg: its SSL on our BIO, the handshake's deadline, and
 * a client's ClientHello queued. */
int sk__tls_attach(const sk__sec_factory *f, sk_conn *c)
{
    sk_tls *cfg = (sk_tls *)f;
    pthread_once(&g_method_once, make_method);
    tls_conn *t = calloc(1, sizeof *t);
    BIO *bio = g_method && t ? BIO_new(g_method) : NULL;
    if (!bio || !(t->ssl = sk__tls_ssl_new(cfg)) ||
        !(t->timer = sk_timer_new(sk_conn_loop(c), on_timer, t)) ||
        sk_timer_start(t->timer, cfg->handshake_ms, 0) < 0) {
        BIO_free(bio);
        if (t)
            tls_free(&t->base);
        return -ENOMEM;
    }
    t->base.ops = &tls_ops;
    t->cfg = cfg;
    t->c = c;
    BIO_set_data(bio, t);
    BIO_set_init(bio, 1);
    SSL_set_bio(t->ssl, bio, bio);
    SSL_set_app_data(t->ssl, t);
    if (cfg->own_records) /* what follows the client's Finished stays for tls_own.c */
        SSL_set_read_ahead(t->ssl, 0);
    if (cfg->server)
        SSL_set_accept_state(t->ssl);
    else
        SSL_set_connect_state(t->ssl);
    if (!cfg->server)
        handshake(t); /* the ClientHello, on the wire queue */
    int r = sk__conn_set_sec(c, &t->base);
    if (r < 0) {
        sk__outq_free(&t->base.wire);
        tls_free(&t->base);
    }
    return r;
}

/* ---- what a connection agreed ---- */

static tls_conn *tls_of(const sk_conn *c)
{
    return c->sec && c->sec->ops == &tls_ops ? (tls_conn *)c->sec : NULL;
}

int sk_conn_tls_done(const sk_conn *c)
{
    const tls_conn *t = tls_of(c);
    return t && t->done;
}

const char *sk_conn_tls_error(const sk_conn *c)
{
    const tls_conn *t = tls_of(c);
    return t && t->error[0] ? t->error : NULL;
}

static void name_line(X509_NAME *n, char *out, size_t cap)
{
    out[0] = 0;
    if (n)
        X509_NAME_oneline(n, out, (int)cap);
}

static void sans_line(X509 *x, char *out, size_t cap)
{
    GENERAL_NAMES *g = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    size_t at = 0;
    out[0] = 0;
    for (int i = 0; g && i < sk_GENERAL_NAME_num(g) && at < cap; i++) {
        GENERAL_NAME *n = sk_GENERAL_NAME_value(g, i);
        char ip[64] = "";
        if (n->type == GEN_DNS)
            at += (size_t)snprintf(out + at, cap - at, "%sDNS:%s", at ? ", " : "",
                                   (const char *)ASN1_STRING_get0_data(n->d.dNSName));
        else if (n->type == GEN_IPADD && n->d.iPAddress->length == 4)
            at += (size_t)snprintf(out + at, cap - at, "%sIP:%s", at ? ", " : "",
                                   inet_ntop(AF_INET, n->d.iPAddress->data, ip, sizeof ip));
        else if (n->type == GEN_IPADD && n->d.iPAddress->length == 16)
            at += (size_t)snprintf(out + at, cap - at, "%sIP:%s", at ? ", " : "",
                                   inet_ntop(AF_INET6, n->d.iPAddress->data, ip, sizeof ip));
    }
    GENERAL_NAMES_free(g);
}

static void time_line(const ASN1_TIME *tm, char *out, size_t cap)
{
    struct tm t;
    out[0] = 0;
    if (tm && ASN1_TIME_to_tm(tm, &t))
        strftime(out, cap, "%Y-%m-%d %H:%M:%S GMT", &t);
}

/* sk_tls_info.ktls: on (the peer's keys are, ours are or follow once the
 * tickets are out), receive only, or off and why. */
static void ktls_line(const tls_conn *t, char *out, size_t cap)
{
    const char *why = t->k.why ? t->k.why
                    : !t->own ? (t->cfg->server ? "TLS 1.2 and SOCKIT_TLS_OPENSSL_RECORDS use OpenSSL's records"
                                                : "client connections use OpenSSL's records")
                              : "";
    if ((t->k.rx || t->k.rx_due) && (t->k.tx || t->k.tx_due || t->k.rx_due))
        snprintf(out, cap, "on");
    else if (t->k.rx)
        snprintf(out, cap, "receive only (%s)", why);
    else
        snprintf(out, cap, "off (%s)", why);
}

int sk_conn_tls_info(const sk_conn *c, sk_tls_info *info)
{
    const tls_conn *t = tls_of(c);
    if (!t || !t->done)
        return SK_ECLOSED;
    memset(info, 0, sizeof *info);
    const unsigned char *alpn = NULL;
    unsigned alen = 0;
    X509 *peer;
    if (t->agreed) { /* own records: the SSL is gone */
        snprintf(info->version, sizeof info->version, "%s", "TLSv1.3");
        snprintf(info->cipher, sizeof info->cipher, "%s", t->agreed->cipher);
        alpn = t->agreed->alpn;
        alen = t->agreed->alpn_len;
        info->resumed = t->agreed->resumed;
        peer = t->agreed->peer;
    } else {
        snprintf(info->version, sizeof info->version, "%s", SSL_get_version(t->ssl));
        snprintf(info->cipher, sizeof info->cipher, "%s", SSL_get_cipher_name(t->ssl));
        SSL_get0_alpn_selected(t->ssl, &alpn, &alen);
        info->resumed = SSL_session_reused(t->ssl);
        peer = SSL_get0_peer_certificate(t->ssl);
    }
    snprintf(info->alpn, sizeof info->alpn, "%.*s", (int)alen, alen ? (const char *)alpn : "");
    ktls_line(t, info->ktls, sizeof info->ktls);
    if (!peer)
        return 0;
    name_line(X509_get_subject_name(peer), info->subject, sizeof info->subject);
    name_line(X509_get_issuer_name(peer), info->issuer, sizeof info->issuer);
    sans_line(peer, info->sans, sizeof info->sans);
    time_line(X509_get0_notAfter(peer), info->not_after, sizeof info->not_after);
    sk__tls_fingerprint(peer, info->fingerprint, NULL);
    return 0;
}
