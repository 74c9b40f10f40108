/* fuzz_cluster.c — libFuzzer target for what chat nodes receive from Redis
 * (untrusted: anyone who can PUBLISH to the channel): a message decodes or
 * fails; a decoded one encodes back to the same bytes; presence fields
 * parse or fail and print back the same; the bytes read as RESP by a hiredis
 * reader building its replies in an arena (net/redis_reply.c), fed in
 * pieces, give the same replies as hiredis's own functions fed at once, or
 * (over the arena's small limit) fail with the limit flagged; each reply
 * read as a page of the presence sweep's HSCAN is refused or gives a cursor
 * of digits and whole field/value pairs. */
#include <hiredis/hiredis.h>

#include "net/redis_reply.h"
#include "proto/cluster_msg.h"
#include "services/cluster_int.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define REQUIRE(cond) \
    do {              \
        if (!(cond))  \
            abort();  \
    } while (0)

static void check_message(const uint8_t *data, size_t size)
{
    sk__cmsg m;
    if (sk__cmsg_decode(data, size, &m) < 0)
        return;
    REQUIRE(m.node_len >= 1 && m.node_len <= SK__CMSG_NAME_MAX && m.nick_len <= SK__CMSG_NAME_MAX);
    REQUIRE(sk__cmsg_size(&m) == size);
    uint8_t *out = malloc(size);
    REQUIRE(sk__cmsg_encode(&m, out, size) == (long)size);
    REQUIRE(memcmp(out, data, size) == 0);
    free(out);
}

static void check_field(const uint8_t *data, size_t size)
{
    size_t nl;
    uint64_t id;
    if (sk__cmsg_parse_field((const char *)data, size, &nl, &id) < 0)
        return;
    char f[SK__CMSG_NAME_MAX + 24];
    size_t n = sk__cmsg_field(f, (const char *)data, nl, id);
    size_t nl2;
    uint64_t id2;
    REQUIRE(sk__cmsg_parse_field(f, n, &nl2, &id2) == 0 && nl2 == nl && id2 == id);
}

#define MAX_REPLIES 64

static void check_page(const redisReply *r)
{
    char cursor[CL_CURSOR_MAX + 1];
    redisReply *const *kv;
    size_t n;
    if (sk__scan_page(r, cursor, &kv, &n) < 0)
        return;
    size_t len = strlen(cursor);
    REQUIRE(len >= 1 && len <= CL_CURSOR_MAX && strspn(cursor, "0123456789") == len);
    REQUIRE(kv == r->element[1]->element && 2 * n == r->element[1]->elements);
}

/* 1 when an array header in data has 6 digits or more: hiredis's own
 * functions would calloc that many pointers (the fuzzer's memory limit),
 * so only the arena reader (which refuses it) reads such input. */
static int huge_array(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < size; i++) {
        size_t d = 0;
        while (data[i] == '*' && i + 1 + d < size && data[i + 1 + d] >= '0' &&
               data[i + 1 + d] <= '9')
            d++;
        if (d >= 6)
            return 1;
    }
    return 0;
}

static void check_resp(const uint8_t *data, size_t size)
{
    int compare = !huge_array(data, size);
    redisReader *want = redisReaderCreate(), *r = redisReaderCreate();
    int cut = 0;
    sk__redis_arena *a = sk__redis_arena_new(8192, &cut);
    REQUIRE(want && r && a);
    sk__redis_arena_use(r, a);
    void *w[MAX_REPLIES], *reply;
    size_t nw = 0, got = 0;
    if (compare)
        redisReaderFeed(want, (const char *)data, size);
    int want_rc = REDIS_OK;
    while (compare && nw < MAX_REPLIES && (want_rc = redisReaderGetReply(want, &reply)) == REDIS_OK && reply)
        w[nw++] = reply;
    int rc = REDIS_OK;
    size_t step = size ? 1 + data[0] % 7 : 1; /* pieces of 1..7 bytes */
    for (size_t at = 0; at < size && rc == REDIS_OK && (got < nw || !compare); at += step) {
        redisReaderFeed(r, (const char *)data + at, size - at < step ? size - at : step);
        while ((got < nw || !compare) && (rc = redisReaderGetReply(r, &reply)) == REDIS_OK &&
               reply) {
            REQUIRE(!compare || sk__redis_reply_same(reply, w[got]));
            check_page(reply);
            got++;
            r->fn->freeObject(reply);
            REQUIRE(sk__redis_arena_live(a) == 0 && sk__redis_arena_held(a) == 0);
        }
    }
    /* Fewer replies only when the arena refused one (or hiredis failed too). */
    REQUIRE(!compare || got == nw || cut || want_rc != REDIS_OK);
    for (size_t i = 0; i < nw; i++)
        freeReplyObject(w[i]);
    sk__redis_arena_free(r, a);
    redisReaderFree(r);
    redisReaderFree(want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_message(data, size);
    check_field(data, size);
    check_resp(data, size);
    return 0;
}
