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
