/* test_cluster_scan.c — unit tests for one page of the presence sweep's
 * HSCAN (src/services/cluster_scan.c): replies read by an arena reader fed
 * whole, byte by byte and in random splits; good pages give their cursor and
 * pairs, every malformed shape is refused. */
#include <hiredis/hiredis.h>
#include <string.h>

#include "check.h"
#include "net/redis_reply.h"
#include "services/cluster_int.h"

/* Reads the one reply in `in` (fed in pieces of step bytes, 0: random) and
 * returns sk__scan_page's verdict; cursor and the first field copied out. */
static int page(const char *in, size_t len, size_t step, uint32_t seed, char *cursor,
                size_t *npairs, char *first)
{
    sk__redis_arena *a = sk__redis_arena_new(1 << 20, NULL);
    redisReader *r = redisReaderCreate();
    sk__redis_arena_use(r, a);
    void *reply = NULL;
    for (size_t at = 0; at < len && !reply;) {
        size_t n = step ? step : 1 + xorshift32(&seed) % 16;
        n = n > len - at ? len - at : n;
        redisReaderFeed(r, in + at, n);
        at += n;
        CHECK_EQ_INT(redisReaderGetReply(r, &reply), REDIS_OK);
    }
    int rc = -2; /* no reply at all */
    if (reply) {
        redisReply *const *kv;
        rc = sk__scan_page(reply, cursor, &kv, npairs);
        if (rc == 0 && *npairs && kv[0]->type == REDIS_REPLY_STRING)
            snprintf(first, 32, "%s", kv[0]->str);
        r->fn->freeObject(reply);
    }
    sk__redis_arena_free(r, a);
    redisReaderFree(r);
    return rc;
}

/* The same verdict (and results) whole, byte by byte and in 30 random splits. */
static int verdict(const char *in, char *cursor, size_t *npairs, char *first)
{
    size_t len = strlen(in);
    first[0] = 0;
    int rc = page(in, len, len, 0, cursor, npairs, first);
    for (uint32_t seed = 0; seed <= 30; seed++) {
        char c2[CL_CURSOR_MAX + 1] = "", f2[32] = "";
        size_t n2 = 0;
        CHECK_EQ_INT(page(in, len, seed ? 0 : 1, seed * 2654435761u, c2, &n2, f2), rc);
        if (rc == 0)
            CHECK(strcmp(c2, cursor) == 0 && n2 == *npairs && strcmp(f2, first) == 0);
    }
    return rc;
}

static void test_good(void)
{
    char cursor[CL_CURSOR_MAX + 1], first[32] = "";
    size_t n = 99;
    CHECK_EQ_INT(verdict("*2\r\n$3\r\n176\r\n*4\r\n$4\r\nA/12\r\n$5\r\nalice\r\n$3\r\nB/3\r\n"
                         "$3\r\nbob\r\n", cursor, &n, first), 0);
    CHECK(strcmp(cursor, "176") == 0 && n == 2 && strcmp(first, "A/12") == 0);
    CHECK_EQ_INT(verdict("*2\r\n$1\r\n0\r\n*0\r\n", cursor, &n, first), 0);
    CHECK(strcmp(cursor, "0") == 0 && n == 0);
    CHECK_EQ_INT(verdict("*2\r\n$20\r\n18446744073709551615\r\n*2\r\n:1\r\n$-1\r\n", cursor, &n,
                         first), 0); /* odd element types are the sweep's to skip */
    CHECK(strcmp(cursor, "18446744073709551615") == 0 && n == 1);
}

static void test_refused(void)
{
    static const char *bad[] = {
        "+OK\r\n", "-ERR no\r\n", ":0\r\n", "$-1\r\n", "*-1\r\n", "*0\r\n",
        "*1\r\n$1\r\n0\r\n",                           /* no pairs */
        "*3\r\n$1\r\n0\r\n*0\r\n*0\r\n",               /* one too many */
        "*2\r\n:0\r\n*0\r\n",                          /* cursor not a string */
        "*2\r\n$0\r\n\r\n*0\r\n",                      /* empty cursor */
        "*2\r\n$2\r\n-1\r\n*0\r\n",                    /* not digits */
        "*2\r\n$21\r\n123456789012345678901\r\n*0\r\n", /* too long */
        "*2\r\n$1\r\n0\r\n$1\r\nx\r\n",                /* pairs not an array */
        "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nf\r\n",          /* odd count */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char cursor[CL_CURSOR_MAX + 1] = "x", first[32] = "";
        size_t n = 99;
        CHECK_EQ_INT(verdict(bad[i], cursor, &n, first), -1);
        CHECK(strcmp(cursor, "x") == 0 && n == 99); /* nothing written */
    }
}

int main(void)
{
    test_good();
    test_refused();
    return check_done("test_cluster_scan");
}
