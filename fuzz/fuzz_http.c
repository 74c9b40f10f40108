/* fuzz_http.c — libFuzzer target for the HTTP head parsers and the WebSocket handshake:
 * parses the input as a request and as a response, checks invariants, round-trips upgrades.
 *
 * Input: byte 0 picks the prefix lengths tried (a PRNG seed); the rest is the head. Every
 * parse runs on an exact-size heap copy so ASan sees any over-read. A parsed head must
 * be reported the same way by every longer buffer and "need more" by every shorter one;
 * a valid upgrade request must produce a 101 that the client side accepts. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/http.h"
#include "proto/ws_handshake.h"
#include "sockit/error.h"

#define REQUIRE(c)       \
    do {                 \
        if (!(c))        \
            abort();     \
    } while (0)

static bool within(const char *p, size_t n, const char *buf, size_t len)
{
    return p >= buf && p + n <= buf + len;
}

static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static void check_headers(const sk__http_header *h, size_t n, const char *buf, size_t k)
{
    REQUIRE(n <= SK__HTTP_MAX_HEADERS);
    for (size_t i = 0; i < n; i++) {
        REQUIRE(h[i].name_len > 0 && within(h[i].name, h[i].name_len, buf, k));
        REQUIRE(within(h[i].value, h[i].value_len, buf, k));
        for (size_t j = 0; j < h[i].name_len; j++)
            REQUIRE(is_tchar((unsigned char)h[i].name[j]));
        for (size_t j = 0; j < h[i].value_len; j++)
            REQUIRE(h[i].value[j] != '\r' && h[i].value[j] != '\n' && h[i].value[j] != 0);
        if (h[i].value_len) {
            REQUIRE(h[i].value[0] != ' ' && h[i].value[0] != '\t');
            char last = h[i].value[h[i].value_len - 1];
            REQUIRE(last != ' ' && last != '\t');
        }
        if (h[i].name_len < 64) { /* lookup finds this header or an earlier one */
            char name[64];
            memcpy(name, h[i].name, h[i].name_len);
            name[h[i].name_len] = '\0';
            const sk__http_header *f = sk__http_find(h, n, name);
            REQUIRE(f != NULL && f <= &h[i]);
        }
    }
}

static int parse_req_copy(const char *data, size_t len, sk__http_request *req, char **keep)
{
    char *buf = malloc(len + 1);
    REQUIRE(buf != NULL);
    if (len)
        memcpy(buf, data, len);
    int rc = sk__http_parse_request(buf, len, req);
    REQUIRE(rc == 0 || rc == SK_EHTTP || rc == SK_EHTTPBIG || (rc > 0 && (size_t)rc <= len));
    REQUIRE(rc != SK_EHTTPBIG || len >= SK__HTTP_MAX_HEAD || req->num_headers == 64);
    REQUIRE(rc <= SK__HTTP_MAX_HEAD);
    if (rc > 0) {
        REQUIRE(within(req->method, req->method_len, buf, (size_t)rc) && req->method_len > 0);
        REQUIRE(within(req->path, req->path_len, buf, (size_t)rc) && req->path_len > 0);
        REQUIRE(req->minor_version >= 0 && req->minor_version <= 9);
        check_headers(req->headers, req->num_headers, buf, (size_t)rc);
    }
    if (keep)
        *keep = buf;
    else
        free(buf);
    return rc;
}

static int parse_res_copy(const char *data, size_t len, sk__http_response *res, char **keep)
{
    char *buf = malloc(len + 1);
    REQUIRE(buf != NULL);
    if (len)
        memcpy(buf, data, len);
    int rc = sk__http_parse_response(buf, len, res);
    REQUIRE(rc == 0 || rc == SK_EHTTP || rc == SK_EHTTPBIG || (rc > 0 && (size_t)rc <= len));
    if (rc > 0) {
        REQUIRE(res->status >= 100 && res->status <= 999);
        REQUIRE(within(res->reason, res->reason_len, buf, (size_t)rc));
        check_headers(res->headers, res->num_headers, buf, (size_t)rc);
    }
    if (keep)
        *keep = buf;
    else
        free(buf);
    return rc;
}

/* The answer for a refused request parses back with the right status. */
static void check_reject(sk__ws_hs why)
{
    char out[256];
    int n = sk__ws_reject_response(out, sizeof out, why);
    REQUIRE(n > 0);
    static sk__http_response res;
    REQUIRE(sk__http_parse_response(out, (size_t)n, &res) > 0);
    REQUIRE(res.status == sk__ws_hs_status(why));
}

/* A valid upgrade: answer it, and the client side must accept the answer. */
static void check_upgrade(const sk__http_request *req, const char *key, size_t key_len)
{
    static const char *const allowed[] = {"chat", "superchat", "v2.example"};
    int pick = sk__ws_pick_protocol(req, allowed, 3);
    REQUIRE(pick >= -1 && pick < 3);
    const char *proto = pick >= 0 ? allowed[pick] : NULL;
    char out[512];
    int n = sk__ws_accept_response(out, sizeof out, key, key_len, proto);
    REQUIRE(n > 0);
    static sk__http_response res;
    REQUIRE(sk__http_parse_response(out, (size_t)n, &res) == n);
    char k[SK__WS_KEY_LEN + 1];
    REQUIRE(key_len == SK__WS_KEY_LEN);
    memcpy(k, key, key_len);
    k[key_len] = '\0';
    const char *got = NULL;
    size_t gl = 0;
    REQUIRE(sk__ws_check_response(&res, k, "chat, superchat, v2.example", &got, &gl) ==
            SK__WS_HS_OK);
    REQUIRE(proto == NULL ? got == NULL : (gl == strlen(proto) && memcmp(got, proto, gl) == 0));
    /* and the same client request comes back through the parser */
    int m = sk__ws_client_request(out, sizeof out, "example.com", "/", k, "chat", NULL);
    REQUIRE(m > 0);
    static sk__http_request again;
    const char *k2 = NULL;
    size_t kl2 = 0;
    REQUIRE(sk__http_parse_request(out, (size_t)m, &again) == m);
    REQUIRE(sk__ws_check_request(&again, &k2, &kl2) == SK__WS_HS_OK);
    REQUIRE(kl2 == key_len && memcmp(k2, key, key_len) == 0);
}

static uint32_t xorshift32(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

/* Shorter buffers say "need more" (or the same error), longer ones the same. */
static void check_prefixes(const char *data, size_t size, int full, uint8_t seed_byte, bool request)
{
    uint32_t seed = seed_byte * 2654435761u + 7;
    static sk__http_request req;
    static sk__http_response res;
    for (int i = 0; i < 8 && size > 0; i++) {
        size_t p = xorshift32(&seed) % (size + 1);
        int rc = request ? parse_req_copy(data, p, &req, NULL) : parse_res_copy(data, p, &res, NULL);
        if (full > 0)
            REQUIRE(p < (size_t)full ? rc == 0 : rc == full);
        else if (full < 0)
            REQUIRE(rc == 0 || rc == full);
        else
            REQUIRE(rc == 0);
    }
}

static void fuzz_request(const char *data, size_t size, uint8_t how)
{
    static sk__http_request req;
    char *buf = NULL;
    int rc = parse_req_copy(data, size, &req, &buf);
    check_prefixes(data, size, rc, how, true);
    if (rc > 0) {
        const char *key = NULL;
        size_t kl = 0;
        sk__ws_hs why = sk__ws_check_request(&req, &key, &kl);
        static const char *const origins[] = {"http://example.com", "null"};
        (void)sk__ws_origin_allowed(&req, origins, 2);
        if (why == SK__WS_HS_OK)
            check_upgrade(&req, key, kl);
        else
            check_reject(why);
    }
    free(buf);
}

static void fuzz_response(const char *data, size_t size, uint8_t how)
{
    static sk__http_response res;
    char *buf = NULL;
    int rc = parse_res_copy(data, size, &res, &buf);
    check_prefixes(data, size, rc, how, false);
    if (rc > 0) {
        const char *proto = NULL;
        size_t pl = 0;
        sk__ws_hs why =
            sk__ws_check_response(&res, "dGhlIHNhbXBsZSBub25jZQ==", "chat, superchat", &proto, &pl);
        REQUIRE(why == SK__WS_HS_OK || why >= SK__WS_HS_NOT_UPGRADE);
        if (why == SK__WS_HS_OK && proto != NULL)
            REQUIRE(within(proto, pl, buf, (size_t)rc) && (pl == 4 || pl == 9));
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t how = data[0];
    const char *s = (const char *)data + 1;
    size--;
    fuzz_request(s, size, how);
    fuzz_response(s, size, how);
    /* base64 of the key, whatever it is */
    char acc[SK__WS_ACCEPT_LEN + 1];
    sk__ws_accept_value(s, size, acc);
    REQUIRE(strlen(acc) == SK__WS_ACCEPT_LEN);
    return 0;
}
