/* utf8.c — incremental UTF-8 validator: an explicit per-byte state machine with
 * the RFC 3629 ranges (fails at the first impossible byte) and an 8-byte ASCII path. */
#include "proto/utf8.h"

#include <string.h>

#define ASCII_MASK 0x8080808080808080ull

void sk__utf8_init(sk__utf8 *u) { *u = (sk__utf8){0, 0x80, 0xbf}; }

/* Starts a character with lead byte b (>= 0x80). Returns false if b cannot lead. */
static inline bool lead(sk__utf8 *u, uint8_t b)
{
    u->lo = 0x80;
    u->hi = 0xbf;
    if (b < 0xc2) /* continuation byte, or C0/C1 (overlong 2-byte) */
        return false;
    if (b < 0xe0) {
        u->need = 1;
    } else if (b < 0xf0) {
        u->need = 2;
        if (b == 0xe0)
            u->lo = 0xa0; /* E0 80..9F would be overlong */
        else if (b == 0xed)
            u->hi = 0x9f; /* ED A0..BF would be a surrogate */
    } else if (b < 0xf5) {
        u->need = 3;
        if (b == 0xf0)
            u->lo = 0x90; /* F0 80..8F would be overlong */
        else if (b == 0xf4)
            u->hi = 0x8f; /* F4 90.. would exceed U+10FFFF */
    } else {
        return false;
    }
    return true;
}

/* Skips ASCII bytes from p[i], 8 at a time then one at a time; returns the new i. */
static inline size_t skip_ascii(const uint8_t *p, size_t i, size_t n)
{
    while (n - i >= 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (w & ASCII_MASK)
            break;
        i += 8;
    }
    while (i < n && p[i] < 0x80)
        i++;
    return i;
}

static inline bool fail(sk__utf8 *u)
{
    u->need = SK__UTF8_BAD;
    return false;
}

bool sk__utf8_feed(sk__utf8 *u, const uint8_t *p, size_t n)
{
    if (u->need == SK__UTF8_BAD)
        return false;
    size_t i = 0;
    while (i < n) {
        if (u->need == 0) {
            i = skip_ascii(p, i, n);
            if (i == n)
                break;
            if (!lead(u, p[i++]))
                return fail(u);
            continue;
        }
        uint8_t b = p[i++];
        if (b < u->lo || b > u->hi)
            return fail(u);
        u->need--;
        u->lo = 0x80;
        u->hi = 0xbf;
    }
    return true;
}

bool sk__utf8_done(const sk__utf8 *u) { return u->need == 0; }

bool sk__utf8_valid(const uint8_t *p, size_t n)
{
    sk__utf8 u;
    sk__utf8_init(&u);
    return sk__utf8_feed(&u, p, n) && sk__utf8_done(&u);
}

size_t sk__utf8_prefix(const uint8_t *p, size_t n)
{
    sk__utf8 u;
    sk__utf8_init(&u);
    size_t good = 0; /* end of the last complete character */
    for (size_t i = 0; i < n; i++) {
        if (!sk__utf8_feed(&u, p + i, 1))
            break;
        if (u.need == 0)
            good = i + 1;
    }
    return good;
}
