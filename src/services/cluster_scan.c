/* cluster_scan.c — one page of the presence sweep's HSCAN, as Redis (or
 * whoever answers on its port) sent it: checked for shape before anything
 * is taken from it, the cursor kept as the digits to send back. */
#include "services/cluster_int.h"

#include <hiredis/hiredis.h>
#include <string.h>

int sk__scan_page(const redisReply *r, char cursor[CL_CURSOR_MAX + 1], redisReply *const **pairs,
                  size_t *npairs)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2)
        return -1;
    const redisReply *c = r->element[0], *kv = r->element[1];
    if (c->type != REDIS_REPLY_STRING || c->len < 1 || c->len > CL_CURSOR_MAX ||
        kv->type != REDIS_REPLY_ARRAY || kv->elements % 2)
        return -1;
    for (size_t i = 0; i < c->len; i++)
        if (c->str[i] < '0' || c->str[i] > '9')
            return -1;
    memcpy(cursor, c->str, c->len);
    cursor[c->len] = 0;
    *pairs = kv->element;
    *npairs = kv->elements / 2;
    return 0;
}
