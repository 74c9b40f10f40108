/* codec.h — message framing codecs ("sticky packet" cure). They do no I/O:
 * decoding finds message boundaries in a byte buffer, encoding yields headers. */
#ifndef SOCKIT_CODEC_H
#define SOCKIT_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sockit/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Framing modes. RAW: every chunk of bytes read is one message. LINE: messages
 * end with "\n" ("\r\n" accepted, the "\r" is stripped). LENn: an n-bit length
 * header in big (BE) or little (LE) endian, then exactly that many bytes.
 * TEXT: lines for people and tutorial clients: like LINE, and bytes without a
 * "\n" that end what arrived are a message too, unless a line came before them
 * in the same read (then they wait for the rest of their line); encoded like
 * LINE. The codec's part: sk_frame_decode returns a line, or all of buf when
 * it holds no "\n" (the connection decodes the rest of a read as LINE).
 * AUTO is not a mode: in sk_server_opts it asks for the service's own
 * default (TEXT for the line services chat and stdio, RAW for the others). */
typedef enum sk_frame {
    SK_FRAME_AUTO = -1,
    SK_FRAME_RAW = 0,
    SK_FRAME_LINE,
    SK_FRAME_LEN8,
    SK_FRAME_LEN16BE,
    SK_FRAME_LEN16LE,
    SK_FRAME_LEN32BE,
    SK_FRAME_LEN32LE,
    SK_FRAME_LEN64BE,
    SK_FRAME_LEN64LE,
    SK_FRAME_TEXT,
    SK_FRAME_COUNT_
} sk_frame;

/* Default --max-frame: 16 MiB. */
#define SK_MAX_FRAME_DEFAULT ((size_t)16 << 20)

/* Parses a mode name ("raw", "line", "text", "len8", "len16be", ... "len64le").
 * Returns 0 and sets *out, or SK_EFRAMEMODE for an unknown name. */
SK_EXTERN int sk_frame_from_name(const char *name, sk_frame *out);

/* Returns the mode's name ("len32le"), or "?" for an invalid value. Static. */
SK_EXTERN const char *sk_frame_name(sk_frame mode);

/* Size in bytes of the mode's length header (0 for raw, line and invalid modes). */
SK_EXTERN size_t sk_frame_header_size(sk_frame mode);

/* Finds the first message at the start of buf[0..len).
 * Returns the number of bytes the whole frame occupies (> 0) and points
 * *msg and *msg_len at the payload inside buf (no copy; valid while buf is);
 * a zero-length payload is valid (LENn: returns the header size, *msg_len 0);
 * returns 0 when buf holds no complete frame yet (read more);
 * returns SK_EFRAMEBIG when a header announces more than max_frame bytes or
 * (LINE) more than max_frame bytes precede the first "\n" (a "\r" just before
 * it counts), so a payload is never longer than max_frame and LINE searches
 * only buf[0..max_frame];
 * returns SK_EFRAMENEG when a 32/64-bit header has its top bit set (negative
 * as a signed integer), checked before SK_EFRAMEBIG; SK_EFRAMEMODE for an
 * invalid mode. On errors *msg and *msg_len are untouched; the stream cannot
 * be resynchronised, so the caller should drop the connection.
 * RAW returns all of buf as one message (0 when len is 0) and ignores max_frame.
 * TEXT returns the first line like LINE, or, when buf holds no "\n", all of
 * buf as one message (0 when len is 0; SK_EFRAMEBIG when longer than max_frame).
 * Never reads past len; no allocation, no I/O, no state between calls. */
SK_EXTERN ssize_t sk_frame_decode(sk_frame mode, size_t max_frame, const uint8_t *buf, size_t len,
                                  const uint8_t **msg, size_t *msg_len);

/* Called when the peer closed with buf[0..len) still undecoded, i.e. after
 * sk_frame_decode has returned 0 for it (finish does not look for frames).
 * Returns 0 when len is 0; 1 with *msg and *msg_len set to all of buf for a
 * final unterminated line (LINE; no "\r" is stripped, since there is no "\n")
 * or chunk (RAW); SK_ETRUNC for a cut-off length-prefixed frame;
 * SK_EFRAMEMODE for an invalid mode. */
SK_EXTERN int sk_frame_finish(sk_frame mode, const uint8_t *buf, size_t len, const uint8_t **msg,
                              size_t *msg_len);

/* Writes the frame header for a payload of msg_len bytes into hdr (at least 8
 * bytes; only the first sk_frame_header_size(mode) are written). Returns the
 * header size (0 for raw and line), SK_EFRAMEMODE for an invalid mode, or
 * SK_EFRAMEBIG when msg_len does not fit the header (len8 > 255, len16 > 65535, len32 > 2^31-1,
 * len64 > 2^63-1). Line mode adds a trailer instead: see sk_frame_trailer. */
SK_EXTERN int sk_frame_header(sk_frame mode, size_t msg_len, uint8_t hdr[8]);

/* Returns the bytes that follow each payload: "\n" for LINE and TEXT, "" otherwise.
 * Static. A LINE (or TEXT) payload must not contain "\n", nor end with "\r" (it would be stripped). */
SK_EXTERN const char *sk_frame_trailer(sk_frame mode);

/* The size of msg_len payload bytes encoded as one frame of mode (header,
 * payload, trailer), or SK_EFRAMEBIG when msg_len does not fit the header. */
SK_EXTERN ssize_t sk_frame_encoded_size(sk_frame mode, size_t msg_len);

/* Writes msg[0..len) as one frame of mode into dst, which must hold
 * sk_frame_encoded_size(mode, len) bytes. Returns that size, or SK_EFRAMEBIG
 * (nothing written). */
SK_EXTERN ssize_t sk_frame_encode(sk_frame mode, const void *msg, size_t len, uint8_t *dst);

#ifdef __cplusplus
}
#endif
#endif
