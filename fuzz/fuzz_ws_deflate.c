/* fuzz_ws_deflate.c — libFuzzer target for permessage-deflate input: the
 * negotiation parser (offers and answers) and compressed frames.
 *
 * Input: byte 0 = mode (bit 0: the rest is a Sec-WebSocket-Extensions value
 * for the offer parser and the client's answer check; else frames; bits 1-2:
 * which side keeps a context; bits 3-5: the inflate limit from a table);
 * the rest is the value, or a stream of server-bound (masked) frames whose
 * RSV1 messages are inflated. Aborts on a broken invariant: more output than
 * the limit, an answer with client_max_window_bits never offered, a chosen
 * 8-bit server window. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/wsdeflate.h"
#include "proto/ws.h"
#include "proto/ws_deflate.h"
#include "sockit/error.h"
#include "sockit/loop.h"

#define REQUIRE(c)       \
    do {                 \
        if (!(c))        \
            abort();     \
    } while (0)

static const size_t limits[8] = {0, 1, 16, 125, 1000, 4096, 65536, 1 << 20};

static void negotiation(const char *v, size_t n)
{
    sk__wsd_params o[SK__WSD_MAX_OFFERS], a;
    int k = 0;
    sk__wsd_parse(v, n, o, &k, SK__WSD_MAX_OFFERS);
    REQUIRE(k >= 0 && k <= SK__WSD_MAX_OFFERS);
    for (int mode = SK__WSD_SHARED; mode <= SK__WSD_CONTEXT; mode++) {
        int i = sk__wsd_choose(o, k, mode, &a);
        if (i < 0)
            continue;
        REQUIRE(i < k && a.server_bits != 8 && (!a.client_bits || o[i].client_bits));
        char out[160];
        int len = sk__wsd_format(&a, out, sizeof out);
        REQUIRE(len > 0);
        sk__wsd_params back; /* what we answer, the client side accepts */
        REQUIRE(sk__wsd_check_answer(out, (size_t)len, &back) == 1 && memcmp(&back, &a, sizeof a) == 0);
    }
    sk__wsd_check_answer(v, n, &a);
}

static void frames(sk_loop *loop, uint8_t cfg, uint8_t *buf, size_t n)
{
    sk__wsd d = {.on = 1, .p = {.client_no_ctx = !(cfg & 2), .client_bits = cfg & 4 ? 9 : 0}};
    size_t max = limits[(cfg >> 3) & 7];
    sk__ws_reader r;
    sk__ws_reader_init(&r, &(sk__ws_cfg){.mask = SK__WS_MASK_REQUIRED, .max_message = 1 << 20});
    sk__ws_reader_allow_rsv(&r, 0x4);
    size_t off = 0;
    for (;;) {
        sk__ws_event ev;
        ssize_t k = sk__ws_reader_next(&r, buf + off, n - off, &ev);
        if (k < 0 || ev.type == SK__WS_EV_NONE || ev.type == SK__WS_EV_CLOSE)
            break;
        off += (size_t)k;
        if (!(ev.rsv & 0x4))
            continue;
        REQUIRE(ev.type == SK__WS_EV_TEXT || ev.type == SK__WS_EV_BINARY);
        uint8_t *out;
        size_t ol;
        int rc = sk__wsd_inflate(loop, &d, ev.data, ev.len, max, &out, &ol);
        REQUIRE(rc == 0 || rc == SK_EWSBIG || rc == SK_EWSINFLATE);
        REQUIRE(rc != 0 || ol <= max);
        if (rc != 0)
            break; /* the connection would close */
    }
    sk__ws_reader_free(&r);
    sk__wsd_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sk_loop *loop;
    if (!loop && sk_loop_new(&loop) < 0)
        abort();
    if (size < 1)
        return 0;
    uint8_t *copy = malloc(size - 1 ? size - 1 : 1); /* exact size: over-reads are caught */
    memcpy(copy, data + 1, size - 1);
    if (data[0] & 1)
        negotiation((const char *)copy, size - 1);
    else
        frames(loop, data[0], copy, size - 1);
    free(copy);
    return 0;
}
