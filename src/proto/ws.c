/* ws.c — RFC 6455 framing: header parse/write, masking, close payloads, and the
 * reader state machine that reassembles messages. No I/O; see ws.h for contracts. */
#include "proto/ws.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "sockit/error.h"

/* ---- frames ---- */

static bool opcode_known(unsigned op)
{
    return op <= SK__WS_BINARY || (op >= SK__WS_CLOSE && op <= SK__WS_PONG);
}

/* Checks byte 0: FIN, RSV, opcode. Returns 0 or an error. */
static int check_byte0(uint8_t b, const sk__ws_cfg *cfg)
{
    uint8_t rsv = (b >> 4) & 0x7;
    unsigned op = b & 0xf;
    if (rsv & ~cfg->rsv_allowed)
        return SK_EWSRSV;
    if (!opcode_known(op))
        return SK_EWSOPCODE;
    if (sk__ws_is_control(op) && !(b & 0x80))
        return SK_EWSCTLFRAG;
    return 0;
}

/* Checks byte 1: MASK against the rule, the 7-bit length of a control frame. */
static int check_byte1(uint8_t b0, uint8_t b1, const sk__ws_cfg *cfg)
{
    bool masked = (b1 & 0x80) != 0;
    if (cfg->mask == SK__WS_MASK_REQUIRED && !masked)
        return SK_EWSNOMASK;
    if (cfg->mask == SK__WS_MASK_FORBIDDEN && masked)
        return SK_EWSMASKED;
    if (sk__ws_is_control(b0 & 0xf) && (b1 & 0x7f) > SK__WS_MAX_CONTROL)
        return SK_EWSCTLBIG;
    return 0;
}

static uint64_t load_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

int sk__ws_parse_header(const uint8_t *buf, size_t len, const sk__ws_cfg *cfg, sk__ws_frame *f)
{
    if (len < 1)
        return 0;
    int rc = check_byte0(buf[0], cfg);
    if (rc != 0 || len < 2)
        return rc;
    if ((rc = check_byte1(buf[0], buf[1], cfg)) != 0)
        return rc;
    unsigned len7 = buf[1] & 0x7f;
    size_t ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
    if (len < 2 + ext)
        return 0;
    uint64_t plen = ext ? load_be(buf + 2, ext) : len7;
    if (plen >> 63)
        return SK_EWSLEN;
    if (!sk__ws_is_control(buf[0] & 0xf) && plen > cfg->max_message)
        return SK_EWSBIG;
    bool masked = (buf[1] & 0x80) != 0;
    size_t hdr = 2 + ext + (masked ? 4 : 0);
    if (len < hdr)
        return 0;
    f->fin = (buf[0] & 0x80) != 0;
    f->rsv = (buf[0] >> 4) & 0x7;
    f->opcode = buf[0] & 0xf;
    f->masked = masked;
    memset(f->mask_key, 0, 4);
    if (masked)
        memcpy(f->mask_key, buf + 2 + ext, 4);
    f->payload_len = plen;
    return (int)hdr;
}

void sk__ws_mask(uint8_t *p, size_t n, const uint8_t key[4], uint64_t offset)
{
    uint8_t k8[8];
    for (unsigned i = 0; i < 8; i++)
        k8[i] = key[(offset + i) & 3];
    uint64_t k;
    memcpy(&k, k8, 8);
    size_t i = 0;
    for (; n - i >= 32; i += 32) { /* four independent words per turn */
        uint64_t w[4];
        memcpy(w, p + i, 32);
        w[0] ^= k;
        w[1] ^= k;
        w[2] ^= k;
        w[3] ^= k;
        memcpy(p + i, w, 32);
    }
    for (; n - i >= 8; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        w ^= k;
        memcpy(p + i, &w, 8);
    }
    for (; i < n; i++) /* i is a multiple of 8 here, so k8[i & 7] lines up */
        p[i] ^= k8[i & 7];
}

int sk__ws_write_header(uint8_t out[SK__WS_MAX_HEADER], bool fin, unsigned opcode, uint64_t len,
                        const uint8_t *mask_key)
{
    if (opcode > 0xf || !opcode_known(opcode))
        return SK_EWSOPCODE;
    if (sk__ws_is_control(opcode) && len > SK__WS_MAX_CONTROL)
        return SK_EWSCTLBIG;
    if (sk__ws_is_control(opcode) && !fin)
        return SK_EWSCTLFRAG;
    if (len >> 63)
        return SK_EWSLEN;
    size_t ext = len <= 125 ? 0 : len <= 0xffff ? 2 : 8;
    out[0] = (uint8_t)((fin ? 0x80 : 0) | opcode);
    out[1] = (uint8_t)((mask_key ? 0x80 : 0) | (ext == 0 ? len : ext == 2 ? 126 : 127));
    for (size_t i = 0; i < ext; i++)
        out[2 + i] = (uint8_t)(len >> (8 * (ext - 1 - i)));
    if (mask_key)
        memcpy(out + 2 + ext, mask_key, 4);
    return (int)(2 + ext + (mask_key ? 4 : 0));
}

int sk__ws_random(void *buf, size_t n)
{
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t k = getrandom(p, n, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return k < 0 ? -errno : -EIO;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Mask keys come from getrandom(2) in batches: one call per MASK_BATCH keys
 * and thread, so a client sending many small frames stays cheap while every
 * key is as unpredictable as the kernel's CSPRNG (RFC 6455 §10.3). */
#define MASK_BATCH 128
static _Thread_local struct {
    uint8_t keys[MASK_BATCH * 4];
    unsigned next; /* keys used; MASK_BATCH (or 0 before the first fill) means refill */
    bool filled;
} mask_pool;

int sk__ws_mask_key(uint8_t key[4])
{
    if (!mask_pool.filled || mask_pool.next == MASK_BATCH) {
        int r = sk__ws_random(mask_pool.keys, sizeof mask_pool.keys);
        if (r < 0)
            return r;
        mask_pool.filled = true;
        mask_pool.next = 0;
    }
    memcpy(key, mask_pool.keys + 4 * mask_pool.next, 4);
    memset(mask_pool.keys + 4 * mask_pool.next, 0, 4); /* a used key is not kept */
    mask_pool.next++;
    return 0;
}

/* ---- close frames ---- */

bool sk__ws_close_code_valid(unsigned code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
           (code >= 3000 && code <= 4999);
}

int sk__ws_close_payload(uint8_t out[SK__WS_MAX_CONTROL], unsigned code, const char *reason,
                         size_t reason_len)
{
    if (code == 0)
        return 0;
    if (!sk__ws_close_code_valid(code))
        return SK_EWSCLOSECODE;
    size_t room = SK__WS_MAX_CONTROL - 2;
    size_t n = reason_len < room ? reason_len : room;
    n = n ? sk__utf8_prefix((const uint8_t *)reason, n) : 0;
    out[0] = (uint8_t)(code >> 8);
    out[1] = (uint8_t)code;
    if (n)
        memcpy(out + 2, reason, n);
    return (int)(2 + n);
}

int sk__ws_parse_close(const uint8_t *p, size_t n, unsigned *code, const uint8_t **reason,
                       size_t *reason_len)
{
    if (n == 1)
        return SK_EWSCLOSELEN;
    if (n > SK__WS_MAX_CONTROL)
        return SK_EWSCTLBIG;
    if (n == 0) {
        *code = SK__WS_CLOSE_NO_STATUS;
        *reason = p;
        *reason_len = 0;
        return 0;
    }
    unsigned c = (unsigned)p[0] << 8 | p[1];
    if (!sk__ws_close_code_valid(c))
        return SK_EWSCLOSECODE;
    if (!sk__utf8_valid(p + 2, n - 2))
        return SK_EWSUTF8;
    *code = c;
    *reason = p + 2;
    *reason_len = n - 2;
    return 0;
}

unsigned sk__ws_close_code_for(int err)
{
    switch (err) {
    case 0: return SK__WS_CLOSE_NORMAL;
    case SK_EWSBIG: return SK__WS_CLOSE_TOO_BIG;
    case SK_EWSUTF8:
    case SK_EWSINFLATE: return SK__WS_CLOSE_BAD_DATA;
    case SK_EWSRSV:
    case SK_EWSOPCODE:
    case SK_EWSCTLBIG:
    case SK_EWSCTLFRAG:
    case SK_EWSLEN:
    case SK_EWSNOMASK:
    case SK_EWSMASKED:
    case SK_EWSCONT:
    case SK_EWSUNFINISHED:
    case SK_EWSCLOSELEN:
    case SK_EWSCLOSECODE: return SK__WS_CLOSE_PROTOCOL;
    default: return SK__WS_CLOSE_INTERNAL;
    }
}
