/* base64.h — standard base64 (RFC 4648 §4, "+/" alphabet, "=" padding), used by the
 * WebSocket handshake to encode the accept value and to check the client's key. */
#ifndef SOCKIT_PROTO_BASE64_H
#define SOCKIT_PROTO_BASE64_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Characters sk__base64_encode writes for n input bytes (not counting the NUL). */
#define SK__BASE64_LEN(n) ((((n) + 2) / 3) * 4)

/* Encodes src[0..n) into dst, which must hold SK__BASE64_LEN(n) + 1 bytes; the
 * result is padded with "=" and NUL-terminated. Returns SK__BASE64_LEN(n). */
size_t sk__base64_encode(const uint8_t *src, size_t n, char *dst);

/* Decodes src[0..n) into dst (room for cap bytes). Strict: n must be a multiple
 * of 4, only the standard alphabet, "=" only as one or two final pad characters,
 * and the unused bits before the padding must be zero (so every input has
 * exactly one valid spelling). No whitespace is skipped.
 * Returns the number of bytes written (0..cap), or -1 when src is not strict
 * base64 or its decoded size exceeds cap (dst may then hold garbage). */
ssize_t sk__base64_decode(const char *src, size_t n, uint8_t *dst, size_t cap);

#endif
