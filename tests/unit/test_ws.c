/* test_ws.c — unit tests for the WebSocket codec: UTF-8 validation, frame headers, masking,
 * close payloads, and the reader fed whole, split at every byte, merged, with guard pages. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "proto/utf8.h"
#include "proto/ws.h"
#include "sockit/error.h"

static const sk__ws_cfg server_cfg = {SK__WS_MASK_REQUIRED, 1 << 20, 0};
static const sk__ws_cfg client_cfg = {SK__WS_MASK_FORBIDDEN, 1 << 20, 0};
static const sk__ws_cfg any_cfg = {SK__WS_MASK_ANY, 1 << 20, 0};

/* ======================= UTF-8 ======================= */

/* Reference: can q[0..m) (m bytes of a len-byte sequence) still become a valid
 * character? Completions span [lo, hi]; it must meet the code points of that
 * length, less the surrogates. Independent of utf8.c's table of ranges. */
static int ref_possible(const uint8_t *q, size_t m, size_t len)
{
    static const uint32_t minv[5] = {0, 0, 0x80, 0x800, 0x10000};
    static const uint32_t maxv[5] = {0, 0x7f, 0x7ff, 0xffff, 0x10ffff};
    static const uint8_t lead_bits[5] = {0, 7, 5, 4, 3};
    uint32_t lo = q[0] & ((1u << lead_bits[len]) - 1), hi = lo;
    for (size_t j = 1; j < len; j++) {
        uint32_t c = j < m ? (uint32_t)(q[j] & 0x3f) : 0;
        lo = lo << 6 | c;
        hi = hi << 6 | (j < m ? c : 0x3f);
    }
    uint32_t a = lo > minv[len] ? lo : minv[len], z = hi < maxv[len] ? hi : maxv[len];
    if (a > z)
        return 0;
    return !(a >= 0xd800 && z <= 0xdfff);
}

/* Reference: index of the first byte at which p stops being the prefix of some
 * valid UTF-8 string (n if never); *complete = p ends on a character boundary. */
static size_t ref_utf8(const uint8_t *p, size_t n, int *complete)
{
    size_t i = 0;
    *complete = 1;
    while (i < n) {
        uint8_t b = p[i];
        size_t len = b < 0x80 ? 1 : (b & 0xe0) == 0xc0 ? 2 : (b & 0xf0) == 0xe0 ? 3 : (b & 0xf8) == 0xf0 ? 4 : 0;
        if (len == 0)
            return i;
        for (size_t m = 1; m <= len; m++) {
            if (i + m > n) {
                *complete = 0;
                return n;
            }
            if (m > 1 && (p[i + m - 1] & 0xc0) != 0x80)
                return i + m - 1;
            if (!ref_possible(p + i, m, len))
                return i + m - 1;
        }
        i += len;
    }
    return n;
}

/* Feeds p byte by byte: index of the first refused byte (n if none). */
static size_t utf8_fail_at(const uint8_t *p, size_t n, int *complete)
{
    sk__utf8 u;
    sk__utf8_init(&u);
    for (size_t i = 0; i < n; i++) {
        if (!sk__utf8_feed(&u, p + i, 1)) {
            CHECK(!sk__utf8_feed(&u, (const uint8_t *)"a", 1)); /* sticky */
            return i;
        }
    }
    *complete = sk__utf8_done(&u);
    return n;
}

typedef struct utf8_case {
    const char *s;
    size_t fail; /* index of the first impossible byte; SIZE_MAX = valid */
} utf8_case;

#define VALID SIZE_MAX
#define INCOMPLETE (SIZE_MAX - 1) /* a valid prefix that ends mid-character */

static const utf8_case utf8_cases[] = {
    {"", VALID},
    {"Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1-UTF-8!!", VALID},
    {"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", VALID}, /* κόσμε */
    {"\xc2\x80", VALID},                                     /* U+0080 */
    {"\xdf\xbf", VALID},                                     /* U+07FF */
    {"\xe0\xa0\x80", VALID},                                 /* U+0800 */
    {"\xed\x9f\xbf", VALID},                                 /* U+D7FF */
    {"\xee\x80\x80", VALID},                                 /* U+E000 */
    {"\xef\xbf\xbd", VALID},                                 /* U+FFFD */
    {"\xef\xbf\xbf", VALID},                                 /* U+FFFF */
    {"\xf0\x90\x80\x80", VALID},                             /* U+10000 */
    {"\xf4\x8f\xbf\xbf", VALID},                             /* U+10FFFF */
    {"\x7f", VALID},
    /* Autobahn 6.3.1: κόσμε + a surrogate + "edited" */
    {"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64", 12},
    {"\x80", 0},                 /* lone continuation */
    {"\xbf", 0},
    {"a\x80\xbf\x80", 1},
    {"\xc0\x80", 0},             /* overlong NUL, 2 bytes */
    {"\xc1\xbf", 0},
    {"\xe0\x80\xaf", 1},         /* overlong '/', 3 bytes */
    {"\xe0\x9f\xbf", 1},         /* overlong U+07FF */
    {"\xf0\x80\x80\xaf", 1},     /* overlong '/', 4 bytes */
    {"\xf0\x8f\xbf\xbf", 1},     /* overlong U+FFFF */
    {"\xf8\x88\x80\x80\x80", 0}, /* 5-byte form */
    {"\xfc\x84\x80\x80\x80\x80", 0},
    {"\xed\xa0\x80", 1},         /* U+D800 */
    {"\xed\xad\xbf", 1},         /* U+DB7F */
    {"\xed\xbf\xbf", 1},         /* U+DFFF */
    {"\xed\xa0\x80\xed\xb0\x80", 1}, /* surrogate pair */
    {"\xf4\x90\x80\x80", 1},     /* U+110000 */
    {"\xf5\x80\x80\x80", 0},
    {"\xf7\xbf\xbf\xbf", 0},
    {"\xfe", 0},
    {"\xff", 0},
    {"\xc2\x41", 1},             /* missing continuation */
    {"\xe1\x80\x41", 2},
    {"\xf1\x80\x80\x41", 3},
    {"\xc2", INCOMPLETE},        /* cut short: valid so far */
    {"\xe1\x80", INCOMPLETE},
    {"\xf0\x90\x80", INCOMPLETE},
    {"\xf4\x8f\xbf", INCOMPLETE},
    {"abc\xe2\x82", INCOMPLETE},
    {"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80\x65\x64", 12}, /* Autobahn 6.4.2 */
};

static void test_utf8_vectors(void)
{
    for (size_t c = 0; c < sizeof utf8_cases / sizeof utf8_cases[0]; c++) {
        const uint8_t *p = (const uint8_t *)utf8_cases[c].s;
        size_t n = strlen(utf8_cases[c].s), want = utf8_cases[c].fail;
        int complete = -1, rcomplete = -1;
        size_t at = utf8_fail_at(p, n, &complete);
        size_t ref = ref_utf8(p, n, &rcomplete);
        CHECK_EQ_INT(at, ref); /* the reference agrees with the table */
        if (want == VALID || want == INCOMPLETE) {
            CHECK_EQ_INT(at, n);
            CHECK_EQ_INT(complete, want == VALID);
            CHECK_EQ_INT(rcomplete, want == VALID);
        } else {
            CHECK_EQ_INT(at, want); /* fails on exactly the first impossible byte */
        }
        CHECK_EQ_INT(sk__utf8_valid(p, n), want == VALID);
        /* split at every position into two feeds: the same verdict */
        for (size_t s = 0; s <= n; s++) {
            sk__utf8 u;
            sk__utf8_init(&u);
            bool ok = sk__utf8_feed(&u, p, s);
            CHECK_EQ_INT(ok, want >= INCOMPLETE || s <= want);
            ok = sk__utf8_feed(&u, p + s, n - s) && ok;
            CHECK_EQ_INT(ok, want >= INCOMPLETE);
            CHECK_EQ_INT(ok && sk__utf8_done(&u), want == VALID);
        }
    }
}

/* Long ASCII runs with one non-ASCII byte at every position, so the 8-byte fast
 * path meets the slow path at every alignment. */
static void test_utf8_fast_path(void)
{
    uint8_t buf[80];
    for (size_t pos = 0; pos < 64; pos++) {
        for (int kind = 0; kind < 4; kind++) {
            memset(buf, 'a', sizeof buf);
            size_t n = 72;
            if (kind == 0)
                buf[pos] = 0x80; /* invalid */
            else if (kind == 1)
                memcpy(buf + pos, "\xc3\xa9", 2); /* valid é */
            else if (kind == 2)
                memcpy(buf + pos, "\xed\xa0\x80", 3); /* surrogate */
            else
                n = pos + 1, buf[pos] = 0xe2; /* truncated at the end */
            for (size_t off = 0; off < 8; off++) { /* start at every alignment */
                if (off > pos)
                    break;
                int complete = -1, rc = -1;
                size_t at = utf8_fail_at(buf + off, n - off, &complete);
                size_t ref = ref_utf8(buf + off, n - off, &rc);
                CHECK_EQ_INT(at, ref);
                CHECK_EQ_INT(sk__utf8_valid(buf + off, n - off), kind == 1);
            }
        }
    }
}

/* Random strings over a byte mix that hits every class, against the reference. */
static void test_utf8_random(void)
{
    static const uint8_t mix[] = {'a', 0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1,
                                  0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1,
                                  0xf3, 0xf4, 0xf5, 0xf7, 0xf8, 0xfe, 0xff};
    uint32_t seed = 12345;
    uint8_t s[24];
    for (int iter = 0; iter < 200000; iter++) {
        size_t n = xorshift32(&seed) % sizeof s;
        for (size_t i = 0; i < n; i++)
            s[i] = mix[xorshift32(&seed) % sizeof mix];
        int c1 = -1, c2 = -1;
        size_t a = utf8_fail_at(s, n, &c1), b = ref_utf8(s, n, &c2);
        CHECK_EQ_INT(a, b);
        if (a == n && b == n)
            CHECK_EQ_INT(c1, c2);
        sk__utf8 u;
        sk__utf8_init(&u);
        size_t cut = n ? xorshift32(&seed) % n : 0;
        bool ok = sk__utf8_feed(&u, s, cut) && sk__utf8_feed(&u, s + cut, n - cut);
        CHECK_EQ_INT(ok, b == n);
    }
}

static void test_utf8_prefix(void)
{
    const uint8_t *p = (const uint8_t *)"ab\xc3\xa9" "c\xe2\x82\xac\xf0\x9f\x98\x80";
    CHECK_EQ_INT(sk__utf8_prefix(p, 0), 0);
    CHECK_EQ_INT(sk__utf8_prefix(p, 3), 2);  /* cut inside é */
    CHECK_EQ_INT(sk__utf8_prefix(p, 4), 4);
    CHECK_EQ_INT(sk__utf8_prefix(p, 7), 5);  /* cut inside € */
    CHECK_EQ_INT(sk__utf8_prefix(p, 8), 8);
    CHECK_EQ_INT(sk__utf8_prefix(p, 11), 8); /* cut inside 😀 */
    CHECK_EQ_INT(sk__utf8_prefix(p, 12), 12);
    CHECK_EQ_INT(sk__utf8_prefix((const uint8_t *)"ok\xffno", 5), 2);
    CHECK_EQ_INT(sk__utf8_prefix((const uint8_t *)"\xed\xa0\x80", 3), 0);
}

/* ======================= frame headers ======================= */

static int parse(const void *p, size_t n, const sk__ws_cfg *cfg, sk__ws_frame *f)
{
    return sk__ws_parse_header(p, n, cfg, f);
}

/* RFC 6455 §5.7 examples, bytes for bytes. */
static void test_rfc_examples(void)
{
    static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
    uint8_t h[SK__WS_MAX_HEADER], buf[16];
    sk__ws_frame f;

    /* single-frame unmasked text "Hello" */
    CHECK_EQ_INT(sk__ws_write_header(h, true, SK__WS_TEXT, 5, NULL), 2);
    CHECK(memcmp(h, "\x81\x05", 2) == 0);
    CHECK_EQ_INT(parse("\x81\x05Hello", 7, &client_cfg, &f), 2);
    CHECK(f.fin && f.opcode == SK__WS_TEXT && !f.masked && f.payload_len == 5 && f.rsv == 0);

    /* single-frame masked text "Hello" */
    CHECK_EQ_INT(sk__ws_write_header(h, true, SK__WS_TEXT, 5, key), 6);
    memcpy(buf, h, 6);
    memcpy(buf + 6, "Hello", 5);
    sk__ws_mask(buf + 6, 5, key, 0);
    CHECK(memcmp(buf, "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11) == 0);
    CHECK_EQ_INT(parse(buf, 11, &server_cfg, &f), 6);
    CHECK(f.masked && memcmp(f.mask_key, key, 4) == 0 && f.payload_len == 5);
    sk__ws_mask(buf + 6, 5, f.mask_key, 0);
    CHECK(memcmp(buf + 6, "Hello", 5) == 0);

    /* fragmented unmasked text: "Hel" then "lo" */
    CHECK_EQ_INT(sk__ws_write_header(h, false, SK__WS_TEXT, 3, NULL), 2);
    CHECK(memcmp(h, "\x01\x03", 2) == 0);
    CHECK_EQ_INT(sk__ws_write_header(h, true, SK__WS_CONT, 2, NULL), 2);
    CHECK(memcmp(h, "\x80\x02", 2) == 0);
    CHECK_EQ_INT(parse("\x01\x03Hel", 5, &client_cfg, &f), 2);
    CHECK(!f.fin && f.opcode == SK__WS_TEXT && f.payload_len == 3);

    /* unmasked ping, masked pong, both "Hello" */
    CHECK_EQ_INT(sk__ws_write_header(h, true, SK__WS_PING, 5, NULL), 2);
    CHECK(memcmp(h, "\x89\x05", 2) == 0);
    CHECK_EQ_INT(sk__ws_write_header(h, true, SK__WS_PONG, 5, key), 6);
    CHECK(memcmp(h, "\x8a\x85\x37\xfa\x21\x3d", 6) == 0);

    /* 256 bytes and 64 KiB of binary data in a single unmasked frame */
    CHECK_EQ_INT(sk__ws_write_header(h, true, SK__WS_BINARY, 256, NULL), 4);
    CHECK(memcmp(h, "\x82\x7e\x01\x00", 4) == 0);
    CHECK_EQ_INT(parse(h, 4, &client_cfg, &f), 4);
    CHECK_EQ_INT(f.payload_len, 256);
    CHECK_EQ_INT(sk__ws_write_header(h, true, SK__WS_BINARY, 65536, NULL), 10);
    CHECK(memcmp(h, "\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10) == 0);
    CHECK_EQ_INT(parse(h, 10, &client_cfg, &f), 10);
    CHECK_EQ_INT(f.payload_len, 65536);
}

/* Every size class: written minimally, parsed back, every shorter prefix is "need more". */
static void test_size_classes(void)
{
    static const uint8_t key[4] = {1, 2, 3, 4};
    const uint64_t sizes[] = {0, 1, 125, 126, 127, 65535, 65536, 1u << 20, (uint64_t)1 << 32,
                              ((uint64_t)1 << 63) - 1};
    const int want[] = {2, 2, 2, 4, 4, 4, 10, 10, 10, 10};
    sk__ws_cfg big = {SK__WS_MASK_ANY, UINT64_MAX, 0};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        for (int m = 0; m < 2; m++) {
            uint8_t h[SK__WS_MAX_HEADER];
            int hl = sk__ws_write_header(h, true, SK__WS_BINARY, sizes[i], m ? key : NULL);
            CHECK_EQ_INT(hl, want[i] + 4 * m);
            sk__ws_frame f;
            memset(&f, 0xaa, sizeof f);
            for (int p = 0; p < hl; p++)
                CHECK_EQ_INT(parse(h, (size_t)p, &big, &f), 0);
            CHECK_EQ_INT(parse(h, (size_t)hl, &big, &f), hl);
            CHECK(f.fin && f.opcode == SK__WS_BINARY && f.masked == (m == 1));
            CHECK(f.payload_len == sizes[i]);
            CHECK(!m || memcmp(f.mask_key, key, 4) == 0);
            /* a header followed by more bytes parses the same */
            uint8_t more[32] = {0};
            memcpy(more, h, (size_t)hl);
            CHECK_EQ_INT(parse(more, sizeof more, &big, &f), hl);
        }
    }
    /* non-minimal lengths are accepted (documented choice) */
    sk__ws_frame f;
    CHECK_EQ_INT(parse("\x82\x7e\x00\x05", 4, &any_cfg, &f), 4);
    CHECK_EQ_INT(f.payload_len, 5);
    CHECK_EQ_INT(parse("\x82\x7f\0\0\0\0\0\0\0\x05", 10, &any_cfg, &f), 10);
    CHECK_EQ_INT(f.payload_len, 5);
    CHECK_EQ_INT(parse("\x82\x7f\0\0\0\0\0\0\xff\xff", 10, &any_cfg, &f), 10);
    CHECK_EQ_INT(f.payload_len, 65535);
}

typedef struct hdr_case {
    const char *bytes;
    size_t n;      /* bytes needed to see the error */
    const sk__ws_cfg *cfg;
    int err;
} hdr_case;

static void test_header_errors(void)
{
    static const sk__ws_cfg small = {SK__WS_MASK_ANY, 100, 0};
    static const sk__ws_cfg rsv1 = {SK__WS_MASK_ANY, 100, 0x4};
    const hdr_case cases[] = {
        {"\xc1\x05", 1, &any_cfg, SK_EWSRSV},     /* RSV1 */
        {"\xa1\x05", 1, &any_cfg, SK_EWSRSV},     /* RSV2 */
        {"\x91\x05", 1, &any_cfg, SK_EWSRSV},     /* RSV3 */
        {"\xa1\x05", 1, &rsv1, SK_EWSRSV},        /* RSV2 with only RSV1 allowed */
        {"\xf3\x05", 1, &any_cfg, SK_EWSRSV},     /* RSV checked before the opcode */
        {"\x83\x00", 1, &any_cfg, SK_EWSOPCODE},
        {"\x84\x00", 1, &any_cfg, SK_EWSOPCODE},
        {"\x87\x00", 1, &any_cfg, SK_EWSOPCODE},
        {"\x8b\x00", 1, &any_cfg, SK_EWSOPCODE},
        {"\x8f\x00", 1, &any_cfg, SK_EWSOPCODE},
        {"\x0b\x00", 1, &any_cfg, SK_EWSOPCODE},  /* opcode before FIN */
        {"\x09\x00", 1, &any_cfg, SK_EWSCTLFRAG}, /* ping without FIN */
        {"\x08\x00", 1, &any_cfg, SK_EWSCTLFRAG},
        {"\x0a\x00", 1, &any_cfg, SK_EWSCTLFRAG},
        {"\x81\x05", 2, &server_cfg, SK_EWSNOMASK},
        {"\x89\x00", 2, &server_cfg, SK_EWSNOMASK},
        {"\x81\x85", 2, &client_cfg, SK_EWSMASKED},
        {"\x89\x7e", 2, &any_cfg, SK_EWSCTLBIG},  /* ping, 16-bit length */
        {"\x88\x7f", 2, &any_cfg, SK_EWSCTLBIG},
        {"\x8a\xfe", 2, &any_cfg, SK_EWSCTLBIG},
        {"\x89\x7e", 2, &server_cfg, SK_EWSNOMASK}, /* mask rule before the length */
        {"\x82\x7f\x80\0\0\0\0\0\0\0", 10, &any_cfg, SK_EWSLEN},
        {"\x82\x7f\xff\xff\xff\xff\xff\xff\xff\xff", 10, &any_cfg, SK_EWSLEN},
        {"\x82\x65", 2, &small, SK_EWSBIG},       /* 101 > 100 */
        {"\x80\x65", 2, &small, SK_EWSBIG},       /* continuation too */
        {"\x82\x7e\x01\x00", 4, &small, SK_EWSBIG},
        {"\x82\x7f\0\0\0\x01\0\0\0\0", 10, &small, SK_EWSBIG},
        {"\x82\xff\0\0\0\x01\0\0\0\0", 10, &small, SK_EWSBIG}, /* before the mask key */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const hdr_case *c = &cases[i];
        sk__ws_frame f;
        memset(&f, 0x5a, sizeof f);
        sk__ws_frame before = f;
        for (size_t p = 0; p < c->n; p++)
            CHECK_EQ_INT(parse(c->bytes, p, c->cfg, &f), 0);
        int rc = parse(c->bytes, c->n, c->cfg, &f);
        if (rc != c->err)
            fprintf(stderr, "  header case %zu\n", i);
        CHECK_EQ_INT(rc, c->err);
        CHECK(memcmp(&f, &before, sizeof f) == 0); /* untouched */
        CHECK(sk__ws_close_code_for(rc) == (c->err == SK_EWSBIG ? 1009u : 1002u));
    }
    /* the allowed cases next to them */
    sk__ws_frame f;
    CHECK_EQ_INT(parse("\xc1\x05", 2, &rsv1, &f), 2);
    CHECK_EQ_INT(f.rsv, 4);
    CHECK_EQ_INT(parse("\x82\x64", 2, &small, &f), 2); /* exactly max */
    CHECK_EQ_INT(parse("\x89\x7d", 2, &small, &f), 2); /* control: 125, max ignored */
    CHECK_EQ_INT(parse("\x82\x7f\x7f\xff\xff\xff\xff\xff\xff\xff", 10,
                       &(sk__ws_cfg){SK__WS_MASK_ANY, UINT64_MAX, 0}, &f), 10);
    CHECK_EQ_INT(parse("\x81\x85", 2, &server_cfg, &f), 0); /* masked: needs the key */
    CHECK_EQ_INT(parse("\x81\x05", 2, &client_cfg, &f), 2);
}

static void test_write_header_errors(void)
{
    uint8_t h[SK__WS_MAX_HEADER];
    memset(h, 0xee, sizeof h);
    CHECK_EQ_INT(sk__ws_write_header(h, true, 3, 0, NULL), SK_EWSOPCODE);
    CHECK_EQ_INT(sk__ws_write_header(h, true, 0xb, 0, NULL), SK_EWSOPCODE);
    CHECK_EQ_INT(sk__ws_write_header(h, true, 0x11, 0, NULL), SK_EWSOPCODE);
    CHECK_EQ_INT(sk__ws_write_header(h, true, SK__WS_PING, 126, NULL), SK_EWSCTLBIG);
    CHECK_EQ_INT(sk__ws_write_header(h, false, SK__WS_CLOSE, 2, NULL), SK_EWSCTLFRAG);
    CHECK_EQ_INT(sk__ws_write_header(h, true, SK__WS_BINARY, (uint64_t)1 << 63, NULL), SK_EWSLEN);
    CHECK(h[0] == 0xee && h[1] == 0xee); /* nothing written */
    CHECK_EQ_INT(sk__ws_write_header(h, true, SK__WS_PING, 125, NULL), 2);
    CHECK_EQ_INT(sk__ws_write_header(h, false, SK__WS_CONT, 0, NULL), 2);
    CHECK(memcmp(h, "\x00\x00", 2) == 0);
}

/* ======================= masking ======================= */

static void test_mask(void)
{
    static const uint8_t key[4] = {0x12, 0x34, 0x56, 0x78};
    uint8_t orig[200], a[208], b[200];
    for (size_t i = 0; i < sizeof orig; i++)
        orig[i] = (uint8_t)(i * 7 + 3);
    for (size_t n = 0; n <= 150; n++) {
        for (uint64_t off = 0; off < 9; off++) {
            for (size_t align = 0; align < 8; align += 3) {
                memcpy(a + align, orig, n);
                sk__ws_mask(a + align, n, key, off);
                for (size_t i = 0; i < n; i++)
                    b[i] = orig[i] ^ key[(off + i) % 4];
                CHECK(memcmp(a + align, b, n) == 0);
            }
        }
    }
    /* in pieces with a running offset == all at once, for every first cut */
    uint64_t big = ((uint64_t)1 << 40) + 1; /* large offsets work too */
    for (size_t cut = 0; cut <= 150; cut++) {
        memcpy(a, orig, 150);
        sk__ws_mask(a, cut, key, big);
        sk__ws_mask(a + cut, 150 - cut, key, big + cut);
        memcpy(b, orig, 150);
        sk__ws_mask(b, 150, key, big);
        CHECK(memcmp(a, b, 150) == 0);
        sk__ws_mask(b, 150, key, big); /* involution */
        CHECK(memcmp(b, orig, 150) == 0);
    }
}

/* ======================= close payloads ======================= */

static void test_close_codes(void)
{
    const unsigned valid[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999,
                              4000, 4999};
    const unsigned invalid[] = {0,    1,    999,  1004, 1005, 1006, 1012, 1013, 1014, 1015,
                                1016, 1100, 2000, 2999, 5000, 65535};
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        uint8_t p[2] = {(uint8_t)(valid[i] >> 8), (uint8_t)valid[i]};
        unsigned code = 0;
        const uint8_t *r = NULL;
        size_t rl = 99;
        CHECK(sk__ws_close_code_valid(valid[i]));
        CHECK_EQ_INT(sk__ws_parse_close(p, 2, &code, &r, &rl), 0);
        CHECK_EQ_INT(code, valid[i]);
        CHECK_EQ_INT(rl, 0);
        uint8_t out[SK__WS_MAX_CONTROL];
        CHECK_EQ_INT(sk__ws_close_payload(out, valid[i], "x", 1), 3);
        CHECK(out[0] == p[0] && out[1] == p[1] && out[2] == 'x');
    }
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        uint8_t p[2] = {(uint8_t)(invalid[i] >> 8), (uint8_t)invalid[i]};
        unsigned code = 7;
        const uint8_t *r = NULL;
        size_t rl = 99;
        CHECK(!sk__ws_close_code_valid(invalid[i]));
        CHECK_EQ_INT(sk__ws_parse_close(p, 2, &code, &r, &rl), SK_EWSCLOSECODE);
        CHECK_EQ_INT(code, 7);
        uint8_t out[SK__WS_MAX_CONTROL];
        if (invalid[i] != 0)
            CHECK_EQ_INT(sk__ws_close_payload(out, invalid[i], NULL, 0), SK_EWSCLOSECODE);
    }
    CHECK_EQ_INT(sk__ws_close_code_for(0), 1000);
    CHECK_EQ_INT(sk__ws_close_code_for(SK_EWSUTF8), 1007);
    CHECK_EQ_INT(sk__ws_close_code_for(SK_EWSBIG), 1009);
    CHECK_EQ_INT(sk__ws_close_code_for(SK_EWSCONT), 1002);
    CHECK_EQ_INT(sk__ws_close_code_for(SK_EWSCLOSECODE), 1002);
    CHECK_EQ_INT(sk__ws_close_code_for(-ENOMEM), 1011);
}

static void test_close_payload(void)
{
    uint8_t out[SK__WS_MAX_CONTROL + 8];
    unsigned code;
    const uint8_t *r;
    size_t rl;
    CHECK_EQ_INT(sk__ws_close_payload(out, 0, "ignored", 7), 0);
    CHECK_EQ_INT(sk__ws_close_payload(out, 1000, NULL, 0), 2);
    CHECK(memcmp(out, "\x03\xe8", 2) == 0);
    CHECK_EQ_INT(sk__ws_close_payload(out, 4001, "bye", 3), 5);
    CHECK(memcmp(out, "\x0f\xa1" "bye", 5) == 0);
    CHECK_EQ_INT(sk__ws_parse_close(out, 5, &code, &r, &rl), 0);
    CHECK(code == 4001 && rl == 3 && r == out + 2);

    /* long reasons are cut to 123 bytes, never inside a character */
    char reason[300];
    memset(reason, 'a', sizeof reason);
    CHECK_EQ_INT(sk__ws_close_payload(out, 1001, reason, sizeof reason), 125);
    for (size_t k = 0; k < 4; k++) { /* a 2-, 3- or 4-byte character across byte 123 */
        static const char *const chars[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "z"};
        for (size_t at = 118; at < 124; at++) {
            memset(reason, 'a', sizeof reason);
            size_t cl = strlen(chars[k]);
            memcpy(reason + at, chars[k], cl);
            int n = sk__ws_close_payload(out, 1001, reason, sizeof reason);
            size_t want = at + cl <= 123 ? 125 : 2 + at;
            CHECK_EQ_INT(n, want);
            CHECK(sk__utf8_valid(out + 2, (size_t)n - 2));
            CHECK_EQ_INT(sk__ws_parse_close(out, (size_t)n, &code, &r, &rl), 0);
        }
    }
    /* an invalid reason is cut where it goes wrong */
    CHECK_EQ_INT(sk__ws_close_payload(out, 1000, "ok\xff" "bad", 6), 4);

    /* parse errors */
    CHECK_EQ_INT(sk__ws_parse_close((const uint8_t *)"\x03", 1, &code, &r, &rl), SK_EWSCLOSELEN);
    CHECK_EQ_INT(sk__ws_parse_close((const uint8_t *)"\x03\xe8\xff", 3, &code, &r, &rl),
                 SK_EWSUTF8);
    CHECK_EQ_INT(sk__ws_parse_close((const uint8_t *)"\x03\xe8\xc3", 3, &code, &r, &rl),
                 SK_EWSUTF8); /* truncated character */
    CHECK_EQ_INT(sk__ws_parse_close((const uint8_t *)"\x03\xe8\xed\xa0\x80", 5, &code, &r, &rl),
                 SK_EWSUTF8);
    CHECK_EQ_INT(sk__ws_parse_close(out, 126, &code, &r, &rl), SK_EWSCTLBIG);
    CHECK_EQ_INT(sk__ws_parse_close(out, 0, &code, &r, &rl), 0);
    CHECK(code == 1005 && rl == 0);
}

/* ======================= the reader ======================= */

/* ---- a script: the wire bytes of some frames and the events they must give ---- */

#define MAX_EVENTS 64

typedef struct event_rec {
    int type;
    size_t len;
    size_t at;      /* offset of its data in the data arena */
    unsigned code;
    int owned;
} event_rec;

typedef struct script {
    uint8_t *wire;
    size_t len, cap;
    event_rec ev[MAX_EVENTS];
    size_t nev;
    uint8_t *data; /* expected payloads, concatenated */
    size_t data_len, data_cap;
    int err;       /* expected final error, or 0 */
    uint32_t seed;
} script;

static void grow(uint8_t **p, size_t *cap, size_t need)
{
    if (*p != NULL && need <= *cap)
        return;
    size_t c = *cap ? *cap : 256;
    while (c < need)
        c *= 2;
    *p = realloc(*p, c);
    if (*p == NULL)
        abort();
    *cap = c;
}

static void sc_init(script *s)
{
    memset(s, 0, sizeof *s);
    s->seed = 0xc0ffee;
}

static void sc_free(script *s)
{
    free(s->wire);
    free(s->data);
}

static void sc_bytes(script *s, const void *p, size_t n)
{
    grow(&s->wire, &s->cap, s->len + n);
    if (n)
        memcpy(s->wire + s->len, p, n);
    s->len += n;
}

/* Appends a frame; masked frames get a fresh key. */
static void sc_frame(script *s, bool fin, unsigned op, const void *p, size_t n, bool masked)
{
    uint8_t key[4], h[SK__WS_MAX_HEADER];
    uint32_t k = xorshift32(&s->seed);
    memcpy(key, &k, 4);
    int hl = sk__ws_write_header(h, fin, op, n, masked ? key : NULL);
    CHECK(hl >= 2);
    sc_bytes(s, h, (size_t)hl);
    size_t at = s->len;
    sc_bytes(s, p, n);
    if (masked)
        sk__ws_mask(s->wire + at, n, key, 0);
}

static void sc_expect(script *s, int type, const void *p, size_t n, unsigned code)
{
    CHECK(s->nev < MAX_EVENTS);
    grow(&s->data, &s->data_cap, s->data_len + n);
    if (n)
        memcpy(s->data + s->data_len, p, n);
    s->ev[s->nev++] = (event_rec){type, n, s->data_len, code, -1};
    s->data_len += n;
}

/* ---- a receiver: the connection's input buffer in front of a reader ---- */

typedef struct receiver {
    sk__ws_reader r;
    uint8_t *buf; /* pending input */
    size_t len, cap;
    event_rec ev[MAX_EVENTS];
    size_t nev;
    uint8_t *data;
    size_t data_len, data_cap;
    int err;
    size_t consumed;
} receiver;

static void rx_init(receiver *x, const sk__ws_cfg *cfg)
{
    memset(x, 0, sizeof *x);
    sk__ws_reader_init(&x->r, cfg);
}

static void rx_free(receiver *x)
{
    sk__ws_reader_free(&x->r);
    free(x->buf);
    free(x->data);
}

static void rx_record(receiver *x, const sk__ws_event *ev, const uint8_t *buf, size_t len)
{
    bool inside = ev->len == 0 || (ev->data >= buf && ev->data + ev->len <= buf + len);
    CHECK(ev->owned ? (ev->len == 0 || !inside) : inside); /* zero copy unless fragmented */
    if (x->nev >= MAX_EVENTS)
        return;
    grow(&x->data, &x->data_cap, x->data_len + ev->len);
    if (ev->len)
        memcpy(x->data + x->data_len, ev->data, ev->len);
    x->ev[x->nev++] = (event_rec){(int)ev->type, ev->len, x->data_len, ev->code, ev->owned};
    x->data_len += ev->len;
}

/* Appends n bytes, takes every event out, drops the consumed bytes. */
static void rx_feed(receiver *x, const uint8_t *p, size_t n)
{
    if (x->err)
        return;
    grow(&x->buf, &x->cap, x->len + n);
    if (n)
        memcpy(x->buf + x->len, p, n);
    x->len += n;
    size_t off = 0;
    for (;;) {
        sk__ws_event ev;
        ssize_t k = sk__ws_reader_next(&x->r, x->buf + off, x->len - off, &ev);
        if (k < 0) {
            x->err = (int)k;
            CHECK(ev.type == SK__WS_EV_NONE);
            CHECK_EQ_INT(sk__ws_reader_next(&x->r, x->buf, x->len, &ev), k); /* sticky */
            break;
        }
        CHECK((size_t)k <= x->len - off);
        if (ev.type != SK__WS_EV_NONE)
            rx_record(x, &ev, x->buf + off, x->len - off);
        off += (size_t)k;
        if (ev.type == SK__WS_EV_NONE)
            break;
    }
    if (off > 0)
        memmove(x->buf, x->buf + off, x->len - off);
    x->len -= off;
    x->consumed += off;
}

/* Did x receive exactly what s scripted? */
static bool rx_matches(const receiver *x, const script *s)
{
    bool ok = x->err == s->err && x->nev == s->nev;
    for (size_t i = 0; ok && i < s->nev; i++) {
        const event_rec *a = &x->ev[i], *b = &s->ev[i];
        ok = a->type == b->type && a->len == b->len && a->code == b->code &&
             memcmp(x->data + a->at, s->data + b->at, a->len) == 0;
    }
    return ok;
}

static void report(const receiver *x, const script *s, const char *how, size_t arg)
{
    fprintf(stderr, "  mismatch (%s %zu): err %d want %d, events %zu want %zu\n", how, arg, x->err,
            s->err, x->nev, s->nev);
}

/* Runs s through a fresh receiver in chunks chosen by how: 0 whole, 1 byte by
 * byte, 2 two pieces cut at arg, 3 random chunks (seed arg). */
static void run_one(const script *s, const sk__ws_cfg *cfg, int how, size_t arg)
{
    static receiver x;
    rx_init(&x, cfg);
    uint8_t *w = malloc(s->len + 1); /* the reader unmasks in place: use a copy */
    memcpy(w, s->wire, s->len);
    if (how == 0) {
        rx_feed(&x, w, s->len);
    } else if (how == 1) {
        for (size_t i = 0; i < s->len; i++)
            rx_feed(&x, w + i, 1);
    } else if (how == 2) {
        rx_feed(&x, w, arg);
        rx_feed(&x, w + arg, s->len - arg);
    } else {
        uint32_t seed = (uint32_t)arg * 2654435761u + 1;
        for (size_t i = 0; i < s->len;) {
            size_t n = 1 + xorshift32(&seed) % 300;
            n = n < s->len - i ? n : s->len - i;
            rx_feed(&x, w + i, n);
            i += n;
        }
    }
    bool ok = rx_matches(&x, s);
    CHECK(ok);
    if (!ok)
        report(&x, s, how == 0 ? "whole" : how == 1 ? "bytewise" : how == 2 ? "cut" : "random", arg);
    if (s->err == 0 && x.err == 0) { /* everything consumed, nothing left hanging */
        CHECK_EQ_INT(sk__ws_reader_finish(&x.r, x.len), 0);
        CHECK_EQ_INT(x.consumed, s->len);
    }
    free(w);
    rx_free(&x);
}

/* Whole, byte by byte, cut at every byte (small scripts) and random chunks. */
static void run_all(const script *s, const sk__ws_cfg *cfg)
{
    run_one(s, cfg, 0, 0);
    run_one(s, cfg, 1, 0);
    if (s->len <= 10000) {
        for (size_t cut = 0; cut <= s->len; cut++)
            run_one(s, cfg, 2, cut);
    } else {
        for (size_t cut = 0; cut < 40; cut++) /* around every frame edge would be many: sample */
            run_one(s, cfg, 2, cut * (s->len / 40) + cut);
    }
    for (size_t seed = 1; seed <= 20; seed++)
        run_one(s, cfg, 3, seed);
}

static uint8_t *pattern(size_t n, uint32_t seed, bool text)
{
    uint8_t *p = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        p[i] = text ? (uint8_t)('a' + xorshift32(&seed) % 26) : (uint8_t)xorshift32(&seed);
    return p;
}

/* One message per size class, masked (server side) and not (client side). */
static void test_reader_sizes(void)
{
    const size_t sizes[] = {0, 1, 125, 126, 127, 65535, 65536, 70000};
    for (int masked = 0; masked < 2; masked++) {
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            for (unsigned op = SK__WS_TEXT; op <= SK__WS_BINARY; op++) {
                script s;
                sc_init(&s);
                uint8_t *p = pattern(sizes[i], (uint32_t)i + 1, op == SK__WS_TEXT);
                sc_frame(&s, true, op, p, sizes[i], masked);
                sc_expect(&s, op == SK__WS_TEXT ? SK__WS_EV_TEXT : SK__WS_EV_BINARY, p, sizes[i], 0);
                run_all(&s, masked ? &server_cfg : &client_cfg);
                free(p);
                sc_free(&s);
            }
        }
    }
}

/* The RFC 6455 §5.7 byte strings through the reader. */
static void test_reader_rfc(void)
{
    script s;
    sc_init(&s);
    sc_bytes(&s, "\x81\x05Hello", 7);
    sc_bytes(&s, "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);
    sc_bytes(&s, "\x01\x03Hel\x80\x02lo", 9);
    sc_bytes(&s, "\x89\x05Hello", 7);
    sc_bytes(&s, "\x8a\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);
    sc_expect(&s, SK__WS_EV_TEXT, "Hello", 5, 0);
    sc_expect(&s, SK__WS_EV_TEXT, "Hello", 5, 0);
    sc_expect(&s, SK__WS_EV_TEXT, "Hello", 5, 0);
    sc_expect(&s, SK__WS_EV_PING, "Hello", 5, 0);
    sc_expect(&s, SK__WS_EV_PONG, "Hello", 5, 0);
    run_all(&s, &any_cfg);
    sc_free(&s);

    /* 256 bytes and 64 KiB binary, unmasked, back to back */
    sc_init(&s);
    uint8_t *p = pattern(65536, 9, false);
    sc_bytes(&s, "\x82\x7e\x01\x00", 4);
    sc_bytes(&s, p, 256);
    sc_bytes(&s, "\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10);
    sc_bytes(&s, p, 65536);
    sc_expect(&s, SK__WS_EV_BINARY, p, 256, 0);
    sc_expect(&s, SK__WS_EV_BINARY, p, 65536, 0);
    run_all(&s, &client_cfg);
    sc_free(&s);
    free(p);
}

/* Fragmented messages with control frames between the fragments. */
static void test_reader_fragments(void)
{
    for (int masked = 0; masked < 2; masked++) {
        script s;
        sc_init(&s);
        sc_frame(&s, true, SK__WS_PING, "p0", 2, masked);
        sc_frame(&s, false, SK__WS_TEXT, "Hel", 3, masked);
        sc_frame(&s, true, SK__WS_PING, "p1", 2, masked);
        sc_frame(&s, false, SK__WS_CONT, "", 0, masked);
        sc_frame(&s, true, SK__WS_PONG, "", 0, masked);
        sc_frame(&s, false, SK__WS_CONT, "l\xc3", 2, masked); /* é split across fragments */
        sc_frame(&s, true, SK__WS_PONG, "p2", 2, masked);
        sc_frame(&s, true, SK__WS_CONT, "\xa9o", 2, masked);
        sc_frame(&s, true, SK__WS_TEXT, "solo", 4, masked);
        sc_frame(&s, false, SK__WS_BINARY, "\x00\xff", 2, masked);
        sc_frame(&s, true, SK__WS_CONT, "\xfe", 1, masked);
        sc_frame(&s, false, SK__WS_BINARY, "", 0, masked); /* empty fragmented message */
        sc_frame(&s, true, SK__WS_CONT, "", 0, masked);
        sc_frame(&s, true, SK__WS_BINARY, "", 0, masked);
        sc_expect(&s, SK__WS_EV_PING, "p0", 2, 0);
        sc_expect(&s, SK__WS_EV_PING, "p1", 2, 0);
        sc_expect(&s, SK__WS_EV_PONG, "", 0, 0);
        sc_expect(&s, SK__WS_EV_PONG, "p2", 2, 0);
        sc_expect(&s, SK__WS_EV_TEXT, "Hell\xc3\xa9o", 7, 0);
        sc_expect(&s, SK__WS_EV_TEXT, "solo", 4, 0);
        sc_expect(&s, SK__WS_EV_BINARY, "\x00\xff\xfe", 3, 0);
        sc_expect(&s, SK__WS_EV_BINARY, "", 0, 0);
        sc_expect(&s, SK__WS_EV_BINARY, "", 0, 0);
        run_all(&s, masked ? &server_cfg : &client_cfg);
        sc_free(&s);
    }
    /* a long fragmented message (beyond the reassembly buffer that is kept),
     * then a short one: the buffer is released and regrown */
    script s;
    sc_init(&s);
    uint8_t *p = pattern(200000, 3, false);
    for (size_t at = 0; at < 200000; at += 50000)
        sc_frame(&s, at + 50000 == 200000, at ? SK__WS_CONT : SK__WS_BINARY, p + at, 50000, true);
    sc_frame(&s, false, SK__WS_TEXT, "a", 1, true);
    sc_frame(&s, true, SK__WS_CONT, "b", 1, true);
    sc_expect(&s, SK__WS_EV_BINARY, p, 200000, 0);
    sc_expect(&s, SK__WS_EV_TEXT, "ab", 2, 0);
    run_all(&s, &server_cfg);
    sc_free(&s);
    free(p);
}

/* Close frames: the event, then nothing more. */
static void test_reader_close(void)
{
    script s;
    sc_init(&s);
    sc_frame(&s, true, SK__WS_TEXT, "hi", 2, true);
    uint8_t cp[SK__WS_MAX_CONTROL];
    int n = sk__ws_close_payload(cp, 1001, "going \xe2\x86\x92 away", 14);
    CHECK_EQ_INT(n, 16);
    sc_frame(&s, true, SK__WS_CLOSE, cp, (size_t)n, true);
    sc_frame(&s, true, SK__WS_TEXT, "ignored", 7, true);
    sc_bytes(&s, "\xff\xff garbage after the close is ignored too", 42);
    sc_expect(&s, SK__WS_EV_TEXT, "hi", 2, 0);
    sc_expect(&s, SK__WS_EV_CLOSE, "going \xe2\x86\x92 away", 14, 1001);
    run_all(&s, &server_cfg);
    sc_free(&s);

    /* empty close: 1005; close inside a fragmented message */
    sc_init(&s);
    sc_frame(&s, false, SK__WS_TEXT, "abc", 3, false);
    sc_frame(&s, true, SK__WS_CLOSE, "", 0, false);
    sc_expect(&s, SK__WS_EV_CLOSE, "", 0, 1005);
    run_all(&s, &client_cfg);
    sc_free(&s);
}

typedef void (*build_fn)(script *s);

/* Each error case: frames that are fine, then the bad one. */
static void bad_rsv(script *s)
{
    sc_bytes(s, "\xc1\x00", 2);
    s->err = SK_EWSRSV;
}
static void bad_opcode(script *s)
{
    sc_bytes(s, "\x83\x00", 2);
    s->err = SK_EWSOPCODE;
}
static void bad_ctl_big(script *s)
{
    sc_bytes(s, "\x89\x7e\x00\x7e", 4);
    s->err = SK_EWSCTLBIG;
}
static void bad_ctl_frag(script *s)
{
    sc_bytes(s, "\x09\x00", 2);
    s->err = SK_EWSCTLFRAG;
}
static void bad_len(script *s)
{
    sc_bytes(s, "\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x00", 10);
    s->err = SK_EWSLEN;
}
static void bad_cont(script *s)
{
    sc_frame(s, true, SK__WS_CONT, "x", 1, false);
    s->err = SK_EWSCONT;
}
static void bad_unfinished(script *s)
{
    sc_frame(s, false, SK__WS_TEXT, "a", 1, false);
    sc_frame(s, true, SK__WS_PING, "", 0, false);
    sc_expect(s, SK__WS_EV_PING, "", 0, 0);
    sc_frame(s, true, SK__WS_BINARY, "b", 1, false);
    s->err = SK_EWSUNFINISHED;
}
static void bad_utf8_single(script *s)
{
    sc_frame(s, true, SK__WS_TEXT, "ok \xce\xba", 5, false);
    sc_expect(s, SK__WS_EV_TEXT, "ok \xce\xba", 5, 0);
    sc_frame(s, true, SK__WS_TEXT, "bad \xed\xa0\x80 text", 12, false);
    s->err = SK_EWSUTF8;
}
static void bad_utf8_fragment(script *s)
{
    sc_frame(s, false, SK__WS_TEXT, "\xce", 1, false);
    sc_frame(s, true, SK__WS_CONT, "\xba\xce", 2, false); /* ends inside a character */
    s->err = SK_EWSUTF8;
}
static void bad_utf8_truncated(script *s)
{
    sc_frame(s, true, SK__WS_TEXT, "\xe2\x82", 2, false);
    s->err = SK_EWSUTF8;
}
static void bad_close_len(script *s)
{
    sc_frame(s, true, SK__WS_CLOSE, "\x03", 1, false);
    s->err = SK_EWSCLOSELEN;
}
static void bad_close_code(script *s)
{
    sc_frame(s, true, SK__WS_CLOSE, "\x03\xed", 2, false); /* 1005 */
    s->err = SK_EWSCLOSECODE;
}
static void bad_close_utf8(script *s)
{
    sc_frame(s, true, SK__WS_CLOSE, "\x03\xe8\xc0\xaf", 4, false);
    s->err = SK_EWSUTF8;
}
static void bad_big_single(script *s)
{
    uint8_t p[101] = {0};
    sc_frame(s, true, SK__WS_BINARY, p, 100, false);
    sc_expect(s, SK__WS_EV_BINARY, p, 100, 0);
    sc_frame(s, true, SK__WS_BINARY, p, 101, false);
    s->err = SK_EWSBIG;
}
static void bad_big_fragments(script *s)
{
    uint8_t p[60] = {0};
    sc_frame(s, false, SK__WS_BINARY, p, 50, false);
    sc_frame(s, false, SK__WS_CONT, p, 50, false); /* exactly 100: fine */
    sc_frame(s, true, SK__WS_CONT, p, 1, false);   /* 101 */
    s->err = SK_EWSBIG;
}
static void bad_masked(script *s)
{
    sc_frame(s, true, SK__WS_TEXT, "x", 1, true);
    s->err = SK_EWSMASKED;
}

static void test_reader_errors(void)
{
    static const sk__ws_cfg small = {SK__WS_MASK_FORBIDDEN, 100, 0};
    const build_fn builds[] = {bad_rsv,          bad_opcode,        bad_ctl_big,    bad_ctl_frag,
                               bad_len,          bad_cont,          bad_unfinished, bad_utf8_single,
                               bad_utf8_fragment, bad_utf8_truncated, bad_close_len, bad_close_code,
                               bad_close_utf8,   bad_big_single,    bad_big_fragments, bad_masked};
    for (size_t i = 0; i < sizeof builds / sizeof builds[0]; i++) {
        script s;
        sc_init(&s);
        sc_frame(&s, true, SK__WS_TEXT, "before", 6, false); /* something good first */
        sc_expect(&s, SK__WS_EV_TEXT, "before", 6, 0);
        builds[i](&s);
        sc_frame(&s, true, SK__WS_TEXT, "after", 5, false); /* never seen */
        run_all(&s, &small);
        unsigned want = s.err == SK_EWSBIG ? 1009 : s.err == SK_EWSUTF8 ? 1007 : 1002;
        CHECK_EQ_INT(sk__ws_close_code_for(s.err), want);
        sc_free(&s);
    }
    /* a server refuses an unmasked frame */
    script s;
    sc_init(&s);
    sc_frame(&s, true, SK__WS_TEXT, "x", 1, false);
    s.err = SK_EWSNOMASK;
    run_all(&s, &server_cfg);
    sc_free(&s);
}

/* Invalid text is refused as soon as the bad byte is in, before the frame ends. */
static void test_reader_fail_fast(void)
{
    for (int masked = 0; masked < 2; masked++) {
        uint8_t text[1000];
        memset(text, 'a', sizeof text);
        text[500] = 0xf8;
        script s;
        sc_init(&s);
        sc_frame(&s, false, SK__WS_TEXT, "start", 5, masked);
        sc_frame(&s, true, SK__WS_CONT, text, sizeof text, masked);
        size_t bad_at = s.len - sizeof text + 500;
        static receiver x;
        rx_init(&x, masked ? &server_cfg : &client_cfg);
        uint8_t *w = malloc(s.len);
        memcpy(w, s.wire, s.len);
        rx_feed(&x, w, bad_at);
        CHECK_EQ_INT(x.err, 0);
        rx_feed(&x, w + bad_at, 1);
        CHECK_EQ_INT(x.err, SK_EWSUTF8);
        rx_free(&x);
        /* single frame: same */
        rx_init(&x, masked ? &server_cfg : &client_cfg);
        sc_free(&s);
        sc_init(&s);
        sc_frame(&s, true, SK__WS_TEXT, text, sizeof text, masked);
        memcpy(w, s.wire, s.len);
        bad_at = s.len - sizeof text + 500;
        for (size_t i = 0; i < bad_at; i += 7)
            rx_feed(&x, w + i, i + 7 <= bad_at ? 7 : bad_at - i);
        CHECK_EQ_INT(x.err, 0);
        CHECK_EQ_INT(x.consumed, 0); /* nothing consumed: the frame is not whole */
        rx_feed(&x, w + bad_at, 1);
        CHECK_EQ_INT(x.err, SK_EWSUTF8);
        rx_free(&x);
        free(w);
        sc_free(&s);
    }
}

/* Contract details: zero copy, ownership, finish, -EINVAL, clamped maximum. */
static void test_reader_contract(void)
{
    sk__ws_reader r;
    sk__ws_event ev;
    sk__ws_reader_init(&r, &server_cfg);
    uint8_t buf[64];
    memcpy(buf, "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58\x89\x80\0\0\0\0", 17);
    CHECK_EQ_INT(sk__ws_reader_next(&r, buf, 17, &ev), 11);
    CHECK(ev.type == SK__WS_EV_TEXT && ev.data == buf + 6 && ev.len == 5 && !ev.owned);
    CHECK(memcmp(buf + 6, "Hello", 5) == 0); /* unmasked in place */
    CHECK_EQ_INT(sk__ws_reader_next(&r, buf + 11, 6, &ev), 6);
    CHECK(ev.type == SK__WS_EV_PING && ev.len == 0);
    CHECK_EQ_INT(sk__ws_reader_next(&r, buf + 17, 0, &ev), 0);
    CHECK(ev.type == SK__WS_EV_NONE);
    CHECK_EQ_INT(sk__ws_reader_next(&r, NULL, 0, &ev), 0); /* nothing to read yet */
    CHECK_EQ_INT(sk__ws_reader_finish(&r, 0), 0);
    CHECK_EQ_INT(sk__ws_reader_finish(&r, 1), SK_ETRUNC);

    /* part of a frame: nothing consumed, then fewer bytes than before is -EINVAL */
    memcpy(buf, "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);
    CHECK_EQ_INT(sk__ws_reader_next(&r, buf, 9, &ev), 0);
    CHECK(ev.type == SK__WS_EV_NONE);
    CHECK_EQ_INT(sk__ws_reader_finish(&r, 9), SK_ETRUNC);
    CHECK_EQ_INT(sk__ws_reader_next(&r, buf, 8, &ev), -EINVAL);
    CHECK_EQ_INT(sk__ws_reader_next(&r, buf, 11, &ev), -EINVAL); /* sticky */
    CHECK_EQ_INT(sk__ws_reader_finish(&r, 11), -EINVAL);
    sk__ws_reader_free(&r);

    /* the fragmented message in progress makes finish report truncation */
    sk__ws_reader_init(&r, &client_cfg);
    memcpy(buf, "\x01\x01" "a", 3);
    CHECK_EQ_INT(sk__ws_reader_next(&r, buf, 3, &ev), 3);
    CHECK(ev.type == SK__WS_EV_NONE);
    CHECK_EQ_INT(sk__ws_reader_finish(&r, 0), SK_ETRUNC);
    memcpy(buf, "\x80\x01" "b\x88\x00", 5);
    CHECK_EQ_INT(sk__ws_reader_next(&r, buf, 5, &ev), 3);
    CHECK(ev.type == SK__WS_EV_TEXT && ev.owned && ev.len == 2 && memcmp(ev.data, "ab", 2) == 0);
    CHECK(ev.data < buf || ev.data >= buf + sizeof buf);
    CHECK_EQ_INT(sk__ws_reader_next(&r, buf + 3, 2, &ev), 2);
    CHECK(ev.type == SK__WS_EV_CLOSE && ev.code == 1005);
    CHECK_EQ_INT(sk__ws_reader_finish(&r, 0), 0);
    CHECK_EQ_INT(sk__ws_reader_next(&r, buf, 5, &ev), 5); /* after close: swallowed */
    CHECK(ev.type == SK__WS_EV_NONE);
    sk__ws_reader_free(&r);
    sk__ws_reader_free(&r); /* twice is harmless */

    /* a huge max is clamped so a frame size always fits ssize_t */
    sk__ws_reader_init(&r, &(sk__ws_cfg){SK__WS_MASK_ANY, UINT64_MAX, 0});
    CHECK(r.cfg.max_message < (uint64_t)SIZE_MAX / 2);
    CHECK_EQ_INT(sk__ws_reader_next(&r, (uint8_t *)"\x82\x7f\x7f\xff\xff\xff\xff\xff\xff\xff", 10,
                                    &ev),
                 SK_EWSBIG);
    sk__ws_reader_free(&r);
}

/* Many frames of mixed kinds merged into one stream, fed in every way. */
static void test_reader_merged(void)
{
    script s;
    sc_init(&s);
    uint32_t seed = 77;
    uint8_t payload[300];
    for (int i = 0; i < 40; i++) {
        size_t n = xorshift32(&seed) % 300;
        for (size_t k = 0; k < n; k++)
            payload[k] = (uint8_t)('A' + xorshift32(&seed) % 26);
        unsigned kind = xorshift32(&seed) % 4;
        if (kind == 0) {
            sc_frame(&s, true, SK__WS_TEXT, payload, n, true);
            sc_expect(&s, SK__WS_EV_TEXT, payload, n, 0);
        } else if (kind == 1) {
            sc_frame(&s, true, SK__WS_BINARY, payload, n, true);
            sc_expect(&s, SK__WS_EV_BINARY, payload, n, 0);
        } else if (kind == 2) {
            n %= 126;
            sc_frame(&s, true, SK__WS_PING, payload, n, true);
            sc_expect(&s, SK__WS_EV_PING, payload, n, 0);
        } else {
            size_t a = n / 3, b = n / 3;
            sc_frame(&s, false, SK__WS_BINARY, payload, a, true);
            sc_frame(&s, true, SK__WS_PONG, "x", 1, true);
            sc_expect(&s, SK__WS_EV_PONG, "x", 1, 0);
            sc_frame(&s, false, SK__WS_CONT, payload + a, b, true);
            sc_frame(&s, true, SK__WS_CONT, payload + a + b, n - a - b, true);
            sc_expect(&s, SK__WS_EV_BINARY, payload, n, 0);
        }
    }
    CHECK(s.nev < MAX_EVENTS);
    run_all(&s, &server_cfg);
    sc_free(&s);
}

/* ======================= guard pages ======================= */

typedef struct guard {
    uint8_t *map;
    size_t size; /* usable bytes before the PROT_NONE page */
    size_t pg;
} guard;

static bool guard_open(guard *g, size_t need)
{
    g->pg = (size_t)sysconf(_SC_PAGESIZE);
    g->size = (need + g->pg - 1) / g->pg * g->pg;
    g->map = mmap(NULL, g->size + g->pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g->map == MAP_FAILED)
        return false;
    return mprotect(g->map + g->size, g->pg, PROT_NONE) == 0;
}

static void guard_close(guard *g) { munmap(g->map, g->size + g->pg); }

/* Copies in[0..n) flush against the guard page; returns where it starts. */
static uint8_t *guard_put(guard *g, const uint8_t *in, size_t n)
{
    uint8_t *at = g->map + g->size - n;
    memcpy(at, in, n);
    return at;
}

static volatile unsigned guard_sink;

/* Every prefix of the script, flush against the guard page, through a fresh reader. */
static void guard_reader(guard *g, const script *s, const sk__ws_cfg *cfg, size_t step)
{
    for (size_t p = 0;; p = p + step < s->len ? p + step : s->len) {
        uint8_t *at = guard_put(g, s->wire, p);
        sk__ws_reader r;
        sk__ws_reader_init(&r, cfg);
        size_t off = 0;
        for (int i = 0; i < 100; i++) {
            sk__ws_event ev;
            ssize_t k = sk__ws_reader_next(&r, at + off, p - off, &ev);
            if (k < 0)
                break;
            CHECK((size_t)k <= p - off);
            off += (size_t)k;
            if (ev.type == SK__WS_EV_NONE)
                break;
            for (size_t j = 0; j < ev.len; j++) /* touch every byte of the event */
                guard_sink += ev.data[j];
        }
        sk__ws_reader_free(&r);
        if (p == s->len)
            break;
    }
}

static void test_guard_page(void)
{
    guard g;
    bool ok = guard_open(&g, 70000 + 64);
    CHECK(ok);
    if (!ok)
        return;
    /* headers: every prefix of every size class, errors included */
    static const uint8_t key[4] = {9, 8, 7, 6};
    const uint64_t sizes[] = {0, 125, 126, 65535, 65536, (uint64_t)1 << 40};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        for (int m = 0; m < 2; m++) {
            uint8_t h[SK__WS_MAX_HEADER];
            int hl = sk__ws_write_header(h, true, SK__WS_BINARY, sizes[i], m ? key : NULL);
            for (int p = 0; p <= hl; p++) {
                sk__ws_frame f;
                int rc = sk__ws_parse_header(guard_put(&g, h, (size_t)p), (size_t)p, &any_cfg, &f);
                CHECK(rc == (p == hl ? hl : 0) || rc == SK_EWSBIG);
            }
        }
    }
    /* the reader over every prefix of a mixed script */
    script s;
    sc_init(&s);
    sc_frame(&s, false, SK__WS_TEXT, "Hel", 3, true);
    sc_frame(&s, true, SK__WS_PING, "ping", 4, true);
    sc_frame(&s, true, SK__WS_CONT, "lo \xe2\x82\xac", 6, true);
    uint8_t mid[300];
    memset(mid, 'm', sizeof mid);
    sc_frame(&s, true, SK__WS_BINARY, mid, sizeof mid, true);
    uint8_t cp[SK__WS_MAX_CONTROL];
    int cn = sk__ws_close_payload(cp, 1000, "done", 4);
    sc_frame(&s, true, SK__WS_CLOSE, cp, (size_t)cn, true);
    guard_reader(&g, &s, &server_cfg, 1);
    sc_free(&s);
    /* a 64 KiB frame: a sample of prefixes and the whole */
    sc_init(&s);
    uint8_t *big = pattern(65536, 5, true);
    sc_frame(&s, true, SK__WS_TEXT, big, 65536, true);
    guard_reader(&g, &s, &server_cfg, 997);
    sc_free(&s);
    free(big);
    /* utf8 over the edge */
    uint8_t t[40];
    memset(t, 'a', sizeof t);
    for (size_t n = 0; n <= sizeof t; n++) {
        CHECK(sk__utf8_valid(guard_put(&g, t, n), n));
        CHECK_EQ_INT(sk__utf8_prefix(guard_put(&g, t, n), n), n);
    }
    /* close payloads over the edge */
    unsigned code;
    const uint8_t *r;
    size_t rl;
    for (size_t n = 2; n <= 6; n++)
        CHECK_EQ_INT(sk__ws_parse_close(guard_put(&g, (const uint8_t *)"\x03\xe8" "abcd", n), n,
                                        &code, &r, &rl),
                     0);
    guard_close(&g);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Mask keys: drawn from getrandom in batches, each handed out once, across
 * batch boundaries. 300 random 32-bit keys repeat one with probability
 * ~1e-5; two repeats (what a counter or a stuck pool would give) ~1e-10. */
static void test_mask_keys(void)
{
    enum { N = 300 };
    uint32_t keys[N];
    for (int i = 0; i < N; i++) {
        uint8_t k[4];
        CHECK_EQ_INT(sk__ws_mask_key(k), 0);
        memcpy(&keys[i], k, 4);
    }
    qsort(keys, N, sizeof keys[0], cmp_u32);
    int repeats = 0;
    for (int i = 1; i < N; i++)
        repeats += keys[i] == keys[i - 1];
    CHECK(repeats <= 1);
}

int main(void)
{
    test_utf8_vectors();
    test_utf8_fast_path();
    test_utf8_random();
    test_utf8_prefix();
    test_rfc_examples();
    test_size_classes();
    test_header_errors();
    test_write_header_errors();
    test_mask();
    test_mask_keys();
    test_close_codes();
    test_close_payload();
    test_reader_rfc();
    test_reader_sizes();
    test_reader_fragments();
    test_reader_close();
    test_reader_errors();
    test_reader_fail_fast();
    test_reader_contract();
    test_reader_merged();
    test_guard_page();
    return check_done("test_ws");
}
