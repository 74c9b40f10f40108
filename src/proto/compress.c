/* compress.c — bodies of compressed length-prefixed frames: a codec byte
 * (stored, raw deflate, zstd) then the payload; decoding bounded by a
 * maximum checked before allocation. Contexts are reused, never per message. */
#include "sockit/compress.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_getFrameHeader: exported by every libzstd >= 1.3 */
#include <zstd.h>

#include "sockit/error.h"

#define ZWINDOW_LOG_MAX 27         /* zstd frames asking a larger window are refused */
#define ZKEEP ((size_t)1 << 20)    /* a larger decompression buffer is not kept */
#define ZFIRST ((size_t)16 << 10)  /* first inflate buffer (grown by doubling) */
#define ZSTD_LEVEL_DEFAULT 1
#define DEFLATE_LEVEL_DEFAULT 6

struct sk_zctx {
    ZSTD_CCtx *zc;
    ZSTD_DCtx *zd;
    z_stream def, inf;
    int zc_level, def_level; /* the level each compressor is set to */
    unsigned def_on : 1, inf_on : 1;
    uint8_t *out; /* decompressed messages */
    size_t cap;
};

static const char *const names[SK_ZCODEC_COUNT_] = {"stored", "deflate", "zstd"};

int sk_zcodec_from_name(const char *name, sk_zcodec *out)
{
    for (int i = 0; name && i < SK_ZCODEC_COUNT_; i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = (sk_zcodec)i;
            return 0;
        }
    }
    return SK_EZCODEC;
}

const char *sk_zcodec_name(sk_zcodec codec)
{
    return (unsigned)codec < SK_ZCODEC_COUNT_ ? names[codec] : "?";
}

int sk_zframe_mode_ok(sk_frame mode) { return mode >= SK_FRAME_LEN16BE && mode <= SK_FRAME_LEN64LE; }

sk_zctx *sk_zctx_new(void) { return calloc(1, sizeof(sk_zctx)); }

void sk_zctx_free(sk_zctx *z)
{
    if (!z)
        return;
    ZSTD_freeCCtx(z->zc);
    ZSTD_freeDCtx(z->zd);
    if (z->def_on)
        deflateEnd(&z->def);
    if (z->inf_on)
        inflateEnd(&z->inf);
    free(z->out);
    free(z);
}

size_t sk_zbody_bound(size_t len) { return len + 1; }

/* ---- compressing: into dst[0..cap), 0 when it does not fit (go stored) ---- */

static size_t zstd_pack(sk_zctx *z, int level, const void *msg, size_t len, uint8_t *dst,
                        size_t cap)
{
    if (!z->zc && !(z->zc = ZSTD_createCCtx()))
        return 0;
    if (z->zc_level != level) {
        if (ZSTD_isError(ZSTD_CCtx_setParameter(z->zc, ZSTD_c_compressionLevel, level)))
            return 0;
        ZSTD_CCtx_setParameter(z->zc, ZSTD_c_contentSizeFlag, 1);
        z->zc_level = level;
    }
    size_t n = ZSTD_compress2(z->zc, dst, cap, msg, len);
    return ZSTD_isError(n) ? 0 : n;
}

static size_t deflate_pack(sk_zctx *z, int level, const void *msg, size_t len, uint8_t *dst,
                           size_t cap)
{
    z_stream *s = &z->def;
    if (!z->def_on) {
        if (deflateInit2(s, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            return 0;
        z->def_on = 1;
        z->def_level = level;
    } else {
        deflateReset(s);
        if (z->def_level != level && deflateParams(s, level, Z_DEFAULT_STRATEGY) != Z_OK)
            return 0;
        z->def_level = level;
    }
    s->next_in = (Bytef *)(uintptr_t)msg;
    s->avail_in = (uInt)len; /* the caller keeps len under 4 GiB */
    s->next_out = dst;
    s->avail_out = (uInt)cap;
    return deflate(s, Z_FINISH) == Z_STREAM_END ? cap - s->avail_out : 0;
}

ssize_t sk_zbody_encode(sk_zctx *z, const sk_zopts *o, const void *msg, size_t len,
                        uint8_t *dst, sk_zcodec *codec)
{
    size_t min = o->min ? o->min : SK_COMPRESS_MIN_DEFAULT;
    size_t n = 0;
    sk_zcodec used = SK_ZCODEC_STORED;
    if (len >= min && len > 1 && len <= UINT32_MAX) { /* a smaller body must beat len - 1 */
        if (o->codec == SK_ZCODEC_ZSTD)
            n = zstd_pack(z, o->level ? o->level : ZSTD_LEVEL_DEFAULT, msg, len, dst + 1, len - 1);
        else if (o->codec == SK_ZCODEC_DEFLATE)
            n = deflate_pack(z, o->level ? o->level : DEFLATE_LEVEL_DEFAULT, msg, len, dst + 1,
                             len - 1);
        if (n)
            used = o->codec;
    }
    if (!n && len) {
        memcpy(dst + 1, msg, len);
        n = len;
    }
    dst[0] = (uint8_t)used;
    if (codec)
        *codec = used;
    return (ssize_t)(n + 1);
}

/* ---- decompressing ---- */

/* Makes z->out hold at least need bytes, keeping the first keep. A buffer
 * larger than ZKEEP left by an earlier big message is given back first. */
static int reserve_out(sk_zctx *z, size_t need, size_t keep)
{
    if (z->cap > ZKEEP && need <= ZKEEP && keep == 0) {
        free(z->out);
        z->out = NULL;
        z->cap = 0;
    }
    if (need <= z->cap && z->out)
        return 0;
    uint8_t *p = keep ? realloc(z->out, need ? need : 1) : malloc(need ? need : 1);
    if (!p)
        return -ENOMEM;
    if (!keep)
        free(z->out);
    z->out = p;
    z->cap = need ? need : 1;
    return 0;
}

/* One zstd frame declaring its content size, nothing before or after it,
 * and a window of at most 2^ZWINDOW_LOG_MAX (a frame too big for one
 * segment may not ask a streaming decoder for more, whatever the message). */
static int zstd_unpack(sk_zctx *z, size_t max, const uint8_t *src, size_t len, size_t *out_len)
{
    ZSTD_frameHeader fh;
    if (ZSTD_getFrameHeader(&fh, src, len) != 0 || fh.frameType != ZSTD_frame)
        return SK_EZCORRUPT; /* truncated header, bad magic, skippable frame */
    unsigned long long size = fh.frameContentSize;
    if (size == ZSTD_CONTENTSIZE_UNKNOWN || size == ZSTD_CONTENTSIZE_ERROR)
        return SK_EZCORRUPT;
    if (size > (unsigned long long)max)
        return SK_EZBOMB; /* before anything of that size is allocated */
    if (fh.windowSize > (1ULL << ZWINDOW_LOG_MAX) && fh.windowSize > size)
        return SK_EZCORRUPT;
    if (ZSTD_findFrameCompressedSize(src, len) != len)
        return SK_EZCORRUPT; /* truncated, or bytes after the frame */
    if (!z->zd) {
        if (!(z->zd = ZSTD_createDCtx()))
            return -ENOMEM;
        ZSTD_DCtx_setParameter(z->zd, ZSTD_d_windowLogMax, ZWINDOW_LOG_MAX);
    }
    if (reserve_out(z, (size_t)size, 0) < 0)
        return -ENOMEM;
    size_t n = ZSTD_decompressDCtx(z->zd, z->out, (size_t)size, src, len);
    if (ZSTD_isError(n) || n != size) {
        ZSTD_DCtx_reset(z->zd, ZSTD_reset_session_only);
        return SK_EZCORRUPT;
    }
    *out_len = n;
    return 0;
}

/* The output reached max without the stream ending: one more byte of
 * output makes it a bomb; the end of the stream there is fine. */
static int inflate_probe_end(z_stream *s)
{
    uint8_t probe;
    s->next_out = &probe;
    s->avail_out = 1;
    int r = inflate(s, Z_NO_FLUSH);
    if (s->avail_out == 0)
        return SK_EZBOMB;
    return r == Z_STREAM_END && s->avail_in == 0 ? 0 : SK_EZCORRUPT;
}

/* Grows the output by doubling, never past max. */
static int inflate_grow(sk_zctx *z, size_t *cap, size_t max, size_t produced)
{
    size_t c = *cap ? *cap : ZFIRST;
    if (*cap)
        c = c > max / 2 ? max : c * 2;
    if (c > max)
        c = max;
    *cap = c;
    return reserve_out(z, c, produced);
}

/* One complete raw deflate stream, inflated in chunks: the output never
 * grows past max, and nothing may follow the final block. */
static int inflate_run(sk_zctx *z, size_t max, size_t *out_len)
{
    z_stream *s = &z->inf;
    size_t cap = 0, produced = 0;
    for (;;) {
        if (produced == cap) {
            if (cap == max) {
                *out_len = produced;
                return inflate_probe_end(s);
            }
            if (inflate_grow(z, &cap, max, produced) < 0)
                return -ENOMEM;
        }
        s->next_out = z->out + produced;
        s->avail_out = (uInt)(cap - produced);
        int r = inflate(s, Z_NO_FLUSH);
        produced = cap - s->avail_out;
        if (r == Z_STREAM_END) {
            *out_len = produced;
            return s->avail_in ? SK_EZCORRUPT : 0;
        }
        if (r == Z_BUF_ERROR && s->avail_out == 0)
            continue; /* output full: grow or probe */
        if (r != Z_OK)
            return r == Z_MEM_ERROR ? -ENOMEM : SK_EZCORRUPT; /* Z_BUF_ERROR: input ended early */
    }
}

static int deflate_unpack(sk_zctx *z, size_t max, const uint8_t *src, size_t len, size_t *out_len)
{
    z_stream *s = &z->inf;
    if (!z->inf_on) {
        if (inflateInit2(s, -15) != Z_OK)
            return -ENOMEM;
        z->inf_on = 1;
    } else {
        inflateReset(s);
    }
    if (len > UINT32_MAX)
        return SK_EZCORRUPT;
    s->next_in = (Bytef *)(uintptr_t)src;
    s->avail_in = (uInt)len;
    if (max > UINT32_MAX)
        max = UINT32_MAX; /* avail_out is 32-bit; conn.h caps max_frame there anyway */
    return inflate_run(z, max, out_len);
}

int sk_zbody_decode(sk_zctx *z, size_t max, const uint8_t *body, size_t len, const uint8_t **msg,
                    size_t *msg_len)
{
    if (len == 0)
        return SK_EZCODEC;
    size_t n = 0;
    int r;
    switch (body[0]) {
    case SK_ZCODEC_STORED:
        if (len - 1 > max)
            return SK_EZBOMB;
        *msg = body + 1;
        *msg_len = len - 1;
        return SK_ZCODEC_STORED;
    case SK_ZCODEC_DEFLATE: r = deflate_unpack(z, max, body + 1, len - 1, &n); break;
    case SK_ZCODEC_ZSTD: r = zstd_unpack(z, max, body + 1, len - 1, &n); break;
    default: return SK_EZCODEC;
    }
    if (r < 0)
        return r;
    *msg = z->out;
    *msg_len = n;
    return body[0];
}
