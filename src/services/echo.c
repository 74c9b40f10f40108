/* echo.c — the echo service: every message goes back to its sender
 * unchanged (re-framed with the output framing). */
#include "services/service.h"

static void echo_message(sk__peer *p, const uint8_t *msg, size_t len)
{
    sk__peer_send(p, msg, len);
}

const sk__service sk__svc_echo = {
    .name = "echo",
    .summary = "reply with each message unchanged",
    .on_message = echo_message,
};
