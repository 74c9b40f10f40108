/* ws.h — RFC 6455 WebSocket framing with no I/O: frame headers, masking, close
 * payloads, and a reader that turns received bytes into messages and control frames. */
#ifndef SOCKIT_PROTO_WS_H
#define SOCKIT_PROTO_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/utf8.h"

/* Opcodes (RFC 6455 §5.2). 3-7 and 11-15 are reserved: receiving one is SK_EWSOPCODE. */
enum {
    SK__WS_CONT = 0x0,
    SK__WS_TEXT = 0x1,
    SK__WS_BINARY = 0x2,
    SK__WS_CLOSE = 0x8,
    SK__WS_PING = 0x9,
    SK__WS_PONG = 0xa,
};

/* Close status codes (RFC 6455 §7.4.1). 1005 and 1006 are never sent: 1005 is
 * what a close frame without a payload reports, 1006 is "connection dropped". */
enum {
    SK__WS_CLOSE_NORMAL = 1000,
    SK__WS_CLOSE_GOING_AWAY = 1001,
    SK__WS_CLOSE_PROTOCOL = 1002,
    SK__WS_CLOSE_UNSUPPORTED = 1003,
    SK__WS_CLOSE_NO_STATUS = 1005,
    SK__WS_CLOSE_ABNORMAL = 1006,
    SK__WS_CLOSE_BAD_DATA = 1007,
    SK__WS_CLOSE_POLICY = 1008,
    SK__WS_CLOSE_TOO_BIG = 1009,
    SK__WS_CLOSE_EXTENSION = 1010,
    SK__WS_CLOSE_INTERNAL = 1011,
};

#define SK__WS_MAX_HEADER 14   /* 2 + 8 (64-bit length) + 4 (mask key) */
#define SK__WS_MAX_CONTROL 125 /* largest control frame payload */
#define SK__WS_MAX_DEFAULT ((uint64_t)16 << 20) /* suggested max_message: 16 MiB */

/* Which frames may be masked. A server requires masked frames from its
 * clients (SK_EWSNOMASK otherwise); a client requires unmasked frames from its
 * server (SK_EWSMASKED otherwise). ANY accepts both (tests, tools). */
typedef enum sk__ws_mask_rule {
    SK__WS_MASK_ANY = 0,
    SK__WS_MASK_REQUIRED,  /* use on the server side */
    SK__WS_MASK_FORBIDDEN, /* use on the client side */
} sk__ws_mask_rule;

/* What the receiving side accepts. Plain data, copied by sk__ws_reader_init. */
typedef struct sk__ws_cfg {
    sk__ws_mask_rule mask;
    uint64_t max_message; /* largest data frame payload, and largest reassembled
                           * message, in bytes (SK_EWSBIG, close code 1009). Control
                           * frames are bounded by 125 whatever this says. */
    uint8_t rsv_allowed;  /* RSV bits an extension negotiated (0x4 = RSV1, 0x2 =
                           * RSV2, 0x1 = RSV3); 0 = none (SK_EWSRSV on any) */
} sk__ws_cfg;

/* A parsed frame header. */
typedef struct sk__ws_frame {
    bool fin;             /* final fragment of its message (always set on control frames) */
    uint8_t rsv;          /* RSV1..3 as 0x4, 0x2, 0x1 */
    uint8_t opcode;       /* SK__WS_CONT .. SK__WS_PONG */
    bool masked;          /* mask_key is valid */
    uint8_t mask_key[4];
    uint64_t payload_len; /* < 2^63 */
} sk__ws_frame;

/* ---- frames ---- */

/* True for close, ping and pong. */
static inline bool sk__ws_is_control(unsigned opcode) { return (opcode & 0x8) != 0; }

/* Parses the frame header at the start of buf[0..len) and checks it against cfg.
 * Returns the header size (2..14) and fills *f; the payload follows it in buf.
 * Returns 0 when buf holds only part of a header (call again with more bytes);
 * *f is then untouched. Returns a negative code as soon as the bytes present
 * prove the frame invalid — byte 0 is checked first, then byte 1, then the
 * extended length — in this order:
 *   SK_EWSRSV      an RSV bit not in cfg->rsv_allowed                       1002
 *   SK_EWSOPCODE   reserved opcode (3-7, 11-15)                              1002
 *   SK_EWSCTLFRAG  control frame without FIN                                 1002
 *   SK_EWSNOMASK   unmasked frame, cfg->mask is REQUIRED                     1002
 *   SK_EWSMASKED   masked frame, cfg->mask is FORBIDDEN                      1002
 *   SK_EWSCTLBIG   control frame announcing more than 125 bytes              1002
 *   SK_EWSLEN      64-bit length with the top bit set                        1002
 *   SK_EWSBIG      data frame (incl. continuation) over cfg->max_message     1009
 * A length not in its minimal encoding (e.g. 5 sent as 126 + 00 05) is
 * accepted: RFC 6455 says senders MUST use the minimal form but does not ask
 * receivers to refuse others, and common servers (and browsers) accept it.
 * Never reads past len; no state, no allocation. Does not check the order of
 * frames (continuations): that is the reader's job. */
int sk__ws_parse_header(const uint8_t *buf, size_t len, const sk__ws_cfg *cfg, sk__ws_frame *f);

/* XORs p[0..n) with the mask key, in place (masking and unmasking are the same
 * operation). offset is the position of p[0] within the frame's payload, so a
 * payload can be processed in pieces: sk__ws_mask(p, a, k, 0) then
 * sk__ws_mask(p + a, b, k, a) equals sk__ws_mask(p, a + b, k, 0).
 * Works 8 bytes at a time; p needs no alignment. */
void sk__ws_mask(uint8_t *p, size_t n, const uint8_t key[4], uint64_t offset);

/* Writes a frame header into out (room for SK__WS_MAX_HEADER bytes), using the
 * minimal length encoding: 2 bytes for len <= 125, 4 for <= 65535, else 10;
 * plus 4 when mask_key is not NULL (a client must mask every frame with a fresh
 * unpredictable key — see sk__ws_random — and then mask the payload with
 * sk__ws_mask(payload, len, mask_key, 0)). RSV bits are written as 0 (an
 * extension ORs them into out[0]). Returns the header size (2..14), or
 * SK_EWSOPCODE for a reserved opcode, SK_EWSCTLBIG for a control frame over 125
 * bytes, SK_EWSCTLFRAG for a control frame without fin, SK_EWSLEN for
 * len >= 2^63; nothing is written on error. */
int sk__ws_write_header(uint8_t out[SK__WS_MAX_HEADER], bool fin, unsigned opcode, uint64_t len,
                        const uint8_t *mask_key);

/* Fills buf[0..n) with bytes from getrandom(2) (for mask keys and handshake
 * keys). Returns 0, or a negated errno if the kernel cannot supply them. */
int sk__ws_random(void *buf, size_t n);

/* A fresh client mask key: 4 bytes from getrandom(2), drawn in batches of
 * 128 keys per thread (one system call per batch); each key is handed out
 * once. Returns 0, or a negated errno if the kernel cannot supply them. */
int sk__ws_mask_key(uint8_t key[4]);

/* ---- close frames ---- */

/* True for the status codes a close frame may carry: 1000-1003, 1007-1011,
 * 3000-4999 (1004-1006 and 1012-2999 are reserved, or not for the wire). */
bool sk__ws_close_code_valid(unsigned code);

/* Builds a close frame payload into out: empty when code is 0 (no status);
 * else the code (big-endian) then the reason, cut to fit 125 bytes and to its
 * longest prefix of complete valid UTF-8 characters (so an invalid reason is
 * cut where it first goes wrong). reason may be NULL when reason_len is 0.
 * Returns the payload length (0 or 2..125), or SK_EWSCLOSECODE when code is
 * neither 0 nor valid (sk__ws_close_code_valid); out is then untouched. */
int sk__ws_close_payload(uint8_t out[SK__WS_MAX_CONTROL], unsigned code, const char *reason,
                         size_t reason_len);

/* Parses a received close frame payload p[0..n) (already unmasked).
 * Returns 0 and sets *code, *reason and *reason_len (pointing into p, not
 * NUL-terminated): an empty payload gives code 1005 and an empty reason.
 * Returns SK_EWSCLOSELEN for a 1-byte payload, SK_EWSCTLBIG for more than 125,
 * SK_EWSCLOSECODE for a code sk__ws_close_code_valid refuses (close with 1002),
 * SK_EWSUTF8 for a reason that is not valid UTF-8 (close with 1007).
 * Outputs are untouched on error. */
int sk__ws_parse_close(const uint8_t *p, size_t n, unsigned *code, const uint8_t **reason,
                       size_t *reason_len);

/* The close code to send after a reader or parser error: 1009 for SK_EWSBIG,
 * 1007 for SK_EWSUTF8 and SK_EWSINFLATE, 1002 for the other SK_EWS* codes, 1011 otherwise
 * (e.g. -ENOMEM); 1000 for 0. */
unsigned sk__ws_close_code_for(int err);

/* ---- the reader: bytes in, messages and control frames out ---- */

typedef enum sk__ws_ev {
    SK__WS_EV_NONE = 0, /* no complete event in the bytes given: read more */
    SK__WS_EV_TEXT,     /* a whole text message (valid UTF-8, unless rsv != 0) */
    SK__WS_EV_BINARY,   /* a whole binary message */
    SK__WS_EV_PING,     /* answer with a pong carrying the same data */
    SK__WS_EV_PONG,
    SK__WS_EV_CLOSE,    /* close frame: code and reason; the reader is finished */
} sk__ws_ev;

/* One event. data is writable (an echo service may transform it in place) and
 * not NUL-terminated; it stays valid until the next call on the reader, and,
 * when owned is false, only while the caller keeps buf's bytes where they are. */
typedef struct sk__ws_event {
    sk__ws_ev type;
    uint8_t *data; /* payload; for CLOSE the reason (may be empty) */
    size_t len;
    unsigned code; /* CLOSE: status code (1005 when the frame had no payload) */
    uint8_t rsv;   /* RSV bits of the message's first frame (0 without extensions) */
    bool owned;    /* true: data is in the reader's own buffer (a message that
                    * came in fragments); false: data points into buf */
} sk__ws_event;

/* Reader state. Treat the fields as private; embed it anywhere (no pointers
 * into the caller's buffer are kept, so the caller may move its buffer). */
typedef struct sk__ws_reader {
    sk__ws_cfg cfg;
    int state;         /* reader_state in ws.c */
    int err;           /* the error, once failed */
    sk__ws_frame f;    /* frame being received */
    size_t hdr_len;    /* its header size */
    uint64_t done;     /* payload bytes already unmasked/validated in place */
    uint8_t msg_op;    /* opcode of the fragmented message in progress, or 0 */
    uint8_t msg_rsv;   /* RSV bits of its first frame */
    bool msg_handed;   /* the last event lent out msg: reset it on the next call */
    uint8_t *msg;      /* reassembly buffer (malloc'd, owned) */
    size_t msg_len;
    size_t msg_cap;
    sk__utf8 utf8;     /* validator of the text message in progress */
} sk__ws_reader;

/* Sets r up to receive under cfg (copied). max_message is clamped to what a
 * size_t can hold. Allocates nothing; pair with sk__ws_reader_free anyway. */
void sk__ws_reader_init(sk__ws_reader *r, const sk__ws_cfg *cfg);

/* Decodes buf[0..len), the bytes received and not yet consumed, and returns at
 * most one event. Usage — buf is the connection's input buffer:
 *
 *     for (;;) {
 *         ssize_t k = sk__ws_reader_next(r, buf + off, len - off, &ev);
 *         if (k < 0) { close with sk__ws_close_code_for(k); break; }
 *         off += k;
 *         if (ev.type == SK__WS_EV_NONE) break;
 *         handle(&ev);
 *     }
 *     drop buf[0..off), keep the rest, append what is read next, call again.
 *
 * Returns the number of bytes consumed (0..len) and sets *ev; ev->type NONE
 * means "need more bytes": every complete frame has been consumed. Frames are
 * consumed only when whole, so a frame's bytes stay in the caller's buffer
 * until all of it has arrived (the caller's buffer must be able to hold one
 * frame: at most max_message + 14 bytes). Unconsumed bytes must be passed
 * again, unchanged, at the start of buf on the next call — the reader may
 * already have unmasked and UTF-8-checked part of them in place (so invalid
 * text fails fast, before the rest of the frame arrives, and no byte is
 * unmasked twice); passing fewer bytes than last time is -EINVAL.
 *
 * Zero copy: a message in one frame (and every ping, pong and close) is
 * unmasked in place and ev->data points into buf (owned = false). Only a
 * fragmented message is copied, frame by frame, into a buffer the reader
 * owns (owned = true); the reader frees or reuses it on the next call.
 * Control frames arriving between the fragments of a message are returned
 * at once, and the message goes on afterwards.
 *
 * After a CLOSE event the reader is finished: later calls consume all bytes
 * (data after a close frame is ignored) and return NONE.
 * Errors (negative, with *ev set to NONE): any sk__ws_parse_header error, and
 * SK_EWSCONT (continuation with no message open), SK_EWSUNFINISHED (text or
 * binary frame while a fragmented message is open), SK_EWSBIG (reassembled
 * message over max_message), SK_EWSUTF8 (invalid text, found as early as the
 * bytes allow, or a close reason), SK_EWSCLOSELEN / SK_EWSCLOSECODE (bad
 * close payload), -ENOMEM (reassembly buffer), -EINVAL (contract broken).
 * Errors are sticky: every later call returns the same error. Map one to a
 * close code with sk__ws_close_code_for. No callbacks, no I/O. */
ssize_t sk__ws_reader_next(sk__ws_reader *r, uint8_t *buf, size_t len, sk__ws_event *ev);

/* For the end of the stream, with pending bytes left unconsumed: returns 0
 * when the reader stopped cleanly (between messages with pending == 0, or
 * after a CLOSE event), the sticky error if it failed, else SK_ETRUNC (the
 * peer vanished inside a frame or a fragmented message: close code 1006). */
int sk__ws_reader_finish(const sk__ws_reader *r, size_t pending);

/* The RSV bits an extension negotiated in the handshake (cfg.rsv_allowed),
 * before any frame is read. They may be set only on the first frame of a
 * data message (RFC 7692 §6): on a continuation or control frame they are
 * SK_EWSRSV. */
void sk__ws_reader_allow_rsv(sk__ws_reader *r, uint8_t rsv);

/* Frees the reassembly buffer; r may be initialised again afterwards. */
void sk__ws_reader_free(sk__ws_reader *r);

#endif
