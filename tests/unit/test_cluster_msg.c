/* test_cluster_msg.c — unit tests for the chat cluster's wire format and
 * settings: round trips of every kind, every truncation and every single
 * byte change of a message decoded from an exact-size copy (ASan catches an
 * over-read), limits, presence fields, and the redis:// URL. */
#include "proto/cluster_msg.h"

#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "services/cluster_url.h"
#include "sockit/error.h"

/* Decodes len bytes from a heap copy of exactly that size. */
static int decode_copy(const uint8_t *buf, size_t len, sk__cmsg *m)
{
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, buf, len);
    int r = sk__cmsg_decode(copy, len, m);
    if (r == 0) /* touch every field while the copy is alive */
        CHECK(m->node_len >= 1 && m->text_len <= SK__CMSG_TEXT_MAX &&
              (m->text_len == 0 || m->text[m->text_len - 1] == copy[len - 1]));
    free(copy);
    return r;
}

static void test_round_trip(void)
{
    const int kinds[] = {SK__CMSG_TEXT, SK__CMSG_JOIN, SK__CMSG_LEAVE, SK__CMSG_QUIT};
    uint8_t buf[512];
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        sk__cmsg m = {.kind = kinds[k], .node = "host:42", .node_len = 7, .seq = 0x0102030405060708ull,
                      .id = 77, .nick = "alice", .nick_len = 5,
                      .text = (const uint8_t *)"alice: hi\0there", .text_len = 15};
        long n = sk__cmsg_encode(&m, buf, sizeof buf);
        CHECK_EQ_INT(n, (long)sk__cmsg_size(&m));
        sk__cmsg d;
        CHECK_EQ_INT(decode_copy(buf, (size_t)n, &d), 0);
        uint8_t *copy = malloc((size_t)n);
        memcpy(copy, buf, (size_t)n);
        CHECK_EQ_INT(sk__cmsg_decode(copy, (size_t)n, &d), 0);
        CHECK_EQ_INT(d.kind, kinds[k]);
        CHECK(d.node_len == 7 && memcmp(d.node, "host:42", 7) == 0);
        CHECK(d.seq == m.seq && d.id == 77);
        CHECK(d.nick_len == 5 && memcmp(d.nick, "alice", 5) == 0);
        CHECK(d.text_len == 15 && memcmp(d.text, "alice: hi\0there", 15) == 0);
        free(copy);
    }
}

/* Every prefix: shorter than the header fails; longer decodes with the text
 * cut (the text runs to the end of a PUBLISH payload). Every byte changed
 * decodes or fails, never reads out of bounds. */
static void test_split_and_corrupt(void)
{
    uint8_t buf[256];
    sk__cmsg m = {.kind = SK__CMSG_JOIN, .node = "n1", .node_len = 2, .seq = 9, .id = 3,
                  .nick = "bob", .nick_len = 3, .text = (const uint8_t *)"xyz", .text_len = 3};
    long n = sk__cmsg_encode(&m, buf, sizeof buf);
    size_t head = (size_t)n - 3;
    for (size_t len = 0; len <= (size_t)n; len++) {
        sk__cmsg d;
        int r = decode_copy(buf, len, &d);
        CHECK_EQ_INT(r, len >= head ? 0 : -1);
        if (r == 0)
            CHECK_EQ_INT(d.text_len, len - head);
    }
    for (size_t i = 0; i < (size_t)n; i++)
        for (int v = 0; v < 256; v += 7) {
            uint8_t c[256];
            memcpy(c, buf, (size_t)n);
            c[i] = (uint8_t)v;
            sk__cmsg d;
            decode_copy(c, (size_t)n, &d);
        }
}

static void test_limits(void)
{
    uint8_t buf[400];
    char name[SK__CMSG_NAME_MAX + 2];
    memset(name, 'n', sizeof name);
    sk__cmsg m = {.kind = SK__CMSG_TEXT, .node = name, .node_len = SK__CMSG_NAME_MAX};
    CHECK(sk__cmsg_encode(&m, buf, sizeof buf) > 0);
    m.node_len++;
    CHECK_EQ_INT(sk__cmsg_encode(&m, buf, sizeof buf), -1); /* node name too long */
    m.node_len = 0;
    CHECK_EQ_INT(sk__cmsg_encode(&m, buf, sizeof buf), -1); /* no node name */
    m.node_len = 1;
    m.kind = 'Z';
    CHECK_EQ_INT(sk__cmsg_encode(&m, buf, sizeof buf), -1); /* unknown kind */
    m.kind = SK__CMSG_TEXT;
    m.text_len = SK__CMSG_TEXT_MAX + 1;
    CHECK_EQ_INT(sk__cmsg_encode(&m, buf, sizeof buf), -1); /* text too long */
    m.text_len = 0;
    CHECK_EQ_INT(sk__cmsg_encode(&m, buf, 10), -1);         /* no room */
    /* A length byte over the limit is refused before use. */
    long n = sk__cmsg_encode(&m, buf, sizeof buf);
    sk__cmsg d;
    buf[5] = SK__CMSG_NAME_MAX + 1;
    CHECK_EQ_INT(decode_copy(buf, (size_t)n, &d), -1);
    /* Wrong magic; a whole message over the maximum is refused unread. */
    buf[5] = 1;
    buf[0] = 'X';
    CHECK_EQ_INT(decode_copy(buf, (size_t)n, &d), -1);
    buf[0] = 'S';
    CHECK_EQ_INT(sk__cmsg_decode(buf, (size_t)SK__CMSG_MAX + 1, &d), -1);
}

static void test_fields(void)
{
    char f[SK__CMSG_NAME_MAX + 24];
    size_t n = sk__cmsg_field(f, "web-1:99", 8, 18446744073709551615ull), nl;
    uint64_t id;
    CHECK(n == strlen("web-1:99/18446744073709551615") && memcmp(f, "web-1:99/", 9) == 0);
    CHECK_EQ_INT(sk__cmsg_parse_field(f, n, &nl, &id), 0);
    CHECK(nl == 8 && id == 18446744073709551615ull);
    const char *bad[] = {"", "/", "a/", "/1", "a/1x", "a b/1", "a/184467440737095516150",
                         "a/99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ_INT(sk__cmsg_parse_field(bad[i], strlen(bad[i]), &nl, &id), -1);
    CHECK(sk__cmsg_valid_name("a:1", 3) && !sk__cmsg_valid_name("a/b", 3) &&
          !sk__cmsg_valid_name("a b", 3) && !sk__cmsg_valid_name("", 0));
}

static void test_url(void)
{
    char ip[64], err[256];
    int port;
    CHECK_EQ_INT(sk__cluster_resolve("redis://127.0.0.1:7000", ip, sizeof ip, &port, err, sizeof err), 0);
    CHECK(strcmp(ip, "127.0.0.1") == 0 && port == 7000);
    CHECK_EQ_INT(sk__cluster_resolve("redis://127.0.0.1/", ip, sizeof ip, &port, err, sizeof err), 0);
    CHECK_EQ_INT(port, 6379);
    CHECK_EQ_INT(sk__cluster_resolve("redis://[::1]:7001", ip, sizeof ip, &port, err, sizeof err), 0);
    CHECK(strcmp(ip, "::1") == 0 && port == 7001);
    const char *bad[] = {"redis://", "redis://:1", "http://127.0.0.1:1", "redis://127.0.0.1:0",
                         "redis://127.0.0.1:65536", "redis://127.0.0.1:1x", "redis://[::1",
                         "redis://[::1]x", "redis://a@127.0.0.1:1", "redis://127.0.0.1:1/db"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        CHECK_EQ_INT(sk__cluster_resolve(bad[i], ip, sizeof ip, &port, err, sizeof err), SK_EURL);
        CHECK(err[0] && !strchr(err, '\n'));
    }
    CHECK_EQ_INT(sk_cluster_check("redis://127.0.0.1:1", "room", "a/b", err, sizeof err), SK_EURL);
    CHECK_EQ_INT(sk_cluster_check("redis://127.0.0.1:1", NULL, NULL, err, sizeof err), 0);
}

int main(void)
{
    test_round_trip();
    test_split_and_corrupt();
    test_limits();
    test_fields();
    test_url();
    return check_done("test_cluster_msg");
}
