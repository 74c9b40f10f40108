/* fuzz_codec.c — libFuzzer target for the framing codecs: decodes the input as a
 * stream split at fuzzer-chosen points, checks invariants, round-trips each message.
 *
 * Input: byte 0 picks the mode (low nibble) and max_frame (high nibble); byte 1
 * picks the read sizes (low 3 bits: largest read, high 5 bits: PRNG seed); the
 * rest is the byte stream. The stream is decoded twice, once whole and once read
 * by read into an exact-size heap buffer (so ASan sees any over-read), and both
 * must yield the same messages at the same offsets and end the same way. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sockit/codec.h"
#include "sockit/error.h"

#define REQUIRE(c)       \
    do {                 \
        if (!(c))        \
            abort();     \
    } while (0)

static const size_t max_frames[16] = {
    0, 1, 2, 3, 7, 8, 16, 100, 255, 256, 1000, 4096, 65535, 65536, SK_MAX_FRAME_DEFAULT, SIZE_MAX,
};
static const size_t read_caps[8] = {1, 2, 3, 7, 16, 64, 512, SIZE_MAX};

typedef struct run {
    sk_frame mode;
    size_t max_frame;
    size_t n;       /* messages seen */
    size_t *off;    /* stream offset of each payload */
    size_t *len;    /* and its length */
    int end;        /* decode error, or the sk_frame_finish result */
    size_t end_off; /* stream offset where the undecoded tail (or error) starts */
} run;

/* Re-encodes a decoded payload and decodes it again: same bytes must come back
 * (LINE strips one final "\r", so such a payload comes back one byte shorter). */
static void round_trip(sk_frame mode, size_t max_frame, const uint8_t *msg, size_t msg_len)
{
    uint8_t hdr[8];
    int h = sk_frame_header(mode, msg_len, hdr);
    REQUIRE(h >= 0 && (size_t)h == sk_frame_header_size(mode));
    const char *trailer = sk_frame_trailer(mode);
    size_t tl = strlen(trailer), total = (size_t)h + msg_len + tl;
    uint8_t *w = malloc(total);
    REQUIRE(w != NULL);
    memcpy(w, hdr, (size_t)h);
    if (msg_len > 0)
        memcpy(w + h, msg, msg_len);
    memcpy(w + h + msg_len, trailer, tl);
    const uint8_t *m2 = NULL;
    size_t l2 = 0;
    ssize_t k = sk_frame_decode(mode, max_frame, w, total, &m2, &l2);
    size_t want = msg_len;
    if ((mode == SK_FRAME_LINE || mode == SK_FRAME_TEXT) && msg_len > 0 && msg[msg_len - 1] == '\r')
        want--;
    REQUIRE(k == (ssize_t)total);
    REQUIRE(l2 == want && m2 == w + h);
    REQUIRE(want == 0 || memcmp(m2, msg, want) == 0);
    free(w);
}

/* Checks one decoded frame at buf[0..k) with payload msg[0..msg_len). */
static void check_frame(const run *r, const uint8_t *buf, size_t len, ssize_t k,
                        const uint8_t *msg, size_t msg_len)
{
    REQUIRE(k > 0 && (size_t)k <= len);
    REQUIRE(msg >= buf && msg_len <= (size_t)k && msg + msg_len <= buf + k);
    size_t h = sk_frame_header_size(r->mode);
    switch (r->mode) {
    case SK_FRAME_RAW: REQUIRE((size_t)k == len && msg == buf && msg_len == len); return;
    case SK_FRAME_LINE:
        REQUIRE(msg == buf && buf[k - 1] == '\n');
        REQUIRE((size_t)k == msg_len + 1 || ((size_t)k == msg_len + 2 && buf[msg_len] == '\r'));
        REQUIRE(memchr(msg, '\n', msg_len) == NULL);
        break;
    case SK_FRAME_TEXT: /* a line, or all of an unterminated rest */
        REQUIRE(msg == buf && memchr(msg, '\n', msg_len) == NULL);
        REQUIRE(buf[k - 1] == '\n' ? (size_t)k - msg_len <= 2 : ((size_t)k == len && msg_len == len));
        break;
    default: REQUIRE(msg == buf + h && (size_t)k == h + msg_len); break;
    }
    REQUIRE(msg_len <= r->max_frame);
    round_trip(r->mode, r->max_frame, msg, msg_len);
}

/* Decodes every complete frame in buf[0..len) (stream offset base), records them,
 * returns the bytes consumed; stores a decode error in r->end. */
static size_t drain(run *r, const uint8_t *buf, size_t len, size_t base)
{
    size_t off = 0;
    for (;;) {
        const uint8_t *msg = NULL;
        size_t msg_len = 0;
        /* TEXT as framing.c: after a line, the rest of a read waits for its "\n" */
        sk_frame mode = r->mode == SK_FRAME_TEXT && off > 0 ? SK_FRAME_LINE : r->mode;
        ssize_t k = sk_frame_decode(mode, r->max_frame, buf + off, len - off, &msg, &msg_len);
        if (k < 0) {
            REQUIRE(k == SK_EFRAMEBIG || k == SK_EFRAMENEG);
            REQUIRE(r->mode != SK_FRAME_RAW);
            REQUIRE(k != SK_EFRAMENEG || sk_frame_header_size(r->mode) >= 4);
            r->end = (int)k;
            r->end_off = base + off;
            return off;
        }
        if (k == 0)
            return off;
        check_frame(r, buf + off, len - off, k, msg, msg_len);
        r->off[r->n] = base + off + (size_t)(msg - (buf + off));
        r->len[r->n] = msg_len;
        r->n++;
        off += (size_t)k;
    }
}

/* Peer closed with buf[0..len) left over (stream offset base). */
static void finish(run *r, const uint8_t *buf, size_t len, size_t base)
{
    const uint8_t *msg = NULL;
    size_t msg_len = 0;
    int rc = sk_frame_finish(r->mode, buf, len, &msg, &msg_len);
    r->end = rc;
    r->end_off = base;
    if (len == 0) {
        REQUIRE(rc == 0);
    } else if (r->mode == SK_FRAME_RAW || r->mode == SK_FRAME_LINE || r->mode == SK_FRAME_TEXT) {
        REQUIRE(rc == 1 && msg == buf && msg_len == len);
        REQUIRE(r->mode == SK_FRAME_RAW || memchr(buf, '\n', len) == NULL);
    } else {
        REQUIRE(rc == SK_ETRUNC);
    }
}

static void run_whole(run *r, const uint8_t *data, size_t size)
{
    r->end = 1;
    size_t used = drain(r, data, size, 0);
    if (r->end == 1)
        finish(r, data + used, size - used, used);
}

static uint32_t xorshift32(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

/* Receiver: each read lands in a fresh heap buffer sized exactly to the
 * pending bytes, so reading past len hits an ASan redzone. */
static void run_stream(run *r, const uint8_t *data, size_t size, uint8_t how)
{
    size_t cap = read_caps[how & 7];
    uint32_t seed = ((uint32_t)how >> 3) * 2654435761u + (uint32_t)size + 1;
    uint8_t *pending = NULL;
    size_t plen = 0, consumed = 0, received = 0;
    r->end = 1;
    while (received < size && r->end == 1) {
        size_t want = 1 + xorshift32(&seed) % (cap == SIZE_MAX ? size : cap);
        if (want > size - received)
            want = size - received;
        uint8_t *next = malloc(plen + want);
        REQUIRE(next != NULL);
        if (plen > 0)
            memcpy(next, pending, plen);
        memcpy(next + plen, data + received, want);
        free(pending);
        pending = next;
        plen += want;
        received += want;
        size_t used = drain(r, pending, plen, consumed);
        consumed += used;
        plen -= used;
        memmove(pending, pending + used, plen);
        if (r->mode == SK_FRAME_RAW)
            REQUIRE(plen == 0);
    }
    if (r->end == 1)
        finish(r, pending, plen, consumed);
    free(pending);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    sk_frame mode = (sk_frame)((data[0] & 0x0f) % SK_FRAME_COUNT_);
    size_t max_frame = max_frames[data[0] >> 4];
    uint8_t how = data[1];
    data += 2;
    size -= 2;

    size_t slots = size + 1; /* at most one message per byte, plus one */
    size_t *mem = malloc(4 * slots * sizeof *mem);
    REQUIRE(mem != NULL);
    run whole = {mode, max_frame, 0, mem, mem + slots, 0, 0};
    run stream = {mode, max_frame, 0, mem + 2 * slots, mem + 3 * slots, 0, 0};
    run_whole(&whole, data, size);
    run_stream(&stream, data, size, how);

    if (mode == SK_FRAME_TEXT) { /* depends on the reads; never loses a byte past an error */
        REQUIRE(whole.end <= 1 && stream.end <= 1);
    } else if (mode != SK_FRAME_RAW) { /* framing must not depend on how bytes arrive */
        REQUIRE(whole.n == stream.n);
        for (size_t i = 0; i < whole.n; i++)
            REQUIRE(whole.off[i] == stream.off[i] && whole.len[i] == stream.len[i]);
        REQUIRE(whole.end == stream.end && whole.end_off == stream.end_off);
    } else { /* raw: reads become messages, back to back, covering everything */
        size_t at = 0;
        for (size_t i = 0; i < stream.n; i++) {
            REQUIRE(stream.off[i] == at && stream.len[i] > 0);
            at += stream.len[i];
        }
        REQUIRE(at == size && stream.end == 0);
        REQUIRE(whole.n == (size > 0) && whole.end == 0);
    }
    free(mem);
    return 0;
}
