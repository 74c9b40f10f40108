/* error.h — error codes shared by every sockit function.
 * Errors are negative: a negated errno (e.g. -ECONNREFUSED) or an SK_E* code. */
#ifndef SOCKIT_ERROR_H
#define SOCKIT_ERROR_H

#include "sockit/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Library-specific error codes; all below -4000 so they never clash with -errno. */
enum {
    SK_EURL = -4001,       /* malformed endpoint URL */
    SK_EFRAMEBIG = -4002,  /* frame header announces more than --max-frame */
    SK_EFRAMENEG = -4003,  /* signed length header is negative */
    SK_ETRUNC = -4004,     /* connection closed in the middle of a frame */
    SK_EFRAMEMODE = -4005, /* unknown framing mode name */
    SK_ERESOLVE = -4006,   /* host name did not resolve */
    SK_ECLOSED = -4007,    /* operation on a closing connection */
    SK_EQUEUE = -4008,     /* output queue exceeded its hard limit */
    SK_ETIMEOUT = -4009,   /* idle or operation timeout */
    SK_ESERVICE = -4010,   /* unknown service name */
    /* WebSocket (RFC 6455) and its HTTP handshake; the close code to send is in brackets */
    SK_EWSRSV = -4011,         /* reserved bits set, no extension negotiated [1002] */
    SK_EWSOPCODE = -4012,      /* unknown opcode [1002] */
    SK_EWSCTLBIG = -4013,      /* control frame payload over 125 bytes [1002] */
    SK_EWSCTLFRAG = -4014,     /* fragmented control frame [1002] */
    SK_EWSLEN = -4015,         /* 64-bit payload length with the top bit set [1002] */
    SK_EWSNOMASK = -4016,      /* client frame not masked [1002] */
    SK_EWSMASKED = -4017,      /* server frame masked [1002] */
    SK_EWSCONT = -4018,        /* continuation frame with no message to continue [1002] */
    SK_EWSUNFINISHED = -4019,  /* new data frame while a fragmented message is open [1002] */
    SK_EWSBIG = -4020,         /* message larger than the maximum [1009] */
    SK_EWSUTF8 = -4021,        /* text or close reason is not valid UTF-8 [1007] */
    SK_EWSCLOSELEN = -4022,    /* close frame with a 1-byte payload [1002] */
    SK_EWSCLOSECODE = -4023,   /* close frame with an invalid status code [1002] */
    SK_EHTTP = -4024,          /* malformed HTTP request or response */
    SK_EHTTPBIG = -4025,       /* HTTP header block over 8 KiB or 64 headers */
    SK_EWSHANDSHAKE = -4026,   /* WebSocket handshake refused or invalid */
    SK_EWSNOCLOSE = -4027,     /* peer closed without a WebSocket close frame [1006] */
    SK_EIOBACKEND = -4028,     /* unknown I/O backend name (not epoll or uring) */
    SK_ETLS = -4029,           /* TLS handshake or record failed (sk_conn_tls_error says why) */
    /* compressed length-prefixed frames (compress.h) */
    SK_EZCODEC = -4040,        /* empty body or unknown codec byte */
    SK_EZBOMB = -4041,         /* decompressed message larger than the maximum */
    SK_EZCORRUPT = -4042,      /* compressed body is not exactly one valid stream/frame */
    SK_EWSINFLATE = -4043,     /* permessage-deflate message that does not inflate [1007] */
};

/* Returns a static, human-readable description of err (an SK_E* code or a
 * negated errno). Never returns NULL; the string must not be freed. */
SK_EXTERN const char *sk_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif
