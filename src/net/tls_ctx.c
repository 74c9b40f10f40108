/* tls_ctx.c — a TLS configuration (one SSL_CTX shared by many connections):
 * certificates from PEM files or a temporary self-signed one, peer
 * verification, ALPN, minimum version, session resumption, and a reload that
 * swaps in a new SSL_CTX for the connections made after it. */
#include "net/tls_int.h"
#include "sockit/error.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    unsigned long e = ERR_peek_last_error();
    if (e && n >= 0 && (size_t)n < errlen)
        snprintf(err + n, errlen - (size_t)n, ": %s", ERR_reason_error_string(e));
    ERR_clear_error();
    return SK_ETLS;
}

static int is_ip(const char *host)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

void sk__tls_fingerprint(X509 *x, char out[72], uint8_t raw[32])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    strcpy(out, "sha256:");
    if (!X509_digest(x, EVP_sha256(), md, &n) || n != 32)
        return;
    for (unsigned i = 0; i < n; i++)
        sprintf(out + 7 + 2 * i, "%02x", md[i]);
    if (raw)
        memcpy(raw, md, 32);
}

/* ---- the temporary certificate ---- */

static int add_san(X509 *x, const char *host)
{
    char sans[400] = "DNS:localhost,IP:127.0.0.1,IP:::1";
    if (host && *host && strcmp(host, "*") && strcmp(host, "localhost") &&
        strcmp(host, "127.0.0.1") && strcmp(host, "::1"))
        snprintf(sans + strlen(sans), sizeof sans - strlen(sans), ",%s:%s",
                 is_ip(host) ? "IP" : "DNS", host);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, sans);
    int ok = ext && X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

/* A P-256 key and a self-signed certificate for localhost, 127.0.0.1, ::1
 * and the listen host, valid from an hour ago for 30 days. */
static int temporary_cert(SSL_CTX *ctx, const char *host)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();
    int ok = key && x && name &&
             X509_set_version(x, 2) &&
             ASN1_INTEGER_set_int64(X509_get_serialNumber(x), (int64_t)time(NULL)) &&
             X509_gmtime_adj(X509_getm_notBefore(x), -3600) &&
             X509_gmtime_adj(X509_getm_notAfter(x), 30L * 86400) &&
             X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                        (const unsigned char *)"sockit temporary certificate", -1, -1, 0) &&
             X509_set_subject_name(x, name) && X509_set_issuer_name(x, name) &&
             X509_set_pubkey(x, key) && add_san(x, host) && X509_sign(x, key, EVP_sha256()) &&
             SSL_CTX_use_certificate(ctx, x) == 1 && SSL_CTX_use_PrivateKey(ctx, key) == 1;
    X509_NAME_free(name);
    X509_free(x);
    EVP_PKEY_free(key);
    return ok;
}

/* ---- building an SSL_CTX ---- */

static int select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    sk_tls *t = arg;
    unsigned char *sel;
    if (SSL_select_next_proto(&sel, outlen, t->alpn, (unsigned)t->alpn_len, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL; /* RFC 7301: no protocol in common */
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

/* Client --resume: keeps the newest session ticket for the next connection. */
static int new_session(SSL *ssl, SSL_SESSION *sess)
{
    sk_tls *t = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    pthread_mutex_lock(&t->lock);
    SSL_SESSION_free(t->session);
    t->session = sess;
    pthread_mutex_unlock(&t->lock);
    return 1; /* we keep the reference */
}

/* A file named on the command line that cannot be read, said plainly. */
static int unreadable(const char *what, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f) {
        fclose(f);
        return 0;
    }
    snprintf(err, errlen, "cannot read %s %s: %s", what, path, strerror(errno));
    return SK_ETLS;
}

static int load_identity(sk_tls *t, SSL_CTX *ctx, char *err, size_t errlen)
{
    if (!t->cert && t->server) {
        if (!temporary_cert(ctx, t->host))
            return fail(err, errlen, "cannot make a temporary certificate");
        t->temporary = 1;
    } else if (t->cert) {
        if (unreadable("certificate", t->cert, err, errlen) ||
            (t->key && unreadable("key", t->key, err, errlen)))
            return SK_ETLS;
        if (SSL_CTX_use_certificate_chain_file(ctx, t->cert) != 1)
            return fail(err, errlen, "cannot load certificate %s", t->cert);
        if (SSL_CTX_use_PrivateKey_file(ctx, t->key ? t->key : t->cert, SSL_FILETYPE_PEM) != 1)
            return fail(err, errlen, "cannot load key %s", t->key ? t->key : t->cert);
        if (SSL_CTX_check_private_key(ctx) != 1)
            return fail(err, errlen, "key %s does not match certificate %s",
                        t->key ? t->key : t->cert, t->cert);
    }
    X509 *own = SSL_CTX_get0_certificate(ctx);
    if (own)
        sk__tls_fingerprint(own, t->fingerprint, NULL);
    return 0;
}

static int setup_verify(sk_tls *t, SSL_CTX *ctx, char *err, size_t errlen)
{
    if (t->ca && unreadable(t->server ? "client CA" : "CA file", t->ca, err, errlen))
        return SK_ETLS;
    if (t->server) {
        if (!t->ca)
            return 0;
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(t->ca);
        if (!names || SSL_CTX_load_verify_locations(ctx, t->ca, NULL) != 1)
            return fail(err, errlen, "cannot load client CA %s", t->ca);
        SSL_CTX_set_client_CA_list(ctx, names);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        return 0;
    }
    if (t->insecure || t->pinned) { /* a pin is checked on the certificate itself */
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        return 0;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (t->ca ? SSL_CTX_load_verify_locations(ctx, t->ca, NULL) != 1
              : SSL_CTX_set_default_verify_paths(ctx) != 1)
        return fail(err, errlen, "cannot load CA %s", t->ca ? t->ca : "(system store)");
    return 0;
}

static SSL_CTX *make_ctx(sk_tls *t, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(t->server ? TLS_server_method() : TLS_client_method());
    if (!ctx) {
        fail(err, errlen, "cannot make a TLS context");
        return NULL;
    }
    SSL_CTX_set_app_data(ctx, t);
    SSL_CTX_set_min_proto_version(ctx, t->min_version == 13 ? TLS1_3_VERSION : TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    /* a write never has to be retried in pieces (idle connections' record
     * buffers are released by tls.c's idle check, not per record) */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* OpenSSL takes all the ciphertext of a read in one BIO read (not a
     * record header, then its body): tls.c reads on while it holds some */
    SSL_CTX_set_read_ahead(ctx, 1);
    if (t->own_records)
        SSL_CTX_set_keylog_callback(ctx, sk__tls_keylog); /* the traffic secrets, for tls_own.c */
    /* one TLS 1.3 session ticket per handshake, not OpenSSL's two: a client
     * resumes with one, and each costs the server a session */
    if (t->server) {
        SSL_CTX_set_num_tickets(ctx, 1);
        /* Stateful tickets (and TLS 1.2 session IDs): a ticket names a session
         * kept in this SSL_CTX's cache (OpenSSL's defaults: 20,480 sessions,
         * two hours) instead of carrying it encoded, copied and encrypted —
         * ~115k fewer instructions per full handshake for ~1.1 KB of memory
         * per cached session. A reload starts an empty cache, as it starts
         * new ticket keys. */
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    }
    if (t->alpn_len && t->server)
        SSL_CTX_set_alpn_select_cb(ctx, select_alpn, t);
    else if (t->alpn_len && SSL_CTX_set_alpn_protos(ctx, t->alpn, (unsigned)t->alpn_len) != 0) {
        fail(err, errlen, "bad --alpn list");
        goto bad;
    }
    if (!t->server && t->resume) {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(ctx, new_session);
    }
    if (load_identity(t, ctx, err, errlen) < 0 || setup_verify(t, ctx, err, errlen) < 0)
        goto bad;
    return ctx;
bad:
    SSL_CTX_free(ctx);
    return NULL;
}

/* ---- options ---- */

static int parse_alpn(sk_tls *t, const char *list)
{
    size_t n = 0;
    for (const char *p = list; p && *p;) {
        size_t len = strcspn(p, ",");
        if (len == 0 || len > 255 || n + 1 + len > sizeof t->alpn)
            return -1;
        t->alpn[n++] = (uint8_t)len;
        memcpy(t->alpn + n, p, len);
        n += len;
        p += len + (p[len] == ',');
    }
    t->alpn_len = n;
    return 0;
}

static int parse_pin(sk_tls *t, const char *pin)
{
    if (strncmp(pin, "sha256:", 7) != 0 || strlen(pin + 7) != 64)
        return -1;
    for (int i = 0; i < 32; i++) {
        unsigned v;
        if (sscanf(pin + 7 + 2 * i, "%2x", &v) != 1)
            return -1;
        t->pin[i] = (uint8_t)v;
    }
    t->pinned = 1;
    return 0;
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static int copy_opts(sk_tls *t, const sk_tls_opts *o, char *err, size_t errlen)
{
    t->server = o->server != 0;
    t->insecure = o->insecure != 0;
    t->resume = o->resume != 0;
    t->ktls_off = o->ktls_off != 0;
    t->min_version = o->min_version ? o->min_version : 12;
    t->handshake_ms = o->handshake_ms ? o->handshake_ms : 10000;
    if (t->min_version != 12 && t->min_version != 13)
        return fail(err, errlen, "--tls-min must be 1.2 or 1.3");
    if (o->alpn && parse_alpn(t, o->alpn) < 0)
        return fail(err, errlen, "bad --alpn list '%s' (comma-separated names of 1-255 bytes)", o->alpn);
    if (o->pin && parse_pin(t, o->pin) < 0)
        return fail(err, errlen, "bad --pin '%s' (want sha256: and 64 hex digits)", o->pin);
    if (o->key && !o->cert)
        return fail(err, errlen, "--key needs --cert");
    t->cert = dup_or_null(o->cert);
    t->key = dup_or_null(o->key);
    t->ca = dup_or_null(o->ca);
    t->host = dup_or_null(o->host);
    t->servername = dup_or_null(o->servername ? o->servername : o->host);
    return 0;
}

int sk_tls_new(sk_tls **out, const sk_tls_opts *o, char *err, size_t errlen)
{
    sk_tls *t = calloc(1, sizeof *t);
    if (!t)
        return fail(err, errlen, "out of memory");
    pthread_mutex_init(&t->lock, NULL);
    t->base.attach = sk__tls_attach;
    /* a server makes its own TLS 1.3 records unless told not to (comparisons) */
    t->own_records = o->server && !getenv("SOCKIT_TLS_OPENSSL_RECORDS");
    if (copy_opts(t, o, err, errlen) < 0 || !(t->ctx = make_ctx(t, err, errlen))) {
        sk_tls_free(t);
        return SK_ETLS;
    }
    *out = t;
    return 0;
}

int sk_tls_reload(sk_tls *t, char *err, size_t errlen)
{
    if (!t->cert)
        return fail(err, errlen, "no --cert to reload (the temporary certificate stays)");
    SSL_CTX *ctx = make_ctx(t, err, errlen);
    if (!ctx)
        return SK_ETLS;
    pthread_mutex_lock(&t->lock);
    SSL_CTX *old = t->ctx;
    t->ctx = ctx; /* connections made from now on; each SSL holds its own reference */
    pthread_mutex_unlock(&t->lock);
    SSL_CTX_free(old);
    return 0;
}

SSL *sk__tls_ssl_new(sk_tls *t)
{
    pthread_mutex_lock(&t->lock);
    SSL *ssl = SSL_new(t->ctx);
    if (ssl && t->session)
        SSL_set_session(ssl, t->session);
    pthread_mutex_unlock(&t->lock);
    if (!ssl || t->server)
        return ssl;
    const char *name = t->servername;
    int ok = 1;
    if (name && *name && !is_ip(name))
        ok = SSL_set_tlsext_host_name(ssl, name) == 1 && (t->insecure || t->pinned || SSL_set1_host(ssl, name) == 1);
    else if (name && *name && !t->insecure && !t->pinned)
        ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) == 1;
    if (!ok) {
        SSL_free(ssl);
        return NULL;
    }
    return ssl;
}

const char *sk_tls_fingerprint(const sk_tls *t) { return t->fingerprint; }
int sk_tls_is_temporary(const sk_tls *t) { return t->temporary; }

void sk_tls_free(sk_tls *t)
{
    if (!t)
        return;
    SSL_CTX_free(t->ctx);
    SSL_SESSION_free(t->session);
    free(t->cert);
    free(t->key);
    free(t->ca);
    free(t->host);
    free(t->servername);
    pthread_mutex_destroy(&t->lock);
    free(t);
}
