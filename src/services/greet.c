/* greet.c — the greeting service (tutorial T2): a stream client gets the
 * greeting and is closed; a datagram gets the greeting as its reply. */
#include "services/service.h"

#include <string.h>

static void greet(sk__peer *p)
{
    const char *text = sk__server_opts(p->srv)->text;
    sk__peer_send(p, text, strlen(text));
}

static void greet_open(sk__peer *p)
{
    greet(p);
    sk__peer_close(p);
}

static void greet_message(sk__peer *p, const uint8_t *msg, size_t len)
{
    if (sk__peer_dgram(p))
        greet(p);
}

const sk__service sk__svc_greet = {
    .name = "greet",
    .summary = "send a greeting (--text) on connect, then close",
    .on_open = greet_open,
    .on_message = greet_message,
};
