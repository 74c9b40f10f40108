/* test_redis_reply.c — unit tests for hiredis replies built in an arena
 * (src/net/redis_reply.c): every reply kind, fed whole, byte by byte and in
 * random splits, gives the same tree as hiredis's own reply functions; the
 * arena is back to empty after each reply is freed; a reply over the limit
 * (long string, huge element count) is refused before allocation and
 * flagged; a reader freed mid-reply or failing mid-reply leaks nothing
 * (ASan). */
#include "net/redis_reply.h"

#include <hiredis/hiredis.h>
#include <string.h>

#include "check.h"

/* The replies hiredis's own reader makes of all of in (at most 16). */
static size_t expected(const char *in, size_t len, redisReply **out)
{
    redisReader *r = redisReaderCreate();
    size_t n = 0;
    void *reply;
    redisReaderFeed(r, in, len);
    while (n < 16 && redisReaderGetReply(r, &reply) == REDIS_OK && reply)
        out[n++] = reply;
    redisReaderFree(r);
    return n;
}

/* Feeds in to an arena reader in pieces (step 0: random sizes from seed),
 * checking each reply against want as it completes and freeing it the way
 * hiredis does; returns the number of replies. */
static size_t feed(const char *in, size_t len, size_t step, uint32_t seed, redisReply **want,
                   size_t nwant)
{
    int cut = 0;
    sk__redis_arena *a = sk__redis_arena_new(1 << 20, &cut);
    redisReader *r = redisReaderCreate();
    sk__redis_arena_use(r, a);
    size_t got = 0;
    for (size_t at = 0; at < len;) {
        size_t n = step ? step : 1 + xorshift32(&seed) % 40;
        n = n > len - at ? len - at : n;
        CHECK_EQ_INT(redisReaderFeed(r, in + at, n), REDIS_OK);
        at += n;
        void *reply;
        while (redisReaderGetReply(r, &reply) == REDIS_OK && reply) {
            CHECK(got < nwant && sk__redis_reply_same(reply, want[got]));
            got++;
            CHECK_EQ_INT(sk__redis_arena_live(a), 1);
            r->fn->freeObject(reply);
            CHECK_EQ_INT(sk__redis_arena_live(a), 0);
            CHECK_EQ_INT(sk__redis_arena_held(a), 0);
        }
    }
    CHECK_EQ_INT(cut, 0);
    sk__redis_arena_free(r, a);
    redisReaderFree(r);
    return got;
}

static void check_input(const char *in, size_t len, size_t nreplies)
{
    redisReply *want[16];
    size_t n = expected(in, len, want);
    CHECK_EQ_INT(n, nreplies);
    CHECK_EQ_INT(feed(in, len, len, 0, want, n), n);
    CHECK_EQ_INT(feed(in, len, 1, 0, want, n), n);
    for (uint32_t seed = 1; seed < 40; seed++)
        CHECK_EQ_INT(feed(in, len, 0, seed * 2654435761u, want, n), n);
    for (size_t i = 0; i < n; i++)
        freeReplyObject(want[i]);
}

static void test_kinds(void)
{
    static const char msg[] = "*3\r\n$7\r\nmessage\r\n$11\r\nsockit:chat\r\n$9\r\nSKC1\0\r\nab\r\n";
    check_input(msg, sizeof msg - 1, 1);
    static const char sub[] = "*3\r\n$9\r\nsubscribe\r\n$11\r\nsockit:chat\r\n:1\r\n";
    check_input(sub, sizeof sub - 1, 1);
    static const char many[] = "+OK\r\n-ERR wrong\r\n:-42\r\n$-1\r\n*-1\r\n*0\r\n$0\r\n\r\n"
                               "*2\r\n*2\r\n$1\r\na\r\n$-1\r\n*1\r\n*1\r\n:7\r\n"
                               "*4\r\n$3\r\nkey\r\n+st\r\n:0\r\n*0\r\n";
    check_input(many, sizeof many - 1, 9);
}

/* A string longer than one chunk takes a chunk of its own, freed with it. */
static void test_long_string(void)
{
    size_t n = 100000;
    char *in = malloc(n + 64);
    int len = snprintf(in, 64, "*2\r\n$1\r\nx\r\n$%zu\r\n", n);
    for (size_t i = 0; i < n; i++)
        in[len + (int)i] = (char)('a' + i % 26);
    memcpy(in + len + n, "\r\n:5\r\n", 6);
    check_input(in, (size_t)len + n + 6, 2);
    free(in);
}

/* Over the limit: refused (hiredis's reader fails "out of memory"), the
 * flag set, the partial reply dropped. */
static void refused(const char *in, size_t len, size_t max)
{
    int cut = 0;
    sk__redis_arena *a = sk__redis_arena_new(max, &cut);
    redisReader *r = redisReaderCreate();
    sk__redis_arena_use(r, a);
    void *reply = NULL;
    int rc = REDIS_OK;
    for (size_t i = 0; i < len && rc == REDIS_OK; i++) { /* byte by byte */
        redisReaderFeed(r, in + i, 1);
        rc = redisReaderGetReply(r, &reply);
    }
    CHECK_EQ_INT(rc, REDIS_ERR);
    CHECK(reply == NULL);
    CHECK_EQ_INT(cut, 1);
    CHECK_EQ_INT(sk__redis_arena_live(a), 0);
    CHECK_EQ_INT(sk__redis_arena_held(a), 0);
    sk__redis_arena_free(r, a);
    redisReaderFree(r);
}

static void test_limits(void)
{
    static const char big[] = "*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$300\r\n";
    char in[512];
    memcpy(in, big, sizeof big - 1);
    memset(in + sizeof big - 1, 'x', 300);
    memcpy(in + sizeof big - 1 + 300, "\r\n", 2);
    refused(in, sizeof big - 1 + 302, 256);
    static const char huge[] = "*1000000000\r\n";
    refused(huge, sizeof huge - 1, 1 << 20);
    static const char wide[] = "*200\r\n"; /* 200 elements' pointers > 1 KiB */
    refused(wide, sizeof wide - 1, 1024);
}

/* The reader freed (or failing) in the middle of a nested reply. */
static void test_mid_reply(void)
{
    static const char part[] = "*2\r\n*3\r\n$3\r\nabc\r\n:1\r\n";
    int cut = 0;
    sk__redis_arena *a = sk__redis_arena_new(1 << 16, &cut);
    redisReader *r = redisReaderCreate();
    sk__redis_arena_use(r, a);
    void *reply;
    redisReaderFeed(r, part, sizeof part - 1);
    CHECK_EQ_INT(redisReaderGetReply(r, &reply), REDIS_OK);
    CHECK(reply == NULL && sk__redis_arena_live(a) == 1 && sk__redis_arena_held(a) > 0);
    redisReaderFeed(r, "?bad\r\n", 6); /* a protocol error drops the partial reply */
    CHECK_EQ_INT(redisReaderGetReply(r, &reply), REDIS_ERR);
    CHECK_EQ_INT(sk__redis_arena_live(a), 0);
    CHECK_EQ_INT(sk__redis_arena_held(a), 0);
    CHECK_EQ_INT(cut, 0);
    sk__redis_arena_free(r, a);
    redisReaderFree(r);

    a = sk__redis_arena_new(1 << 16, &cut);
    r = redisReaderCreate();
    sk__redis_arena_use(r, a);
    redisReaderFeed(r, part, sizeof part - 1);
    CHECK_EQ_INT(redisReaderGetReply(r, &reply), REDIS_OK);
    sk__redis_arena_free(r, a); /* as the loop adapter does before hiredis frees r */
    redisReaderFree(r);
}

int main(void)
{
    test_kinds();
    test_long_string();
    test_limits();
    test_mid_reply();
    return check_done("test_redis_reply");
}
