/* bench_msg.c — the bytes of a bench message: a 16-character hex header
 * (connection id, sequence number), then letters derived from both. */
#include "cli/bench.h"

#include <stdio.h>
#include <string.h>


/* The 8 hex digits of v, most significant first, written to dst: the
 * nibbles are spread one per byte and turned into ASCII all at once (the
 * header is written for every message the load generator sends). */
static void hex8(uint8_t *dst, uint32_t v)
{
    uint64_t x = v;
    x = (x | x << 16) & 0x0000ffff0000ffffULL;
    x = (x | x << 8) & 0x00ff00ff00ff00ffULL;
    x = (x | x << 4) & 0x0f0f0f0f0f0f0f0fULL; /* byte 7 holds the top nibble */
    uint64_t letters = ((x + 0x0606060606060606ULL) >> 4) & 0x0101010101010101ULL; /* >= 10 */
    x += 0x3030303030303030ULL + letters * ('a' - '0' - 10);
    x = __builtin_bswap64(x); /* top nibble first in memory */
    memcpy(dst, &x, 8);
}

void bmsg_header(uint8_t *dst, uint32_t id, uint64_t seq)
{
    /* 6 digits of id then 10 of seq: the 16 digits of one 64-bit value */
    uint64_t v = (uint64_t)(id & 0xffffff) << 40 | (seq & 0xffffffffffULL);
    hex8(dst, (uint32_t)(v >> 32));
    hex8(dst + 8, (uint32_t)v);
}

static int unhex(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int bmsg_parse(const uint8_t *src, uint32_t *id, uint64_t *seq)
{
    uint64_t v = 0;
    for (int i = 0; i < BMSG_HDR; i++) {
        int d = unhex(src[i]);
        if (d < 0)
            return -1;
        v = v << 4 | (uint64_t)d;
        if (i == 5) {
            *id = (uint32_t)v;
            v = 0;
        }
    }
    *seq = v;
    return 0;
}

void bmsg_ramp(uint8_t *ramp, size_t len)
{
    for (size_t k = 0; k < len; k++)
        ramp[k] = (uint8_t)('A' + k % 26);
}

void bmsg_ramp_json(uint8_t *ramp, size_t len)
{
    static const char *const names[] = {"alice", "bob", "carol", "dave", "erin", "frank"};
    uint32_t x = 2463534242u;
    size_t k = 0;
    while (k < len) {
        char rec[128];
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        int n = snprintf(rec, sizeof rec, "{\"id\":%u,\"user\":\"%s\",\"pos\":[%d.%02u,%d.%02u],\"ok\":%s},",
                         x % 100000, names[x % 6], (int)(x >> 8) % 1000 - 500, (x >> 4) % 100,
                         (int)(x >> 12) % 1000 - 500, (x >> 20) % 100, (x & 64) ? "true" : "false");
        for (int i = 0; i < n && k < len; i++)
            ramp[k++] = (uint8_t)rec[i];
    }
}

/* Text only (safe for line framing), and different for neighbouring
 * messages, so a reply carrying another message's payload is caught. */
const uint8_t *bmsg_want(const bench_worker *w, uint32_t id, uint64_t seq)
{
    uint64_t x = (uint64_t)id * 7u + seq * 11u;
    if (w->ramp_span == 26)
        return w->ramp + x % 26u;
    x *= 0x9e3779b97f4a7c15ULL; /* far apart in a long ramp */
    return w->ramp + (x >> 32) % w->ramp_span;
}
