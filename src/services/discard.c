/* discard.c — the discard service: reads and drops everything (a sink for
 * load tests); clients stay connected until they leave. */
#include "services/service.h"

static void discard_message(sk__peer *p, const uint8_t *msg, size_t len) {}

const sk__service sk__svc_discard = {
    .name = "discard",
    .summary = "read and drop everything",
    .on_message = discard_message,
};
