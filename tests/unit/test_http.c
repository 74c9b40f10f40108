/* test_http.c — unit tests for the WebSocket handshake: SHA-1 and base64 vectors, the HTTP
 * head parsers (split at every byte, limits, guard page) and the upgrade checks and answers. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "proto/base64.h"
#include "proto/http.h"
#include "proto/sha1.h"
#include "proto/ws_handshake.h"
#include "sockit/error.h"

/* ======================= SHA-1 ======================= */

static void hex(const uint8_t *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

static void check_sha1(const void *p, size_t n, const char *want)
{
    uint8_t d[SK__SHA1_LEN];
    char h[41];
    sk__sha1(p, n, d);
    hex(d, sizeof d, h);
    CHECK(strcmp(h, want) == 0);
    if (strcmp(h, want) != 0)
        fprintf(stderr, "  sha1 of %zu bytes: %s, want %s\n", n, h, want);
    /* the same fed in uneven pieces */
    static const size_t steps[] = {1, 3, 63, 64, 65};
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        sk__sha1_ctx c;
        sk__sha1_init(&c);
        for (size_t i = 0; i < n; i += steps[s])
            sk__sha1_update(&c, (const uint8_t *)p + i, n - i < steps[s] ? n - i : steps[s]);
        sk__sha1_final(&c, d);
        hex(d, sizeof d, h);
        CHECK(strcmp(h, want) == 0);
    }
}

static void test_sha1(void)
{
    /* FIPS 180 examples */
    check_sha1("abc", 3, "a9993e364706816aba3e25717850c26c9cd0d89d");
    check_sha1("", 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    check_sha1("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
               "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    check_sha1("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq"
               "klmnopqrlmnopqrsmnopqrstnopqrstu",
               112, "a49b2446a02c645bf419f995b67091253a04a259");
    char *million = malloc(1000000);
    memset(million, 'a', 1000000);
    check_sha1(million, 1000000, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    free(million);
    /* lengths around the padding boundaries (expected values from Python's hashlib) */
    static const struct {
        size_t n;
        const char *want;
    } b[] = {
        {55, "8ae2d46729cfe68ff927af5eec9c7d1b66d65ac2"},
        {56, "636e2ec698dac903498e648bd2f3af641d3c88cb"},
        {63, "6d942da0c4392b123528f2905c713a3ce28364bd"},
        {64, "c6138d514ffa2135bfce0ed0b8fac65669917ec7"},
        {65, "69bd728ad6e13cd76ff19751fde427b00e395746"},
        {119, "41c89d06001bab4ab78736b44efe7ce18ce6ae08"},
        {120, "d3dbd653bd8597b7475321b60a36891278e6a04a"},
        {1000, "c9c960a0b925474fab83942cc27d504fc24ac37b"},
    };
    uint8_t buf[1000];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i % 251);
    for (size_t i = 0; i < sizeof b / sizeof b[0]; i++)
        check_sha1(buf, b[i].n, b[i].want);
}

/* ======================= base64 ======================= */

static void test_base64(void)
{
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
                                        "Zm9vYmFy"}; /* RFC 4648 §10 */
    for (size_t i = 0; i < 7; i++) {
        char out[16];
        uint8_t back[16];
        size_t n = strlen(plain[i]);
        CHECK_EQ_INT(sk__base64_encode((const uint8_t *)plain[i], n, out), strlen(coded[i]));
        CHECK_EQ_INT(SK__BASE64_LEN(n), strlen(coded[i]));
        CHECK(strcmp(out, coded[i]) == 0);
        CHECK_EQ_INT(sk__base64_decode(coded[i], strlen(coded[i]), back, sizeof back), n);
        CHECK(memcmp(back, plain[i], n) == 0);
        if (n > 0) /* one byte too little room */
            CHECK_EQ_INT(sk__base64_decode(coded[i], strlen(coded[i]), back, n - 1), -1);
    }
    /* every byte value survives, at every length mod 3 */
    uint8_t all[256], back[256];
    char out[SK__BASE64_LEN(256) + 1];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    for (size_t n = 250; n <= 256; n++) {
        size_t w = sk__base64_encode(all, n, out);
        CHECK_EQ_INT(sk__base64_decode(out, w, back, sizeof back), n);
        CHECK(memcmp(all, back, n) == 0);
    }
    static const char *const bad[] = {"Zg=",  "Zg",   "Z===", "====", "Zh==", "Zm9=",
                                      "Zm9v YmFy", "Zm9=Ymfy", "Zg==Zg==", "Zm9v\n", "Zm-v",
                                      "Zm_v", "Zm9vY===", "=Zm9"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t d[16];
        CHECK_EQ_INT(sk__base64_decode(bad[i], strlen(bad[i]), d, sizeof d), -1);
    }
}

/* ======================= the HTTP head parser ======================= */

static const char rfc_request[] = "GET /chat HTTP/1.1\r\n"
                                  "Host: server.example.com\r\n"
                                  "Upgrade: websocket\r\n"
                                  "Connection: Upgrade\r\n"
                                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                  "Origin: http://example.com\r\n"
                                  "Sec-WebSocket-Protocol: chat, superchat\r\n"
                                  "Sec-WebSocket-Version: 13\r\n"
                                  "\r\n";

static bool header_is(const sk__http_header *h, const char *name, const char *value)
{
    return h->name_len == strlen(name) && memcmp(h->name, name, h->name_len) == 0 &&
           h->value_len == strlen(value) && memcmp(h->value, value, h->value_len) == 0;
}

static int parse_req(const char *s, size_t n, sk__http_request *req)
{
    return sk__http_parse_request(s, n, req);
}

static void test_parse_request(void)
{
    static sk__http_request req;
    size_t n = strlen(rfc_request);
    CHECK_EQ_INT(parse_req(rfc_request, n, &req), n);
    CHECK(req.method_len == 3 && memcmp(req.method, "GET", 3) == 0);
    CHECK(req.path_len == 5 && memcmp(req.path, "/chat", 5) == 0);
    CHECK_EQ_INT(req.minor_version, 1);
    CHECK_EQ_INT(req.num_headers, 7);
    CHECK(header_is(&req.headers[0], "Host", "server.example.com"));
    CHECK(header_is(&req.headers[4], "Origin", "http://example.com"));
    CHECK(header_is(&req.headers[5], "Sec-WebSocket-Protocol", "chat, superchat"));
    CHECK(req.headers[0].name == rfc_request + 20); /* pointers into the buffer */
    /* every proper prefix: need more */
    for (size_t p = 0; p < n; p++)
        CHECK_EQ_INT(parse_req(rfc_request, p, &req), 0);
    /* followed by a WebSocket frame: only the head is consumed */
    char more[512];
    memcpy(more, rfc_request, n);
    memcpy(more + n, "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);
    CHECK_EQ_INT(parse_req(more, n + 11, &req), n);

    /* bare LF line endings, leading empty lines, spaces and tabs around values */
    const char *lf = "\r\n\nGET /a?b=c%20d HTTP/1.0\nX-Empty:\nX-Pad: \t v a l \t\nX8:\"q\"\n\n";
    CHECK_EQ_INT(parse_req(lf, strlen(lf), &req), strlen(lf));
    CHECK_EQ_INT(req.minor_version, 0);
    CHECK(req.path_len == 10 && memcmp(req.path, "/a?b=c%20d", 10) == 0);
    CHECK_EQ_INT(req.num_headers, 3);
    CHECK(header_is(&req.headers[0], "X-Empty", ""));
    CHECK(header_is(&req.headers[1], "X-Pad", "v a l"));
    CHECK(header_is(&req.headers[2], "X8", "\"q\""));
    /* obs-text in values and targets is allowed */
    const char *utf = "GET /caf\xc3\xa9 HTTP/1.1\r\nX: caf\xc3\xa9\r\n\r\n";
    CHECK_EQ_INT(parse_req(utf, strlen(utf), &req), strlen(utf));
}

/* Malformed heads: every prefix is 0 until the bad byte (at index bad), then SK_EHTTP. */
static void test_malformed(void)
{
    static const struct {
        const char *s;
        size_t bad, len; /* len 0: strlen */
    } cases[] = {
        {"GET  / HTTP/1.1\r\n\r\n", 4, 0},        /* two spaces */
        {" GET / HTTP/1.1\r\n\r\n", 0, 0},        /* leading space */
        {"G(T / HTTP/1.1\r\n\r\n", 1, 0},         /* not a token */
        {"GET / HTTP/2.0\r\n\r\n", 11, 0},        /* major version 2 */
        {"GET / HTTP/1.x\r\n\r\n", 13, 0},
        {"GET / HTTP/1.11\r\n\r\n", 14, 0},
        {"GET / http/1.1\r\n\r\n", 6, 0},
        {"GET /\x01 HTTP/1.1\r\n\r\n", 5, 0},     /* control character in the target */
        {"GET / HTTP/1.1\rX\n\r\n", 15, 0},       /* bare CR */
        {"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 20, 0}, /* space before the colon */
        {"GET / HTTP/1.1\r\n: x\r\n\r\n", 16, 0},      /* empty name */
        {"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", 22, 0}, /* obsolete folding */
        {"GET / HTTP/1.1\r\nA: b\x01\r\n\r\n", 20, 0},  /* control in a value */
        {"GET / HTTP/1.1\r\nA: b\x7f\r\n\r\n", 20, 0},
        {"GET / HTTP/1.1\r\nA: b\0c\r\n\r\n", 20, 26}, /* NUL in a value */
        {"GET / HTTP/1.1\r\nAb\r\n\r\n", 18, 0},     /* no colon */
        {"\x16\x03\x01\x02\x00\x01\x00\x01\xfc", 0, 0}, /* a TLS ClientHello */
        {"GET / HTTP/1.1\r\n\r\r\n", 17, 0},
    };
    static sk__http_request req;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *s = cases[i].s;
        size_t n = cases[i].len ? cases[i].len : strlen(s);
        for (size_t p = 0; p <= n; p++) {
            int rc = parse_req(s, p, &req);
            int want = p <= cases[i].bad ? 0 : SK_EHTTP;
            if (rc != want)
                fprintf(stderr, "  malformed case %zu prefix %zu: %d\n", i, p, rc);
            CHECK_EQ_INT(rc, want);
        }
    }
}

static size_t make_head(char *out, size_t nheaders, size_t value_len)
{
    size_t o = (size_t)sprintf(out, "GET / HTTP/1.1\r\n");
    for (size_t i = 0; i < nheaders; i++) {
        o += (size_t)sprintf(out + o, "H%zu: ", i);
        memset(out + o, 'v', value_len);
        o += value_len;
        o += (size_t)sprintf(out + o, "\r\n");
    }
    return o + (size_t)sprintf(out + o, "\r\n");
}

static void test_limits(void)
{
    static sk__http_request req;
    static char buf[3 * SK__HTTP_MAX_HEAD];
    /* 64 headers fine, 65 too many (found when the 65th starts) */
    size_t n = make_head(buf, 64, 3);
    CHECK_EQ_INT(parse_req(buf, n, &req), n);
    CHECK_EQ_INT(req.num_headers, 64);
    n = make_head(buf, 65, 3);
    CHECK_EQ_INT(parse_req(buf, n, &req), SK_EHTTPBIG);
    /* a head of exactly 8192 bytes is fine; 8193 is too big */
    n = make_head(buf, 1, 0);
    size_t pad = SK__HTTP_MAX_HEAD - n;
    n = make_head(buf, 1, pad);
    CHECK_EQ_INT(n, SK__HTTP_MAX_HEAD);
    CHECK_EQ_INT(parse_req(buf, n, &req), n);
    CHECK_EQ_INT(parse_req(buf, n - 1, &req), 0);
    n = make_head(buf, 1, pad + 1);
    CHECK_EQ_INT(parse_req(buf, n, &req), SK_EHTTPBIG);
    CHECK_EQ_INT(parse_req(buf, SK__HTTP_MAX_HEAD, &req), SK_EHTTPBIG);
    CHECK_EQ_INT(parse_req(buf, SK__HTTP_MAX_HEAD - 1, &req), 0);
    /* endless empty lines or an endless value: an error, not a wait */
    memset(buf, '\n', sizeof buf);
    CHECK_EQ_INT(parse_req(buf, sizeof buf, &req), SK_EHTTPBIG);
    n = make_head(buf, 1, 2 * SK__HTTP_MAX_HEAD);
    CHECK_EQ_INT(parse_req(buf, n - 4, &req), SK_EHTTPBIG);
}

static void test_parse_response(void)
{
    static sk__http_response res;
    const char *r = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";
    size_t n = strlen(r);
    CHECK_EQ_INT(sk__http_parse_response(r, n, &res), n);
    CHECK(res.status == 101 && res.minor_version == 1 && res.num_headers == 1);
    CHECK(res.reason_len == 19 && memcmp(res.reason, "Switching Protocols", 19) == 0);
    for (size_t p = 0; p < n; p++)
        CHECK_EQ_INT(sk__http_parse_response(r, p, &res), 0);
    const char *ok[] = {"HTTP/1.1 404\r\n\r\n", "HTTP/1.0 200 \r\n\r\n", "HTTP/1.1 500 a\tb\n\n"};
    const int codes[] = {404, 200, 500};
    const size_t reasons[] = {0, 0, 3};
    for (size_t i = 0; i < 3; i++) {
        CHECK_EQ_INT(sk__http_parse_response(ok[i], strlen(ok[i]), &res), strlen(ok[i]));
        CHECK_EQ_INT(res.status, codes[i]);
        CHECK_EQ_INT(res.reason_len, reasons[i]);
    }
    const char *bad[] = {"HTTP/1.1 10 OK\r\n\r\n",   "HTTP/1.1 1011 OK\r\n\r\n",
                         "HTTP/1.1 099 OK\r\n\r\n",  "HTTP/2 101\r\n\r\n",
                         "HTTP/1.1  101\r\n\r\n",    "HTTP/1.1 1O1 OK\r\n\r\n",
                         "HTTP/1.1 101 \x01\r\n\r\n", "ICY 200 OK\r\n\r\n",
                         "HTTP/1.1 101 OK\r\nX\r\n\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ_INT(sk__http_parse_response(bad[i], strlen(bad[i]), &res), SK_EHTTP);
}

static void test_lookup(void)
{
    static sk__http_request req;
    const char *s = "GET / HTTP/1.1\r\nconnection: keep-alive\r\nCONNECTION: , Upgrade ,\r\n"
                    "X-List: a,b , c\r\nUpgrade: WebSocket\r\n\r\n";
    CHECK(parse_req(s, strlen(s), &req) > 0);
    const sk__http_header *h = req.headers;
    size_t n = req.num_headers;
    CHECK(sk__http_find(h, n, "Connection") == &h[0]); /* the first of two */
    CHECK(sk__http_find(h, n, "upgrade") == &h[3]);
    CHECK(sk__http_find(h, n, "Upgrad") == NULL);
    CHECK(sk__http_find(h, n, "Upgrades") == NULL);
    CHECK(sk__http_has_token(h, n, "Connection", "upgrade")); /* in the second one */
    CHECK(sk__http_has_token(h, n, "connection", "KEEP-ALIVE"));
    CHECK(!sk__http_has_token(h, n, "Connection", "close"));
    CHECK(!sk__http_has_token(h, n, "Connection", "upgrad"));
    CHECK(sk__http_has_token(h, n, "X-List", "b"));
    CHECK(sk__http_has_token(h, n, "X-List", "c"));
    CHECK(!sk__http_has_token(h, n, "X-List", "a,b"));
    CHECK(sk__http_has_token(h, n, "Upgrade", "websocket"));
    size_t pos = 0, il;
    const char *item;
    const char *list = " , x ,,\ty z\t,";
    CHECK(sk__http_next_item(list, strlen(list), &pos, &item, &il));
    CHECK(il == 1 && *item == 'x');
    CHECK(sk__http_next_item(list, strlen(list), &pos, &item, &il));
    CHECK(il == 3 && memcmp(item, "y z", 3) == 0);
    CHECK(!sk__http_next_item(list, strlen(list), &pos, &item, &il));
    CHECK(sk__http_ieq("HoSt", 4, "host"));
    CHECK(!sk__http_ieq("Hos", 3, "host"));
    CHECK(!sk__http_ieq("Host", 4, "hos"));
}

/* ======================= the handshake ======================= */

static void test_accept(void)
{
    char acc[SK__WS_ACCEPT_LEN + 1];
    sk__ws_accept_value("dGhlIHNhbXBsZSBub25jZQ==", 24, acc);
    CHECK(strcmp(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0); /* RFC 6455 §1.3 */

    char out[512];
    int n = sk__ws_accept_response(out, sizeof out, "dGhlIHNhbXBsZSBub25jZQ==", 24, "chat");
    const char *want = "HTTP/1.1 101 Switching Protocols\r\n"
                       "Upgrade: websocket\r\n"
                       "Connection: Upgrade\r\n"
                       "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                       "Sec-WebSocket-Protocol: chat\r\n"
                       "\r\n";
    CHECK_EQ_INT(n, strlen(want));
    CHECK(strcmp(out, want) == 0);
    n = sk__ws_accept_response(out, sizeof out, "dGhlIHNhbXBsZSBub25jZQ==", 24, NULL);
    CHECK_EQ_INT(n, strlen(want) - strlen("Sec-WebSocket-Protocol: chat\r\n"));
    CHECK(strstr(out, "Sec-WebSocket-Protocol") == NULL);
    CHECK_EQ_INT(sk__ws_accept_response(out, (size_t)n, "dGhlIHNhbXBsZSBub25jZQ==", 24, NULL),
                 -ENOSPC);
    CHECK_EQ_INT(sk__ws_accept_response(out, (size_t)n + 1, "dGhlIHNhbXBsZSBub25jZQ==", 24, NULL),
                 n);
    CHECK_EQ_INT(sk__ws_accept_response(out, sizeof out, "k", 1, "a b"), -EINVAL);
    CHECK_EQ_INT(sk__ws_accept_response(out, sizeof out, "k", 1, "x\r\nEvil: 1"), -EINVAL);
    CHECK_EQ_INT(sk__ws_accept_response(out, sizeof out, "k", 1, ""), -EINVAL);
}

/* Parses text as a request (must succeed) and checks it. */
static sk__ws_hs check_text(const char *text, sk__http_request *req)
{
    int rc = parse_req(text, strlen(text), req);
    CHECK_EQ_INT(rc, strlen(text));
    const char *key = NULL;
    size_t kl = 0;
    sk__ws_hs why = sk__ws_check_request(req, &key, &kl);
    if (why == SK__WS_HS_OK)
        CHECK(kl == 24 && key != NULL && key >= text && key < text + strlen(text));
    return why;
}

/* The RFC request with one line replaced (or removed when repl is ""). */
static const char *edit(const char *line, const char *repl)
{
    static char buf[1024];
    const char *at = strstr(rfc_request, line);
    CHECK(at != NULL);
    size_t pre = (size_t)(at - rfc_request);
    memcpy(buf, rfc_request, pre);
    strcpy(buf + pre, repl);
    strcat(buf, at + strlen(line));
    return buf;
}

static void test_check_request(void)
{
    static sk__http_request req;
    static const struct {
        const char *line, *repl;
        sk__ws_hs want;
    } cases[] = {
        {"Host", "Host", SK__WS_HS_OK},
        {"Upgrade: websocket\r\n", "", SK__WS_HS_NOT_UPGRADE},
        {"Upgrade: websocket\r\n", "Upgrade: h2c\r\n", SK__WS_HS_NOT_UPGRADE},
        {"Upgrade: websocket\r\n", "Upgrade: WebSocket\r\n", SK__WS_HS_OK},
        {"Upgrade: websocket\r\n", "Upgrade: foo, websocket\r\n", SK__WS_HS_OK},
        {"GET /chat", "POST /chat", SK__WS_HS_BAD_METHOD},
        {"GET /chat", "get /chat", SK__WS_HS_BAD_METHOD},
        {"HTTP/1.1\r\n", "HTTP/1.0\r\n", SK__WS_HS_BAD_HTTP},
        {"Host: server.example.com\r\n", "", SK__WS_HS_NO_HOST},
        {"Connection: Upgrade\r\n", "", SK__WS_HS_NO_CONNECTION},
        {"Connection: Upgrade\r\n", "Connection: keep-alive\r\n", SK__WS_HS_NO_CONNECTION},
        {"Connection: Upgrade\r\n", "Connection: keep-alive, Upgrade\r\n", SK__WS_HS_OK},
        {"Connection: Upgrade\r\n", "Connection: upgrade\r\n", SK__WS_HS_OK},
        {"Sec-WebSocket-Version: 13\r\n", "", SK__WS_HS_BAD_VERSION},
        {"Sec-WebSocket-Version: 13\r\n", "Sec-WebSocket-Version: 8\r\n", SK__WS_HS_BAD_VERSION},
        {"Sec-WebSocket-Version: 13\r\n", "Sec-WebSocket-Version: 13, 8\r\n",
         SK__WS_HS_BAD_VERSION},
        {"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "", SK__WS_HS_BAD_KEY},
        {"dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZQ", SK__WS_HS_BAD_KEY},
        {"dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZR==", SK__WS_HS_BAD_KEY},
        {"dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25j", SK__WS_HS_BAD_KEY},
        {"dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Key: "
                                     "dGhlIHNhbXBsZSBub25jZQ==",
         SK__WS_HS_BAD_KEY},
        {"dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZQ=!", SK__WS_HS_BAD_KEY},
        {"dGhlIHNhbXBsZSBub25jZQ==", "AAAAAAAAAAAAAAAAAAAAAAAAAAAA", SK__WS_HS_BAD_KEY},
        /* a plain POST with no upgrade at all is "not an upgrade" first */
        {"Upgrade: websocket\r\n", "", SK__WS_HS_NOT_UPGRADE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sk__ws_hs got = check_text(edit(cases[i].line, cases[i].repl), &req);
        if (got != cases[i].want)
            fprintf(stderr, "  request case %zu: %s\n", i, sk__ws_hs_text(got));
        CHECK_EQ_INT(got, cases[i].want);
    }
    CHECK_EQ_INT(sk__ws_hs_status(SK__WS_HS_OK), 101);
    CHECK_EQ_INT(sk__ws_hs_status(SK__WS_HS_NOT_UPGRADE), 426);
    CHECK_EQ_INT(sk__ws_hs_status(SK__WS_HS_BAD_VERSION), 426);
    CHECK_EQ_INT(sk__ws_hs_status(SK__WS_HS_BAD_KEY), 400);
    CHECK_EQ_INT(sk__ws_hs_status(SK__WS_HS_NO_CONNECTION), 400);
    CHECK_EQ_INT(sk__ws_hs_status(SK__WS_HS_BAD_METHOD), 400);
    CHECK_EQ_INT(sk__ws_hs_status(SK__WS_HS_BAD_ORIGIN), 403);
    for (int w = SK__WS_HS_OK; w <= SK__WS_HS_BAD_EXTENSION; w++)
        CHECK(strcmp(sk__ws_hs_text((sk__ws_hs)w), "?") != 0);
}

static void test_reject_response(void)
{
    static sk__http_response res;
    char out[256];
    for (int w = SK__WS_HS_NOT_UPGRADE; w <= SK__WS_HS_BAD_ORIGIN; w++) {
        int n = sk__ws_reject_response(out, sizeof out, (sk__ws_hs)w);
        CHECK(n > 0);
        int h = sk__http_parse_response(out, (size_t)n, &res);
        CHECK(h > 0);
        CHECK_EQ_INT(res.status, sk__ws_hs_status((sk__ws_hs)w));
        const sk__http_header *cl = sk__http_find(res.headers, res.num_headers, "Content-Length");
        CHECK(cl != NULL && (size_t)atoi(cl->value) == (size_t)(n - h)); /* body length is right */
        CHECK(sk__http_has_token(res.headers, res.num_headers, "Connection", "close"));
        bool is426 = res.status == 426;
        CHECK_EQ_INT(sk__http_find(res.headers, res.num_headers, "Sec-WebSocket-Version") != NULL,
                     is426);
        CHECK_EQ_INT(sk__http_has_token(res.headers, res.num_headers, "Upgrade", "websocket"),
                     is426);
    }
    CHECK_EQ_INT(sk__ws_reject_response(out, sizeof out, SK__WS_HS_OK), -EINVAL);
    CHECK_EQ_INT(sk__ws_reject_response(out, 20, SK__WS_HS_BAD_KEY), -ENOSPC);
}

static void test_protocol_and_origin(void)
{
    static sk__http_request req;
    CHECK_EQ_INT(check_text(rfc_request, &req), SK__WS_HS_OK); /* "chat, superchat" */
    const char *both[] = {"superchat", "chat"};
    CHECK_EQ_INT(sk__ws_pick_protocol(&req, both, 2), 1); /* the client's preference wins */
    CHECK_EQ_INT(sk__ws_pick_protocol(&req, both, 1), 0);
    const char *other[] = {"mqtt", "Chat", "cha"};
    CHECK_EQ_INT(sk__ws_pick_protocol(&req, other, 3), -1); /* exact and case-sensitive */
    CHECK_EQ_INT(sk__ws_pick_protocol(&req, NULL, 0), -1);
    const char *two = edit("Sec-WebSocket-Protocol: chat, superchat\r\n",
                           "Sec-WebSocket-Protocol: a\r\nSec-WebSocket-Protocol: b,mqtt\r\n");
    CHECK_EQ_INT(check_text(two, &req), SK__WS_HS_OK);
    CHECK_EQ_INT(sk__ws_pick_protocol(&req, other, 3), 0);
    const char *none = edit("Sec-WebSocket-Protocol: chat, superchat\r\n", "");
    CHECK_EQ_INT(check_text(none, &req), SK__WS_HS_OK);
    CHECK_EQ_INT(sk__ws_pick_protocol(&req, both, 2), -1);

    /* origins: the RFC request has Origin: http://example.com */
    CHECK_EQ_INT(check_text(rfc_request, &req), SK__WS_HS_OK);
    const char *ok[] = {"https://other.org", "HTTP://Example.COM"};
    const char *no[] = {"https://example.com", "http://example.com:80", "http://example.co"};
    const char *star[] = {"https://other.org", "*"};
    CHECK(sk__ws_origin_allowed(&req, NULL, 0));
    CHECK(sk__ws_origin_allowed(&req, ok, 2));
    CHECK(!sk__ws_origin_allowed(&req, no, 3));
    CHECK(sk__ws_origin_allowed(&req, star, 2));
    CHECK_EQ_INT(check_text(edit("Origin: http://example.com\r\n", ""), &req), SK__WS_HS_OK);
    CHECK(sk__ws_origin_allowed(&req, no, 3)); /* no Origin: not a browser */
}

/* Client request -> server checks -> 101 -> client checks, end to end. */
static void test_client_side(void)
{
    char key[SK__WS_KEY_LEN + 1], key2[SK__WS_KEY_LEN + 1];
    CHECK_EQ_INT(sk__ws_make_key(key), 0);
    CHECK_EQ_INT(sk__ws_make_key(key2), 0);
    CHECK_EQ_INT(strlen(key), 24);
    CHECK(strcmp(key, key2) != 0);
    uint8_t raw[18];
    CHECK_EQ_INT(sk__base64_decode(key, 24, raw, sizeof raw), 16);

    char out[1024];
    int n = sk__ws_client_request(out, sizeof out, "[::1]:8080", "/chat?x=1", key, "chat, v2",
                                  "http://localhost");
    CHECK(n > 0);
    static sk__http_request req;
    CHECK_EQ_INT(parse_req(out, (size_t)n, &req), n);
    const char *k = NULL;
    size_t kl = 0;
    CHECK_EQ_INT(sk__ws_check_request(&req, &k, &kl), SK__WS_HS_OK);
    CHECK(kl == 24 && memcmp(k, key, 24) == 0);
    CHECK(req.path_len == 9 && memcmp(req.path, "/chat?x=1", 9) == 0);
    CHECK(sk__http_find(req.headers, req.num_headers, "Host") != NULL);
    const char *mine[] = {"v2"};
    int pick = sk__ws_pick_protocol(&req, mine, 1);
    CHECK_EQ_INT(pick, 0);

    char resp[512];
    int m = sk__ws_accept_response(resp, sizeof resp, k, kl, mine[pick]);
    CHECK(m > 0);
    memcpy(resp + m, "\x81\x02hi", 4); /* the first frame may come in the same read */
    static sk__http_response res;
    CHECK_EQ_INT(sk__http_parse_response(resp, (size_t)m + 4, &res), m);
    const char *proto = NULL;
    size_t pl = 0;
    CHECK_EQ_INT(sk__ws_check_response(&res, key, "chat, v2", &proto, &pl), SK__WS_HS_OK);
    CHECK(pl == 2 && memcmp(proto, "v2", 2) == 0);
    CHECK_EQ_INT(sk__ws_check_response(&res, key2, "chat, v2", &proto, &pl),
                 SK__WS_HS_BAD_ACCEPT);
    CHECK_EQ_INT(sk__ws_check_response(&res, key, "chat", &proto, &pl), SK__WS_HS_BAD_PROTOCOL);
    CHECK_EQ_INT(sk__ws_check_response(&res, key, NULL, &proto, &pl), SK__WS_HS_BAD_PROTOCOL);

    /* defaults: path "" is "/", no protocol, no origin */
    n = sk__ws_client_request(out, sizeof out, "example.com", "", key, NULL, NULL);
    CHECK(n > 0 && strncmp(out, "GET / HTTP/1.1\r\nHost: example.com\r\n", 35) == 0);
    CHECK(strstr(out, "Origin") == NULL && strstr(out, "Protocol") == NULL);
    CHECK_EQ_INT(sk__ws_client_request(out, (size_t)n, "example.com", "", key, NULL, NULL),
                 -ENOSPC);
    /* header injection and nonsense are refused */
    CHECK_EQ_INT(sk__ws_client_request(out, sizeof out, "", "/", key, NULL, NULL), -EINVAL);
    CHECK_EQ_INT(sk__ws_client_request(out, sizeof out, "a\r\nX: y", "/", key, NULL, NULL),
                 -EINVAL);
    CHECK_EQ_INT(sk__ws_client_request(out, sizeof out, "a", "/ HTTP/1.0", key, NULL, NULL),
                 -EINVAL);
    CHECK_EQ_INT(sk__ws_client_request(out, sizeof out, "a", "chat", key, NULL, NULL), -EINVAL);
    CHECK_EQ_INT(sk__ws_client_request(out, sizeof out, "a", "/", key, "a b", NULL), -EINVAL);
    CHECK_EQ_INT(sk__ws_client_request(out, sizeof out, "a", "/", key, ",", NULL), -EINVAL);
    CHECK_EQ_INT(sk__ws_client_request(out, sizeof out, "a", "/", key, NULL, "x\ny"), -EINVAL);
}

static void test_check_response(void)
{
    const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
    static const struct {
        const char *text;
        sk__ws_hs want;
    } cases[] = {
        {"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
         SK__WS_HS_OK},
        {"HTTP/1.1 101 OK\r\nupgrade: WebSocket\r\nconnection: keep-alive, upgrade\r\n"
         "sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Extensions:\r\n\r\n",
         SK__WS_HS_OK},
        {"HTTP/1.1 200 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
         SK__WS_HS_BAD_STATUS},
        {"HTTP/1.1 101 OK\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
         SK__WS_HS_NOT_UPGRADE},
        {"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n"
         "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
         SK__WS_HS_NO_CONNECTION},
        {"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
         SK__WS_HS_BAD_ACCEPT},
        {"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo\r\n\r\n",
         SK__WS_HS_BAD_ACCEPT},
        {"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: S3PPLMBITXAQ9KYGZZHZRBK+XOO=\r\n\r\n",
         SK__WS_HS_BAD_ACCEPT},
        {"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
         "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
         SK__WS_HS_BAD_EXTENSION},
        {"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
         "Sec-WebSocket-Protocol: chat\r\n\r\n",
         SK__WS_HS_OK},
        {"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
         "Sec-WebSocket-Protocol: chat, superchat\r\n\r\n",
         SK__WS_HS_BAD_PROTOCOL},
        {"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
         "Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: chat\r\n\r\n",
         SK__WS_HS_BAD_PROTOCOL},
        {"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
         "Sec-WebSocket-Protocol: mqtt\r\n\r\n",
         SK__WS_HS_BAD_PROTOCOL},
    };
    static sk__http_response res;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *t = cases[i].text;
        CHECK_EQ_INT(sk__http_parse_response(t, strlen(t), &res), strlen(t));
        const char *proto = "junk";
        size_t pl = 99;
        sk__ws_hs got = sk__ws_check_response(&res, key, "superchat, chat", &proto, &pl);
        if (got != cases[i].want)
            fprintf(stderr, "  response case %zu: %s\n", i, sk__ws_hs_text(got));
        CHECK_EQ_INT(got, cases[i].want);
        if (got == SK__WS_HS_OK && strstr(t, "Protocol") == NULL)
            CHECK(proto == NULL && pl == 0);
    }
}

/* ======================= guard page ======================= */

static void test_guard_page(void)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    size_t size = (SK__HTTP_MAX_HEAD + 2 * pg - 1) / pg * pg;
    char *map = mmap(NULL, size + pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(map != MAP_FAILED);
    if (map == MAP_FAILED)
        return;
    CHECK_EQ_INT(mprotect(map + size, pg, PROT_NONE), 0);
    char *end = map + size;
    static sk__http_request req;
    static sk__http_response res;
    const char *resp = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nA:\r\n\r\n";
    const char *texts[] = {rfc_request, resp, "GET / HTTP/1.1\nA: b\n\n", "HTTP/1.1 200\n\n"};
    for (size_t t = 0; t < 4; t++) {
        size_t n = strlen(texts[t]);
        for (size_t p = 0; p <= n; p++) {
            char *at = end - p;
            memcpy(at, texts[t], p);
            int a = sk__http_parse_request(at, p, &req);
            int b = sk__http_parse_response(at, p, &res);
            CHECK(a <= (int)p && b <= (int)p);
            if (p == n)
                CHECK((t % 2 == 0 ? a : b) == (int)n);
        }
    }
    /* a head that never ends, right up to the page: stops at the limit */
    memset(map, 'x', size);
    memcpy(end - SK__HTTP_MAX_HEAD - 100, "GET / HTTP/1.1\r\nA: ", 19);
    CHECK_EQ_INT(sk__http_parse_request(end - SK__HTTP_MAX_HEAD - 100, SK__HTTP_MAX_HEAD + 100,
                                        &req),
                 SK_EHTTPBIG);
    for (size_t p = SK__HTTP_MAX_HEAD - 40; p < SK__HTTP_MAX_HEAD; p++) {
        memcpy(end - p, "GET / HTTP/1.1\r\nA: ", 19);
        CHECK_EQ_INT(sk__http_parse_request(end - p, p, &req), 0);
    }
    /* base64 and SHA-1 over the edge */
    uint8_t d[32];
    memcpy(end - 24, "dGhlIHNhbXBsZSBub25jZQ==", 24);
    CHECK_EQ_INT(sk__base64_decode(end - 24, 24, d, sizeof d), 16);
    char acc[SK__WS_ACCEPT_LEN + 1];
    sk__ws_accept_value(end - 24, 24, acc);
    CHECK(strcmp(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0);
    munmap(map, size + pg);
}

int main(void)
{
    test_sha1();
    test_base64();
    test_parse_request();
    test_malformed();
    test_limits();
    test_parse_response();
    test_lookup();
    test_accept();
    test_check_request();
    test_reject_response();
    test_protocol_and_origin();
    test_client_side();
    test_check_response();
    test_guard_page();
    return check_done("test_http");
}
