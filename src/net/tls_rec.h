/* tls_rec.h — TLS 1.3 record protection (RFC 8446 §5.2) and traffic-key
 * schedule (§7.1–7.3) for one direction of a connection, used by the TLS
 * layer (tls.c) once OpenSSL has finished the handshake: the layer then
 * seals and opens application records itself, straight between the
 * connection's buffers (no memory BIO, no copies, no OpenSSL record
 * buffers), and frees the SSL object, so an idle TLS connection keeps only
 * its keys. The cipher suites are TLS 1.3's AEAD ones: TLS_AES_128_GCM_SHA256
 * (0x1301), TLS_AES_256_GCM_SHA384 (0x1302), TLS_CHACHA20_POLY1305_SHA256
 * (0x1303). Not part of the public API. */
#ifndef SOCKIT_TLS_REC_H
#define SOCKIT_TLS_REC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define SK__TLS13_HDR 5            /* type, legacy version, length */
#define SK__TLS13_TAG 16           /* the AEAD tag */
#define SK__TLS13_PLAIN_MAX 16384  /* plain bytes per record (2^14) */
#define SK__TLS13_CIPHER_MAX (SK__TLS13_PLAIN_MAX + 256) /* a record's body at most */
/* A whole record's size for n plain bytes: header, body, inner type, tag. */
#define SK__TLS13_SEALED(n) (SK__TLS13_HDR + (n) + 1 + SK__TLS13_TAG)

/* Content types (RFC 8446 §5.1) and the alerts this layer sends (§6). */
enum {
    SK__TLS_CT_ALERT = 21,
    SK__TLS_CT_HANDSHAKE = 22,
    SK__TLS_CT_DATA = 23,
    SK__TLS_ALERT_CLOSE_NOTIFY = 0,
    SK__TLS_ALERT_UNEXPECTED = 10,
    SK__TLS_ALERT_BAD_MAC = 20,
    SK__TLS_ALERT_OVERFLOW = 22,
    SK__TLS_ALERT_DECODE = 50,
    SK__TLS_ALERT_INTERNAL = 80,
};

/* One direction's keys: the traffic secret of this generation, the key
 * and IV derived from it, and the record sequence number. */
typedef struct sk__tls13_dir {
    void *ctx;          /* EVP_CIPHER_CTX keyed with key; NULL while idle (made on use) */
    uint64_t seq;       /* the next record's sequence number */
    uint16_t suite;     /* 0x1301, 0x1302 or 0x1303 */
    uint8_t enc;        /* 1: this side seals, 0: it opens */
    uint8_t secret_len; /* 32 or 48 (the suite's hash) */
    uint8_t key_len;    /* 16 or 32 */
    uint8_t secret[48], key[32], iv[12];
} sk__tls13_dir;

/* Whether sk__tls13_init supports the suite (its IANA number). */
int sk__tls13_suite_ok(uint16_t suite);

/* Sets d up from a traffic secret (secret_len bytes: the suite's hash
 * length), sequence number seq. enc: 1 to seal, 0 to open. Returns 0, or
 * -1 for an unknown suite or a secret of the wrong length. d is
 * overwritten (a d in use must be cleared first); it holds no memory until
 * the first seal or open (sk__tls13_clear frees it). A direction whose
 * sequence number reached 2^64 - 1 seals and opens no more. */
int sk__tls13_init(sk__tls13_dir *d, uint16_t suite, const uint8_t *secret, size_t secret_len,
                   uint64_t seq, int enc);

/* The next generation (a KeyUpdate, §7.2): secret = HKDF-Expand-Label(
 * secret, "traffic upd", "", Hash.length), new key and IV, seq 0. 0 or -1. */
int sk__tls13_update(sk__tls13_dir *d);

/* Seals len plain bytes (1..SK__TLS13_PLAIN_MAX, or 0 for an alert-free
 * empty record) gathered from iov[0..iovcnt) — taken in order, skipping
 * `skip` bytes first — as one record of content type `type` into out,
 * which has room for SK__TLS13_SEALED(len) bytes (out must not overlap
 * the plain bytes). Returns the record's size, or -1 if OpenSSL failed
 * (out of memory). */
long sk__tls13_seal(sk__tls13_dir *d, uint8_t type, const struct iovec *iov, int iovcnt,
                    size_t skip, size_t len, uint8_t *out);

/* A record header's whole record size (header included) into *total.
 * Returns 0, or the alert to send: SK__TLS_ALERT_UNEXPECTED for an outer
 * type other than application_data, SK__TLS_ALERT_OVERFLOW for a body over
 * SK__TLS13_CIPHER_MAX, SK__TLS_ALERT_DECODE for one shorter than a tag and
 * a type byte. Checked before anything is allocated for the record. */
int sk__tls13_header(const uint8_t hdr[SK__TLS13_HDR], size_t *total);

/* Opens the whole record rec[0..total) (its header checked by
 * sk__tls13_header) in place: the plain bytes are at rec + SK__TLS13_HDR,
 * *len of them, of inner content type *type (padding removed). Returns 0,
 * or the alert to send: SK__TLS_ALERT_BAD_MAC (the tag did not verify: rec
 * is garbage now), SK__TLS_ALERT_UNEXPECTED (all padding, no type),
 * SK__TLS_ALERT_OVERFLOW (an inner plaintext, padding included, over
 * 2^14 + 1 bytes), or
 * SK__TLS_ALERT_INTERNAL (OpenSSL failed: out of memory). */
int sk__tls13_open(sk__tls13_dir *d, uint8_t *rec, size_t total, uint8_t *type, size_t *len);

/* Frees d's cipher context (an idle connection): the next seal or open
 * makes it again from the key. */
void sk__tls13_idle(sk__tls13_dir *d);

/* Frees d's memory and wipes its keys. */
void sk__tls13_clear(sk__tls13_dir *d);

#endif
