/* test_codec.c — unit tests for the framing codecs: round trips, merged and split
 * input (byte by byte, random splits), limits, errors, and a guard-page over-read check. */
#include "sockit/codec.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "sockit/error.h"

static const sk_frame all_modes[] = {
    SK_FRAME_RAW,     SK_FRAME_LINE,     SK_FRAME_LEN8,     SK_FRAME_LEN16BE, SK_FRAME_LEN16LE,
    SK_FRAME_LEN32BE, SK_FRAME_LEN32LE, SK_FRAME_LEN64BE, SK_FRAME_LEN64LE,
};
#define NMODES (sizeof all_modes / sizeof all_modes[0])

static const char *const all_names[] = {"raw",     "line",    "len8",    "len16be", "len16le",
                                        "len32be", "len32le", "len64be", "len64le"};

/* Fills out[0..n) with content that depends on seed; LINE payloads avoid "\n" and "\r". */
static void make_payload(sk_frame mode, uint32_t seed, uint8_t *out, size_t n)
{
    uint32_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        uint8_t b = (uint8_t)xorshift32(&s);
        out[i] = mode == SK_FRAME_LINE ? (uint8_t)(' ' + b % 95) : b;
    }
}

/* Writes header + payload + trailer to out; returns the frame size. */
static size_t encode(sk_frame mode, const uint8_t *p, size_t n, uint8_t *out)
{
    uint8_t hdr[8];
    int h = sk_frame_header(mode, n, hdr);
    CHECK(h >= 0 && (size_t)h == sk_frame_header_size(mode));
    if (h < 0)
        return 0;
    const char *trailer = sk_frame_trailer(mode);
    memcpy(out, hdr, (size_t)h);
    if (n > 0)
        memcpy(out + h, p, n);
    memcpy(out + h + n, trailer, strlen(trailer));
    return (size_t)h + n + strlen(trailer);
}

/* ---- a simulated receiver: append bytes, decode all complete frames, compact ---- */

#define RX_CAP 16384
#define RX_MAX_MSGS 64

typedef struct receiver {
    sk_frame mode;
    size_t max_frame;
    uint8_t buf[RX_CAP];
    size_t len;
    uint8_t got[RX_CAP]; /* every payload received, concatenated */
    size_t got_len;
    size_t lens[RX_MAX_MSGS];
    size_t nmsgs; /* may exceed RX_MAX_MSGS (raw); lens[] holds the first ones */
    int err;
} receiver;

static void rx_init(receiver *r, sk_frame mode, size_t max_frame)
{
    r->mode = mode;
    r->max_frame = max_frame;
    r->len = r->got_len = r->nmsgs = 0;
    r->err = 0;
}

static void rx_record(receiver *r, const uint8_t *msg, size_t n)
{
    CHECK(r->got_len + n <= RX_CAP);
    if (r->got_len + n > RX_CAP)
        return;
    memcpy(r->got + r->got_len, msg, n);
    r->got_len += n;
    if (r->nmsgs < RX_MAX_MSGS)
        r->lens[r->nmsgs] = n;
    r->nmsgs++;
}

static void rx_feed(receiver *r, const uint8_t *data, size_t n)
{
    CHECK(r->len + n <= RX_CAP);
    if (r->err || r->len + n > RX_CAP)
        return;
    memcpy(r->buf + r->len, data, n);
    r->len += n;
    size_t off = 0;
    for (;;) {
        const uint8_t *msg = NULL;
        size_t msg_len = 0;
        /* TEXT as the connection does: after a line, the rest waits for its "\n" */
        sk_frame mode = r->mode == SK_FRAME_TEXT && off > 0 ? SK_FRAME_LINE : r->mode;
        ssize_t k = sk_frame_decode(mode, r->max_frame, r->buf + off, r->len - off, &msg, &msg_len);
        if (k < 0)
            r->err = (int)k;
        if (k <= 0)
            break;
        CHECK((size_t)k <= r->len - off);
        CHECK(msg >= r->buf + off && msg + msg_len <= r->buf + off + k);
        rx_record(r, msg, msg_len);
        off += (size_t)k;
    }
    memmove(r->buf, r->buf + off, r->len - off);
    r->len -= off;
}

static int rx_finish(receiver *r)
{
    const uint8_t *msg = NULL;
    size_t msg_len = 0;
    int rc = sk_frame_finish(r->mode, r->buf, r->len, &msg, &msg_len);
    if (rc == 1)
        rx_record(r, msg, msg_len);
    return rc;
}

/* ---- a batch of messages and their encoding ---- */

#define BATCH_MAX 10

typedef struct batch {
    size_t n;
    uint8_t payload[BATCH_MAX][500];
    size_t plen[BATCH_MAX];
    uint8_t wire[BATCH_MAX * 520];
    size_t wire_len;
} batch;

static void batch_make(batch *b, sk_frame mode, size_t n, size_t size, uint32_t seed)
{
    b->n = n;
    b->wire_len = 0;
    for (size_t i = 0; i < n; i++) {
        b->plen[i] = size;
        make_payload(mode, seed + (uint32_t)i, b->payload[i], size);
        b->wire_len += encode(mode, b->payload[i], size, b->wire + b->wire_len);
    }
}

/* Checks that r received exactly the batch's messages, in order. */
static void batch_expect(const batch *b, const receiver *r)
{
    CHECK_EQ_INT(r->err, 0);
    if (r->mode == SK_FRAME_RAW) { /* raw: boundaries follow the reads; bytes must match */
        size_t off = 0;
        for (size_t i = 0; i < b->n; i++) {
            CHECK(off + b->plen[i] <= r->got_len &&
                  memcmp(r->got + off, b->payload[i], b->plen[i]) == 0);
            off += b->plen[i];
        }
        CHECK_EQ_INT(r->got_len, off);
        return;
    }
    CHECK_EQ_INT(r->nmsgs, b->n);
    size_t off = 0;
    for (size_t i = 0; i < b->n && i < r->nmsgs; i++) {
        CHECK_EQ_INT(r->lens[i], b->plen[i]);
        CHECK(off + b->plen[i] <= r->got_len &&
              memcmp(r->got + off, b->payload[i], b->plen[i]) == 0);
        off += r->lens[i];
    }
    CHECK_EQ_INT(r->len, 0);
}

static size_t batch_size_for(sk_frame mode)
{
    return mode == SK_FRAME_LEN8 ? 255 : 500;
}

/* ---- tests ---- */

static void test_names(void)
{
    for (size_t i = 0; i < NMODES; i++) {
        sk_frame m = (sk_frame)-1;
        CHECK_EQ_INT(sk_frame_from_name(all_names[i], &m), 0);
        CHECK_EQ_INT(m, all_modes[i]);
        CHECK(strcmp(sk_frame_name(all_modes[i]), all_names[i]) == 0);
        CHECK_EQ_INT(sk_frame_from_name(sk_frame_name(all_modes[i]), &m), 0);
        CHECK_EQ_INT(m, all_modes[i]);
    }
    const char *bad[] = {"", "RAW", "len32", "len128be", "lines", "len8 ", "len16", "ws"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sk_frame m = SK_FRAME_LINE;
        CHECK_EQ_INT(sk_frame_from_name(bad[i], &m), SK_EFRAMEMODE);
        CHECK_EQ_INT(m, SK_FRAME_LINE); /* untouched */
    }
    CHECK_EQ_INT(sk_frame_from_name(NULL, &(sk_frame){0}), SK_EFRAMEMODE);
    CHECK(strcmp(sk_frame_name(SK_FRAME_COUNT_), "?") == 0);
    CHECK(strcmp(sk_frame_name((sk_frame)-1), "?") == 0);
    sk_frame text = SK_FRAME_RAW;
    CHECK_EQ_INT(sk_frame_from_name("text", &text), 0);
    CHECK_EQ_INT(text, SK_FRAME_TEXT);
    CHECK(strcmp(sk_frame_name(SK_FRAME_AUTO), "?") == 0); /* AUTO is no mode */

    const size_t sizes[] = {0, 0, 1, 2, 2, 4, 4, 8, 8};
    for (size_t i = 0; i < NMODES; i++)
        CHECK_EQ_INT(sk_frame_header_size(all_modes[i]), sizes[i]);
    CHECK_EQ_INT(sk_frame_header_size(SK_FRAME_COUNT_), 0);
    CHECK(strcmp(sk_frame_trailer(SK_FRAME_LINE), "\n") == 0);
    CHECK(strcmp(sk_frame_trailer(SK_FRAME_LEN32BE), "") == 0);
    CHECK(strcmp(sk_frame_trailer(SK_FRAME_RAW), "") == 0);
}

static void test_round_trip(void)
{
    const size_t sizes[] = {0, 1, 2, 3, 100, 255};
    uint8_t payload[256], wire[300];
    for (size_t mi = 0; mi < NMODES; mi++) {
        sk_frame mode = all_modes[mi];
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            size_t n = sizes[si];
            make_payload(mode, (uint32_t)(n + 7 * mi), payload, n);
            size_t w = encode(mode, payload, n, wire);
            CHECK_EQ_INT(w, sk_frame_header_size(mode) + n + strlen(sk_frame_trailer(mode)));
            const uint8_t *msg = NULL;
            size_t msg_len = 99999;
            ssize_t k = sk_frame_decode(mode, 1000, wire, w, &msg, &msg_len);
            if (mode == SK_FRAME_RAW && n == 0) {
                CHECK_EQ_INT(k, 0); /* raw: no bytes, no message */
                continue;
            }
            CHECK_EQ_INT(k, w);
            CHECK_EQ_INT(msg_len, n);
            CHECK(msg == wire + sk_frame_header_size(mode));
            CHECK(msg && memcmp(msg, payload, n) == 0);
            /* every strict prefix is "need more" (raw: the prefix itself) */
            for (size_t p = 0; p < w; p++) {
                k = sk_frame_decode(mode, 1000, wire, p, &msg, &msg_len);
                CHECK_EQ_INT(k, mode == SK_FRAME_RAW ? (ssize_t)p : 0);
            }
        }
    }
}

static void test_merged(void)
{
    for (size_t mi = 0; mi < NMODES; mi++) {
        sk_frame mode = all_modes[mi];
        static batch b;
        /* several messages of varied sizes, zero-length ones included */
        const size_t sizes[] = {5, 0, 200, 1, 0, 77, 255, 3};
        const size_t nsizes = sizeof sizes / sizeof sizes[0];
        b.n = nsizes;
        b.wire_len = 0;
        for (size_t i = 0; i < nsizes; i++) {
            b.plen[i] = sizes[i];
            make_payload(mode, 100 + (uint32_t)i, b.payload[i], sizes[i]);
            b.wire_len += encode(mode, b.payload[i], sizes[i], b.wire + b.wire_len);
        }
        /* the whole buffer at once, decoded in place */
        size_t off = 0, count = 0;
        for (;;) {
            const uint8_t *msg = NULL;
            size_t msg_len = 0;
            ssize_t k = sk_frame_decode(mode, 1000, b.wire + off, b.wire_len - off, &msg, &msg_len);
            CHECK(k >= 0);
            if (k <= 0)
                break;
            if (mode == SK_FRAME_RAW) {
                CHECK_EQ_INT(k, b.wire_len);
                CHECK_EQ_INT(msg_len, b.wire_len);
            } else if (count < nsizes) {
                CHECK_EQ_INT(msg_len, sizes[count]);
                CHECK(memcmp(msg, b.payload[count], msg_len) == 0);
            }
            off += (size_t)k;
            count++;
        }
        CHECK_EQ_INT(off, b.wire_len);
        CHECK_EQ_INT(count, mode == SK_FRAME_RAW ? 1 : nsizes);
        /* and through a receiver in one read */
        static receiver r;
        rx_init(&r, mode, 1000);
        rx_feed(&r, b.wire, b.wire_len);
        batch_expect(&b, &r);
        CHECK_EQ_INT(rx_finish(&r), 0);
    }
}

static void test_byte_by_byte(void)
{
    for (size_t mi = 0; mi < NMODES; mi++) {
        sk_frame mode = all_modes[mi];
        static batch b;
        static receiver r;
        batch_make(&b, mode, BATCH_MAX, batch_size_for(mode), 1000 + (uint32_t)mi);
        rx_init(&r, mode, 1000);
        for (size_t i = 0; i < b.wire_len; i++)
            rx_feed(&r, b.wire + i, 1);
        batch_expect(&b, &r);
        if (mode == SK_FRAME_RAW)
            CHECK_EQ_INT(r.nmsgs, b.wire_len); /* one message per read */
        CHECK_EQ_INT(rx_finish(&r), 0);
    }
}

/* 10 writes of 500 bytes arriving in any split: 200 random split patterns per mode. */
static void test_random_splits(void)
{
    uint32_t seed = 0x5eed1234u;
    for (size_t mi = 0; mi < NMODES; mi++) {
        sk_frame mode = all_modes[mi];
        static batch b;
        static receiver r;
        batch_make(&b, mode, BATCH_MAX, batch_size_for(mode), 2000 + 16 * (uint32_t)mi);
        for (int pattern = 0; pattern < 200; pattern++) {
            /* vary the typical chunk size: tiny, medium, and larger than a frame */
            const size_t caps[] = {3, 17, 600, 2000, b.wire_len};
            size_t cap = caps[pattern % 5];
            rx_init(&r, mode, 1000);
            size_t off = 0, reads = 0;
            while (off < b.wire_len) {
                size_t n = 1 + xorshift32(&seed) % cap;
                if (n > b.wire_len - off)
                    n = b.wire_len - off;
                rx_feed(&r, b.wire + off, n);
                off += n;
                reads++;
            }
            batch_expect(&b, &r);
            if (mode == SK_FRAME_RAW)
                CHECK_EQ_INT(r.nmsgs, reads);
            CHECK_EQ_INT(rx_finish(&r), 0);
        }
    }
}

static ssize_t decode_bytes(sk_frame mode, size_t max_frame, const void *p, size_t n,
                            size_t *msg_len)
{
    const uint8_t *msg = NULL;
    return sk_frame_decode(mode, max_frame, p, n, &msg, msg_len);
}

static void test_length_limits(void)
{
    uint8_t buf[2048] = {0};
    size_t ml = 0;
    uint8_t hdr[8];
    /* a header one above max_frame is refused as soon as the header is in */
    const sk_frame lens[] = {SK_FRAME_LEN16BE, SK_FRAME_LEN16LE, SK_FRAME_LEN32BE,
                             SK_FRAME_LEN32LE, SK_FRAME_LEN64BE, SK_FRAME_LEN64LE};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        sk_frame m = lens[i];
        size_t h = sk_frame_header_size(m);
        CHECK_EQ_INT(sk_frame_header(m, 1001, buf), (int)h);
        CHECK_EQ_INT(decode_bytes(m, 1000, buf, h, &ml), SK_EFRAMEBIG);
        CHECK_EQ_INT(decode_bytes(m, 1000, buf, sizeof buf, &ml), SK_EFRAMEBIG);
        CHECK_EQ_INT(decode_bytes(m, 1000, buf, h - 1, &ml), 0); /* header incomplete */
        CHECK_EQ_INT(sk_frame_header(m, 1000, buf), (int)h);
        CHECK_EQ_INT(decode_bytes(m, 1000, buf, h, &ml), 0); /* exactly max: wait for it */
        CHECK_EQ_INT(decode_bytes(m, 1000, buf, h + 1000, &ml), (ssize_t)(h + 1000));
        CHECK_EQ_INT(ml, 1000);
        CHECK_EQ_INT(sk_frame_header(m, 65535, buf), (int)h);
        CHECK_EQ_INT(decode_bytes(m, 1000, buf, sizeof buf, &ml), SK_EFRAMEBIG);
    }
    /* len8: 255 is the largest, and may exceed a small max_frame */
    CHECK_EQ_INT(sk_frame_header(SK_FRAME_LEN8, 255, hdr), 1);
    CHECK_EQ_INT(hdr[0], 255);
    CHECK_EQ_INT(sk_frame_header(SK_FRAME_LEN8, 256, hdr), SK_EFRAMEBIG);
    buf[0] = 255;
    CHECK_EQ_INT(decode_bytes(SK_FRAME_LEN8, 1000, buf, 256, &ml), 256);
    CHECK_EQ_INT(ml, 255);
    CHECK_EQ_INT(decode_bytes(SK_FRAME_LEN8, 254, buf, 256, &ml), SK_EFRAMEBIG);
    /* len16 0xffff is unsigned, so too big, never negative */
    buf[0] = buf[1] = 0xff;
    CHECK_EQ_INT(decode_bytes(SK_FRAME_LEN16BE, 1000, buf, 2, &ml), SK_EFRAMEBIG);
    CHECK_EQ_INT(decode_bytes(SK_FRAME_LEN16LE, 1000, buf, 2, &ml), SK_EFRAMEBIG);
    CHECK_EQ_INT(decode_bytes(SK_FRAME_LEN16LE, 65535, buf, 2, &ml), 0);
    /* max_frame 0: only empty frames */
    CHECK_EQ_INT(sk_frame_header(SK_FRAME_LEN32LE, 0, buf), 4);
    CHECK_EQ_INT(decode_bytes(SK_FRAME_LEN32LE, 0, buf, 4, &ml), 4);
    CHECK_EQ_INT(sk_frame_header(SK_FRAME_LEN32LE, 1, buf), 4);
    CHECK_EQ_INT(decode_bytes(SK_FRAME_LEN32LE, 0, buf, 4, &ml), SK_EFRAMEBIG);
    /* a huge max_frame: a huge header just waits for more */
    const uint8_t big64[8] = {0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    CHECK_EQ_INT(decode_bytes(SK_FRAME_LEN64BE, SIZE_MAX, big64, 8, &ml), 0);
    CHECK_EQ_INT(decode_bytes(SK_FRAME_LEN64BE, SK_MAX_FRAME_DEFAULT, big64, 8, &ml),
                 SK_EFRAMEBIG);
}

static void test_negative(void)
{
    const uint8_t be32[] = {0x80, 0, 0, 0}, le32[] = {0, 0, 0, 0x80};
    const uint8_t ff32[] = {0xff, 0xff, 0xff, 0xff};
    const uint8_t be64[] = {0x80, 0, 0, 0, 0, 0, 0, 0}, le64[] = {0, 0, 0, 0, 0, 0, 0, 0x80};
    const uint8_t ff64[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    size_t ml;
    /* negative is reported even when the value would also be too big */
    CHECK_EQ_INT(decode_bytes(SK_FRAME_LEN32BE, 1000, be32, 4, &ml), SK_EFRAMENEG);
    CHECK_EQ_INT(decode_bytes(SK_FRAME_LEN32LE, 1000, le32, 4, &ml), SK_EFRAMENEG);
    CHECK_EQ_INT(decode_bytes(SK_FRAME_LEN32BE, SIZE_MAX, ff32, 4, &ml), SK_EFRAMENEG);
    CHECK_EQ_INT(decode_bytes(SK_FRAME_LEN32LE, 1000, ff32, 4, &ml), SK_EFRAMENEG);
    CHECK_EQ_INT(decode_bytes(SK_FRAME_LEN64BE, 1000, be64, 8, &ml), SK_EFRAMENEG);
    CHECK_EQ_INT(decode_bytes(SK_FRAME_LEN64LE, 1000, le64, 8, &ml), SK_EFRAMENEG);
    CHECK_EQ_INT(decode_bytes(SK_FRAME_LEN64BE, SIZE_MAX, ff64, 8, &ml), SK_EFRAMENEG);
    CHECK_EQ_INT(decode_bytes(SK_FRAME_LEN64LE, 1000, ff64, 8, &ml), SK_EFRAMENEG);
    /* the top bit of the other end is not a sign: it reads as 128 */
    CHECK_EQ_INT(decode_bytes(SK_FRAME_LEN32BE, 100, le32, 4, &ml), SK_EFRAMEBIG);
    CHECK_EQ_INT(decode_bytes(SK_FRAME_LEN32LE, 100, be32, 4, &ml), SK_EFRAMEBIG);
    CHECK_EQ_INT(decode_bytes(SK_FRAME_LEN64LE, 100, be64, 8, &ml), SK_EFRAMEBIG);
    CHECK_EQ_INT(decode_bytes(SK_FRAME_LEN64BE, 1000, le64, 8, &ml), 0); /* 128: need more */
    /* header encoding: largest positive fits, one more does not */
    uint8_t hdr[8];
    CHECK_EQ_INT(sk_frame_header(SK_FRAME_LEN16BE, 65535, hdr), 2);
    CHECK_EQ_INT(sk_frame_header(SK_FRAME_LEN16LE, 65536, hdr), SK_EFRAMEBIG);
    CHECK_EQ_INT(sk_frame_header(SK_FRAME_LEN32BE, 0x7fffffff, hdr), 4);
    CHECK(memcmp(hdr, "\x7f\xff\xff\xff", 4) == 0);
    CHECK_EQ_INT(sk_frame_header(SK_FRAME_LEN32BE, (size_t)0x80000000u, hdr), SK_EFRAMEBIG);
    CHECK_EQ_INT(sk_frame_header(SK_FRAME_LEN32LE, (size_t)0x80000000u, hdr), SK_EFRAMEBIG);
    if (SIZE_MAX > INT64_MAX) {
        CHECK_EQ_INT(sk_frame_header(SK_FRAME_LEN64LE, (size_t)INT64_MAX, hdr), 8);
        CHECK(memcmp(hdr, "\xff\xff\xff\xff\xff\xff\xff\x7f", 8) == 0);
        CHECK_EQ_INT(sk_frame_header(SK_FRAME_LEN64BE, (size_t)INT64_MAX + 1, hdr), SK_EFRAMEBIG);
        CHECK_EQ_INT(sk_frame_header(SK_FRAME_LEN64LE, SIZE_MAX, hdr), SK_EFRAMEBIG);
    }
    /* byte order */
    CHECK_EQ_INT(sk_frame_header(SK_FRAME_LEN32BE, 0x01020304, hdr), 4);
    CHECK(memcmp(hdr, "\x01\x02\x03\x04", 4) == 0);
    CHECK_EQ_INT(sk_frame_header(SK_FRAME_LEN32LE, 0x01020304, hdr), 4);
    CHECK(memcmp(hdr, "\x04\x03\x02\x01", 4) == 0);
    CHECK_EQ_INT(sk_frame_header(SK_FRAME_LEN16BE, 0x0102, hdr), 2);
    CHECK(memcmp(hdr, "\x01\x02", 2) == 0);
    CHECK_EQ_INT(sk_frame_header(SK_FRAME_LEN16LE, 0x0102, hdr), 2);
    CHECK(memcmp(hdr, "\x02\x01", 2) == 0);
    CHECK_EQ_INT(sk_frame_header(SK_FRAME_LEN64BE, 0x0102030405, hdr), 8);
    CHECK(memcmp(hdr, "\0\0\0\x01\x02\x03\x04\x05", 8) == 0);
    CHECK_EQ_INT(sk_frame_header(SK_FRAME_LEN64LE, 0x0102030405, hdr), 8);
    CHECK(memcmp(hdr, "\x05\x04\x03\x02\x01\0\0\0", 8) == 0);
    CHECK_EQ_INT(sk_frame_header(SK_FRAME_RAW, 12345, hdr), 0);
    CHECK_EQ_INT(sk_frame_header(SK_FRAME_LINE, 12345, hdr), 0);
    CHECK_EQ_INT(sk_frame_header(SK_FRAME_COUNT_, 1, hdr), SK_EFRAMEMODE);
}

static void expect_line(const char *in, size_t max_frame, ssize_t want, const char *payload)
{
    const uint8_t *msg = NULL;
    size_t ml = 0;
    ssize_t k = sk_frame_decode(SK_FRAME_LINE, max_frame, (const uint8_t *)in, strlen(in), &msg,
                                &ml);
    CHECK_EQ_INT(k, want);
    if (k > 0 && payload) {
        CHECK_EQ_INT(ml, strlen(payload));
        CHECK(msg == (const uint8_t *)in && memcmp(msg, payload, ml) == 0);
    }
}

static void test_line(void)
{
    expect_line("abc\r\n", 1000, 5, "abc");
    expect_line("abc\n", 1000, 4, "abc");
    expect_line("\n", 1000, 1, "");
    expect_line("\r\n", 1000, 2, "");
    expect_line("a\rb\n", 1000, 4, "a\rb");      /* only a final "\r" goes */
    expect_line("abc\r\r\n", 1000, 6, "abc\r"); /* and only one */
    expect_line("one\ntwo\n", 1000, 4, "one");
    expect_line("abc\r", 1000, 0, NULL);
    expect_line("", 1000, 0, NULL);
    /* the limit counts the bytes before "\n" */
    expect_line("0123456789", 10, 0, NULL);
    expect_line("0123456789A", 10, SK_EFRAMEBIG, NULL);
    expect_line("0123456789\n", 10, 11, "0123456789");
    expect_line("012345678\r\n", 10, 11, "012345678");
    expect_line("0123456789\r\n", 10, SK_EFRAMEBIG, NULL); /* "\r" counts */
    expect_line("0123456789ABCDEFGHIJ\n", 10, SK_EFRAMEBIG, NULL);
    expect_line("ab\n0123456789ABCDEFGHIJ\n", 10, 3, "ab"); /* first line fine */
    expect_line("\n", 0, 1, "");
    expect_line("a", 0, SK_EFRAMEBIG, NULL);
    expect_line("abc", SIZE_MAX, 0, NULL); /* no overflow in the search window */
    expect_line("abc\n", SIZE_MAX, 4, "abc");

    /* a long line with no newline through a receiver: error once max_frame+1 bytes are in */
    static receiver r;
    rx_init(&r, SK_FRAME_LINE, 1000);
    uint8_t x[100];
    memset(x, 'x', sizeof x);
    for (int i = 0; i < 10; i++)
        rx_feed(&r, x, sizeof x);
    CHECK_EQ_INT(r.err, 0);
    rx_feed(&r, x, 1);
    CHECK_EQ_INT(r.err, SK_EFRAMEBIG);
    CHECK_EQ_INT(r.nmsgs, 0);

    /* zero-length lines merged */
    rx_init(&r, SK_FRAME_LINE, 1000);
    rx_feed(&r, (const uint8_t *)"\n\r\n\nz\n", 6);
    CHECK_EQ_INT(r.nmsgs, 4);
    CHECK_EQ_INT(r.lens[0] + r.lens[1] + r.lens[2], 0);
    CHECK_EQ_INT(r.lens[3], 1);
}

static void expect_text(const char *in, size_t max_frame, ssize_t want, const char *payload)
{
    const uint8_t *msg = NULL;
    size_t ml = 0;
    ssize_t k = sk_frame_decode(SK_FRAME_TEXT, max_frame, (const uint8_t *)in, strlen(in), &msg,
                                &ml);
    CHECK_EQ_INT(k, want);
    if (k > 0 && payload) {
        CHECK_EQ_INT(ml, strlen(payload));
        CHECK(msg == (const uint8_t *)in && memcmp(msg, payload, ml) == 0);
    }
}

/* Feeds the reads in[0], in[1], ... (NULL-terminated) to a TEXT receiver,
 * ends the stream, and checks the messages against want ("|"-separated). */
static void text_reads(const char *const *in, const char *want)
{
    static receiver r;
    rx_init(&r, SK_FRAME_TEXT, 1000);
    for (size_t i = 0; in[i]; i++)
        rx_feed(&r, (const uint8_t *)in[i], strlen(in[i]));
    CHECK_EQ_INT(r.err, 0);
    CHECK(rx_finish(&r) >= 0);
    char got[RX_CAP];
    size_t g = 0, at = 0;
    for (size_t m = 0; m < r.nmsgs && m < RX_MAX_MSGS; m++) {
        if (m)
            got[g++] = '|';
        memcpy(got + g, r.got + at, r.lens[m]);
        g += r.lens[m];
        at += r.lens[m];
    }
    got[g] = 0;
    if (strcmp(got, want) != 0)
        fprintf(stderr, "text reads: got \"%s\", want \"%s\"\n", got, want);
    CHECK(strcmp(got, want) == 0);
}

/* TEXT: lines, and an unterminated line that is all a read brought. */
static void test_text(void)
{
    expect_text("abc\n", 1000, 4, "abc");
    expect_text("abc\r\nxyz", 1000, 5, "abc");
    expect_text("abc", 1000, 3, "abc"); /* no "\n": all of it */
    expect_text("abc\r", 1000, 4, "abc\r");
    expect_text("", 1000, 0, NULL);
    expect_text("0123456789", 10, 10, "0123456789");
    expect_text("0123456789A", 10, SK_EFRAMEBIG, NULL);
    expect_text("0123456789\n", 10, 11, "0123456789");
    expect_text("0123456789AB\n", 10, SK_EFRAMEBIG, NULL);
    expect_text("abc", SIZE_MAX, 3, "abc");
    /* a tutorial client: one unterminated line per send() */
    text_reads((const char *const[]){"hello", "/who", "bye", NULL}, "hello|/who|bye");
    /* lines, however the reads cut them, as long as a read holds a "\n" */
    text_reads((const char *const[]){"one\ntw", "o\nthree\n", NULL}, "one|two|three");
    text_reads((const char *const[]){"/who\nhello\n", NULL}, "/who|hello");
    text_reads((const char *const[]){"a\r\nb", "\r\n", NULL}, "a|b");
    /* the last unterminated line before the end counts */
    text_reads((const char *const[]){"a\nb\nlast", NULL}, "a|b|last");
    /* a read without any "\n" is a message of its own: bytes dripped one
     * by one without newlines arrive one by one */
    text_reads((const char *const[]){"x", "y", "z\n", NULL}, "x|y|z");
    /* a long unterminated line: an error past max_frame, like LINE */
    static receiver r;
    rx_init(&r, SK_FRAME_TEXT, 10);
    rx_feed(&r, (const uint8_t *)"ab\n0123456789ABC", 16);
    CHECK_EQ_INT(r.nmsgs, 1);
    CHECK_EQ_INT(r.err, SK_EFRAMEBIG);
    CHECK_EQ_INT(sk_frame_header_size(SK_FRAME_TEXT), 0);
    CHECK(strcmp(sk_frame_trailer(SK_FRAME_TEXT), "\n") == 0);
}

static void test_zero_length(void)
{
    for (size_t mi = 2; mi < NMODES; mi++) {
        sk_frame mode = all_modes[mi];
        uint8_t wire[64];
        size_t w = 0;
        for (int i = 0; i < 5; i++)
            w += encode(mode, NULL, 0, wire + w);
        size_t h = sk_frame_header_size(mode);
        CHECK_EQ_INT(w, 5 * h);
        size_t ml = 99;
        CHECK_EQ_INT(decode_bytes(mode, 0, wire, w, &ml), (ssize_t)h);
        CHECK_EQ_INT(ml, 0);
        static receiver r;
        rx_init(&r, mode, 0);
        rx_feed(&r, wire, w);
        CHECK_EQ_INT(r.err, 0);
        CHECK_EQ_INT(r.nmsgs, 5);
        CHECK_EQ_INT(r.got_len, 0);
        CHECK_EQ_INT(r.len, 0);
    }
}

static void test_finish(void)
{
    const uint8_t *msg = NULL;
    size_t ml = 0;
    for (size_t mi = 0; mi < NMODES; mi++)
        CHECK_EQ_INT(sk_frame_finish(all_modes[mi], (const uint8_t *)"", 0, &msg, &ml), 0);
    CHECK_EQ_INT(sk_frame_finish(SK_FRAME_RAW, (const uint8_t *)"xyz", 3, &msg, &ml), 1);
    CHECK_EQ_INT(ml, 3);
    CHECK_EQ_INT(sk_frame_finish(SK_FRAME_LINE, (const uint8_t *)"last", 4, &msg, &ml), 1);
    CHECK(ml == 4 && memcmp(msg, "last", 4) == 0);
    CHECK_EQ_INT(sk_frame_finish(SK_FRAME_LINE, (const uint8_t *)"cr\r", 3, &msg, &ml), 1);
    CHECK_EQ_INT(ml, 3); /* no "\n", so the "\r" is data */
    CHECK_EQ_INT(sk_frame_finish(SK_FRAME_COUNT_, (const uint8_t *)"x", 1, &msg, &ml),
                 SK_EFRAMEMODE);

    /* length modes: cut inside the header or inside the payload */
    for (size_t mi = 2; mi < NMODES; mi++) {
        sk_frame mode = all_modes[mi];
        static receiver r;
        uint8_t payload[50], wire[80];
        make_payload(mode, 9, payload, sizeof payload);
        size_t w = encode(mode, payload, sizeof payload, wire);
        for (size_t cut = 1; cut < w; cut++) {
            rx_init(&r, mode, 1000);
            rx_feed(&r, wire, cut);
            CHECK_EQ_INT(r.nmsgs, 0);
            CHECK_EQ_INT(rx_finish(&r), SK_ETRUNC);
        }
        rx_init(&r, mode, 1000);
        rx_feed(&r, wire, w);
        CHECK_EQ_INT(r.nmsgs, 1);
        CHECK_EQ_INT(rx_finish(&r), 0);
    }
    /* a final unterminated line after complete ones */
    static receiver r;
    rx_init(&r, SK_FRAME_LINE, 1000);
    rx_feed(&r, (const uint8_t *)"a\nb\nlast", 8);
    CHECK_EQ_INT(r.nmsgs, 2);
    CHECK_EQ_INT(rx_finish(&r), 1);
    CHECK_EQ_INT(r.nmsgs, 3);
    CHECK(r.lens[2] == 4 && memcmp(r.got + 2, "last", 4) == 0);

    /* invalid mode in decode */
    CHECK_EQ_INT(decode_bytes(SK_FRAME_COUNT_, 1000, "x\n", 2, &ml), SK_EFRAMEMODE);
    CHECK_EQ_INT(decode_bytes((sk_frame)-1, 1000, "x\n", 2, &ml), SK_EFRAMEMODE);
}

/* Decodes every prefix of in[0..n) placed flush against a PROT_NONE page, so any
 * read past len faults. Returns the number of prefixes that decoded to a frame. */
static size_t guard_scan(uint8_t *page_end, sk_frame mode, size_t max_frame, const uint8_t *in,
                         size_t n, ssize_t want_full)
{
    size_t frames = 0;
    for (size_t p = 0; p <= n; p++) {
        uint8_t *at = page_end - p;
        memcpy(at, in, p);
        const uint8_t *msg = NULL;
        size_t ml = 0;
        ssize_t k = sk_frame_decode(mode, max_frame, at, p, &msg, &ml);
        CHECK(k <= (ssize_t)p);
        if (k > 0) {
            frames++;
            CHECK(msg >= at && msg + ml <= at + k);
        }
        if (p == n)
            CHECK_EQ_INT(k, want_full);
        int f = sk_frame_finish(mode, at, p, &msg, &ml);
        CHECK(f == 0 || f == 1 || f == SK_ETRUNC);
        if (f == 1)
            CHECK(msg == at && ml == p);
    }
    return frames;
}

static void test_guard_page(void)
{
    long pg = sysconf(_SC_PAGESIZE);
    CHECK(pg > 0);
    uint8_t *map = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                        -1, 0);
    CHECK(map != MAP_FAILED);
    if (map == MAP_FAILED)
        return;
    CHECK_EQ_INT(mprotect(map + pg, (size_t)pg, PROT_NONE), 0);
    uint8_t *end = map + pg;
    uint8_t payload[300], wire[320];

    for (size_t mi = 0; mi < NMODES; mi++) {
        sk_frame mode = all_modes[mi];
        size_t n = mode == SK_FRAME_LEN8 ? 200 : sizeof payload;
        make_payload(mode, 77, payload, n);
        size_t w = encode(mode, payload, n, wire);
        /* a valid frame: only the full length decodes (raw: every non-empty prefix) */
        size_t got = guard_scan(end, mode, SK_MAX_FRAME_DEFAULT, wire, w, (ssize_t)w);
        CHECK_EQ_INT(got, mode == SK_FRAME_RAW ? w : 1);
        guard_scan(end, mode, 1000, wire, w, (ssize_t)w);
        /* too big for max_frame */
        guard_scan(end, mode, 100, wire, w,
                   mode == SK_FRAME_RAW ? (ssize_t)w : SK_EFRAMEBIG);
    }
    /* negative headers */
    const uint8_t neg[8] = {0x80, 0, 0, 0, 0, 0, 0, 0x80};
    guard_scan(end, SK_FRAME_LEN32BE, 1000, neg, 4, SK_EFRAMENEG);
    guard_scan(end, SK_FRAME_LEN64LE, 1000, neg, 8, SK_EFRAMENEG);
    /* a long line with no newline, huge limit: memchr must stop at len */
    uint8_t line[2000];
    memset(line, 'q', sizeof line);
    guard_scan(end, SK_FRAME_LINE, SK_MAX_FRAME_DEFAULT, line, sizeof line, 0);
    guard_scan(end, SK_FRAME_LINE, SIZE_MAX, line, sizeof line, 0);
    line[sizeof line - 1] = '\r';
    guard_scan(end, SK_FRAME_LINE, SIZE_MAX, line, sizeof line, 0);
    /* TEXT: every non-empty prefix of an unterminated line is a message */
    CHECK_EQ_INT(guard_scan(end, SK_FRAME_TEXT, SIZE_MAX, line, sizeof line, sizeof line),
                 sizeof line);
    guard_scan(end, SK_FRAME_TEXT, 100, line, sizeof line, SK_EFRAMEBIG);
    munmap(map, (size_t)pg * 2);
}

/* sk_frame_encode writes exactly what sk_frame_decode reads back. */
static void test_encode(void)
{
    static const uint8_t msg[] = "hello, frames";
    for (int m = SK_FRAME_LINE; m < SK_FRAME_COUNT_; m++) {
        uint8_t buf[64];
        ssize_t n = sk_frame_encoded_size((sk_frame)m, sizeof msg - 1);
        CHECK(n > 0 && n <= (ssize_t)sizeof buf);
        CHECK_EQ_INT(sk_frame_encode((sk_frame)m, msg, sizeof msg - 1, buf), n);
        const uint8_t *out;
        size_t olen;
        CHECK_EQ_INT(sk_frame_decode((sk_frame)m, 1024, buf, (size_t)n, &out, &olen), n);
        CHECK(olen == sizeof msg - 1 && memcmp(out, msg, olen) == 0);
    }
    uint8_t big[300] = {0}, dst[512];
    CHECK_EQ_INT(sk_frame_encoded_size(SK_FRAME_LEN8, sizeof big), SK_EFRAMEBIG);
    CHECK_EQ_INT(sk_frame_encode(SK_FRAME_LEN8, big, sizeof big, dst), SK_EFRAMEBIG);
}

int main(void)
{
    test_names();
    test_encode();
    test_round_trip();
    test_merged();
    test_byte_by_byte();
    test_random_splits();
    test_length_limits();
    test_negative();
    test_line();
    test_text();
    test_zero_length();
    test_finish();
    test_guard_page();
    return check_done("test_codec");
}
