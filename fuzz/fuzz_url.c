/* fuzz_url.c — libFuzzer target for endpoint URLs: any input parses or fails with a
 * one-line reason; a parsed URL prints to text that parses back to the same struct. */
#include "sockit/addr.h"
#include "sockit/error.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#define REQUIRE(cond) \
    do {              \
        if (!(cond))  \
            abort();  \
    } while (0)

/* Zeroes *out before parsing so whole structs compare with memcmp. */
static int parse(const char *text, sk_url *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    return sk_url_parse(text, out, err, errlen);
}

/* Literal hosts resolve without DNS; names are never looked up here. */
static int is_literal(const char *host)
{
    return strcmp(host, "*") == 0 || strchr(host, ':') ||
           strspn(host, "0123456789.") == strlen(host);
}

static void check_resolve(const sk_url *u)
{
    sk_sockaddr sa[4];
    char err[256], buf[256];
    int n = sk_url_resolve(u, 1, sa, 4, err, sizeof err);
    REQUIRE(n >= 1 && n <= 2);
    for (int i = 0; i < n; i++) {
        int len = sk_sockaddr_format((struct sockaddr *)&sa[i].ss, sa[i].len, buf, sizeof buf);
        REQUIRE(len == (int)strlen(buf) && len > 0);
    }
    if (sk_url_is_unix(u)) { /* prints back as the path it came from */
        REQUIRE(n == 1);
        sk_sockaddr_format((struct sockaddr *)&sa[0].ss, sa[0].len, buf, sizeof buf);
        REQUIRE(strcmp(buf, u->path) == 0);
    }
}

/* Arbitrary bytes as a socket address of exactly that length. */
static void check_sockaddr(const uint8_t *data, size_t size)
{
    if (size > sizeof(struct sockaddr_storage))
        size = sizeof(struct sockaddr_storage);
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    char buf[300];
    int n = sk_sockaddr_format((const struct sockaddr *)copy, (socklen_t)size, buf, sizeof buf);
    REQUIRE(n == (int)strlen(buf) && n > 0);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';

    sk_url a, b;
    char err[256], canon[512], again[512];
    int rc = parse(text, &a, err, sizeof err);
    REQUIRE(rc == 0 || rc == SK_EURL);
    REQUIRE(strlen(err) < sizeof err && strchr(err, '\n') == NULL);
    if (rc != 0) {
        REQUIRE(err[0] != '\0');
    } else {
        REQUIRE(err[0] == '\0');
        int n = sk_url_format(&a, canon, sizeof canon);
        REQUIRE(n == (int)strlen(canon) && n < (int)sizeof canon - 1);
        REQUIRE(parse(canon, &b, err, sizeof err) == 0);
        REQUIRE(memcmp(&a, &b, sizeof a) == 0);
        sk_url_format(&b, again, sizeof again);
        REQUIRE(strcmp(canon, again) == 0);
        if (sk_url_is_unix(&a) || is_literal(a.host))
            check_resolve(&a);
    }
    check_sockaddr(data, size);
    free(text);
    return 0;
}
