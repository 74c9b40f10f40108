/* fuzz_cluster.c — libFuzzer target for what chat nodes receive from Redis
 * (untrusted: anyone who can PUBLISH to the channel): a message decodes or
 * fails; a decoded one encodes back to the same bytes; presence fields
 * parse or fail and print back the same. */
#include "proto/cluster_msg.h"

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_message(data, size);
    check_field(data, size);
    return 0;
}
