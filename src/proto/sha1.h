/* sha1.h — SHA-1 (FIPS 180-4), used only to compute Sec-WebSocket-Accept.
 * SHA-1 is broken for collision resistance; do not use it for anything secure. */
#ifndef SOCKIT_PROTO_SHA1_H
#define SOCKIT_PROTO_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define SK__SHA1_LEN 20 /* digest size in bytes */

/* Streaming state. Plain data: no allocation, nothing to free. */
typedef struct sk__sha1_ctx {
    uint32_t h[5];
    uint64_t total;    /* bytes hashed so far */
    uint8_t block[64]; /* partial block */
    size_t fill;       /* bytes in block */
} sk__sha1_ctx;

/* Starts a new digest in c. */
void sk__sha1_init(sk__sha1_ctx *c);

/* Hashes n more bytes from p (p may be NULL when n is 0). */
void sk__sha1_update(sk__sha1_ctx *c, const void *p, size_t n);

/* Writes the 20-byte digest to out. c must be re-initialised before reuse. */
void sk__sha1_final(sk__sha1_ctx *c, uint8_t out[SK__SHA1_LEN]);

/* One shot: out = SHA-1(p[0..n)). */
void sk__sha1(const void *p, size_t n, uint8_t out[SK__SHA1_LEN]);

#endif
