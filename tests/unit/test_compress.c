/* test_compress.c — unit tests for compressed length-prefixed frames: round
 * trips of every codec, frames split at every byte and at random (len16/32/64,
 * both byte orders), bombs, corrupt bodies and unknown codec bytes. */
#include "sockit/compress.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "check.h"
#include "sockit/codec.h"
#include "sockit/error.h"

static const sk_frame zmodes[] = {SK_FRAME_LEN16BE, SK_FRAME_LEN16LE, SK_FRAME_LEN32BE,
                                  SK_FRAME_LEN32LE, SK_FRAME_LEN64BE, SK_FRAME_LEN64LE};
#define NZMODES (sizeof zmodes / sizeof zmodes[0])

/* JSON-like text of about n bytes (compressible), or random bytes. */
static size_t make_msg(uint32_t seed, int random, uint8_t *out, size_t n)
{
    uint32_t s = seed * 2654435761u + 7;
    if (random) {
        for (size_t i = 0; i < n; i++)
            out[i] = (uint8_t)xorshift32(&s);
        return n;
    }
    size_t len = 0;
    while (len < n) {
        char item[96];
        int k = snprintf(item, sizeof item, "{\"id\":%u,\"user\":\"player%u\",\"x\":%u,\"ok\":true},",
                         xorshift32(&s) % 1000, seed % 97, xorshift32(&s) % 50);
        size_t take = (size_t)k < n - len ? (size_t)k : n - len;
        memcpy(out + len, item, take);
        len += take;
    }
    return len;
}

/* ---- round trips ---- */

static void test_round_trip(sk_zctx *z)
{
    static const size_t sizes[] = {0, 1, 2, 100, 255, 256, 257, 1024, 5000, 70000};
    static uint8_t msg[70000], body[70001];
    for (int codec = 0; codec < SK_ZCODEC_COUNT_; codec++) {
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            for (int random = 0; random < 2; random++) {
                size_t n = make_msg((uint32_t)(i + 1), random, msg, sizes[i]);
                sk_zopts o = {.codec = (sk_zcodec)codec};
                sk_zcodec used;
                ssize_t b = sk_zbody_encode(z, &o, msg, n, body, &used);
                CHECK(b >= 1 && (size_t)b <= sk_zbody_bound(n));
                CHECK_EQ_INT(body[0], used);
                /* small or incompressible messages go stored; text >= 256 shrinks */
                if (n < SK_COMPRESS_MIN_DEFAULT || random)
                    CHECK_EQ_INT(used, SK_ZCODEC_STORED);
                else
                    CHECK_EQ_INT(used, codec);
                CHECK(used == SK_ZCODEC_STORED || (size_t)b < n + 1);
                const uint8_t *out;
                size_t olen;
                int r = sk_zbody_decode(z, 1 << 20, body, (size_t)b, &out, &olen);
                CHECK_EQ_INT(r, used);
                CHECK(olen == n && (n == 0 || memcmp(out, msg, n) == 0));
            }
        }
    }
}

/* Levels, and --compress-min 1: a 2-byte message may still go stored (no gain). */
static void test_options(sk_zctx *z)
{
    uint8_t msg[2000], body[2001];
    size_t n = make_msg(3, 0, msg, sizeof msg);
    ssize_t sizes[2];
    for (int level = 1; level <= 9; level += 8) {
        sk_zopts o = {.codec = SK_ZCODEC_DEFLATE, .level = level};
        sizes[level / 9] = sk_zbody_encode(z, &o, msg, n, body, NULL);
        const uint8_t *out;
        size_t olen;
        CHECK_EQ_INT(sk_zbody_decode(z, n, body, (size_t)sizes[level / 9], &out, &olen), 1);
        CHECK(olen == n && memcmp(out, msg, n) == 0);
    }
    CHECK(sizes[1] <= sizes[0]);
    sk_zopts small = {.codec = SK_ZCODEC_ZSTD, .min = 1000};
    CHECK_EQ_INT((sk_zbody_encode(z, &small, msg, 999, body, NULL), body[0]), 0);
    CHECK_EQ_INT((sk_zbody_encode(z, &small, msg, 1000, body, NULL), body[0]), 2);
    sk_zcodec c;
    CHECK(sk_zcodec_from_name("zstd", &c) == 0 && c == SK_ZCODEC_ZSTD);
    CHECK(sk_zcodec_from_name("deflate", &c) == 0 && c == SK_ZCODEC_DEFLATE);
    CHECK(sk_zcodec_from_name("stored", &c) == 0 && c == SK_ZCODEC_STORED);
    CHECK_EQ_INT(sk_zcodec_from_name("gzip", &c), SK_EZCODEC);
    CHECK(!sk_zframe_mode_ok(SK_FRAME_LEN8) && !sk_zframe_mode_ok(SK_FRAME_LINE) &&
          sk_zframe_mode_ok(SK_FRAME_LEN16LE) && sk_zframe_mode_ok(SK_FRAME_LEN64BE));
}

/* ---- a stream of frames split at every byte and at random ---- */

#define NMSG 9
typedef struct stream {
    uint8_t bytes[40000];
    size_t len;
    uint8_t msgs[NMSG][3000];
    size_t mlen[NMSG];
} stream;

/* Messages of every codec (and stored ones) framed in mode. */
static void build_stream(sk_zctx *z, sk_frame mode, stream *st)
{
    st->len = 0;
    for (int i = 0; i < NMSG; i++) {
        st->mlen[i] = make_msg((uint32_t)i, i % 4 == 3, st->msgs[i], (size_t)(i * 331) % 2900);
        sk_zopts o = {.codec = (sk_zcodec)(i % 3)};
        uint8_t body[3001];
        ssize_t b = sk_zbody_encode(z, &o, st->msgs[i], st->mlen[i], body, NULL);
        st->len += (size_t)sk_frame_encode(mode, body, (size_t)b, st->bytes + st->len);
    }
}

/* A receiver: appends each piece, decodes every complete frame and its body. */
typedef struct rx {
    uint8_t buf[40000];
    size_t len;
    int got, bad;
} rx;

static void rx_feed(sk_zctx *z, sk_frame mode, rx *r, const stream *st, const uint8_t *p, size_t n)
{
    memcpy(r->buf + r->len, p, n);
    r->len += n;
    size_t off = 0;
    const uint8_t *body, *msg;
    size_t blen, mlen;
    ssize_t f;
    while ((f = sk_frame_decode(mode, 1 << 20, r->buf + off, r->len - off, &body, &blen)) > 0) {
        off += (size_t)f;
        int c = sk_zbody_decode(z, 1 << 20, body, blen, &msg, &mlen);
        if (c < 0 || r->got >= NMSG || mlen != st->mlen[r->got] ||
            (mlen && memcmp(msg, st->msgs[r->got], mlen) != 0))
            r->bad++;
        r->got++;
    }
    CHECK(f == 0);
    memmove(r->buf, r->buf + off, r->len - off);
    r->len -= off;
}

static void check_rx(const rx *r)
{
    CHECK_EQ_INT(r->got, NMSG);
    CHECK_EQ_INT(r->bad, 0);
    CHECK_EQ_INT(r->len, 0);
}

static void test_splits(sk_zctx *z)
{
    static stream st;
    static rx r;
    uint32_t seed = 12345;
    for (size_t m = 0; m < NZMODES; m++) {
        sk_frame mode = zmodes[m];
        build_stream(z, mode, &st);
        for (size_t cut = 0; cut <= st.len; cut++) { /* two pieces, cut at every byte */
            memset(&r, 0, sizeof r);
            rx_feed(z, mode, &r, &st, st.bytes, cut);
            rx_feed(z, mode, &r, &st, st.bytes + cut, st.len - cut);
            check_rx(&r);
        }
        memset(&r, 0, sizeof r); /* byte by byte */
        for (size_t i = 0; i < st.len; i++)
            rx_feed(z, mode, &r, &st, st.bytes + i, 1);
        check_rx(&r);
        for (int round = 0; round < 50; round++) { /* random splits */
            memset(&r, 0, sizeof r);
            for (size_t off = 0; off < st.len;) {
                size_t n = 1 + xorshift32(&seed) % 700;
                n = n < st.len - off ? n : st.len - off;
                rx_feed(z, mode, &r, &st, st.bytes + off, n);
                off += n;
            }
            check_rx(&r);
        }
    }
}

/* ---- bombs ---- */

/* A deflate body (codec byte 1) of n zero bytes. */
static size_t deflate_zeros(size_t n, uint8_t *body, size_t cap)
{
    uint8_t *zeros = calloc(1, n ? n : 1);
    z_stream s = {0};
    deflateInit2(&s, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
    s.next_in = zeros;
    s.avail_in = (uInt)n;
    s.next_out = body + 1;
    s.avail_out = (uInt)(cap - 1);
    CHECK_EQ_INT(deflate(&s, Z_FINISH), Z_STREAM_END);
    size_t len = cap - 1 - s.avail_out;
    deflateEnd(&s);
    free(zeros);
    body[0] = 1;
    return len + 1;
}

static void test_deflate_bombs(sk_zctx *z)
{
    static uint8_t body[200000];
    const uint8_t *msg;
    size_t mlen;
    size_t max = 1 << 20;
    size_t b = deflate_zeros((size_t)64 << 20, body, sizeof body); /* 64 MiB in ~64 KiB */
    CHECK(b < sizeof body);
    CHECK_EQ_INT(sk_zbody_decode(z, max, body, b, &msg, &mlen), SK_EZBOMB);
    b = deflate_zeros(max, body, sizeof body); /* exactly the limit: accepted */
    CHECK_EQ_INT(sk_zbody_decode(z, max, body, b, &msg, &mlen), 1);
    CHECK_EQ_INT(mlen, max);
    b = deflate_zeros(max + 1, body, sizeof body); /* one byte over */
    CHECK_EQ_INT(sk_zbody_decode(z, max, body, b, &msg, &mlen), SK_EZBOMB);
    b = deflate_zeros(0, body, sizeof body); /* an empty stream, limit 0 */
    CHECK_EQ_INT(sk_zbody_decode(z, 0, body, b, &msg, &mlen), 1);
    CHECK_EQ_INT(mlen, 0);
}

/* A zstd body with its content size, or without (as a streaming compressor
 * that was not told the size writes it). */
static size_t zstd_body(const uint8_t *src, size_t n, int with_size, uint8_t *body, size_t cap)
{
    ZSTD_CCtx *c = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, with_size);
    size_t len = ZSTD_compress2(c, body + 1, cap - 1, src, n);
    CHECK(!ZSTD_isError(len));
    ZSTD_freeCCtx(c);
    body[0] = 2;
    return len + 1;
}

static void test_zstd_bombs(sk_zctx *z)
{
    static uint8_t body[100000];
    const uint8_t *msg;
    size_t mlen;
    size_t big = (size_t)32 << 20;
    uint8_t *zeros = calloc(1, big);
    size_t b = zstd_body(zeros, big, 1, body, sizeof body); /* declares 32 MiB in ~1 KiB */
    CHECK(b < 10000);
    CHECK_EQ_INT(sk_zbody_decode(z, (size_t)16 << 20, body, b, &msg, &mlen), SK_EZBOMB);
    CHECK_EQ_INT(sk_zbody_decode(z, big, body, b, &msg, &mlen), 2);
    CHECK_EQ_INT(mlen, big);
    /* a bare frame header declaring 2^40 bytes: refused before anything else */
    uint8_t hdr[] = {2, 0x28, 0xb5, 0x2f, 0xfd, 0xe0 /* FCS 8 bytes, single segment */, 0, 0, 0,
                     0, 0, 1, 0, 0};
    CHECK_EQ_INT(sk_zbody_decode(z, (size_t)16 << 20, hdr, sizeof hdr, &msg, &mlen), SK_EZBOMB);
    /* a hand-made frame of 5 bytes (one raw block) asking for a 2^28-byte window:
     * refused; the same with a 2^20 window decodes */
    uint8_t w28[] = {2, 0x28, 0xb5, 0x2f, 0xfd, 0x80, 0x90, 5, 0, 0, 0, 0x29, 0, 0, 'h', 'e', 'l', 'l', 'o'};
    CHECK_EQ_INT(sk_zbody_decode(z, 100, w28, sizeof w28, &msg, &mlen), SK_EZCORRUPT);
    w28[6] = 0x50;
    CHECK_EQ_INT(sk_zbody_decode(z, 100, w28, sizeof w28, &msg, &mlen), 2);
    CHECK(mlen == 5 && memcmp(msg, "hello", 5) == 0);
    b = zstd_body(zeros, 5000, 0, body, sizeof body); /* no content size: refused */
    CHECK_EQ_INT(ZSTD_getFrameContentSize(body + 1, b - 1), ZSTD_CONTENTSIZE_UNKNOWN);
    CHECK_EQ_INT(sk_zbody_decode(z, 1 << 20, body, b, &msg, &mlen), SK_EZCORRUPT);
    free(zeros);
}

/* ---- corrupt bodies and unknown codec bytes ---- */

static void test_corrupt(sk_zctx *z)
{
    uint8_t msg[3000], body[6200];
    const uint8_t *out;
    size_t olen, n = make_msg(9, 0, msg, sizeof msg);
    for (int codec = 1; codec <= 2; codec++) {
        sk_zopts o = {.codec = (sk_zcodec)codec};
        ssize_t b = sk_zbody_encode(z, &o, msg, n, body, NULL);
        CHECK_EQ_INT(body[0], codec);
        for (ssize_t cut = 1; cut < b; cut++) /* every truncation */
            CHECK(sk_zbody_decode(z, 1 << 20, body, (size_t)cut, &out, &olen) == SK_EZCORRUPT);
        body[b] = 0; /* one byte after the stream / the frame */
        CHECK_EQ_INT(sk_zbody_decode(z, 1 << 20, body, (size_t)b + 1, &out, &olen), SK_EZCORRUPT);
        memcpy(body + b, body + 1, (size_t)b - 1); /* a second frame or stream after it */
        CHECK_EQ_INT(sk_zbody_decode(z, 1 << 20, body, (size_t)(2 * b - 1), &out, &olen),
                     SK_EZCORRUPT);
        uint32_t seed = 99; /* bit flips: an error or some message, never a crash */
        for (int i = 0; i < 300; i++) {
            sk_zbody_encode(z, &o, msg, n, body, NULL);
            body[1 + xorshift32(&seed) % ((uint32_t)b - 1)] ^= (uint8_t)(1u << (i % 8));
            int r = sk_zbody_decode(z, 1 << 20, body, (size_t)b, &out, &olen);
            CHECK(r == codec || r == SK_EZCORRUPT || r == SK_EZBOMB);
        }
    }
    uint8_t skippable[] = {2, 0x50, 0x2a, 0x4d, 0x18, 0, 0, 0, 0}; /* a skippable frame */
    CHECK_EQ_INT(sk_zbody_decode(z, 100, skippable, sizeof skippable, &out, &olen), SK_EZCORRUPT);
    uint8_t garbage[] = {1, 0xff, 0xff, 0xff}; /* deflate block type 3 */
    CHECK_EQ_INT(sk_zbody_decode(z, 100, garbage, sizeof garbage, &out, &olen), SK_EZCORRUPT);
    uint8_t unknown[] = {3, 'a'}, high[] = {0xff}, stored[] = {0, 'a', 'b'};
    CHECK_EQ_INT(sk_zbody_decode(z, 100, unknown, sizeof unknown, &out, &olen), SK_EZCODEC);
    CHECK_EQ_INT(sk_zbody_decode(z, 100, high, sizeof high, &out, &olen), SK_EZCODEC);
    CHECK_EQ_INT(sk_zbody_decode(z, 100, stored, 0, &out, &olen), SK_EZCODEC);
    CHECK_EQ_INT(sk_zbody_decode(z, 1, stored, sizeof stored, &out, &olen), SK_EZBOMB);
    CHECK_EQ_INT(sk_zbody_decode(z, 2, stored, sizeof stored, &out, &olen), 0);
    /* after all those errors the context still works */
    sk_zopts o = {.codec = SK_ZCODEC_ZSTD};
    ssize_t b = sk_zbody_encode(z, &o, msg, n, body, NULL);
    CHECK_EQ_INT(sk_zbody_decode(z, 1 << 20, body, (size_t)b, &out, &olen), 2);
    CHECK(olen == n && memcmp(out, msg, n) == 0);
}

int main(void)
{
    sk_zctx *z = sk_zctx_new();
    CHECK(z != NULL);
    test_round_trip(z);
    test_options(z);
    test_splits(z);
    test_deflate_bombs(z);
    test_zstd_bombs(z);
    test_corrupt(z);
    sk_zctx_free(z);
    sk_zctx_free(NULL);
    return check_done("test_compress");
}
