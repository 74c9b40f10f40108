/* fuzz_compress.c — libFuzzer target for compressed length-prefixed frames:
 * decodes the input as a stream of len16/32/64 frames whose bodies are
 * decoded (codec byte, stored/deflate/zstd) under a maximum, read whole and
 * in fuzzer-chosen pieces; every message is re-encoded and must come back.
 *
 * Input: byte 0 picks the mode (low 3 bits, of the six lenN >= 16 modes) and
 * the maximum (high 5 bits); byte 1 seeds the read sizes; the rest is the
 * stream. Each body is copied into an exact-size heap buffer (ASan sees any
 * over-read). Both readings must yield the same messages and end alike. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sockit/codec.h"
#include "sockit/compress.h"
#include "sockit/error.h"

#define REQUIRE(c)   \
    do {             \
        if (!(c))    \
            abort(); \
    } while (0)

static const sk_frame modes[8] = {SK_FRAME_LEN16BE, SK_FRAME_LEN16LE, SK_FRAME_LEN32BE,
                                  SK_FRAME_LEN32LE, SK_FRAME_LEN64BE, SK_FRAME_LEN64LE,
                                  SK_FRAME_LEN32BE, SK_FRAME_LEN16LE};
static const size_t maxes[8] = {0, 1, 16, 255, 1000, 4096, 65536, (size_t)1 << 20};

static sk_zctx *z, *z2;

/* A decoded message must survive encoding with every codec. */
static void round_trip(const uint8_t *msg, size_t len)
{
    uint8_t *body = malloc(sk_zbody_bound(len));
    uint8_t *copy = malloc(len ? len : 1);
    REQUIRE(body && copy);
    memcpy(copy, msg, len);
    for (int c = 0; c < SK_ZCODEC_COUNT_; c++) {
        sk_zopts o = {.codec = (sk_zcodec)c, .min = 1};
        ssize_t b = sk_zbody_encode(z2, &o, copy, len, body, NULL);
        REQUIRE(b >= 1 && (size_t)b <= sk_zbody_bound(len));
        const uint8_t *out;
        size_t olen;
        REQUIRE(sk_zbody_decode(z2, len, body, (size_t)b, &out, &olen) >= 0);
        REQUIRE(olen == len && (len == 0 || memcmp(out, copy, len) == 0));
    }
    free(body);
    free(copy);
}

/* Decodes one body from an exact-size copy; returns its result. Adds the
 * message's length to *sum (a fingerprint compared between readings). */
static int body(size_t max, const uint8_t *p, size_t n, size_t *sum)
{
    uint8_t *copy = malloc(n ? n : 1);
    REQUIRE(copy);
    memcpy(copy, p, n);
    const uint8_t *msg;
    size_t len;
    int r = sk_zbody_decode(z, max, copy, n, &msg, &len);
    if (r >= 0) {
        REQUIRE(len <= max);
        *sum += len * 31 + (len ? msg[len - 1] : 0);
        round_trip(msg, len);
    } else {
        REQUIRE(r == SK_EZCODEC || r == SK_EZBOMB || r == SK_EZCORRUPT);
    }
    free(copy);
    return r;
}

/* Reads the stream in pieces of at most cap bytes (cap 0: whole); returns
 * the number of messages and sets *sum and *err (0, or the first error). */
static size_t run(sk_frame mode, size_t max, const uint8_t *s, size_t n, size_t cap,
                  uint32_t seed, size_t *sum, int *err)
{
    size_t have = 0, off = 0, msgs = 0;
    *sum = 0;
    *err = 0;
    while (!*err) {
        const uint8_t *b;
        size_t blen;
        ssize_t f = sk_frame_decode(mode, max + 1, s + off, have - off, &b, &blen);
        if (f > 0) {
            off += (size_t)f;
            int r = body(max, b, blen, sum);
            msgs += r >= 0;
            *err = r < 0 ? r : 0;
            continue;
        }
        if (f < 0 || have == n) {
            *err = (int)f;
            break;
        }
        seed = seed * 1103515245u + 12345u;
        size_t step = cap ? 1 + (seed >> 16) % cap : n - have;
        have += step < n - have ? step : n - have;
    }
    return msgs;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    if (!z) {
        z = sk_zctx_new();
        z2 = sk_zctx_new();
    }
    sk_frame mode = modes[data[0] & 7];
    size_t max = maxes[(data[0] >> 3) & 7];
    size_t sum1, sum2;
    int e1, e2;
    size_t m1 = run(mode, max, data + 2, size - 2, 0, 0, &sum1, &e1);
    size_t m2 = run(mode, max, data + 2, size - 2, 1 + data[1] % 13, data[1], &sum2, &e2);
    REQUIRE(m1 == m2 && sum1 == sum2 && e1 == e2);
    return 0;
}
