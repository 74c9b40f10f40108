/* compress.h — compressed length-prefixed frames: the body of a len16/32/64
 * frame is one codec byte (0 stored, 1 raw deflate, 2 zstd) and the payload.
 * No I/O: bodies in, messages out, with the decompressed size bounded. */
#ifndef SOCKIT_COMPRESS_H
#define SOCKIT_COMPRESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sockit/codec.h"
#include "sockit/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The codec byte that starts every compressed-framing body. STORED: the
 * payload as it is. DEFLATE: one complete raw deflate stream (RFC 1951, the
 * final block set, nothing after it). ZSTD: one zstd frame that declares its
 * content size (RFC 8878). */
typedef enum sk_zcodec {
    SK_ZCODEC_STORED = 0,
    SK_ZCODEC_DEFLATE = 1,
    SK_ZCODEC_ZSTD = 2,
    SK_ZCODEC_COUNT_
} sk_zcodec;

/* Default of sk_zopts.min (--compress-min): smaller messages go stored. */
#define SK_COMPRESS_MIN_DEFAULT 256

/* How a sender compresses. A receiver decodes all three codecs whatever its
 * own codec (a STORED sender still speaks the codec-byte framing). */
typedef struct sk_zopts {
    sk_zcodec codec; /* what messages of at least min bytes are compressed with */
    size_t min;      /* smaller messages go stored (0: SK_COMPRESS_MIN_DEFAULT; 1: all) */
    int level;       /* 0: the default (zstd 1, deflate 6); else the codec's own level */
} sk_zopts;

/* Parses "stored", "deflate" or "zstd". 0 and sets *out, or SK_EZCODEC. */
SK_EXTERN int sk_zcodec_from_name(const char *name, sk_zcodec *out);

/* The codec's name ("zstd"), "?" for an invalid value. Static. */
SK_EXTERN const char *sk_zcodec_name(sk_zcodec codec);

/* 1 when mode can carry compressed frames (len16, len32, len64, either byte
 * order), else 0. Compressed framing applies only to such directions. */
SK_EXTERN int sk_zframe_mode_ok(sk_frame mode);

/* A compression context: one zstd compressor and decompressor, one deflate
 * and one inflate stream, and a decompression buffer, each made on first
 * use and reused for every message (one per thread; never share one
 * between threads). */
typedef struct sk_zctx sk_zctx;

/* A new, empty context (nothing allocated but itself), or NULL on OOM. */
SK_EXTERN sk_zctx *sk_zctx_new(void);

/* Frees z and everything it holds (NULL ok). */
SK_EXTERN void sk_zctx_free(sk_zctx *z);

/* The largest body sk_zbody_encode can write for a len-byte message. */
SK_EXTERN size_t sk_zbody_bound(size_t len);

/* Writes msg[0..len) as one body (codec byte, payload) into dst, which
 * holds at least sk_zbody_bound(len) bytes. The message goes stored when it
 * is shorter than o->min, o->codec is STORED, or compressing does not make
 * it smaller (a compressor that cannot be made: stored too). Returns the
 * body size (>= 1, at most sk_zbody_bound(len)); never fails. *codec (if
 * non-NULL) gets the codec used. */
SK_EXTERN ssize_t sk_zbody_encode(sk_zctx *z, const sk_zopts *o, const void *msg, size_t len,
                                  uint8_t *dst, sk_zcodec *codec);

/* Decodes one body body[0..len). On success returns the codec (>= 0) and
 * points *msg and *msg_len at the message: inside body for STORED, else in
 * z's buffer, valid until the next call on z. The decompressed size is
 * checked against max before anything of that size is allocated: zstd's
 * declared content size, and deflate's output as it is inflated in chunks.
 * Errors (msg untouched): SK_EZCODEC for an empty body or an unknown codec
 * byte; SK_EZBOMB when the message would exceed max; SK_EZCORRUPT for a
 * body that is not exactly one valid stream/frame (zstd without its content
 * size, a window over 2^27, trailing bytes after the final block, a
 * truncated stream); -ENOMEM. */
SK_EXTERN int sk_zbody_decode(sk_zctx *z, size_t max, const uint8_t *body, size_t len,
                              const uint8_t **msg, size_t *msg_len);

/* A blob (conn.h) holding msg as one compressed-framing frame of mode
 * (header, codec byte, payload), compressed with the calling thread's
 * context, to broadcast with sk_conn_send_blob. One reference; NULL on OOM
 * or when mode cannot carry compressed frames or the body does not fit. */
struct sk_blob;
SK_EXTERN struct sk_blob *sk_blob_zframe(const sk_zopts *o, sk_frame mode, const void *msg,
                                         size_t len);

#ifdef __cplusplus
}
#endif
#endif
