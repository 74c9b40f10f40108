/* error.c — sk_strerror(): one table of messages for the library's own
 * error codes; negated errno values are described by strerror. */
#include "sockit/error.h"
#include "sockit/sockit.h"

#include <string.h>

const char *sk_strerror(int err)
{
    switch (err) {
    case 0: return "success";
    case SK_EURL: return "malformed endpoint URL";
    case SK_EFRAMEBIG: return "frame larger than --max-frame";
    case SK_EFRAMENEG: return "negative frame length";
    case SK_ETRUNC: return "connection closed in the middle of a frame";
    case SK_EFRAMEMODE: return "unknown framing mode";
    case SK_ERESOLVE: return "host name did not resolve";
    case SK_ECLOSED: return "connection is closing";
    case SK_EQUEUE: return "output queue limit exceeded";
    case SK_ETIMEOUT: return "timed out";
    case SK_ESERVICE: return "unknown service";
    case SK_EWSRSV: return "WebSocket: reserved bits set";
    case SK_EWSOPCODE: return "WebSocket: unknown opcode";
    case SK_EWSCTLBIG: return "WebSocket: control frame over 125 bytes";
    case SK_EWSCTLFRAG: return "WebSocket: fragmented control frame";
    case SK_EWSLEN: return "WebSocket: payload length has the top bit set";
    case SK_EWSNOMASK: return "WebSocket: client frame not masked";
    case SK_EWSMASKED: return "WebSocket: server frame masked";
    case SK_EWSCONT: return "WebSocket: continuation frame without a message";
    case SK_EWSUNFINISHED: return "WebSocket: new message before the fragmented one ended";
    case SK_EWSBIG: return "WebSocket: message too big";
    case SK_EWSINFLATE: return "WebSocket: compressed message does not inflate";
    case SK_EWSUTF8: return "WebSocket: invalid UTF-8";
    case SK_EWSCLOSELEN: return "WebSocket: close frame with a 1-byte payload";
    case SK_EWSCLOSECODE: return "WebSocket: invalid close status code";
    case SK_EHTTP: return "malformed HTTP message";
    case SK_EHTTPBIG: return "HTTP header block too large";
    case SK_EWSHANDSHAKE: return "WebSocket handshake failed";
    case SK_EWSNOCLOSE: return "closed without a WebSocket close frame (1006)";
    case SK_EIOBACKEND: return "unknown I/O backend (use epoll or uring)";
    case SK_ETLS: return "TLS failed";
    case SK_EZCODEC: return "unknown compression codec byte";
    case SK_EZBOMB: return "decompressed message larger than --max-frame";
    case SK_EZCORRUPT: return "corrupt compressed message";
    default: break;
    }
    if (err < 0 && err > -4000)
        return strerror(-err);
    return "unknown error";
}

#ifndef SOCKIT_VERSION
#define SOCKIT_VERSION "dev"
#endif

const char *sk_version(void) { return SOCKIT_VERSION; }
