/* codec.c — message framing: finds message boundaries in a byte buffer (raw,
 * line, text, 8/16/32/64-bit length headers) and writes headers. No I/O, no malloc. */
#include "sockit/codec.h"

#include <stdbool.h>
#include <string.h>

#include "sockit/error.h"

/* One row per mode, indexed by sk_frame: everything decode/encode needs to
 * know, so the hot path does a table load instead of comparing strings. */
typedef struct frame_info {
    const char *name;
    uint8_t hdr;      /* header size in bytes; 0 for raw and line */
    bool big_endian;  /* byte order of the header */
    bool is_signed;   /* top bit set means "negative": SK_EFRAMENEG */
    uint64_t hdr_max; /* largest length the header can carry */
} frame_info;

static const frame_info frames[SK_FRAME_COUNT_] = {
    [SK_FRAME_RAW] = {"raw", 0, false, false, 0},
    [SK_FRAME_LINE] = {"line", 0, false, false, 0},
    [SK_FRAME_LEN8] = {"len8", 1, true, false, UINT8_MAX},
    [SK_FRAME_LEN16BE] = {"len16be", 2, true, false, UINT16_MAX},
    [SK_FRAME_LEN16LE] = {"len16le", 2, false, false, UINT16_MAX},
    [SK_FRAME_LEN32BE] = {"len32be", 4, true, true, INT32_MAX},
    [SK_FRAME_LEN32LE] = {"len32le", 4, false, true, INT32_MAX},
    [SK_FRAME_LEN64BE] = {"len64be", 8, true, true, INT64_MAX},
    [SK_FRAME_LEN64LE] = {"len64le", 8, false, true, INT64_MAX},
    [SK_FRAME_TEXT] = {"text", 0, false, false, 0},
};

/* LINE and TEXT end each payload with "\n". */
static inline bool has_trailer(sk_frame mode)
{
    return mode == SK_FRAME_LINE || mode == SK_FRAME_TEXT;
}

static inline bool mode_valid(sk_frame mode)
{
    return (unsigned)mode < SK_FRAME_COUNT_;
}

int sk_frame_from_name(const char *name, sk_frame *out)
{
    if (name == NULL)
        return SK_EFRAMEMODE;
    for (int i = 0; i < SK_FRAME_COUNT_; i++) {
        if (strcmp(name, frames[i].name) == 0) {
            *out = (sk_frame)i;
            return 0;
        }
    }
    return SK_EFRAMEMODE;
}

const char *sk_frame_name(sk_frame mode)
{
    return mode_valid(mode) ? frames[mode].name : "?";
}

size_t sk_frame_header_size(sk_frame mode)
{
    return mode_valid(mode) ? frames[mode].hdr : 0;
}

const char *sk_frame_trailer(sk_frame mode)
{
    return has_trailer(mode) ? "\n" : "";
}

/* Reads an n-byte unsigned integer (1 <= n <= 8) in the given byte order. */
static inline uint64_t load_uint(const uint8_t *p, size_t n, bool big_endian)
{
    uint64_t v = 0;
    if (big_endian) {
        for (size_t i = 0; i < n; i++)
            v = (v << 8) | p[i];
    } else {
        for (size_t i = n; i-- > 0;)
            v = (v << 8) | p[i];
    }
    return v;
}

/* LINE: the frame ends at the first "\n". The limit applies to the bytes before
 * the "\n" (a "\r" there counts), so only buf[0..max_frame] is ever searched. */
static ssize_t decode_line(size_t max_frame, const uint8_t *buf, size_t len, const uint8_t **msg,
                           size_t *msg_len)
{
    size_t window = len > max_frame ? max_frame + 1 : len; /* no overflow: max_frame < len */
    const uint8_t *nl = memchr(buf, '\n', window);
    if (nl == NULL)
        return len > max_frame ? SK_EFRAMEBIG : 0;
    size_t n = (size_t)(nl - buf);
    *msg = buf;
    *msg_len = (n > 0 && buf[n - 1] == '\r') ? n - 1 : n;
    return (ssize_t)(n + 1);
}

/* TEXT: a line, or all of buf when no "\n" is in it (an unterminated line
 * that ends what arrived). Never longer than max_frame either way. */
static ssize_t decode_text(size_t max_frame, const uint8_t *buf, size_t len, const uint8_t **msg,
                           size_t *msg_len)
{
    ssize_t r = decode_line(max_frame, buf, len, msg, msg_len);
    if (r != 0 || len == 0)
        return r;
    *msg = buf; /* no "\n" and len <= max_frame (decode_line checked) */
    *msg_len = len;
    return (ssize_t)len;
}

/* LENn: header, then exactly that many payload bytes. */
static ssize_t decode_len(const frame_info *f, size_t max_frame, const uint8_t *buf, size_t len,
                          const uint8_t **msg, size_t *msg_len)
{
    size_t hdr = f->hdr;
    if (len < hdr)
        return 0;
    uint64_t n = load_uint(buf, hdr, f->big_endian);
    if (f->is_signed && (n >> (hdr * 8 - 1)) != 0)
        return SK_EFRAMENEG;
    if (n > (uint64_t)max_frame)
        return SK_EFRAMEBIG;
    if (n > (uint64_t)(len - hdr))
        return 0;
    *msg = buf + hdr;
    *msg_len = (size_t)n;
    return (ssize_t)(hdr + (size_t)n); /* <= len */
}

ssize_t sk_frame_decode(sk_frame mode, size_t max_frame, const uint8_t *buf, size_t len,
                        const uint8_t **msg, size_t *msg_len)
{
    switch (mode) {
    case SK_FRAME_RAW:
        if (len == 0)
            return 0;
        *msg = buf;
        *msg_len = len;
        return (ssize_t)len;
    case SK_FRAME_LINE: return decode_line(max_frame, buf, len, msg, msg_len);
    case SK_FRAME_TEXT: return decode_text(max_frame, buf, len, msg, msg_len);
    case SK_FRAME_LEN8:
    case SK_FRAME_LEN16BE:
    case SK_FRAME_LEN16LE:
    case SK_FRAME_LEN32BE:
    case SK_FRAME_LEN32LE:
    case SK_FRAME_LEN64BE:
    case SK_FRAME_LEN64LE: return decode_len(&frames[mode], max_frame, buf, len, msg, msg_len);
    default: return SK_EFRAMEMODE;
    }
}

int sk_frame_finish(sk_frame mode, const uint8_t *buf, size_t len, const uint8_t **msg,
                    size_t *msg_len)
{
    if (!mode_valid(mode))
        return SK_EFRAMEMODE;
    if (len == 0)
        return 0;
    if (frames[mode].hdr != 0)
        return SK_ETRUNC;
    *msg = buf; /* RAW chunk or LINE/TEXT without "\n": the bytes as they are */
    *msg_len = len;
    return 1;
}

int sk_frame_header(sk_frame mode, size_t msg_len, uint8_t hdr[8])
{
    if (!mode_valid(mode))
        return SK_EFRAMEMODE;
    const frame_info *f = &frames[mode];
    if (f->hdr == 0)
        return 0;
    if ((uint64_t)msg_len > f->hdr_max)
        return SK_EFRAMEBIG;
    uint64_t v = msg_len;
    for (size_t i = 0; i < f->hdr; i++) {
        size_t at = f->big_endian ? f->hdr - 1 - i : i;
        hdr[at] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
    return f->hdr;
}

ssize_t sk_frame_encoded_size(sk_frame mode, size_t msg_len)
{
    uint8_t hdr[8];
    int h = sk_frame_header(mode, msg_len, hdr);
    return h < 0 ? h : (ssize_t)((size_t)h + msg_len + has_trailer(mode));
}

ssize_t sk_frame_encode(sk_frame mode, const void *msg, size_t len, uint8_t *dst)
{
    int h = sk_frame_header(mode, len, dst);
    if (h < 0)
        return h;
    if (len)
        memcpy(dst + h, msg, len);
    size_t n = (size_t)h + len;
    if (has_trailer(mode))
        dst[n++] = '\n';
    return (ssize_t)n;
}
