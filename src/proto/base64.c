/* base64.c — strict standard base64 encode/decode (RFC 4648 §4) for the WebSocket
 * handshake. No allocation; decode rejects anything that is not canonical. */
#include "proto/base64.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t sk__base64_encode(const uint8_t *src, size_t n, char *dst)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 | src[i + 2];
        dst[o++] = alphabet[v >> 18];
        dst[o++] = alphabet[(v >> 12) & 63];
        dst[o++] = alphabet[(v >> 6) & 63];
        dst[o++] = alphabet[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)src[i] << 16 | (i + 1 < n ? (uint32_t)src[i + 1] << 8 : 0);
        dst[o++] = alphabet[v >> 18];
        dst[o++] = alphabet[(v >> 12) & 63];
        dst[o++] = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
        dst[o++] = '=';
    }
    dst[o] = '\0';
    return o;
}

/* Value of one alphabet character, or -1. */
static int sextet(char ch)
{
    unsigned char c = (unsigned char)ch;
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Decodes one 4-character group; pad is how many "=" end it (0..2, only allowed
 * in the last group). Returns the bytes produced (3 - pad) or -1. */
static int decode_group(const char *s, int pad, uint8_t out[3])
{
    uint32_t v = 0;
    for (int k = 0; k < 4; k++) {
        int x = k < 4 - pad ? sextet(s[k]) : 0;
        if (x < 0)
            return -1;
        v = v << 6 | (uint32_t)x;
    }
    if ((pad == 1 && (v & 0xff) != 0) || (pad == 2 && (v & 0xffff) != 0))
        return -1; /* non-zero bits under the padding: not canonical */
    out[0] = (uint8_t)(v >> 16);
    out[1] = (uint8_t)(v >> 8);
    out[2] = (uint8_t)v;
    return 3 - pad;
}

ssize_t sk__base64_decode(const char *src, size_t n, uint8_t *dst, size_t cap)
{
    if (n % 4 != 0)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int pad = 0;
        if (i + 4 == n)
            pad = src[i + 3] != '=' ? 0 : src[i + 2] == '=' ? 2 : 1;
        uint8_t out[3];
        int got = decode_group(src + i, pad, out);
        if (got < 0 || (size_t)got > cap - o)
            return -1;
        for (int k = 0; k < got; k++)
            dst[o++] = out[k];
    }
    return (ssize_t)o;
}
