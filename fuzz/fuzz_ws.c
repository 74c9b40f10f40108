/* fuzz_ws.c — libFuzzer target for the WebSocket reader: the input is decoded as a stream of
 * frames, whole and in fuzzer-chosen reads, in server, client or lenient role; aborts on any broken invariant.
 *
 * Input: byte 0 = configuration (bits 0-1 mask rule: any, required (server), forbidden
 * (client), required; bits 2-4 max_message from a table; bit 5 allows RSV1); byte 1 =
 * how reads are sized (low 3 bits: largest read, high 5 bits: PRNG seed); the rest is
 * the byte stream. Both runs must yield the same events and end the same way; the
 * chunked run keeps pending bytes in an exact-size heap buffer so ASan sees over-reads. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/utf8.h"
#include "proto/ws.h"
#include "sockit/error.h"

#define REQUIRE(c)       \
    do {                 \
        if (!(c))        \
            abort();     \
    } while (0)

static const uint64_t max_messages[8] = {0, 1, 5, 125, 126, 1000, 65536, 1 << 20};
static const size_t read_caps[8] = {1, 2, 3, 7, 14, 64, 512, SIZE_MAX};

typedef struct event_rec {
    int type;
    size_t len;
    size_t at; /* offset in the data arena */
    unsigned code;
    uint8_t rsv;
} event_rec;

typedef struct run {
    sk__ws_cfg cfg;
    sk__ws_reader r;
    event_rec *ev; /* at most one event per 2 input bytes, plus one */
    size_t nev;
    uint8_t *data; /* every event's data, concatenated (bounded by the input size) */
    size_t data_len;
    int err;
    size_t consumed;
    int closed;
} run;

static bool is_ws_error(int e)
{
    return e <= SK_EWSRSV && e >= SK_EWSCLOSECODE;
}

/* Checks one event against the reader's contract, then records it. */
static void record(run *x, const sk__ws_event *ev, const uint8_t *buf, size_t len)
{
    REQUIRE(!x->closed); /* nothing after a close */
    REQUIRE(ev->len == 0 || ev->data != NULL);
    bool inside = ev->data >= buf && ev->data + ev->len <= buf + len;
    REQUIRE(ev->owned ? (ev->len == 0 || !inside) : inside);
    switch (ev->type) {
    case SK__WS_EV_TEXT:
        REQUIRE(ev->rsv != 0 || sk__utf8_valid(ev->data, ev->len));
        /* fall through */
    case SK__WS_EV_BINARY: REQUIRE(ev->len <= x->cfg.max_message); break;
    case SK__WS_EV_PING:
    case SK__WS_EV_PONG: REQUIRE(ev->len <= 125 && !ev->owned); break;
    case SK__WS_EV_CLOSE:
        REQUIRE(ev->len <= 123 && !ev->owned && sk__utf8_valid(ev->data, ev->len));
        REQUIRE(sk__ws_close_code_valid(ev->code) || (ev->code == 1005 && ev->len == 0));
        x->closed = 1;
        break;
    default: abort();
    }
    REQUIRE(ev->rsv == 0 || (ev->rsv & ~x->cfg.rsv_allowed) == 0);
    if (ev->len)
        memcpy(x->data + x->data_len, ev->data, ev->len);
    x->ev[x->nev++] = (event_rec){(int)ev->type, ev->len, x->data_len, ev->code, ev->rsv};
    x->data_len += ev->len;
}

/* Takes every event out of buf[0..len); returns the bytes consumed. */
static size_t drain(run *x, uint8_t *buf, size_t len)
{
    size_t off = 0;
    while (x->err == 0) {
        sk__ws_event ev;
        ssize_t k = sk__ws_reader_next(&x->r, buf + off, len - off, &ev);
        if (k < 0) {
            REQUIRE(is_ws_error((int)k) && ev.type == SK__WS_EV_NONE);
            REQUIRE(sk__ws_close_code_for((int)k) != 1011);
            x->err = (int)k;
            sk__ws_event again;
            REQUIRE(sk__ws_reader_next(&x->r, buf + off, len - off, &again) == k); /* sticky */
            break;
        }
        REQUIRE((size_t)k <= len - off);
        if (ev.type == SK__WS_EV_NONE) {
            off += (size_t)k;
            break;
        }
        REQUIRE(k >= 2);
        record(x, &ev, buf + off, len - off);
        off += (size_t)k;
    }
    return off;
}

static void run_init(run *x, const sk__ws_cfg *cfg, size_t size)
{
    memset(x, 0, sizeof *x);
    x->cfg = *cfg;
    sk__ws_reader_init(&x->r, cfg);
    x->ev = malloc((size / 2 + 1) * sizeof *x->ev);
    x->data = malloc(size + 1);
    REQUIRE(x->ev && x->data);
}

static void run_free(run *x)
{
    sk__ws_reader_free(&x->r);
    free(x->ev);
    free(x->data);
}

static void run_whole(run *x, const uint8_t *data, size_t size)
{
    uint8_t *buf = malloc(size + 1);
    REQUIRE(buf != NULL);
    memcpy(buf, data, size);
    x->consumed = drain(x, buf, size);
    free(buf);
}

static uint32_t xorshift32(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

/* Reads of fuzzer-chosen sizes; the pending bytes (as the reader left them:
 * possibly unmasked already) move to a fresh exact-size buffer on every read. */
static void run_chunked(run *x, const uint8_t *data, size_t size, uint8_t how)
{
    size_t cap = read_caps[how & 7];
    uint32_t seed = ((uint32_t)how >> 3) * 2654435761u + (uint32_t)size + 1;
    uint8_t *pending = NULL;
    size_t plen = 0, received = 0;
    while (received < size && x->err == 0) {
        size_t want = 1 + xorshift32(&seed) % (cap == SIZE_MAX ? size : cap);
        want = want < size - received ? want : size - received;
        uint8_t *next = malloc(plen + want);
        REQUIRE(next != NULL);
        if (plen)
            memcpy(next, pending, plen);
        memcpy(next + plen, data + received, want);
        free(pending);
        pending = next;
        plen += want;
        received += want;
        size_t used = drain(x, pending, plen);
        x->consumed += used;
        plen -= used;
        memmove(pending, pending + used, plen);
    }
    free(pending);
}

/* A data event written back as one frame must read back the same. */
static void round_trip(const run *x, const event_rec *e)
{
    if (e->type != SK__WS_EV_TEXT && e->type != SK__WS_EV_BINARY)
        return;
    uint8_t key[4] = {1, 2, 3, 4};
    bool masked = x->cfg.mask == SK__WS_MASK_REQUIRED;
    uint8_t *w = malloc(SK__WS_MAX_HEADER + e->len + 1);
    REQUIRE(w != NULL);
    unsigned op = e->type == SK__WS_EV_TEXT ? SK__WS_TEXT : SK__WS_BINARY;
    int h = sk__ws_write_header(w, true, op, e->len, masked ? key : NULL);
    REQUIRE(h >= 2 && h <= SK__WS_MAX_HEADER);
    w[0] |= (uint8_t)(e->rsv << 4);
    memcpy(w + h, x->data + e->at, e->len);
    if (masked)
        sk__ws_mask(w + h, e->len, key, 0);
    sk__ws_reader r;
    sk__ws_reader_init(&r, &x->cfg);
    sk__ws_event ev;
    REQUIRE(sk__ws_reader_next(&r, w, (size_t)h + e->len, &ev) == (ssize_t)(h + e->len));
    REQUIRE((int)ev.type == e->type && ev.len == e->len && !ev.owned && ev.rsv == e->rsv);
    REQUIRE(e->len == 0 || memcmp(ev.data, x->data + e->at, e->len) == 0);
    sk__ws_reader_free(&r);
    free(w);
}

/* The frame-level functions on the raw input: parse, rewrite, reparse; masking
 * in pieces; UTF-8 in pieces against one shot. */
static void check_primitives(const sk__ws_cfg *cfg, const uint8_t *data, size_t size, uint8_t how)
{
    sk__ws_frame f;
    int h = sk__ws_parse_header(data, size, cfg, &f);
    REQUIRE(h == 0 || (h < 0 && is_ws_error(h)) || (h >= 2 && h <= 14 && (size_t)h <= size));
    if (h > 0) {
        uint8_t w[SK__WS_MAX_HEADER];
        sk__ws_frame g;
        int h2 = sk__ws_write_header(w, f.fin, f.opcode, f.payload_len, f.masked ? f.mask_key : NULL);
        REQUIRE(h2 >= 2 && h2 <= h); /* minimal encoding: never longer */
        w[0] |= (uint8_t)(f.rsv << 4);
        REQUIRE(sk__ws_parse_header(w, (size_t)h2, cfg, &g) == h2);
        REQUIRE(g.fin == f.fin && g.rsv == f.rsv && g.opcode == f.opcode);
        REQUIRE(g.masked == f.masked && g.payload_len == f.payload_len);
        REQUIRE(!f.masked || memcmp(g.mask_key, f.mask_key, 4) == 0);
    }
    size_t cut = size ? how % (size + 1) : 0;
    uint8_t *a = malloc(size + 1), *b = malloc(size + 1);
    REQUIRE(a && b);
    memcpy(a, data, size);
    memcpy(b, data, size);
    const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
    sk__ws_mask(a, cut, key, 5);
    sk__ws_mask(a + cut, size - cut, key, 5 + cut);
    for (size_t i = 0; i < size; i++)
        b[i] ^= key[(5 + i) & 3];
    REQUIRE(size == 0 || memcmp(a, b, size) == 0);
    sk__utf8 u;
    sk__utf8_init(&u);
    bool ok = sk__utf8_feed(&u, data, cut);
    ok = sk__utf8_feed(&u, data + cut, size - cut) && ok;
    bool valid = sk__utf8_valid(data, size);
    REQUIRE((ok && sk__utf8_done(&u)) == valid);
    REQUIRE((sk__utf8_prefix(data, size) == size) == valid);
    free(a);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    static const sk__ws_mask_rule rules[4] = {SK__WS_MASK_ANY, SK__WS_MASK_REQUIRED,
                                              SK__WS_MASK_FORBIDDEN, SK__WS_MASK_REQUIRED};
    sk__ws_cfg cfg = {rules[data[0] & 3], max_messages[(data[0] >> 2) & 7],
                      (uint8_t)(data[0] & 0x20 ? 0x4 : 0)};
    uint8_t how = data[1];
    data += 2;
    size -= 2;
    check_primitives(&cfg, data, size, how);

    run whole, chunked;
    run_init(&whole, &cfg, size);
    run_init(&chunked, &cfg, size);
    run_whole(&whole, data, size);
    run_chunked(&chunked, data, size, how);

    /* the events must not depend on how the bytes arrived */
    REQUIRE(whole.nev == chunked.nev && whole.err == chunked.err);
    for (size_t i = 0; i < whole.nev; i++) {
        const event_rec *a = &whole.ev[i], *b = &chunked.ev[i];
        REQUIRE(a->type == b->type && a->len == b->len && a->code == b->code && a->rsv == b->rsv);
        REQUIRE(a->len == 0 || memcmp(whole.data + a->at, chunked.data + b->at, a->len) == 0);
        round_trip(&whole, a);
    }
    if (whole.err == 0) {
        REQUIRE(whole.consumed == chunked.consumed);
        int fin = sk__ws_reader_finish(&whole.r, size - whole.consumed);
        REQUIRE(fin == 0 || fin == SK_ETRUNC);
        REQUIRE(fin == sk__ws_reader_finish(&chunked.r, size - chunked.consumed));
        REQUIRE(!whole.closed || (fin == 0 && whole.consumed == size));
    }
    run_free(&whole);
    run_free(&chunked);
    return 0;
}
