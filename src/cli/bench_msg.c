/* bench_msg.c — the bytes of a bench message: a 16-character hex header
 * (connection id, sequence number), then letters derived from both. */
#include "cli/bench.h"

#include <string.h>


static const char hex2[513] = /* "00" "01" ... "ff": two digits per byte */
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
    "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
    "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
    "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
    "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
    "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

/* Writes v as 2*pairs hex digits ending at dst[2*pairs - 1], two digits per
 * step (the header is written for every message the load generator sends). */
static void put_hex(uint8_t *dst, uint64_t v, int pairs)
{
    for (int i = pairs - 1; i >= 0; i--, v >>= 8)
        memcpy(dst + 2 * i, hex2 + 2 * (v & 0xff), 2);
}

void bmsg_header(uint8_t *dst, uint32_t id, uint64_t seq)
{
    put_hex(dst, id & 0xffffff, 3);  /* 6 digits */
    put_hex(dst + 6, seq, 5);        /* 10 digits */
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
