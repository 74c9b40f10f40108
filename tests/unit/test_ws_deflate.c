/* test_ws_deflate.c — permessage-deflate: the offer parser (split input,
 * fallbacks, every parameter, the answers), the client's check of an
 * answer, and deflate/inflate across fragment boundaries through the
 * WebSocket reader, bombs and corrupt streams. */
#include "check.h"
#include "net/wsdeflate.h"
#include "proto/http.h"
#include "proto/ws.h"
#include "proto/ws_deflate.h"
#include "proto/ws_handshake.h"
#include "sockit/error.h"
#include "sockit/loop.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Parses value v in an exact-size heap copy (ASan catches an over-read). */
static int parse(const char *v, sk__wsd_params *out, int *n)
{
    size_t len = strlen(v);
    char *copy = malloc(len ? len : 1);
    memcpy(copy, v, len);
    *n = 0;
    int bad = sk__wsd_parse(copy, len, out, n, SK__WSD_MAX_OFFERS);
    free(copy);
    return bad;
}

static int same(const sk__wsd_params *a, const sk__wsd_params *b)
{
    return memcmp(a, b, sizeof *a) == 0;
}

static void test_offers(void)
{
    sk__wsd_params o[SK__WSD_MAX_OFFERS];
    int n;
    /* Firefox: a bare offer */
    CHECK_EQ_INT(parse("permessage-deflate", o, &n), 0);
    CHECK_EQ_INT(n, 1);
    CHECK(same(&o[0], &(sk__wsd_params){0}));
    /* Chrome */
    CHECK_EQ_INT(parse("permessage-deflate; client_max_window_bits", o, &n), 0);
    CHECK(n == 1 && o[0].client_bits == 1 && !o[0].server_bits);
    /* all four, quoted value, odd spacing and case */
    CHECK_EQ_INT(parse(" Permessage-Deflate ;server_no_context_takeover ; CLIENT_no_context_takeover;"
                       "server_max_window_bits=\"10\"; client_max_window_bits = 12 ",
                       o, &n),
                 0);
    CHECK(n == 1 && o[0].server_no_ctx && o[0].client_no_ctx && o[0].server_bits == 10 &&
          o[0].client_bits == 12);
    /* a list with fallbacks, other extensions skipped, empty elements */
    CHECK_EQ_INT(parse("x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=8,, "
                       "permessage-deflate; client_max_window_bits, permessage-deflate",
                       o, &n),
                 0);
    CHECK_EQ_INT(n, 3);
    CHECK(o[0].server_bits == 8 && o[1].client_bits == 1 && same(&o[2], &(sk__wsd_params){0}));
    /* invalid offers are declined, the valid ones after them kept */
    const char *bad[] = {
        "permessage-deflate; server_max_window_bits",        /* needs a value */
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; client_max_window_bits=16",
        "permessage-deflate; client_max_window_bits=08",     /* leading zero */
        "permessage-deflate; server_no_context_takeover=1",  /* takes no value */
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; foo",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char v[160];
        snprintf(v, sizeof v, "%s, permessage-deflate; client_no_context_takeover", bad[i]);
        CHECK_EQ_INT(parse(v, o, &n), 1);
        CHECK(n == 1 && o[0].client_no_ctx);
    }
    /* broken syntax skips to the next element */
    CHECK_EQ_INT(parse("permessage-deflate; x=\"unfinished, permessage-deflate", o, &n), 0);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(parse("permessage-deflate; =1, permessage-deflate", o, &n), 0);
    CHECK_EQ_INT(n, 1);
    /* every prefix of a long value: no over-read, never more offers than the whole */
    const char *full = "permessage-deflate; server_max_window_bits=\"10\"; client_max_window_bits, "
                       "permessage-deflate; server_no_context_takeover";
    for (size_t k = 0; k <= strlen(full); k++) {
        char v[200];
        memcpy(v, full, k);
        v[k] = '\0';
        parse(v, o, &n);
        CHECK(n <= 2);
    }
}

/* The request carrying offers, fed split at every byte and in random
 * pieces to the head parser: the offers come out the same once it is whole. */
static void test_split_request(void)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
                              "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=8\r\n"
                              "Sec-WebSocket-Version: 13\r\n"
                              "sec-websocket-extensions: permessage-deflate; client_max_window_bits\r\n\r\n";
    size_t n = sizeof req - 1;
    sk__http_request r;
    sk__wsd_params o[SK__WSD_MAX_OFFERS], a;
    for (size_t k = 0; k < n; k++) {
        char *part = malloc(k ? k : 1); /* exact size: an over-read is caught */
        memcpy(part, req, k);
        CHECK_EQ_INT(sk__http_parse_request(part, k, &r), 0);
        free(part);
    }
    unsigned seed = 7;
    for (int round = 0; round < 50; round++) { /* random pieces, as reads would bring them */
        size_t have = 0;
        int got = 0;
        while (have < n) {
            seed = seed * 1103515245u + 12345u;
            have += 1 + (seed >> 16) % 40;
            if (have > n)
                have = n;
            got = sk__http_parse_request(req, have, &r);
            CHECK(got == 0 || have == n);
        }
        CHECK_EQ_INT(got, n);
    }
    CHECK_EQ_INT(sk__http_parse_request(req, n, &r), n);
    int k = sk__wsd_offers(&r, o, SK__WSD_MAX_OFFERS);
    CHECK_EQ_INT(k, 2);
    /* the first asks for an 8-bit server window: declined, the fallback taken */
    CHECK_EQ_INT(sk__wsd_choose(o, k, SK__WSD_SHARED, &a), 1);
    CHECK(a.server_no_ctx && a.client_no_ctx && a.server_bits == 0 && a.client_bits == 0);
    CHECK_EQ_INT(sk__wsd_choose(o, 1, SK__WSD_SHARED, &a), -1);
}

static void answer(const char *offer, int mode, const char *want)
{
    sk__wsd_params o[SK__WSD_MAX_OFFERS], a;
    int n;
    char out[160];
    parse(offer, o, &n);
    int i = sk__wsd_choose(o, n, mode, &a);
    if (!want) {
        CHECK_EQ_INT(i, -1);
        return;
    }
    CHECK(i >= 0 && sk__wsd_format(&a, out, sizeof out) > 0);
    CHECK(i >= 0 && strcmp(out, want) == 0);
    if (i >= 0 && strcmp(out, want) != 0)
        fprintf(stderr, "  offer '%s' answered '%s', want '%s'\n", offer, out, want);
}

static void test_answers(void)
{
    const char *both = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";
    answer("permessage-deflate", SK__WSD_SHARED, both);
    answer("permessage-deflate; client_max_window_bits", SK__WSD_SHARED, both);
    answer("permessage-deflate; server_max_window_bits=10", SK__WSD_SHARED,
           "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
           "server_max_window_bits=10");
    answer("permessage-deflate; server_max_window_bits=8", SK__WSD_SHARED, NULL);
    answer("permessage-deflate; client_max_window_bits=8", SK__WSD_SHARED, both);
    /* context mode: never client_max_window_bits unless offered */
    answer("permessage-deflate", SK__WSD_CONTEXT, "permessage-deflate");
    answer("permessage-deflate; client_max_window_bits", SK__WSD_CONTEXT,
           "permessage-deflate; client_max_window_bits=11");
    answer("permessage-deflate; client_max_window_bits=9", SK__WSD_CONTEXT, "permessage-deflate");
    answer("permessage-deflate; client_no_context_takeover; client_max_window_bits", SK__WSD_CONTEXT,
           "permessage-deflate; client_no_context_takeover");
    char small[8];
    CHECK_EQ_INT(sk__wsd_format(&(sk__wsd_params){0}, small, sizeof small), -ENOSPC);
}

static void test_client_check(void)
{
    sk__wsd_params a;
    const char *ok = "permessage-deflate; server_no_context_takeover; client_max_window_bits=10";
    CHECK_EQ_INT(sk__wsd_check_answer(ok, strlen(ok), &a), 1);
    CHECK(a.server_no_ctx && a.client_bits == 10 && !a.client_no_ctx);
    CHECK_EQ_INT(sk__wsd_check_answer("", 0, &a), 0);
    CHECK_EQ_INT(sk__wsd_check_answer("  ", 2, &a), 0);
    const char *bad[] = {"permessage-deflate; client_max_window_bits", /* no value in an answer */
                         "permessage-deflate, permessage-deflate", "x-other",
                         "permessage-deflate; x=1", "permessage-deflate; server_max_window_bits=16",
                         "permessage-deflate;"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK_EQ_INT(sk__wsd_check_answer(bad[i], strlen(bad[i]), &a), -1);
}

/* The handshake's extension headers: the 101 with the answer, the request
 * with the offer, and the client's check that lets an answer through only
 * when it offered one. */
static void test_handshake_headers(void)
{
    char out[640], key[] = "dGhlIHNhbXBsZSBub25jZQ==";
    int n = sk__ws_accept_response_ext(out, sizeof out, key, 24, NULL, "permessage-deflate");
    CHECK(n > 0 && strstr(out, "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n"));
    CHECK_EQ_INT(sk__ws_accept_response_ext(out, sizeof out, key, 24, NULL, "x\r\nEvil: 1"), -EINVAL);
    CHECK_EQ_INT(sk__ws_accept_response_ext(out, sizeof out, key, 24, NULL, ""), -EINVAL);
    n = sk__ws_client_request_ext(out, sizeof out, "h", "/", key, NULL, NULL, SK__WSD_CLIENT_OFFER);
    CHECK(n > 0 && strstr(out, "Sec-WebSocket-Extensions: " SK__WSD_CLIENT_OFFER "\r\n"));
    CHECK_EQ_INT(sk__ws_client_request_ext(out, sizeof out, "h", "/", key, NULL, NULL, "a\nb"), -EINVAL);
    sk__http_response res;
    n = sk__ws_accept_response_ext(out, sizeof out, key, 24, NULL,
                                   "permessage-deflate; server_no_context_takeover");
    CHECK_EQ_INT(sk__http_parse_response(out, (size_t)n, &res), n);
    const char *proto;
    size_t pl;
    CHECK_EQ_INT(sk__ws_check_response_ext(&res, key, NULL, true, &proto, &pl), SK__WS_HS_OK);
    CHECK_EQ_INT(sk__ws_check_response_ext(&res, key, NULL, false, &proto, &pl),
                 SK__WS_HS_BAD_EXTENSION);
    CHECK_EQ_INT(sk__ws_check_response(&res, key, NULL, &proto, &pl), SK__WS_HS_BAD_EXTENSION);
}

/* ---- compression through the reader ---- */

/* One message: deflated by the client (masked frames, cut into fragments at
 * random places, fed to the server's reader in random pieces), inflated by
 * the server. Returns 1 when what comes out is msg. */
static int round_trip(sk_loop *loop, sk__wsd *cli, sk__wsd *srv, const uint8_t *msg, size_t len,
                      unsigned *seed)
{
    const uint8_t *z;
    size_t zl;
    int r = sk__wsd_deflate(loop, cli, msg, len, &z, &zl);
    if (r < 0)
        return 0;
    const uint8_t *payload = r ? z : msg;
    size_t plen = r ? zl : len;
    uint8_t *wire = malloc(plen * 2 + 1024), *copy = malloc(plen + 1);
    memcpy(copy, payload, plen);
    size_t w = 0, off = 0;
    int first = 1;
    do { /* fragments of random sizes (at least one frame, even when empty) */
        *seed = *seed * 1103515245u + 12345u;
        size_t k = plen - off < 1 + (*seed >> 16) % 300 ? plen - off : 1 + (*seed >> 16) % 300;
        uint8_t key[4] = {1, 2, 3, (uint8_t)*seed};
        int h = sk__ws_write_header(wire + w, off + k == plen, first ? SK__WS_BINARY : SK__WS_CONT, k, key);
        if (first && r)
            wire[w] |= 0x40; /* RSV1 on the first frame only */
        memcpy(wire + w + h, copy + off, k);
        sk__ws_mask(wire + w + h, k, key, 0);
        w += (size_t)h + k;
        off += k;
        first = 0;
    } while (off < plen);
    sk__ws_reader rd;
    sk__ws_reader_init(&rd, &(sk__ws_cfg){.mask = SK__WS_MASK_REQUIRED, .max_message = 1 << 24});
    sk__ws_reader_allow_rsv(&rd, 0x4);
    sk__ws_event ev = {0};
    size_t fed = 0, used = 0;
    int ok = 0;
    while (fed < w && !ok) { /* the bytes arrive in random pieces */
        *seed = *seed * 1103515245u + 12345u;
        fed += 1 + (*seed >> 16) % 97;
        if (fed > w)
            fed = w;
        for (;;) {
            ssize_t k = sk__ws_reader_next(&rd, wire + used, fed - used, &ev);
            if (k < 0)
                goto out;
            used += (size_t)k;
            if (ev.type == SK__WS_EV_NONE)
                break;
            uint8_t *o = ev.data;
            size_t ol = ev.len;
            if ((ev.rsv & 0x4) && sk__wsd_inflate(loop, srv, ev.data, ev.len, 1 << 24, &o, &ol) != 0)
                goto out;
            ok = ol == len && (len == 0 || memcmp(o, msg, len) == 0);
            break;
        }
    }
out:
    sk__ws_reader_free(&rd);
    free(wire);
    free(copy);
    return ok;
}

static void test_round_trips(void)
{
    sk_loop *loop = NULL;
    CHECK_EQ_INT(sk_loop_new(&loop), 0);
    size_t sizes[] = {0, 16, 63, 64, 200, 1024, 4096, 65535, 65536, 131072};
    uint8_t *msg = malloc(131072);
    unsigned seed = 1;
    for (size_t i = 0; i < 131072; i++) { /* JSON-like: compressible, not trivially */
        seed = seed * 1103515245u + 12345u;
        msg[i] = (uint8_t)("{\"id\":,[]abcdefgh 0123456789"[(seed >> 16) % 28]);
    }
    /* shared mode, and both contexts kept (the same streams across messages) */
    sk__wsd_params modes[] = {{.server_no_ctx = 1, .client_no_ctx = 1},
                              {.client_bits = 9},
                              {.client_bits = 11, .server_bits = 10}};
    for (size_t m = 0; m < sizeof modes / sizeof *modes; m++) {
        sk__wsd cli = {.p = modes[m], .on = 1, .client = 1}, srv = {.p = modes[m], .on = 1};
        for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
            for (int rep = 0; rep < 3; rep++)
                CHECK(round_trip(loop, &cli, &srv, msg, sizes[i], &seed));
        sk__wsd_free(&cli);
        sk__wsd_free(&srv);
    }
    /* a client told to use an 8-bit window sends uncompressed */
    sk__wsd c8 = {.p = {.client_bits = 8}, .on = 1, .client = 1};
    const uint8_t *z;
    size_t zl;
    CHECK_EQ_INT(sk__wsd_deflate(loop, &c8, msg, 4096, &z, &zl), 0);
    /* short messages go uncompressed */
    CHECK_EQ_INT(sk__wsd_deflate(loop, &c8, msg, SK__WSD_MIN_SIZE - 1, &z, &zl), 0);
    free(msg);
    sk_loop_free(loop);
}

/* A bomb: 16 MiB of zeros in ~16 KiB. Inflating within 1 MiB fails early. */
static void test_bomb_and_corrupt(void)
{
    sk_loop *loop = NULL;
    CHECK_EQ_INT(sk_loop_new(&loop), 0);
    size_t big = (size_t)16 << 20;
    uint8_t *zeros = calloc(1, big), *z = malloc(big / 100);
    z_stream s = {0};
    deflateInit2(&s, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
    s.next_in = zeros, s.avail_in = (uInt)big, s.next_out = z, s.avail_out = (uInt)(big / 100);
    CHECK_EQ_INT(deflate(&s, Z_SYNC_FLUSH), Z_OK);
    size_t zl = big / 100 - s.avail_out - 4;
    deflateEnd(&s);
    free(zeros);
    sk__wsd srv = {.p = {.server_no_ctx = 1, .client_no_ctx = 1}, .on = 1};
    uint8_t *out;
    size_t ol;
    CHECK_EQ_INT(sk__wsd_inflate(loop, &srv, z, zl, 1 << 20, &out, &ol), SK_EWSBIG);
    CHECK_EQ_INT(sk__wsd_inflate(loop, &srv, z, zl, big, &out, &ol), 0);
    CHECK_EQ_INT(ol, big);
    /* corrupt: a block of the reserved type */
    uint8_t bad[] = {0xff, 0xff, 0xff};
    CHECK_EQ_INT(sk__wsd_inflate(loop, &srv, bad, sizeof bad, 1 << 20, &out, &ol), SK_EWSINFLATE);
    /* the loop's inflater works again after both */
    uint8_t hello[] = {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}; /* RFC 7692 §7.2.3.1 "Hello" */
    CHECK_EQ_INT(sk__wsd_inflate(loop, &srv, hello, sizeof hello, 100, &out, &ol), 0);
    CHECK(ol == 5 && memcmp(out, "Hello", 5) == 0);
    free(z);
    sk_loop_free(loop);
}

int main(void)
{
    test_offers();
    test_split_request();
    test_answers();
    test_client_check();
    test_handshake_headers();
    test_round_trips();
    test_bomb_and_corrupt();
    return check_done("test_ws_deflate");
}
