/* bench_msg.c — the bytes of a bench message: a 16-character hex header
 * (connection id, sequence number), then letters derived from both. */
#include "cli/bench.h"

static const char hexdig[] = "0123456789abcdef";

void bmsg_header(uint8_t *dst, uint32_t id, uint64_t seq)
{
    for (int i = 5; i >= 0; i--, id >>= 4)
        dst[i] = (uint8_t)hexdig[id & 15];
    for (int i = 15; i >= 6; i--, seq >>= 4)
        dst[i] = (uint8_t)hexdig[seq & 15];
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

/* Text only (safe for line framing), and different for neighbouring
 * messages, so a reply carrying another message's payload is caught. */
const uint8_t *bmsg_want(const uint8_t *ramp, uint32_t id, uint64_t seq)
{
    return ramp + ((uint64_t)id * 7u + seq * 11u) % 26u;
}
