/* upper.c — the uppercase service (tutorial T3): every message comes back
 * with ASCII letters upper-cased; other bytes, UTF-8 included, unchanged. */
#include "services/service.h"

static void upper_message(sk__peer *p, const uint8_t *msg, size_t len)
{
    uint8_t *out = sk__server_scratch(p->srv, len);
    if (!out) {
        sk__peer_close(p);
        return;
    }
    for (size_t i = 0; i < len; i++)
        out[i] = (msg[i] >= 'a' && msg[i] <= 'z') ? (uint8_t)(msg[i] - 32) : msg[i];
    sk__peer_send(p, out, len);
}

const sk__service sk__svc_upper = {
    .name = "upper",
    .summary = "reply with each message upper-cased (ASCII letters)",
    .on_message = upper_message,
};
