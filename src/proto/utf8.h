/* utf8.h — incremental UTF-8 validation (RFC 3629) for WebSocket text messages
 * that arrive in pieces: state is carried across calls, errors are found early. */
#ifndef SOCKIT_PROTO_UTF8_H
#define SOCKIT_PROTO_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Validator state: how many continuation bytes are still due and the range the
 * next one must fall in. Zero-initialised (or sk__utf8_init) = at a character
 * boundary. Plain data: nothing to free, may be copied. */
typedef struct sk__utf8 {
    uint8_t need; /* continuation bytes still due (0..3), or SK__UTF8_BAD */
    uint8_t lo;   /* allowed range of the next continuation byte */
    uint8_t hi;
} sk__utf8;

#define SK__UTF8_BAD 0xff /* sticky: an invalid byte was seen */

/* Resets u to "at a character boundary, nothing invalid seen". */
void sk__utf8_init(sk__utf8 *u);

/* Validates p[0..n) as the continuation of the text fed so far.
 * Returns true when every byte so far can still begin a valid string (a
 * character may be left incomplete at the end: see sk__utf8_done); false as
 * soon as a byte makes that impossible — overlong forms (C0, C1, E0 80..9F,
 * F0 80..8F), surrogates (ED A0..BF), code points above U+10FFFF (F4 90..,
 * F5..FF), a stray continuation byte or a missing one. The failure is sticky:
 * later calls also return false until sk__utf8_init. ASCII runs are checked
 * 8 bytes at a time. */
bool sk__utf8_feed(sk__utf8 *u, const uint8_t *p, size_t n);

/* Returns true when the text fed so far is complete, valid UTF-8 (valid and not
 * ending inside a multi-byte character). Call at the end of a message. */
bool sk__utf8_done(const sk__utf8 *u);

/* One shot: true when p[0..n) is complete, valid UTF-8. */
bool sk__utf8_valid(const uint8_t *p, size_t n);

/* Returns the length of the longest prefix of p[0..n) made only of complete,
 * valid characters (n itself when all of p is valid). Used to cut a string to
 * a byte budget without splitting a character: sk__utf8_prefix(p, min(n, max)). */
size_t sk__utf8_prefix(const uint8_t *p, size_t n);

#endif
