/* scratch.c — one reusable buffer per thread for services that build a reply
 * before sending it (upper, exec). Below server.c, shard.c and the services. */
#include "services/service.h"

#include <stdlib.h>

/* One scratch buffer per thread: services on different shards never share. */
static __thread uint8_t *scratch;
static __thread size_t scratch_cap;

uint8_t *sk__server_scratch(sk_server *s, size_t len)
{
    if (len > scratch_cap) {
        uint8_t *p = realloc(scratch, len);
        if (!p)
            return NULL;
        scratch = p;
        scratch_cap = len;
    }
    return scratch ? scratch : (uint8_t *)"";
}

void sk__server_free_scratch(void)
{
    free(scratch);
    scratch = NULL;
    scratch_cap = 0;
}
