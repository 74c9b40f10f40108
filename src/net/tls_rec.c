/* tls_rec.c — TLS 1.3 record protection and traffic keys for one direction
 * (see tls_rec.h). A record is header (the AEAD's additional data), then
 * the plain bytes, the inner content type and the tag; its nonce is the
 * IV XORed with the sequence number (RFC 8446 §5.2–5.3). Keys come from
 * the traffic secret by HKDF-Expand-Label (§7.1), which for outputs no
 * longer than the hash is one HMAC; the key and the IV of a secret share
 * its HMAC key blocks, hashed once. */
#include "net/tls_rec.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>

/* ---- the suites ---- */

/* Fetched once (a fetch per use costs more than the HMAC it serves). */
static EVP_CIPHER *g_cipher[3]; /* AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305 */
static EVP_MD *g_md[2];         /* SHA-256, SHA-384 */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void fetch_ciphers(void)
{
    g_cipher[0] = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
    g_cipher[1] = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    g_cipher[2] = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
    g_md[0] = EVP_MD_fetch(NULL, "SHA256", NULL);
    g_md[1] = EVP_MD_fetch(NULL, "SHA384", NULL);
}

int sk__tls13_suite_ok(uint16_t suite) { return suite >= 0x1301 && suite <= 0x1303; }

static const EVP_CIPHER *cipher_of(uint16_t suite)
{
    pthread_once(&g_once, fetch_ciphers);
    return g_cipher[suite - 0x1301];
}

static const EVP_MD *hash_of(uint16_t suite)
{
    pthread_once(&g_once, fetch_ciphers);
    return g_md[suite == 0x1302];
}

/* ---- the key schedule ---- */

/* HMAC (RFC 2104) under one key, for several short messages:
 * H((K ^ opad) || H((K ^ ipad) || msg)). The digest states after the two
 * key blocks are made once (keyed) and copied for each message, which
 * costs less than hashing a block again. */
typedef struct hmac_key {
    EVP_MD_CTX *inner, *outer; /* after the K ^ ipad, K ^ opad block */
    EVP_MD_CTX *work;          /* a copy of one of them, for a message */
} hmac_key;

static void hmac_clear(hmac_key *k)
{
    EVP_MD_CTX_free(k->inner);
    EVP_MD_CTX_free(k->outer);
    EVP_MD_CTX_free(k->work);
}

/* Keys k with key[0..klen) (no longer than md's block). 0, or -1 if
 * OpenSSL failed (out of memory); k is cleared with hmac_clear either way. */
static int hmac_keyed(hmac_key *k, const EVP_MD *md, const uint8_t *key, size_t klen)
{
    uint8_t pad[128];
    size_t block = (size_t)EVP_MD_get_block_size(md);
    k->inner = EVP_MD_CTX_new();
    k->outer = EVP_MD_CTX_new();
    k->work = EVP_MD_CTX_new();
    int ok = k->inner && k->outer && k->work && klen <= block && block <= sizeof pad;
    for (int round = 0; ok && round < 2; round++) {
        EVP_MD_CTX *h = round ? k->outer : k->inner;
        memset(pad, round ? 0x5c : 0x36, block);
        for (size_t i = 0; i < klen; i++)
            pad[i] ^= key[i];
        ok = EVP_DigestInit_ex(h, md, NULL) && EVP_DigestUpdate(h, pad, block);
    }
    OPENSSL_cleanse(pad, sizeof pad);
    return ok ? 0 : -1;
}

/* HMAC of msg under k into out (the hash's size). 0, or -1. */
static int hmac(hmac_key *k, const uint8_t *msg, size_t mlen, uint8_t *out)
{
    uint8_t inner[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    int ok = EVP_MD_CTX_copy_ex(k->work, k->inner) && EVP_DigestUpdate(k->work, msg, mlen) &&
             EVP_DigestFinal_ex(k->work, inner, &n) && EVP_MD_CTX_copy_ex(k->work, k->outer) &&
             EVP_DigestUpdate(k->work, inner, n) && EVP_DigestFinal_ex(k->work, out, &n);
    OPENSSL_cleanse(inner, sizeof inner);
    return ok ? 0 : -1;
}

/* HKDF-Expand-Label(secret, label, "", len) for len <= the hash length
 * (k: HMAC keyed with the secret): the first block of HKDF-Expand,
 * HMAC(secret, HkdfLabel || 0x01). */
static int expand_label(hmac_key *k, const char *label, uint8_t *out, size_t len)
{
    uint8_t info[2 + 1 + 6 + 32 + 1 + 1], md[EVP_MAX_MD_SIZE];
    size_t ll = strlen(label), n = 0;
    info[n++] = (uint8_t)(len >> 8);
    info[n++] = (uint8_t)len;
    info[n++] = (uint8_t)(6 + ll);
    memcpy(info + n, "tls13 ", 6);
    memcpy(info + n + 6, label, ll);
    n += 6 + ll;
    info[n++] = 0; /* the context: empty */
    info[n++] = 1; /* the block counter */
    if (hmac(k, info, n, md) < 0)
        return -1;
    memcpy(out, md, len);
    OPENSSL_cleanse(md, sizeof md);
    return 0;
}

/* The key and IV of d's secret; sequence number 0. 0, or -1 if OpenSSL
 * failed (out of memory). */
static int derive(sk__tls13_dir *d)
{
    hmac_key k;
    int ok = hmac_keyed(&k, hash_of(d->suite), d->secret, d->secret_len) == 0 &&
             expand_label(&k, "key", d->key, d->key_len) == 0 &&
             expand_label(&k, "iv", d->iv, 12) == 0;
    hmac_clear(&k);
    if (!ok)
        return -1;
    sk__tls13_idle(d); /* (a KeyUpdate: the next use keys a new context) */
    d->seq = 0;
    return 0;
}

int sk__tls13_init(sk__tls13_dir *d, uint16_t suite, const uint8_t *secret, size_t secret_len,
                   uint64_t seq, int enc)
{
    memset(d, 0, sizeof *d);
    size_t want = suite == 0x1302 ? 48 : 32;
    if (!sk__tls13_suite_ok(suite) || secret_len != want || !cipher_of(suite))
        return -1;
    d->suite = suite;
    d->enc = (uint8_t)(enc != 0);
    d->secret_len = (uint8_t)secret_len;
    d->key_len = suite == 0x1301 ? 16 : 32;
    memcpy(d->secret, secret, secret_len);
    if (derive(d) < 0)
        return -1;
    d->seq = seq;
    return 0;
}

int sk__tls13_update(sk__tls13_dir *d)
{
    uint8_t next[48];
    hmac_key k;
    int ok = hmac_keyed(&k, hash_of(d->suite), d->secret, d->secret_len) == 0 &&
             expand_label(&k, "traffic upd", next, d->secret_len) == 0;
    hmac_clear(&k);
    if (ok)
        memcpy(d->secret, next, d->secret_len);
    OPENSSL_cleanse(next, sizeof next);
    return ok ? derive(d) : -1;
}

/* ---- records ---- */

/* AES-GCM opens: the IV's first 4 bytes are its fixed field and the last 8
 * (XORed with the sequence number) its invocation field, set per record
 * together with the tag in one call (EVP_CTRL_GCM_SET_IV_FIXED / _SET_IV_INV,
 * as TLS 1.2 uses them): one provider call per record where re-initialising
 * the IV and then setting the tag takes two, each parsing parameters. */
static int gcm_open(const sk__tls13_dir *d) { return !d->enc && d->suite != 0x1303; }

static EVP_CIPHER_CTX *ctx_of(sk__tls13_dir *d)
{
    if (d->ctx)
        return d->ctx;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx && EVP_CipherInit_ex(ctx, cipher_of(d->suite), NULL, d->key, NULL, d->enc) &&
        (!gcm_open(d) || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IV_FIXED, 4, d->iv) > 0))
        return d->ctx = ctx;
    EVP_CIPHER_CTX_free(ctx);
    return NULL;
}

/* The record's nonce, keyed for it: the IV XOR the sequence number; an
 * open's tag (else NULL); the header as additional data. */
static EVP_CIPHER_CTX *start(sk__tls13_dir *d, const uint8_t hdr[SK__TLS13_HDR],
                             const uint8_t *tag)
{
    EVP_CIPHER_CTX *ctx = ctx_of(d);
    uint8_t nonce[12];
    int n;
    if (!ctx || d->seq == UINT64_MAX) /* a nonce must never repeat (§5.3): the end */
        return NULL;
    memcpy(nonce, d->iv, 12);
    for (int i = 0; i < 8; i++)
        nonce[11 - i] ^= (uint8_t)(d->seq >> (8 * i));
    if (gcm_open(d)) {
        OSSL_PARAM p[3] = {
            OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TLS1_SET_IV_INV, nonce + 4, 8),
            OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, (void *)tag, SK__TLS13_TAG),
            OSSL_PARAM_END};
        if (!EVP_CIPHER_CTX_set_params(ctx, p))
            return NULL;
    } else if (!EVP_CipherInit_ex(ctx, NULL, NULL, NULL, nonce, -1) ||
               (tag && !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, SK__TLS13_TAG, (void *)tag))) {
        return NULL;
    }
    if (!EVP_CipherUpdate(ctx, NULL, &n, hdr, SK__TLS13_HDR))
        return NULL;
    return ctx;
}

long sk__tls13_seal(sk__tls13_dir *d, uint8_t type, const struct iovec *iov, int iovcnt,
                    size_t skip, size_t len, uint8_t *out)
{
    size_t body = len + 1 + SK__TLS13_TAG;
    out[0] = SK__TLS_CT_DATA;
    out[1] = 3;
    out[2] = 3;
    out[3] = (uint8_t)(body >> 8);
    out[4] = (uint8_t)body;
    EVP_CIPHER_CTX *ctx = len <= SK__TLS13_PLAIN_MAX ? start(d, out, NULL) : NULL;
    uint8_t *p = out + SK__TLS13_HDR;
    size_t left = len;
    int n;
    if (!ctx)
        return -1;
    for (int i = 0; left && i < iovcnt; i++) {
        size_t l = iov[i].iov_len;
        if (skip >= l) {
            skip -= l;
            continue;
        }
        l = l - skip < left ? l - skip : left;
        if (!EVP_CipherUpdate(ctx, p, &n, (const uint8_t *)iov[i].iov_base + skip, (int)l))
            return -1;
        p += n;
        left -= l;
        skip = 0;
    }
    if (left || !EVP_CipherUpdate(ctx, p, &n, &type, 1))
        return -1;
    p += n;
    if (!EVP_CipherFinal_ex(ctx, p, &n))
        return -1;
    p += n;
    if (!EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, SK__TLS13_TAG, p))
        return -1;
    d->seq++;
    return (long)(p + SK__TLS13_TAG - out);
}

int sk__tls13_header(const uint8_t hdr[SK__TLS13_HDR], size_t *total)
{
    size_t body = (size_t)hdr[3] << 8 | hdr[4];
    if (hdr[0] != SK__TLS_CT_DATA)
        return SK__TLS_ALERT_UNEXPECTED;
    if (body > SK__TLS13_CIPHER_MAX)
        return SK__TLS_ALERT_OVERFLOW;
    if (body < 1 + SK__TLS13_TAG)
        return SK__TLS_ALERT_DECODE;
    *total = SK__TLS13_HDR + body;
    return 0;
}

int sk__tls13_open(sk__tls13_dir *d, uint8_t *rec, size_t total, uint8_t *type, size_t *len)
{
    size_t clen = total - SK__TLS13_HDR - SK__TLS13_TAG;
    uint8_t *p = rec + SK__TLS13_HDR;
    EVP_CIPHER_CTX *ctx = start(d, rec, p + clen);
    int n;
    if (!ctx)
        return SK__TLS_ALERT_INTERNAL;
    if (!EVP_CipherUpdate(ctx, p, &n, p, (int)clen) || (size_t)n != clen ||
        EVP_CipherFinal_ex(ctx, p + n, &n) <= 0)
        return SK__TLS_ALERT_BAD_MAC;
    d->seq++;
    if (clen > SK__TLS13_PLAIN_MAX + 1) /* padding included (§5.4) */
        return SK__TLS_ALERT_OVERFLOW;
    while (clen && p[clen - 1] == 0) /* the padding */
        clen--;
    if (clen == 0)
        return SK__TLS_ALERT_UNEXPECTED; /* no content type */
    *type = p[--clen];
    *len = clen;
    return 0;
}

void sk__tls13_idle(sk__tls13_dir *d)
{
    EVP_CIPHER_CTX_free(d->ctx);
    d->ctx = NULL;
}

void sk__tls13_clear(sk__tls13_dir *d)
{
    sk__tls13_idle(d);
    OPENSSL_cleanse(d, sizeof *d);
}
